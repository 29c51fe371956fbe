using Crm.Kit.Privacy;

namespace Crm.Kit.Service;

/// <summary>Takes service cases into customer export, merge and erasure.</summary>
internal sealed class CaseDataParticipant(IServiceCaseStore store) : ICustomerDataParticipant
{
    private const int Batch = 500;

    public string Name => "cases";

    public async ValueTask<object> ExportAsync(string tenantId, Guid customerId, CancellationToken cancellationToken)
    {
        var all = new List<ServiceCase>();
        Guid? before = null;
        while (true)
        {
            var page = await store.ListByCustomerAsync(tenantId, customerId, activeOnly: false, before, Batch, cancellationToken).ConfigureAwait(false);
            all.AddRange(page);
            if (page.Count < Batch)
            {
                return all;
            }

            before = page[^1].Id;
        }
    }

    public async ValueTask ReassignAsync(string tenantId, Guid fromCustomerId, Guid toCustomerId, CancellationToken cancellationToken) =>
        await store.ReassignCustomerAsync(tenantId, fromCustomerId, toCustomerId, cancellationToken).ConfigureAwait(false);

    public async ValueTask EraseAsync(string tenantId, Guid customerId, CancellationToken cancellationToken) =>
        await store.EraseTextAsync(tenantId, customerId, cancellationToken).ConfigureAwait(false);
}
