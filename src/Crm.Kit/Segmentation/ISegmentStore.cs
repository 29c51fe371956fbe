namespace Crm.Kit.Segmentation;

/// <summary>
/// Persists segments and their stored membership: the members of static lists, and the last published members
/// of dynamic segments (so that entering and leaving are noticed once). Tenant-scoped like every store.
/// </summary>
public interface ISegmentStore
{
    /// <summary>The segment with this id, or <see langword="null"/>.</summary>
    ValueTask<Segment?> FindByIdAsync(string tenantId, Guid id, CancellationToken cancellationToken);

    /// <summary>The segment with this name (exact), or <see langword="null"/>.</summary>
    ValueTask<Segment?> FindByNameAsync(string tenantId, string name, CancellationToken cancellationToken);

    /// <summary>Segments ordered by id, after <paramref name="afterId"/> when given, at most <paramref name="limit"/>.</summary>
    ValueTask<IReadOnlyList<Segment>> ListAsync(string tenantId, Guid? afterId, int limit, CancellationToken cancellationToken);

    /// <summary>Every dynamic segment of the tenant.</summary>
    ValueTask<IReadOnlyList<Segment>> ListDynamicAsync(string tenantId, CancellationToken cancellationToken);

    /// <summary>Adds a segment. Throws <see cref="DuplicateValueException"/> when the name is taken.</summary>
    ValueTask CreateAsync(Segment segment, CancellationToken cancellationToken);

    /// <summary>Replaces a segment when its stored version equals <paramref name="expectedVersion"/>, else throws <see cref="ConcurrencyConflictException"/>.</summary>
    ValueTask UpdateAsync(Segment segment, long expectedVersion, CancellationToken cancellationToken);

    /// <summary>Deletes a segment and its stored members when its version matches, else throws <see cref="ConcurrencyConflictException"/>.</summary>
    ValueTask DeleteAsync(string tenantId, Guid id, long expectedVersion, CancellationToken cancellationToken);

    /// <summary>Adds members; returns those that were not members before.</summary>
    ValueTask<IReadOnlyList<Guid>> AddMembersAsync(string tenantId, Guid segmentId, IReadOnlyCollection<Guid> customerIds, CancellationToken cancellationToken);

    /// <summary>Removes members; returns those that were members.</summary>
    ValueTask<IReadOnlyList<Guid>> RemoveMembersAsync(string tenantId, Guid segmentId, IReadOnlyCollection<Guid> customerIds, CancellationToken cancellationToken);

    /// <summary>Which of <paramref name="customerIds"/> are stored members.</summary>
    ValueTask<IReadOnlyList<Guid>> FindMembersAsync(string tenantId, Guid segmentId, IReadOnlyCollection<Guid> customerIds, CancellationToken cancellationToken);

    /// <summary>Stored member ids, ordered, after <paramref name="afterId"/> when given, at most <paramref name="limit"/>.</summary>
    ValueTask<IReadOnlyList<Guid>> ListMemberIdsAsync(string tenantId, Guid segmentId, Guid? afterId, int limit, CancellationToken cancellationToken);

    /// <summary>The segments <paramref name="customerId"/> is a stored member of.</summary>
    ValueTask<IReadOnlyList<Guid>> ListSegmentIdsOfMemberAsync(string tenantId, Guid customerId, CancellationToken cancellationToken);

    /// <summary>
    /// The segments with these ids (those that exist), in any order. The default reads them one by one; stores
    /// override it with one query.
    /// </summary>
    async ValueTask<IReadOnlyList<Segment>> FindManyAsync(string tenantId, IReadOnlyCollection<Guid> ids, CancellationToken cancellationToken)
    {
        var found = new List<Segment>(ids.Count);
        foreach (var id in ids)
        {
            if (await FindByIdAsync(tenantId, id, cancellationToken).ConfigureAwait(false) is { } segment)
            {
                found.Add(segment);
            }
        }

        return found;
    }
}
