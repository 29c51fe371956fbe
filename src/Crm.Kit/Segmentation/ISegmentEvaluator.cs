using Crm.Kit.Customers;

namespace Crm.Kit.Segmentation;

/// <summary>
/// Evaluates validated rules over a tenant's live customers (not merged away, not erased) where the customers
/// are: in memory, or inside the database. Rules reach it with dynamic segment references already inlined, so
/// only static lists are looked up.
/// </summary>
public interface ISegmentEvaluator
{
    /// <summary>How many live customers match.</summary>
    ValueTask<long> CountAsync(string tenantId, SegmentRule rule, DateTimeOffset now, CancellationToken cancellationToken);

    /// <summary>Matching live customers ordered by id, after <paramref name="afterId"/>, at most <paramref name="limit"/>.</summary>
    ValueTask<IReadOnlyList<Customer>> ListAsync(string tenantId, SegmentRule rule, DateTimeOffset now, Guid? afterId, int limit, CancellationToken cancellationToken);

    /// <summary>Ids of matching live customers, ordered, after <paramref name="afterId"/>, at most <paramref name="limit"/>.</summary>
    ValueTask<IReadOnlyList<Guid>> ListIdsAsync(string tenantId, SegmentRule rule, DateTimeOffset now, Guid? afterId, int limit, CancellationToken cancellationToken);

    /// <summary>Which of <paramref name="customerIds"/> are live customers matching the rule.</summary>
    ValueTask<IReadOnlyList<Guid>> FilterAsync(string tenantId, SegmentRule rule, DateTimeOffset now, IReadOnlyCollection<Guid> customerIds, CancellationToken cancellationToken);
}
