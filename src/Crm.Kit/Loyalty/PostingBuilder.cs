namespace Crm.Kit.Loyalty;

/// <summary>
/// Works out one posting on one locked account: credits create lots, debits take from lots oldest first, and the
/// account's balances move with every entry, so that the balance always equals both the ledger sum and the sum of
/// the lots' remaining points. Nothing is written until the manager hands <see cref="BuildAsync"/>'s result to the
/// store.
/// </summary>
internal sealed class PostingBuilder
{
    private const int LotPage = 256;

    private readonly ILoyaltyStore _store;
    private readonly List<PointLot> _newLots = [];
    private readonly List<LedgerEntry> _entries = [];

    // Created on first use: an earn, the common posting, changes no stored lot, moves no tier and pays no referrer.
    private Dictionary<Guid, PointLot>? _changed;
    private List<TierChange>? _tierChanges;
    private List<PostingBuilder>? _others;
    private IReadOnlyList<PointLot>? _storedPending;

    // The account as last set, and the figures the entries appended since have moved. The record is copied only
    // when someone reads Account, not once per entry; an earn never does, and BuildAsync copies it once.
    private LoyaltyAccount _account = null!;
    private long _balance;
    private long _entryCount;
    private long _lifetimePoints;
    private bool _figuresMoved;

    public PostingBuilder(ILoyaltyStore store, LoyaltyAccount account, LoyaltyProgramme programme, DateTimeOffset now)
    {
        _store = store;
        Original = account;
        Account = account;
        Programme = programme;
        Now = now;
    }

    public LoyaltyAccount Original { get; }

    /// <summary>The account as the entries so far leave it.</summary>
    public LoyaltyAccount Account
    {
        get
        {
            if (_figuresMoved)
            {
                _account = _account with { Balance = _balance, EntryCount = _entryCount, LifetimePoints = _lifetimePoints };
                _figuresMoved = false;
            }

            return _account;
        }

        set
        {
            _account = value;
            _balance = value.Balance;
            _entryCount = value.EntryCount;
            _lifetimePoints = value.LifetimePoints;
            _figuresMoved = false;
        }
    }

    public LoyaltyProgramme Programme { get; }

    /// <summary>The key the posting is made under (what the manager checked for a repeat).</summary>
    public string IdempotencyKey { get; init; } = string.Empty;

    public DateTimeOffset Now { get; }

    public IReadOnlyList<LedgerEntry> Entries => _entries;

    public List<TierChange> TierChanges => _tierChanges ??= [];

    /// <summary>Whether <see cref="TierChanges"/> has anything, without creating the list.</summary>
    public bool HasTierChanges => _tierChanges is { Count: > 0 };

    public (LoyaltyReward Reward, long ExpectedVersion)? Reward { get; set; }

    /// <summary>Postings to other accounts written in the same transaction (a referrer's bonus).</summary>
    public List<PostingBuilder> Others => _others ??= [];

    /// <summary>Whether <see cref="Others"/> has anything, without creating the list.</summary>
    public bool HasOthers => _others is { Count: > 0 };

    private Dictionary<Guid, PointLot> Changed => _changed ??= [];

    private string TenantId => Original.TenantId;

    /// <summary>Appends a credit and the lot it creates.</summary>
    public LedgerEntry Credit(in EntryDraft draft, DateTimeOffset earnedAt, DateTimeOffset availableAt, bool addsToLifetime)
    {
        var entry = Append(draft, draft.Points, addsToLifetime ? draft.Points : 0);
        _newLots.Add(new PointLot
        {
            Id = entry.Id,
            TenantId = TenantId,
            AccountId = Original.Id,
            Points = entry.Points,
            Remaining = entry.Points,
            EarnedAt = earnedAt,
            AvailableAt = availableAt,
            ExpiresAt = Programme.Definition.Expiry.ExpiryOf(earnedAt),
        });
        return entry;
    }

    /// <summary>Appends a debit of the points <paramref name="draws"/> took.</summary>
    public LedgerEntry Debit(in EntryDraft draft, IReadOnlyList<LotDraw> draws) =>
        Append(draft with { Draws = draws }, -draws.Sum(d => d.Points));

    /// <summary>Appends a credit that gives points back to the lots they were taken from.</summary>
    public async ValueTask<LedgerEntry> RestoreAsync(EntryDraft draft, IReadOnlyList<LotDraw> draws, CancellationToken cancellationToken)
    {
        await GiveBackAsync(draws, cancellationToken).ConfigureAwait(false);
        return Restored(draft, draws);
    }

    /// <summary>Gives points back to the lots they were taken from, without an entry yet (see <see cref="Restored"/>).</summary>
    public async ValueTask GiveBackAsync(IReadOnlyList<LotDraw> draws, CancellationToken cancellationToken)
    {
        var lots = await LoadAsync(draws.Select(d => d.LotId).Distinct().ToList(), cancellationToken).ConfigureAwait(false);
        foreach (var draw in draws)
        {
            var lot = lots[draw.LotId];
            lots[draw.LotId] = Changed[draw.LotId] = lot with { Remaining = lot.Remaining + draw.Points };
        }
    }

