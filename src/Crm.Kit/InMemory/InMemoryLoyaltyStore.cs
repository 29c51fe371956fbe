using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Collections.Concurrent;
using Crm.Kit.Loyalty;

namespace Crm.Kit.InMemory;

/// <summary>
/// One tenant's loyalty data. Accounts are immutable records swapped atomically, so that segment rules can read
/// them without a lock; ledgers, lots and rewards are guarded by locking <see cref="Gate"/>.
/// </summary>
internal sealed class LoyaltyTenant
{
    public Lock Gate { get; } = new();

    public LoyaltyProgramme? Programme { get; set; }

    public ConcurrentDictionary<Guid, LoyaltyAccount> Accounts { get; } = new();

    public ConcurrentDictionary<Guid, Guid> AccountOfCustomer { get; } = new();

    public Dictionary<string, Guid> AccountOfCode { get; } = new(StringComparer.Ordinal);

    public Dictionary<Guid, LedgerBook> Books { get; } = [];

    /// <summary>
    /// Entries and lots by id, in one map: a credit's lot carries the credit's id, so an earn adds one key here
    /// rather than one in each of two maps.
    /// </summary>
    public Dictionary<Guid, LedgerSlot> Slots { get; } = [];

    /// <summary>Open lots with an expiry date, soonest first, across accounts: what an expiry run looks for.</summary>
    public SortedChunkList<(long ExpiresAt, Guid LotId)> Expiring { get; } = new(TimeIdComparer.Instance);

    public Dictionary<Guid, LoyaltyReward> Rewards { get; } = [];

    public LedgerBook Book(Guid accountId)
    {
        if (!Books.TryGetValue(accountId, out var book))
        {
            Books[accountId] = book = new LedgerBook();
        }

        return book;
    }

    public LedgerEntry? Entry(Guid entryId) => Slots.TryGetValue(entryId, out var slot) ? slot.Entry : null;

    public PointLot? Lot(Guid lotId) => Slots.TryGetValue(lotId, out var slot) ? slot.Lot : null;

    /// <summary>The lot of an index key; the indexes only hold keys of stored lots.</summary>
    public PointLot IndexedLot(Guid lotId) => Slots[lotId].Lot!;

    public void AddEntry(LedgerEntry entry) =>
        CollectionsMarshal.GetValueRefOrAddDefault(Slots, entry.Id, out _).Entry = entry;

    public void RemoveEntry(Guid entryId)
    {
        ref var slot = ref CollectionsMarshal.GetValueRefOrNullRef(Slots, entryId);
        if (!Unsafe.IsNullRef(ref slot))
        {
            slot.Entry = null;
            if (slot.Lot is null)
            {
                Slots.Remove(entryId);
            }
        }
    }

    /// <summary>Stores a lot's new state (or removes it when <paramref name="lot"/> is null) and keeps the indexes in step.</summary>
    public void SetLot(Guid lotId, PointLot? lot)
    {
        ref var slot = ref CollectionsMarshal.GetValueRefOrAddDefault(Slots, lotId, out _);
        var old = slot.Lot;
        slot.Lot = lot;
        if (slot.Entry is null && lot is null)
        {
            Slots.Remove(lotId);
        }

        if (old is not null)
        {
            var book = Book(old.AccountId);
            book.Open.Remove((old.EarnedAt.UtcTicks, old.Id));
            book.Pending.Remove(old.Id);
            if (old.ExpiresAt is { } oldExpiry)
            {
                book.Expiring.Remove((oldExpiry.UtcTicks, old.Id));
                Expiring.Remove((oldExpiry.UtcTicks, old.Id));
            }
        }

        if (lot is null)
        {
            return;
        }

        if (lot.Remaining > 0)
        {
            var book = Book(lot.AccountId);
            book.Open.Add((lot.EarnedAt.UtcTicks, lot.Id));
            if (lot.AvailableAt > lot.EarnedAt)
            {
                book.Pending.Add(lot.Id);
            }

            if (lot.ExpiresAt is { } expiry)
            {
                book.Expiring.Add((expiry.UtcTicks, lot.Id));
                Expiring.Add((expiry.UtcTicks, lot.Id));
            }
        }
    }
}

/// <summary>What the store holds under one id: a ledger entry, a lot, or (for a credit) both.</summary>
internal record struct LedgerSlot(LedgerEntry? Entry, PointLot? Lot);

/// <summary>One account's ledger and lot indexes.</summary>
internal sealed class LedgerBook
{
    public List<LedgerEntry> Entries { get; } = [];

