namespace Crm.Kit.Loyalty;

/// <summary>
/// Persists the loyalty programme, member accounts, the ledger with its lots, and the rewards catalogue.
/// Tenant-scoped like every store. It decides nothing — <see cref="LoyaltyManager"/> works out every posting — but
/// it must apply a <see cref="LedgerPosting"/> atomically, reject a second entry with the same idempotency key on
/// one account, and let <see cref="LockAccountAsync"/> hold an account against other writers until the
/// surrounding transaction ends: that is what keeps the ledger exact under concurrent callers.
/// </summary>
public interface ILoyaltyStore
{
    /// <summary>The tenant's programme, or <see langword="null"/>.</summary>
    ValueTask<LoyaltyProgramme?> FindProgrammeAsync(string tenantId, CancellationToken cancellationToken);

    /// <summary>Adds the tenant's programme. Throws <see cref="DuplicateValueException"/> when the tenant has one.</summary>
    ValueTask CreateProgrammeAsync(LoyaltyProgramme programme, CancellationToken cancellationToken);

    /// <summary>Replaces the programme when its stored version equals <paramref name="expectedVersion"/>; otherwise throws <see cref="ConcurrencyConflictException"/>.</summary>
    ValueTask UpdateProgrammeAsync(LoyaltyProgramme programme, long expectedVersion, CancellationToken cancellationToken);

    /// <summary>The account with this id, or <see langword="null"/>.</summary>
    ValueTask<LoyaltyAccount?> FindAccountAsync(string tenantId, Guid accountId, CancellationToken cancellationToken);

    /// <summary>The account of this customer, or <see langword="null"/>.</summary>
    ValueTask<LoyaltyAccount?> FindAccountByCustomerAsync(string tenantId, Guid customerId, CancellationToken cancellationToken);

    /// <summary>The account whose referral code is <paramref name="referralCode"/> (exact match), or <see langword="null"/>.</summary>
    ValueTask<LoyaltyAccount?> FindAccountByReferralCodeAsync(string tenantId, string referralCode, CancellationToken cancellationToken);

    /// <summary>Accounts ordered by id, after <paramref name="afterId"/> when given, at most <paramref name="limit"/>.</summary>
    ValueTask<IReadOnlyList<LoyaltyAccount>> ListAccountsAsync(string tenantId, Guid? afterId, int limit, CancellationToken cancellationToken);

    /// <summary>
    /// Reads the account and, inside a transaction, keeps every other writer of it waiting until the transaction
    /// ends (a row lock, a database write lock, or the in-memory write gate). Outside a transaction it only reads.
    /// </summary>
    ValueTask<LoyaltyAccount?> LockAccountAsync(string tenantId, Guid accountId, CancellationToken cancellationToken);

    /// <summary>Adds an account. Throws <see cref="DuplicateValueException"/> when the customer already has one or the referral code is taken.</summary>
    ValueTask CreateAccountAsync(LoyaltyAccount account, CancellationToken cancellationToken);

    /// <summary>Replaces the account when its stored version equals <paramref name="expectedVersion"/>; otherwise throws <see cref="ConcurrencyConflictException"/>.</summary>
    ValueTask UpdateAccountAsync(LoyaltyAccount account, long expectedVersion, CancellationToken cancellationToken);

    /// <summary>
    /// Applies a posting all or nothing. Throws <see cref="ConcurrencyConflictException"/> when the account or the
    /// reward no longer has the expected version, and <see cref="DuplicateValueException"/> (field
    /// <c>IdempotencyKey</c>) when an entry's key is already used on the account; either way nothing is written.
    /// </summary>
    ValueTask AppendAsync(LedgerPosting posting, CancellationToken cancellationToken);

    /// <summary>The entry with this id, or <see langword="null"/>.</summary>
    ValueTask<LedgerEntry?> FindEntryAsync(string tenantId, Guid entryId, CancellationToken cancellationToken);

    /// <summary>The account's entry with this idempotency key, or <see langword="null"/>.</summary>
    ValueTask<LedgerEntry?> FindEntryByKeyAsync(string tenantId, Guid accountId, string idempotencyKey, CancellationToken cancellationToken);

    /// <summary>The account's entries newest first, with a sequence below <paramref name="beforeSequence"/> when given, at most <paramref name="limit"/>.</summary>
    ValueTask<IReadOnlyList<LedgerEntry>> ListEntriesAsync(string tenantId, Guid accountId, long? beforeSequence, int limit, CancellationToken cancellationToken);

    /// <summary>The entries that reverse <paramref name="entryId"/>, oldest first.</summary>
    ValueTask<IReadOnlyList<LedgerEntry>> ListReversalsAsync(string tenantId, Guid accountId, Guid entryId, CancellationToken cancellationToken);

    /// <summary>The sums of qualifying points and spend over entries posted in [<paramref name="from"/>, <paramref name="to"/>).</summary>
    ValueTask<QualifyingTotals> SumQualifyingAsync(string tenantId, Guid accountId, DateTimeOffset from, DateTimeOffset to, CancellationToken cancellationToken);