    /// <summary>Appends the credit for points <see cref="GiveBackAsync"/> gave back.</summary>
    public LedgerEntry Restored(in EntryDraft draft, IReadOnlyList<LotDraw> draws) =>
        Append(draft with { Draws = draws }, draws.Sum(d => d.Points));

    /// <summary>
    /// Takes up to <paramref name="points"/> from the lots: <paramref name="firstLotId"/> first when given, then the
    /// oldest available lots, then (unless <paramref name="availableOnly"/>) the oldest pending ones.
    /// </summary>
    public async ValueTask<IReadOnlyList<LotDraw>> TakeAsync(long points, bool availableOnly, Guid? firstLotId, CancellationToken cancellationToken)
    {
        var draws = new List<LotDraw>();
        var need = points;
        if (firstLotId is { } first && need > 0)
        {
            var lots = await LoadAsync([first], cancellationToken).ConfigureAwait(false);
            if (lots.TryGetValue(first, out var lot))
            {
                need -= Take(lot, need, draws);
            }
        }

        foreach (var pendingPass in availableOnly ? [false] : new[] { false, true })
        {
            // The store lists the lots open in it; a lot this posting gave points back to may still be closed
            // there, so such lots are taken from in their turn as well.
            var reopened = _changed is null ? [] : _changed.Values
                .Where(l => l.Remaining > 0 && (l.AvailableAt > Now) == pendingPass)
                .OrderBy(l => l.EarnedAt).ThenBy(l => l.Id).ToList();
            HashSet<Guid>? handled = reopened.Count == 0 ? null : [];
            var nextReopened = 0;
            KeysetPosition? after = null;
            while (need > 0)
            {
                var page = await _store.ListOpenLotsAsync(TenantId, Original.Id, after, LotPage, cancellationToken).ConfigureAwait(false);
                foreach (var stored in page)
                {
                    for (; nextReopened < reopened.Count && need > 0 && Precedes(reopened[nextReopened], stored); nextReopened++)
                    {
                        need -= TakeOnce(reopened[nextReopened], need, draws, handled);
                    }

                    var lot = ChangedOr(stored);
                    if ((lot.AvailableAt > Now) == pendingPass && need > 0)
                    {
                        need -= TakeOnce(lot, need, draws, handled);
                    }
                }

                if (page.Count < LotPage)
                {
                    break;
                }

                after = new KeysetPosition(page[^1].EarnedAt, page[^1].Id);
            }

            for (; nextReopened < reopened.Count && need > 0; nextReopened++)
            {
                need -= TakeOnce(reopened[nextReopened], need, draws, handled);
            }
        }

        return draws;
    }

    /// <summary>Marks the remaining points of expired lots as expired and appends the expiry entry.</summary>
    public LedgerEntry? Expire(IReadOnlyList<PointLot> due, string idempotencyKey)
    {
        var draws = new List<LotDraw>();
        foreach (var stored in due)
        {
            var lot = ChangedOr(stored);
            if (lot.Remaining > 0)
            {
                draws.Add(new LotDraw(lot.Id, lot.Remaining));
                Changed[lot.Id] = lot with { Remaining = 0, Expired = lot.Expired + lot.Remaining };
            }
        }

        return draws.Count == 0
            ? null
            : Append(new EntryDraft(LedgerEntryKind.Expire, idempotencyKey, "expiry") { Draws = draws }, -draws.Sum(d => d.Points));
    }

    /// <summary>Points not yet available now: in stored pending lots (as changed here) and in new lots.</summary>
    public async ValueTask<(long Points, DateTimeOffset? Next)> PendingAsync(CancellationToken cancellationToken)
    {
        if (Original.NextActivationAt is not null)
        {
            // Read once per posting: a redemption asks before taking, and the posting asks again when it is built.
            _storedPending ??= await _store.ListPendingLotsAsync(TenantId, Original.Id, Now, cancellationToken).ConfigureAwait(false);
        }

        var sum = new PendingSum(Now);
        if (_storedPending is not null)
        {
            foreach (var stored in _storedPending)
            {
                if (!IsChanged(stored.Id))
                {
                    sum.Add(stored);
                }
            }
        }

        if (_changed is not null)
        {
            foreach (var lot in _changed.Values)
            {
                sum.Add(lot);
            }
        }

        foreach (var lot in _newLots)
        {
            if (!IsChanged(lot.Id))
            {
                sum.Add(lot);
            }
        }

        return (sum.Points, sum.Next);
    }

    /// <summary>The posting to hand to the store, with the account's pending figures brought up to date.</summary>
    public async ValueTask<LedgerPosting> BuildAsync(CancellationToken cancellationToken)
    {
        var (pending, next) = await PendingAsync(cancellationToken).ConfigureAwait(false);
        return new LedgerPosting
        {
            Account = _account with
            {
                Version = Original.Version + 1,
                Balance = _balance,
                EntryCount = _entryCount,
                LifetimePoints = _lifetimePoints,
                PendingPoints = pending,
                PendingAsOf = Now,
                NextActivationAt = next,
            },
            ExpectedVersion = Original.Version,
            OriginalAccount = Original,
            Entries = _entries,
            NewLots = _newLots,
            ChangedLots = _changed is null ? [] : [.. _changed.Values],
            Reward = Reward,
        };
    }