    public Dictionary<string, LedgerEntry> ByKey { get; } = new(StringComparer.Ordinal);

    public Dictionary<Guid, List<LedgerEntry>> ReversalsOf { get; } = [];

    /// <summary>Open lots, oldest earned first.</summary>
    public SortedChunkList<(long EarnedAt, Guid LotId)> Open { get; } = new(TimeIdComparer.Instance);

    /// <summary>Open lots that were created with an activation delay (some may have matured since).</summary>
    public HashSet<Guid> Pending { get; } = [];

    /// <summary>Open lots with an expiry date, soonest first.</summary>
    public SortedChunkList<(long ExpiresAt, Guid LotId)> Expiring { get; } = new(TimeIdComparer.Instance);

    /// <summary>
    /// Running sums of qualifying points and spend after each entry that changed them (prefix sums), so a window
    /// sum is two lookups.
    /// </summary>
    public List<(long At, long Points, decimal Spend)> Qualifying { get; } = [];
}

/// <summary>The in-memory <see cref="ILoyaltyStore"/>, over an <see cref="InMemoryCrmDatabase"/>.</summary>
public sealed class InMemoryLoyaltyStore : ILoyaltyStore
{
    private readonly InMemoryCrmDatabase _database;

    /// <summary>Creates the store.</summary>
    public InMemoryLoyaltyStore(InMemoryCrmDatabase database) => _database = database ?? throw new ArgumentNullException(nameof(database));

    /// <summary>The customer's account, or <see langword="null"/>; synchronous and lock-free, for compiled segment rules.</summary>
    public LoyaltyAccount? FindByCustomer(string tenantId, Guid customerId) =>
        _database.Loyalty.TryGetValue(tenantId, out var tenant) &&
        tenant.AccountOfCustomer.TryGetValue(customerId, out var id) &&
        tenant.Accounts.TryGetValue(id, out var account)
            ? account
            : null;

    /// <inheritdoc />
    public ValueTask<LoyaltyProgramme?> FindProgrammeAsync(string tenantId, CancellationToken cancellationToken) =>
        new(Existing(tenantId)?.Programme);

    /// <inheritdoc />
    public ValueTask CreateProgrammeAsync(LoyaltyProgramme programme, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(programme);
        return _database.WriteAsync(() =>
        {
            var tenant = Tenant(programme.TenantId);
            lock (tenant.Gate)
            {
                if (tenant.Programme is not null)
                {
                    throw new DuplicateValueException(nameof(LoyaltyProgramme.TenantId), programme.TenantId);
                }

                tenant.Programme = programme;
            }

            return () =>
            {
                lock (tenant.Gate)
                {
                    tenant.Programme = null;
                }
            };
        }, cancellationToken);
    }

    /// <inheritdoc />
    public ValueTask UpdateProgrammeAsync(LoyaltyProgramme programme, long expectedVersion, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(programme);
        return _database.WriteAsync(() =>
        {
            var tenant = Tenant(programme.TenantId);
            lock (tenant.Gate)
            {
                var previous = tenant.Programme;
                if (previous is null || previous.Id != programme.Id || previous.Version != expectedVersion)
                {
                    throw new ConcurrencyConflictException(nameof(LoyaltyProgramme), programme.Id, expectedVersion);
                }

                tenant.Programme = programme;
                return () =>
                {
                    lock (tenant.Gate)
                    {
                        tenant.Programme = previous;
                    }
                };
            }
        }, cancellationToken);
    }

    /// <inheritdoc />
    public ValueTask<LoyaltyAccount?> FindAccountAsync(string tenantId, Guid accountId, CancellationToken cancellationToken) =>
        new(Existing(tenantId)?.Accounts.GetValueOrDefault(accountId));

    /// <inheritdoc />
    public ValueTask<LoyaltyAccount?> FindAccountByCustomerAsync(string tenantId, Guid customerId, CancellationToken cancellationToken) =>
        new(FindByCustomer(tenantId, customerId));

    /// <inheritdoc />
    public ValueTask<LoyaltyAccount?> FindAccountByReferralCodeAsync(string tenantId, string referralCode, CancellationToken cancellationToken)
    {
        if (Existing(tenantId) is not { } tenant)
        {
            return new((LoyaltyAccount?)null);
        }

        lock (tenant.Gate)
        {
            return new(tenant.AccountOfCode.TryGetValue(referralCode, out var id) ? tenant.Accounts.GetValueOrDefault(id) : null);
        }
    }