    /// <summary>
    /// The account's lots with points remaining, oldest earned first (by earning time, then id), after
    /// <paramref name="after"/> when given, at most <paramref name="limit"/>.
    /// </summary>
    ValueTask<IReadOnlyList<PointLot>> ListOpenLotsAsync(string tenantId, Guid accountId, KeysetPosition? after, int limit, CancellationToken cancellationToken);

    /// <summary>The lots with these ids (those that exist), in any order.</summary>
    ValueTask<IReadOnlyList<PointLot>> FindLotsAsync(string tenantId, IReadOnlyCollection<Guid> lotIds, CancellationToken cancellationToken);

    /// <summary>The account's lots with points remaining that are not yet available at <paramref name="asOf"/>.</summary>
    ValueTask<IReadOnlyList<PointLot>> ListPendingLotsAsync(string tenantId, Guid accountId, DateTimeOffset asOf, CancellationToken cancellationToken);

    /// <summary>The account's lots with points remaining and an expiry date, soonest expiry first, at most <paramref name="limit"/>.</summary>
    ValueTask<IReadOnlyList<PointLot>> ListExpiringLotsAsync(string tenantId, Guid accountId, int limit, CancellationToken cancellationToken);

    /// <summary>
    /// Ids of accounts that hold lots with points remaining whose expiry is at or before <paramref name="asOf"/>,
    /// ordered by id, after <paramref name="afterAccountId"/> when given, at most <paramref name="limit"/>.
    /// </summary>
    ValueTask<IReadOnlyList<Guid>> ListAccountsWithExpiredLotsAsync(string tenantId, DateTimeOffset asOf, Guid? afterAccountId, int limit, CancellationToken cancellationToken);

    /// <summary>The reward with this id, or <see langword="null"/>.</summary>
    ValueTask<LoyaltyReward?> FindRewardAsync(string tenantId, Guid rewardId, CancellationToken cancellationToken);

    /// <summary>Rewards ordered by id, after <paramref name="afterId"/> when given, at most <paramref name="limit"/>.</summary>
    ValueTask<IReadOnlyList<LoyaltyReward>> ListRewardsAsync(string tenantId, Guid? afterId, int limit, CancellationToken cancellationToken);

    /// <summary>Adds a reward.</summary>
    ValueTask CreateRewardAsync(LoyaltyReward reward, CancellationToken cancellationToken);

    /// <summary>Replaces the reward when its stored version equals <paramref name="expectedVersion"/>; otherwise throws <see cref="ConcurrencyConflictException"/>.</summary>
    ValueTask UpdateRewardAsync(LoyaltyReward reward, long expectedVersion, CancellationToken cancellationToken);

    /// <summary>
    /// The accounts of these customers (those that have one). Imports use it; the default asks
    /// <see cref="FindAccountByCustomerAsync"/> once per customer, which an adapter should replace with one query.
    /// </summary>
    async ValueTask<IReadOnlyList<LoyaltyAccount>> FindAccountsByCustomersAsync(string tenantId, IReadOnlyCollection<Guid> customerIds, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(customerIds);
        var result = new List<LoyaltyAccount>(customerIds.Count);
        foreach (var id in customerIds)
        {
            if (await FindAccountByCustomerAsync(tenantId, id, cancellationToken).ConfigureAwait(false) is { } account)
            {
                result.Add(account);
            }
        }

        return result;
    }

    /// <summary>
    /// <see cref="LockAccountAsync"/> for many accounts at once; returns those that exist. The default locks them one
    /// at a time in id order.
    /// </summary>
    async ValueTask<IReadOnlyList<LoyaltyAccount>> LockAccountsAsync(string tenantId, IReadOnlyCollection<Guid> accountIds, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(accountIds);
        var result = new List<LoyaltyAccount>(accountIds.Count);
        foreach (var id in accountIds.Order())
        {
            if (await LockAccountAsync(tenantId, id, cancellationToken).ConfigureAwait(false) is { } account)
            {
                result.Add(account);
            }
        }

        return result;
    }

    /// <summary>Which of these (account, idempotency key) pairs already have an entry. The default asks once per pair.</summary>
    async ValueTask<IReadOnlySet<(Guid AccountId, string IdempotencyKey)>> FindExistingKeysAsync(string tenantId, IReadOnlyCollection<(Guid AccountId, string IdempotencyKey)> keys, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(keys);
        var result = new HashSet<(Guid, string)>();
        foreach (var key in keys)
        {
            if (await FindEntryByKeyAsync(tenantId, key.AccountId, key.IdempotencyKey, cancellationToken).ConfigureAwait(false) is not null)
            {
                result.Add(key);
            }
        }

        return result;
    }

    /// <summary>
    /// Applies many postings (to different accounts) inside the caller's transaction, with the guarantees of
    /// <see cref="AppendAsync"/> for each. The default appends them one by one; an adapter may write them in bulk.
    /// </summary>
    async ValueTask AppendManyAsync(IReadOnlyList<LedgerPosting> postings, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(postings);
        foreach (var posting in postings)
        {
            await AppendAsync(posting, cancellationToken).ConfigureAwait(false);
        }
    }
}
