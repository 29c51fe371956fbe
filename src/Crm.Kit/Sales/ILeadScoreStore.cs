namespace Crm.Kit.Sales;

/// <summary>Persists each customer's latest lead score. Tenant-scoped like every store; the last write wins (a score is derived, never edited).</summary>
public interface ILeadScoreStore
{
    /// <summary>The customer's score, or <see langword="null"/> when never scored.</summary>
    ValueTask<LeadScore?> FindAsync(string tenantId, Guid customerId, CancellationToken cancellationToken);

    /// <summary>Stores the score, replacing the customer's previous one.</summary>
    ValueTask SaveAsync(LeadScore score, CancellationToken cancellationToken);

    /// <summary>Removes the customer's score (after a merge or an erasure); false when there was none.</summary>
    ValueTask<bool> DeleteAsync(string tenantId, Guid customerId, CancellationToken cancellationToken);
}