    /// <inheritdoc />
    public ValueTask<IReadOnlyList<LoyaltyAccount>> ListAccountsAsync(string tenantId, Guid? afterId, int limit, CancellationToken cancellationToken)
    {
        if (Existing(tenantId) is not { } tenant)
        {
            return new(Array.Empty<LoyaltyAccount>());
        }

        IReadOnlyList<LoyaltyAccount> page = [.. tenant.Accounts.Values.Where(a => afterId is null || a.Id.CompareTo(afterId.Value) > 0).OrderBy(a => a.Id).Take(limit)];
        return new(page);
    }

    /// <inheritdoc />
    /// <remarks>In memory, a transaction holds the database's write gate, so the account is already safe from other writers.</remarks>
    public ValueTask<LoyaltyAccount?> LockAccountAsync(string tenantId, Guid accountId, CancellationToken cancellationToken) =>
        FindAccountAsync(tenantId, accountId, cancellationToken);

    /// <inheritdoc />
    public ValueTask CreateAccountAsync(LoyaltyAccount account, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(account);
        return _database.WriteAsync(() =>
        {
            var tenant = Tenant(account.TenantId);
            lock (tenant.Gate)
            {
                if (tenant.AccountOfCustomer.ContainsKey(account.CustomerId))
                {
                    throw new DuplicateValueException(nameof(LoyaltyAccount.CustomerId), account.CustomerId.ToString());
                }

                if (tenant.AccountOfCode.ContainsKey(account.ReferralCode))
                {
                    throw new DuplicateValueException(nameof(LoyaltyAccount.ReferralCode), account.ReferralCode);
                }

                tenant.Accounts[account.Id] = account;
                tenant.AccountOfCustomer[account.CustomerId] = account.Id;
                tenant.AccountOfCode[account.ReferralCode] = account.Id;
                tenant.Book(account.Id);
            }

            return () =>
            {
                lock (tenant.Gate)
                {
                    tenant.Accounts.TryRemove(account.Id, out _);
                    tenant.AccountOfCustomer.TryRemove(account.CustomerId, out _);
                    tenant.AccountOfCode.Remove(account.ReferralCode);
                    tenant.Books.Remove(account.Id);
                }
            };
        }, cancellationToken);
    }

    /// <inheritdoc />
    public ValueTask UpdateAccountAsync(LoyaltyAccount account, long expectedVersion, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(account);
        return _database.WriteAsync(() =>
        {
            var tenant = Tenant(account.TenantId);
            lock (tenant.Gate)
            {
                var previous = CheckVersion(tenant, account, expectedVersion);
                tenant.Accounts[account.Id] = account;
                return () => tenant.Accounts[account.Id] = previous;
            }
        }, cancellationToken);
    }

    /// <inheritdoc />
    public ValueTask AppendAsync(LedgerPosting posting, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(posting);
        return _database.WriteAsync((Store: this, Posting: posting), static state => state.Store.Append(state.Posting), cancellationToken);
    }

    private AppendUndo Append(LedgerPosting posting)
    {
        var account = posting.Account;
        var tenant = Tenant(account.TenantId);
        lock (tenant.Gate)
        {
            var previous = CheckVersion(tenant, account, posting.ExpectedVersion);
            var book = tenant.Book(account.Id);
            CheckKeysAreNew(book, posting.Entries);

            LoyaltyReward? previousReward = null;
            if (posting.Reward is { } change)
            {
                previousReward = tenant.Rewards.GetValueOrDefault(change.Reward.Id);
                if (previousReward is null || previousReward.Version != change.ExpectedVersion)
                {
                    throw new ConcurrencyConflictException(nameof(LoyaltyReward), change.Reward.Id, change.ExpectedVersion);
                }

                tenant.Rewards[change.Reward.Id] = change.Reward;
            }

            // New lots need no record to be undone (undoing removes them); changed lots keep their previous state.
            for (var i = 0; i < posting.NewLots.Count; i++)
            {
                tenant.SetLot(posting.NewLots[i].Id, posting.NewLots[i]);
            }

            var previousLots = posting.ChangedLots.Count == 0 ? [] : new PointLot?[posting.ChangedLots.Count];
            for (var i = 0; i < posting.ChangedLots.Count; i++)
            {
                var lot = posting.ChangedLots[i];
                previousLots[i] = tenant.Lot(lot.Id);
                tenant.SetLot(lot.Id, lot);
            }

            for (var i = 0; i < posting.Entries.Count; i++)
            {
                var entry = posting.Entries[i];
                book.Entries.Add(entry);
                book.ByKey[entry.IdempotencyKey] = entry;
                tenant.AddEntry(entry);
                if (entry.ReversesEntryId is { } reversed)
                {
                    if (!book.ReversalsOf.TryGetValue(reversed, out var list))
                    {
                        book.ReversalsOf[reversed] = list = [];
                    }

                    list.Add(entry);
                }

                if (Qualifies(entry))
                {
                    var last = book.Qualifying.Count > 0 ? book.Qualifying[^1] : default;
                    book.Qualifying.Add((entry.At.UtcTicks, last.Points + entry.QualifyingPoints, last.Spend + entry.QualifyingSpend));
                }
            }

            tenant.Accounts[account.Id] = account;
            return new AppendUndo(tenant, book, posting, previous, previousLots, previousReward);
        }
    }

