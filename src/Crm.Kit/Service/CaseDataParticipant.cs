using Crm.Kit.Privacy;

namespace Crm.Kit.Service;

/// <summary>Takes service cases into customer export, merge and erasure.</summary>
internal sealed class CaseDataParticipant(IServiceCaseStore store) : ICustomerDataParticipant
{
    public string Name => "cases";

    public async ValueTask<object> ExportAsync(string tenantId, Guid customerId, CancellationToken cancellationToken) =>
        await KeysetStream.CollectAsync<ServiceCase, Guid>(
            (before, limit) => store.ListByCustomerAsync(tenantId, customerId, activeOnly: false, before, limit, cancellationToken),
            c => c.Id,
            cancellationToken).ConfigureAwait(false);

    public async ValueTask ReassignAsync(string tenantId, Guid fromCustomerId, Guid toCustomerId, CancellationToken cancellationToken) =>
        await store.ReassignCustomerAsync(tenantId, fromCustomerId, toCustomerId, cancellationToken).ConfigureAwait(false);

    public async ValueTask EraseAsync(string tenantId, Guid customerId, CancellationToken cancellationToken) =>
        await store.EraseTextAsync(tenantId, customerId, cancellationToken).ConfigureAwait(false);
}
