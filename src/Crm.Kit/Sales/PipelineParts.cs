using Crm.Kit.Customers;
using Crm.Kit.Interactions;
using Crm.Kit.Privacy;
using Microsoft.Extensions.Options;

namespace Crm.Kit.Sales;

/// <summary>Interactions linked to a deal are its activity: they stop it rotting.</summary>
internal sealed class DealInteractionHandler(PipelineManager pipelines) : ICrmEventHandler<InteractionRecorded>
{
    public ValueTask HandleAsync(InteractionRecorded crmEvent, CancellationToken cancellationToken) =>
        new(pipelines.ApplyInteractionAsync(crmEvent.Interaction, cancellationToken));
}

/// <summary>Refuses an interaction linked to a deal that does not exist or belongs to another customer.</summary>
internal sealed class DealLinkValidator(PipelineManager pipelines) : IInteractionLinkValidator
{
    public ValueTask<ValidationError?> ValidateAsync(Guid customerId, InteractionDraft draft, CancellationToken cancellationToken) =>
        draft.DealId is { } dealId ? pipelines.CheckLinkAsync(customerId, dealId, cancellationToken) : new((ValidationError?)null);
}

/// <summary>Adds the open deals to the customer 360 view.</summary>
internal sealed class DealsContributor(IPipelineStore store, ICrmTenantContext tenant, IOptions<Customer360Options> options) : ICustomer360Contributor
{
    public async ValueTask<Customer360> ContributeAsync(Customer360 view, CancellationToken cancellationToken) => view with
    {
        OpenDeals = await store.ListDealsByCustomerAsync(tenant.TenantId, view.Customer.Id, openOnly: true, null, options.Value.OpenDeals, cancellationToken).ConfigureAwait(false),
        Parts = view.Parts | Customer360Parts.Deals,
    };
}

/// <summary>
/// Takes deals into customer export, merge and erasure. A deal's title and custom attributes are free text that
/// often names the person ("Renewal for Ana Lima"), so erasure replaces the title with <see cref="ErasedTitle"/> and
/// drops the attributes; amounts, lines, stages and history stay, as the pipeline's figures need them.
/// </summary>
internal sealed class DealDataParticipant(IPipelineStore store, TimeProvider time) : ICustomerDataParticipant
{
    /// <summary>The title an erased customer's deals keep.</summary>
    public const string ErasedTitle = "(erased)";

    public string Name => "deals";

    public async ValueTask<object> ExportAsync(string tenantId, Guid customerId, CancellationToken cancellationToken) =>
        await KeysetStream.CollectAsync<Deal, Guid>(
            (before, limit) => store.ListDealsByCustomerAsync(tenantId, customerId, openOnly: false, before, limit, cancellationToken),
            d => d.Id,
            cancellationToken).ConfigureAwait(false);

    public async ValueTask ReassignAsync(string tenantId, Guid fromCustomerId, Guid toCustomerId, CancellationToken cancellationToken) =>
        await store.ReassignCustomerAsync(tenantId, fromCustomerId, toCustomerId, cancellationToken).ConfigureAwait(false);

    public async ValueTask EraseAsync(string tenantId, Guid customerId, CancellationToken cancellationToken)
    {
        var deals = await KeysetStream.CollectAsync<Deal, Guid>(
            (before, limit) => store.ListDealsByCustomerAsync(tenantId, customerId, openOnly: false, before, limit, cancellationToken),
            d => d.Id,
            cancellationToken).ConfigureAwait(false);
        var now = time.GetUtcNow();
        foreach (var deal in deals.Where(d => d.Title != ErasedTitle || d.Attributes.Count > 0))
        {
            var erased = deal with { Title = ErasedTitle, Attributes = AttributeDictionary.Empty, Version = deal.Version + 1, UpdatedAt = now };
            await store.UpdateDealAsync(erased, deal.Version, change: null, cancellationToken).ConfigureAwait(false);
        }
    }
}