    /// <summary>Takes back one <see cref="AppendAsync"/>: one object holding what the write replaced.</summary>
    private sealed class AppendUndo(LoyaltyTenant tenant, LedgerBook book, LedgerPosting posting, LoyaltyAccount previous, PointLot?[] previousLots, LoyaltyReward? previousReward) : IUndo
    {
        public void Undo()
        {
            lock (tenant.Gate)
            {
                tenant.Accounts[previous.Id] = previous;
                for (var i = posting.Entries.Count - 1; i >= 0; i--)
                {
                    var entry = posting.Entries[i];
                    book.Entries.RemoveAt(book.Entries.Count - 1);
                    if (Qualifies(entry))
                    {
                        book.Qualifying.RemoveAt(book.Qualifying.Count - 1);
                    }

                    book.ByKey.Remove(entry.IdempotencyKey);
                    tenant.RemoveEntry(entry.Id);
                    if (entry.ReversesEntryId is { } reversed && book.ReversalsOf.TryGetValue(reversed, out var list))
                    {
                        list.Remove(entry);
                    }
                }

                for (var i = previousLots.Length - 1; i >= 0; i--)
                {
                    tenant.SetLot(posting.ChangedLots[i].Id, previousLots[i]);
                }

                for (var i = posting.NewLots.Count - 1; i >= 0; i--)
                {
                    tenant.SetLot(posting.NewLots[i].Id, null);
                }

                if (posting.Reward is { } change && previousReward is not null)
                {
                    tenant.Rewards[change.Reward.Id] = previousReward;
                }
            }
        }
    }

    /// <inheritdoc />
    public ValueTask<LedgerEntry?> FindEntryAsync(string tenantId, Guid entryId, CancellationToken cancellationToken) =>
        Read(tenantId, t => t.Entry(entryId));

    /// <inheritdoc />
    /// <remarks>Written out rather than through <c>Read</c>: every posting checks its key, and a closure per check adds up.</remarks>
    public ValueTask<LedgerEntry?> FindEntryByKeyAsync(string tenantId, Guid accountId, string idempotencyKey, CancellationToken cancellationToken)
    {
        if (Existing(tenantId) is not { } tenant)
        {
            return new((LedgerEntry?)null);
        }

        lock (tenant.Gate)
        {
            return new(tenant.Books.TryGetValue(accountId, out var book) ? book.ByKey.GetValueOrDefault(idempotencyKey) : null);
        }
    }

    /// <inheritdoc />
    public ValueTask<IReadOnlyList<LedgerEntry>> ListEntriesAsync(string tenantId, Guid accountId, long? beforeSequence, int limit, CancellationToken cancellationToken) =>
        ReadList<LedgerEntry>(tenantId, t =>
        {
            if (!t.Books.TryGetValue(accountId, out var book))
            {
                return [];
            }

            // Sequence n sits at index n - 1.
            var end = (int)Math.Min(book.Entries.Count, (beforeSequence ?? long.MaxValue) - 1);
            var result = new List<LedgerEntry>(Math.Min(limit, Math.Max(end, 0)));
            for (var i = end - 1; i >= 0 && result.Count < limit; i--)
            {
                result.Add(book.Entries[i]);
            }

            return result;
        });

    /// <inheritdoc />
    public ValueTask<IReadOnlyList<LedgerEntry>> ListReversalsAsync(string tenantId, Guid accountId, Guid entryId, CancellationToken cancellationToken) =>
        ReadList<LedgerEntry>(tenantId, t => t.Books.TryGetValue(accountId, out var book) && book.ReversalsOf.TryGetValue(entryId, out var list) ? [.. list] : []);

