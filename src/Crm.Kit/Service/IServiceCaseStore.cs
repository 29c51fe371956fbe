namespace Crm.Kit.Service;

/// <summary>
/// Persists service cases and SLA policies. Tenant-scoped like every store. It decides nothing — <see cref="CaseManager"/>
/// works out statuses and due times — but it must check versions on update and keep <see cref="ServiceCase.NextDueAt"/>,
/// owner and team queryable (indexed), since breach detection and work queues read them on every run.
/// </summary>
public interface IServiceCaseStore
{
    /// <summary>The case with this id, or <see langword="null"/>.</summary>
    ValueTask<ServiceCase?> FindByIdAsync(string tenantId, Guid id, CancellationToken cancellationToken);

    /// <summary>Adds a case.</summary>
    ValueTask CreateAsync(ServiceCase serviceCase, CancellationToken cancellationToken);

    /// <summary>
    /// Replaces a case when its stored version equals <paramref name="expectedVersion"/>; otherwise throws
    /// <see cref="ConcurrencyConflictException"/> (or <see cref="EntityNotFoundException"/> when it does not exist).
    /// </summary>
    ValueTask UpdateAsync(ServiceCase serviceCase, long expectedVersion, CancellationToken cancellationToken);

    /// <summary>
    /// A customer's cases newest first (by id, which grows with opening time), only active ones when
    /// <paramref name="activeOnly"/>, with an id below <paramref name="beforeId"/> when given, at most <paramref name="limit"/>.
    /// </summary>
    ValueTask<IReadOnlyList<ServiceCase>> ListByCustomerAsync(string tenantId, Guid customerId, bool activeOnly, Guid? beforeId, int limit, CancellationToken cancellationToken);

    /// <summary>
    /// Active cases of an owner and/or a team (both when both are given), soonest <see cref="ServiceCase.NextDueAt"/>
    /// first, cases without a due time last, ties by id; at most <paramref name="limit"/>.
    /// </summary>
    ValueTask<IReadOnlyList<ServiceCase>> ListQueueAsync(string tenantId, string? ownerId, string? team, int limit, CancellationToken cancellationToken);

    /// <summary>
    /// Active cases whose <see cref="ServiceCase.NextDueAt"/> is at or after <paramref name="from"/> and before
    /// <paramref name="before"/>, soonest first, ties by id; at most <paramref name="limit"/>.
    /// </summary>
    ValueTask<IReadOnlyList<ServiceCase>> ListDueAsync(string tenantId, DateTimeOffset from, DateTimeOffset before, int limit, CancellationToken cancellationToken);

    /// <summary>
    /// Active cases with a breach recorded by <paramref name="asOf"/>, or a <see cref="ServiceCase.NextDueAt"/> before it,
    /// ordered by id, after <paramref name="afterId"/> when given, at most <paramref name="limit"/>.
    /// </summary>
    ValueTask<IReadOnlyList<ServiceCase>> ListBreachedAsync(string tenantId, DateTimeOffset asOf, Guid? afterId, int limit, CancellationToken cancellationToken);

    /// <summary>Moves every case of <paramref name="fromCustomerId"/> to <paramref name="toCustomerId"/> (a merge); returns how many moved.</summary>
    ValueTask<int> ReassignCustomerAsync(string tenantId, Guid fromCustomerId, Guid toCustomerId, CancellationToken cancellationToken);

    /// <summary>Clears the subject, description and status notes of every case of a customer (erasure); returns how many changed.</summary>
    ValueTask<int> EraseTextAsync(string tenantId, Guid customerId, CancellationToken cancellationToken);

    /// <summary>Every SLA policy of the tenant, ordered by id.</summary>
    ValueTask<IReadOnlyList<SlaPolicy>> ListPoliciesAsync(string tenantId, CancellationToken cancellationToken);

    /// <summary>
    /// Adds a policy. Throws <see cref="DuplicateValueException"/> when its name is taken (field <c>Name</c>) or
    /// another policy covers the same priority and kind (field <c>Priority</c>).
    /// </summary>
    ValueTask CreatePolicyAsync(SlaPolicy policy, CancellationToken cancellationToken);

    /// <summary>Replaces a policy when its version matches (else <see cref="ConcurrencyConflictException"/>), with the uniqueness rules of <see cref="CreatePolicyAsync"/>.</summary>
    ValueTask UpdatePolicyAsync(SlaPolicy policy, long expectedVersion, CancellationToken cancellationToken);

    /// <summary>Deletes a policy when its version matches, else throws <see cref="ConcurrencyConflictException"/>.</summary>
    ValueTask DeletePolicyAsync(string tenantId, Guid id, long expectedVersion, CancellationToken cancellationToken);
}
