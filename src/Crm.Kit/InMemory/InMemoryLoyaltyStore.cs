using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Collections.Concurrent;
using Crm.Kit.Loyalty;

namespace Crm.Kit.InMemory;

/// <summary>
/// One tenant's loyalty data. Accounts are immutable records swapped atomically, so that segment rules can read
/// them without a lock; ledgers, lots and rewards are guarded by locking <see cref="Gate"/>. Entries and lots are
/// kept as structs (<see cref="StoredEntry"/>, <see cref="StoredLot"/>) and handed out as new records.
/// </summary>
internal sealed class LoyaltyTenant(string tenantId)
{
    public string TenantId { get; } = tenantId;

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
            Books[accountId] = book = new LedgerBook(accountId);
        }

        return book;
    }

    public LedgerEntry? Entry(Guid entryId) =>
        Slots.TryGetValue(entryId, out var slot) && slot.EntrySequence > 0 ? slot.Book.Entry(TenantId, slot.EntrySequence) : null;

    public PointLot? Lot(Guid lotId) =>
        Slots.TryGetValue(lotId, out var slot) && slot.LotNumber > 0 ? slot.Book.Lots[slot.LotNumber - 1].ToLot(lotId, TenantId, slot.Book.AccountId) : null;

    /// <summary>The slot of an index key; the indexes only hold keys of stored lots.</summary>
    public LedgerSlot IndexedSlot(Guid lotId) => Slots[lotId];

    /// <summary>The lot of an index key, as a record.</summary>
    public PointLot IndexedLot(Guid lotId) => Lot(lotId)!;

    /// <summary>
    /// Appends an entry to its book and files it under its id and key. Its sequence number must be the book's next
    /// (<see cref="InMemoryLoyaltyStore"/> checks before it writes anything): the book finds entries by it.
    /// </summary>
    public void AddEntry(LedgerBook book, LedgerEntry entry)
    {
        book.Entries.Add(StoredEntry.From(entry));
        var sequence = book.Entries.Count;
        book.ByKey[entry.IdempotencyKey] = sequence;
        ref var slot = ref CollectionsMarshal.GetValueRefOrAddDefault(Slots, entry.Id, out _);
        slot.Book = book;
        slot.EntrySequence = sequence;
    }

    /// <summary>Takes back the last <see cref="AddEntry"/> of the book, which must be <paramref name="entry"/>.</summary>
    public void RemoveLastEntry(LedgerBook book, LedgerEntry entry)
    {
        book.Entries.RemoveLast();
        book.ByKey.Remove(entry.IdempotencyKey);
        ref var slot = ref CollectionsMarshal.GetValueRefOrNullRef(Slots, entry.Id);
        if (!Unsafe.IsNullRef(ref slot))
        {
            slot.EntrySequence = 0;
            if (slot.LotNumber == 0)
            {
                Slots.Remove(entry.Id);
            }
        }
    }

    /// <summary>
    /// Stores a new lot, or a stored lot's new state, and keeps the indexes in step. <paramref name="lot"/> null
    /// removes the lot, which must be its book's newest: only undoing a posting removes lots, newest first.
    /// </summary>
    public void SetLot(Guid lotId, PointLot? lot)
    {
        ref var slot = ref lot is null
            ? ref CollectionsMarshal.GetValueRefOrNullRef(Slots, lotId)
            : ref CollectionsMarshal.GetValueRefOrAddDefault(Slots, lotId, out _);
        if (Unsafe.IsNullRef(ref slot) || (lot is null && slot.LotNumber == 0))
        {
            throw new InvalidOperationException($"Lot {lotId} is not stored.");
        }

        var book = slot.Book ?? Book(lot!.AccountId);
        if (slot.LotNumber > 0)
        {
            var old = book.Lots[slot.LotNumber - 1];
            book.Open.Remove((old.EarnedAt.UtcTicks, lotId));
            book.Pending.Remove(lotId);
            if (old.ExpiresAt is { } oldExpiry)
            {
                book.Expiring.Remove((oldExpiry.UtcTicks, lotId));
                Expiring.Remove((oldExpiry.UtcTicks, lotId));
            }
        }

        if (lot is null)
        {
            if (slot.LotNumber != book.Lots.Count)
            {
                throw new InvalidOperationException($"Lot {lotId} is not its account's newest and cannot be removed.");
            }

            book.Lots.RemoveLast();
            slot.LotNumber = 0;
            if (slot.EntrySequence == 0)
            {
                Slots.Remove(lotId);
            }

            return;
        }

        if (slot.LotNumber > 0)
        {
            book.Lots[slot.LotNumber - 1] = StoredLot.From(lot);
        }
        else
        {
            book.Lots.Add(StoredLot.From(lot));
            slot.Book = book;
            slot.LotNumber = book.Lots.Count;
        }

        if (lot.Remaining <= 0)
        {
            return;
        }

        book.Open.Add((lot.EarnedAt.UtcTicks, lotId));
        if (lot.AvailableAt > lot.EarnedAt)
        {
            book.Pending.Add(lotId);
        }

        if (lot.ExpiresAt is { } expiry)
        {
            book.Expiring.Add((expiry.UtcTicks, lotId));
            Expiring.Add((expiry.UtcTicks, lotId));
        }
    }
}

