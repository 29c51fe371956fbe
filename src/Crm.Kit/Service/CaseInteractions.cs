using Crm.Kit.Interactions;

namespace Crm.Kit.Service;

/// <summary>Applies interactions linked to a case: first response, and the customer's reply bringing a case back to work.</summary>
internal sealed class CaseInteractionHandler(CaseManager cases) : ICrmEventHandler<InteractionRecorded>
{
    public ValueTask HandleAsync(InteractionRecorded crmEvent, CancellationToken cancellationToken) =>
        new(cases.ApplyInteractionAsync(crmEvent.Interaction, cancellationToken));
}

/// <summary>Refuses an interaction linked to a case that does not exist or belongs to another customer.</summary>
internal sealed class CaseLinkValidator(CaseManager cases) : IInteractionLinkValidator
{
    public ValueTask<ValidationError?> ValidateAsync(Guid customerId, InteractionDraft draft, CancellationToken cancellationToken) =>
        draft.CaseId is { } caseId ? cases.CheckLinkAsync(customerId, caseId, cancellationToken) : new((ValidationError?)null);
}