    /// <inheritdoc />
    public ValueTask<QualifyingTotals> SumQualifyingAsync(string tenantId, Guid accountId, DateTimeOffset from, DateTimeOffset to, CancellationToken cancellationToken)
    {
        if (Existing(tenantId) is not { } tenant)
        {
            return new(default(QualifyingTotals));
        }

        lock (tenant.Gate)
        {
            if (!tenant.Books.TryGetValue(accountId, out var book) || book.Qualifying.Count == 0)
            {
                return new(default(QualifyingTotals));
            }

            // Entries are appended in posting order, which follows the clock; prefix sums make a window two lookups.
            var upper = PrefixBefore(book.Qualifying, to.UtcTicks);
            var lower = PrefixBefore(book.Qualifying, from.UtcTicks);
            return new(new QualifyingTotals(upper.Points - lower.Points, upper.Spend - lower.Spend));
        }
    }

    /// <inheritdoc />
    public ValueTask<IReadOnlyList<PointLot>> ListOpenLotsAsync(string tenantId, Guid accountId, KeysetPosition? after, int limit, CancellationToken cancellationToken) =>
        ReadList<PointLot>(tenantId, t =>
        {
            if (!t.Books.TryGetValue(accountId, out var book))
            {
                return [];
            }

            var keys = after is { } position
                ? book.Open.After((position.At.UtcTicks, position.Id))
                : book.Open.All();
            return [.. keys.Take(limit).Select(k => t.IndexedLot(k.LotId))];
        });

    /// <inheritdoc />
    public ValueTask<IReadOnlyList<PointLot>> FindLotsAsync(string tenantId, IReadOnlyCollection<Guid> lotIds, CancellationToken cancellationToken) =>
        ReadList<PointLot>(tenantId, t =>
        {
            var lots = new List<PointLot>(lotIds.Count);
            foreach (var id in lotIds)
            {
                if (t.Lot(id) is { } lot)
                {
                    lots.Add(lot);
                }
            }

            return lots;
        });

    /// <inheritdoc />
    public ValueTask<IReadOnlyList<PointLot>> ListPendingLotsAsync(string tenantId, Guid accountId, DateTimeOffset asOf, CancellationToken cancellationToken) =>
        ReadList<PointLot>(tenantId, t =>
        {
            if (!t.Books.TryGetValue(accountId, out var book))
            {
                return [];
            }

            var result = new List<PointLot>();
            foreach (var id in book.Pending)
            {
                if (t.IndexedLot(id) is { Remaining: > 0 } lot && lot.AvailableAt > asOf)
                {
                    result.Add(lot);
                }
            }

            return result;
        });

    /// <inheritdoc />
    public ValueTask<IReadOnlyList<PointLot>> ListExpiringLotsAsync(string tenantId, Guid accountId, int limit, CancellationToken cancellationToken) =>
        ReadList<PointLot>(tenantId, t => t.Books.TryGetValue(accountId, out var book) ? [.. book.Expiring.All().Take(limit).Select(k => t.IndexedLot(k.LotId))] : []);

    /// <inheritdoc />
    public ValueTask<IReadOnlyList<Guid>> ListAccountsWithExpiredLotsAsync(string tenantId, DateTimeOffset asOf, Guid? afterAccountId, int limit, CancellationToken cancellationToken) =>
        ReadList<Guid>(tenantId, t =>
        {
            var accounts = new SortedSet<Guid>();
            foreach (var (expiresAt, lotId) in t.Expiring.All())
            {
                if (expiresAt > asOf.UtcTicks)
                {
                    break;
                }

                var accountId = t.IndexedLot(lotId).AccountId;
                if (afterAccountId is null || accountId.CompareTo(afterAccountId.Value) > 0)
                {
                    accounts.Add(accountId);
                }
            }

            return [.. accounts.Take(limit)];
        });

    /// <inheritdoc />
    public ValueTask<LoyaltyReward?> FindRewardAsync(string tenantId, Guid rewardId, CancellationToken cancellationToken) =>
        Read(tenantId, t => t.Rewards.GetValueOrDefault(rewardId));

    /// <inheritdoc />
    public ValueTask<IReadOnlyList<LoyaltyReward>> ListRewardsAsync(string tenantId, Guid? afterId, int limit, CancellationToken cancellationToken) =>
        ReadList<LoyaltyReward>(tenantId, t => [.. t.Rewards.Values.Where(r => afterId is null || r.Id.CompareTo(afterId.Value) > 0).OrderBy(r => r.Id).Take(limit)]);

