using Crm.Kit.Privacy;

namespace Crm.Kit.Feedback;

/// <summary>Takes survey answers into customer export, merge and erasure.</summary>
internal sealed class FeedbackDataParticipant(IFeedbackStore store) : ICustomerDataParticipant
{
    private const int Batch = 500;

    public string Name => "surveyResponses";

    public async ValueTask<object> ExportAsync(string tenantId, Guid customerId, CancellationToken cancellationToken)
    {
        var all = new List<SurveyResponse>();
        KeysetPosition? before = null;
        while (true)
        {
            var page = await store.ListResponsesByCustomerAsync(tenantId, customerId, before, Batch, cancellationToken).ConfigureAwait(false);
            all.AddRange(page);
            if (page.Count < Batch)
            {
                return all;
            }

            before = new KeysetPosition(page[^1].RespondedAt, page[^1].Id);
        }
    }

    public async ValueTask ReassignAsync(string tenantId, Guid fromCustomerId, Guid toCustomerId, CancellationToken cancellationToken) =>
        await store.ReassignCustomerAsync(tenantId, fromCustomerId, toCustomerId, cancellationToken).ConfigureAwait(false);

    public async ValueTask EraseAsync(string tenantId, Guid customerId, CancellationToken cancellationToken) =>
        await store.EraseTextAsync(tenantId, customerId, cancellationToken).ConfigureAwait(false);
}
