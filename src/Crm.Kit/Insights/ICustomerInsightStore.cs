namespace Crm.Kit.Insights;

/// <summary>
/// Stores <see cref="CustomerInsight"/> snapshots, one per customer and tenant. A refresh writes a whole tenant in
/// batches, then removes the snapshots it did not renew (customers who no longer qualify).
/// </summary>
public interface ICustomerInsightStore
{
    /// <summary>The customer's snapshot, or <see langword="null"/>.</summary>
    ValueTask<CustomerInsight?> FindAsync(string tenantId, Guid customerId, CancellationToken cancellationToken);

    /// <summary>
    /// Writes the snapshots in one atomic step, each replacing the customer's stored one unless the stored one was
    /// computed later (a snapshot never goes back in time). The store checks the batch with
    /// <see cref="CustomerInsight.Validate"/> before writing anything.
    /// </summary>
    ValueTask UpsertAsync(string tenantId, IReadOnlyList<CustomerInsight> insights, CancellationToken cancellationToken);

    /// <summary>Removes the tenant's snapshots computed before <paramref name="computedAt"/>; returns how many.</summary>
    ValueTask<int> RemoveComputedBeforeAsync(string tenantId, DateTimeOffset computedAt, CancellationToken cancellationToken);
}
