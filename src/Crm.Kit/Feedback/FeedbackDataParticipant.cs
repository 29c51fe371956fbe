using Crm.Kit.Privacy;

namespace Crm.Kit.Feedback;

/// <summary>Takes survey answers into customer export, merge and erasure.</summary>
internal sealed class FeedbackDataParticipant(IFeedbackStore store) : ICustomerDataParticipant
{
    public string Name => "surveyResponses";

    public async ValueTask<object> ExportAsync(string tenantId, Guid customerId, CancellationToken cancellationToken) =>
        await KeysetStream.CollectAsync<SurveyResponse, KeysetPosition>(
            (before, limit) => store.ListResponsesByCustomerAsync(tenantId, customerId, before, limit, cancellationToken),
            r => new KeysetPosition(r.RespondedAt, r.Id),
            cancellationToken).ConfigureAwait(false);

    public async ValueTask ReassignAsync(string tenantId, Guid fromCustomerId, Guid toCustomerId, CancellationToken cancellationToken) =>
        await store.ReassignCustomerAsync(tenantId, fromCustomerId, toCustomerId, cancellationToken).ConfigureAwait(false);

    public async ValueTask EraseAsync(string tenantId, Guid customerId, CancellationToken cancellationToken) =>
        await store.EraseTextAsync(tenantId, customerId, cancellationToken).ConfigureAwait(false);
}
