using System.Collections.Concurrent;
using Crm.Kit.Insights;

namespace Crm.Kit.InMemory;

/// <summary>The in-memory <see cref="ICustomerInsightStore"/>, over an <see cref="InMemoryCrmDatabase"/>.</summary>
public sealed class InMemoryCustomerInsightStore : ICustomerInsightStore
{
    private readonly InMemoryCrmDatabase _database;

    /// <summary>Creates the store.</summary>
    public InMemoryCustomerInsightStore(InMemoryCrmDatabase database) => _database = database ?? throw new ArgumentNullException(nameof(database));

    /// <summary>The customer's snapshot, or <see langword="null"/>; synchronous, for compiled segment rules.</summary>
    public CustomerInsight? Find(string tenantId, Guid customerId) =>
        _database.Insights.TryGetValue(tenantId, out var tenant) && tenant.TryGetValue(customerId, out var insight) ? insight : null;

    /// <inheritdoc />
    public ValueTask<CustomerInsight?> FindAsync(string tenantId, Guid customerId, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(tenantId);
        cancellationToken.ThrowIfCancellationRequested();
        return new(Find(tenantId, customerId));
    }

    /// <inheritdoc />
    public ValueTask UpsertAsync(string tenantId, IReadOnlyList<CustomerInsight> insights, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(tenantId);
        CustomerInsight.Validate(insights);
        return _database.WriteAsync(() =>
        {
            var tenant = Tenant(tenantId);
            var undo = new List<(Guid Id, CustomerInsight? Previous)>(insights.Count);
            foreach (var insight in insights)
            {
                var previous = tenant.GetValueOrDefault(insight.CustomerId);
                if (previous is null || previous.ComputedAt <= insight.ComputedAt)
                {
                    tenant[insight.CustomerId] = insight;
                    undo.Add((insight.CustomerId, previous));
                }
            }

            return () => Restore(tenant, undo);
        }, cancellationToken);
    }

    /// <inheritdoc />
    public async ValueTask<int> RemoveComputedBeforeAsync(string tenantId, DateTimeOffset computedAt, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(tenantId);
        var removed = 0;
        await _database.WriteAsync(() =>
        {
            var tenant = Tenant(tenantId);
            var undo = new List<(Guid Id, CustomerInsight? Previous)>();
            foreach (var (id, insight) in tenant)
            {
                if (insight.ComputedAt < computedAt && tenant.TryRemove(id, out var old))
                {
                    undo.Add((id, old));
                }
            }

            removed = undo.Count;
            return () => Restore(tenant, undo);
        }, cancellationToken).ConfigureAwait(false);
        return removed;
    }

    private ConcurrentDictionary<Guid, CustomerInsight> Tenant(string tenantId) =>
        _database.Insights.GetOrAdd(tenantId, static _ => new ConcurrentDictionary<Guid, CustomerInsight>());

    private static void Restore(ConcurrentDictionary<Guid, CustomerInsight> tenant, List<(Guid Id, CustomerInsight? Previous)> undo)
    {
        for (var i = undo.Count - 1; i >= 0; i--)
        {
            var (id, previous) = undo[i];
            if (previous is null)
            {
                tenant.TryRemove(id, out _);
            }
            else
            {
                tenant[id] = previous;
            }
        }
    }
}