/// <summary>One account's ledger and lot indexes.</summary>
internal sealed class LedgerBook(Guid accountId)
{
    public Guid AccountId { get; } = accountId;

    /// <summary>The entries in posting order: sequence n sits at index n - 1.</summary>
    public AppendOnlyList<StoredEntry> Entries { get; } = new();

    /// <summary>The lots of the account's credits, in the order they were stored.</summary>
    public AppendOnlyList<StoredLot> Lots { get; } = new();

    /// <summary>Entry sequence numbers by idempotency key.</summary>
    public Dictionary<string, int> ByKey { get; } = new(StringComparer.Ordinal);

    /// <summary>Sequence numbers of the reversals of an entry, by the reversed entry's id.</summary>
    public Dictionary<Guid, List<int>> ReversalsOf { get; } = [];

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

    /// <summary>The entry with the given sequence number, as a record.</summary>
    public LedgerEntry Entry(string tenantId, int sequence) => Entries[sequence - 1].ToEntry(tenantId, AccountId, sequence);
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
            CheckEntries(book, posting);

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
                tenant.AddEntry(book, entry);
                if (entry.ReversesEntryId is { } reversed)
                {
                    if (!book.ReversalsOf.TryGetValue(reversed, out var list))
                    {
                        book.ReversalsOf[reversed] = list = [];
                    }

                    list.Add(book.Entries.Count);
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
                    if (entry.ReversesEntryId is { } reversed && book.ReversalsOf.TryGetValue(reversed, out var list))
                    {
                        list.Remove(book.Entries.Count);
                    }

                    tenant.RemoveLastEntry(book, entry);
                    if (Qualifies(entry))
                    {
                        book.Qualifying.RemoveAt(book.Qualifying.Count - 1);
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
            // A hit is a repeated call, the rare case: only then is the entry made into a record.
            return new(tenant.Books.TryGetValue(accountId, out var book) && book.ByKey.TryGetValue(idempotencyKey, out var sequence)
                ? book.Entry(tenant.TenantId, sequence)
                : null);
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
                result.Add(book.Entry(t.TenantId, i + 1));
            }

            return result;
        });

    /// <inheritdoc />
    public ValueTask<IReadOnlyList<LedgerEntry>> ListReversalsAsync(string tenantId, Guid accountId, Guid entryId, CancellationToken cancellationToken) =>
        ReadList<LedgerEntry>(tenantId, t => t.Books.TryGetValue(accountId, out var book) && book.ReversalsOf.TryGetValue(entryId, out var list)
                ? list.ConvertAll(sequence => book.Entry(t.TenantId, sequence))
                : []);

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
                var lot = book.Lots[t.IndexedSlot(id).LotNumber - 1];
                if (lot.Remaining > 0 && lot.AvailableAt > asOf)
                {
                    result.Add(lot.ToLot(id, t.TenantId, book.AccountId));
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

                var accountId = t.IndexedSlot(lotId).Book.AccountId;
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

    /// <summary>Checks that the posting's entries follow on from the book's last and that their keys are new.</summary>
    private static void CheckEntries(LedgerBook book, LedgerPosting posting)
    {
        var entries = posting.Entries;

        // Most postings have one entry: the set that catches a key repeated within the posting is only needed for more.
        var seen = entries.Count > 1 ? new HashSet<string>(StringComparer.Ordinal) : null;
        for (var i = 0; i < entries.Count; i++)
        {
            var entry = entries[i];
            if (entry.Sequence != book.Entries.Count + 1 + i)
            {
                // The book finds entries by sequence number, so they must follow on from the account's last.
                throw new ArgumentException(
                    $"Entries[{i}].Sequence is {entry.Sequence}; the account's next entry is number {book.Entries.Count + 1 + i}.", nameof(posting));
            }

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

    private LoyaltyTenant Tenant(string tenantId) => _database.Loyalty.GetOrAdd(tenantId, static id => new LoyaltyTenant(id));

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