    private static bool Precedes(PointLot lot, PointLot other) =>
        lot.EarnedAt < other.EarnedAt || (lot.EarnedAt == other.EarnedAt && lot.Id.CompareTo(other.Id) < 0);

    /// <summary>
    /// Takes from a lot unless this take already has: a lot can be met both as reopened and as listed. Without
    /// reopened lots (<paramref name="handled"/> null), every listed lot is met once.
    /// </summary>
    private long TakeOnce(PointLot lot, long need, List<LotDraw> draws, HashSet<Guid>? handled) =>
        handled is null || handled.Add(lot.Id) ? Take(ChangedOr(lot), need, draws) : 0;

    private long Take(PointLot lot, long need, List<LotDraw> draws)
    {
        var taken = Math.Min(lot.Remaining, need);
        if (taken > 0)
        {
            draws.Add(new LotDraw(lot.Id, taken));
            Changed[lot.Id] = lot with { Remaining = lot.Remaining - taken };
        }

        return taken;
    }

    private async ValueTask<Dictionary<Guid, PointLot>> LoadAsync(IReadOnlyList<Guid> ids, CancellationToken cancellationToken)
    {
        var result = new Dictionary<Guid, PointLot>();
        var missing = new List<Guid>();
        foreach (var id in ids)
        {
            if (_changed is not null && _changed.TryGetValue(id, out var lot))
            {
                result[id] = lot;
            }
            else
            {
                missing.Add(id);
            }
        }

        if (missing.Count > 0)
        {
            foreach (var lot in await _store.FindLotsAsync(TenantId, missing, cancellationToken).ConfigureAwait(false))
            {
                if (lot.AccountId == Original.Id)
                {
                    result[lot.Id] = lot;
                }
            }
        }

        return result;
    }

    private bool IsChanged(Guid lotId) => _changed is not null && _changed.ContainsKey(lotId);

    private PointLot ChangedOr(PointLot stored) =>
        _changed is not null && _changed.TryGetValue(stored.Id, out var changed) ? changed : stored;

    private LedgerEntry Append(in EntryDraft draft, long signedPoints, long lifetimePoints = 0)
    {
        var entry = new LedgerEntry
        {
            Id = CrmIds.NewId(Now),
            TenantId = TenantId,
            AccountId = Original.Id,
            Sequence = _entryCount + 1,
            Kind = draft.Kind,
            Points = signedPoints,
            BalanceAfter = _balance + signedPoints,
            IdempotencyKey = draft.IdempotencyKey,
            At = Now,
            Source = draft.Source,
            Reason = draft.Reason,
            Actor = draft.Actor,
            ReversesEntryId = draft.ReversesEntryId,
            OrderId = draft.OrderId,
            RewardId = draft.RewardId,
            QualifyingPoints = draft.QualifyingPoints,
            QualifyingSpend = draft.QualifyingSpend,
            Basis = draft.Basis,
            Draws = draft.Draws ?? [],
            Shortfall = draft.Shortfall,
        };
        _balance = entry.BalanceAfter;
        _entryCount = entry.Sequence;
        _lifetimePoints += lifetimePoints;
        _figuresMoved = true;
        _entries.Add(entry);
        return entry;
    }

    /// <summary>Adds up the remaining points of lots that are still pending at a time, and the soonest activation.</summary>
    private struct PendingSum(DateTimeOffset now)
    {
        public long Points { get; private set; }

        public DateTimeOffset? Next { get; private set; }

        public void Add(PointLot lot)
        {
            if (lot.AvailableAt > now && lot.Remaining > 0)
            {
                Points += lot.Remaining;
                Next = Next is { } next && next <= lot.AvailableAt ? next : lot.AvailableAt;
            }
        }
    }
}

/// <summary>
/// What a caller decides about an entry; <see cref="PostingBuilder"/> adds the id, account, sequence, balance and
/// time. A struct, so that an entry is built as one record rather than as a template record copied with <c>with</c>.
/// </summary>
internal readonly record struct EntryDraft(LedgerEntryKind Kind, string IdempotencyKey, string? Source)
{
    /// <summary>Points of a credit (a debit's come from its draws).</summary>
    public long Points { get; init; }

    public string? Reason { get; init; }

    public string? Actor { get; init; }

    public Guid? ReversesEntryId { get; init; }

    public Guid? OrderId { get; init; }

    public Guid? RewardId { get; init; }

    public long QualifyingPoints { get; init; }

    public decimal QualifyingSpend { get; init; }

    public EarnBasis? Basis { get; init; }

    public IReadOnlyList<LotDraw>? Draws { get; init; }

    public long Shortfall { get; init; }
}