    /// <inheritdoc />
    public ValueTask CreateRewardAsync(LoyaltyReward reward, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(reward);
        return _database.WriteAsync(() =>
        {
            var tenant = Tenant(reward.TenantId);
            lock (tenant.Gate)
            {
                if (!tenant.Rewards.TryAdd(reward.Id, reward))
                {
                    throw new DuplicateValueException(nameof(LoyaltyReward.Id), reward.Id.ToString());
                }
            }

            return () =>
            {
                lock (tenant.Gate)
                {
                    tenant.Rewards.Remove(reward.Id);
                }
            };
        }, cancellationToken);
    }

    /// <inheritdoc />
    public ValueTask UpdateRewardAsync(LoyaltyReward reward, long expectedVersion, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(reward);
        return _database.WriteAsync(() =>
        {
            var tenant = Tenant(reward.TenantId);
            lock (tenant.Gate)
            {
                if (tenant.Rewards.GetValueOrDefault(reward.Id) is not { } previous || previous.Version != expectedVersion)
                {
                    throw new ConcurrencyConflictException(nameof(LoyaltyReward), reward.Id, expectedVersion);
                }

                tenant.Rewards[reward.Id] = reward;
                return () =>
                {
                    lock (tenant.Gate)
                    {
                        tenant.Rewards[reward.Id] = previous;
                    }
                };
            }
        }, cancellationToken);
    }

    // Only entries that move the qualifying figures get a running sum: a window's sum is the same, and partner
    // credits, redemptions and expiries (most of a ledger) add nothing.
    private static bool Qualifies(LedgerEntry entry) => entry.QualifyingPoints != 0 || entry.QualifyingSpend != 0m;

    private static void CheckKeysAreNew(LedgerBook book, IReadOnlyList<LedgerEntry> entries)
    {
        // Most postings have one entry: the set that catches a key repeated within the posting is only needed for more.
        var seen = entries.Count > 1 ? new HashSet<string>(StringComparer.Ordinal) : null;
        for (var i = 0; i < entries.Count; i++)
        {
            var entry = entries[i];
            if (book.ByKey.ContainsKey(entry.IdempotencyKey) || (seen is not null && !seen.Add(entry.IdempotencyKey)))
            {
                throw new DuplicateValueException(nameof(LedgerEntry.IdempotencyKey), entry.IdempotencyKey);
            }
        }
    }

    private static LoyaltyAccount CheckVersion(LoyaltyTenant tenant, LoyaltyAccount account, long expectedVersion) =>
        tenant.Accounts.GetValueOrDefault(account.Id) is { } stored && stored.Version == expectedVersion && stored.CustomerId == account.CustomerId
            ? stored
            : throw new ConcurrencyConflictException(nameof(LoyaltyAccount), account.Id, expectedVersion);

    private static (long Points, decimal Spend) PrefixBefore(List<(long At, long Points, decimal Spend)> sums, long ticks)
    {
        // The last running sum of an entry posted before `ticks` (binary search on the posting time).
        int lo = 0, hi = sums.Count;
        while (lo < hi)
        {
            var mid = (lo + hi) >>> 1;
            if (sums[mid].At < ticks)
            {
                lo = mid + 1;
            }
            else
            {
                hi = mid;
            }
        }

        return lo == 0 ? (0, 0m) : (sums[lo - 1].Points, sums[lo - 1].Spend);
    }

    private LoyaltyTenant? Existing(string tenantId)
    {
        ArgumentNullException.ThrowIfNull(tenantId);
        return _database.Loyalty.GetValueOrDefault(tenantId);
    }

    private LoyaltyTenant Tenant(string tenantId) => _database.Loyalty.GetOrAdd(tenantId, static _ => new LoyaltyTenant());

    private ValueTask<T?> Read<T>(string tenantId, Func<LoyaltyTenant, T?> read)
        where T : class
    {
        if (Existing(tenantId) is not { } tenant)
        {
            return new((T?)null);
        }

        lock (tenant.Gate)
        {
            return new(read(tenant));
        }
    }

    private ValueTask<IReadOnlyList<T>> ReadList<T>(string tenantId, Func<LoyaltyTenant, List<T>> read)
    {
        if (Existing(tenantId) is not { } tenant)
        {
            return new(Array.Empty<T>());
        }

        lock (tenant.Gate)
        {
            return new(read(tenant));
        }
    }
}
