namespace Crm.Kit.Loyalty;

/// <summary>Whether a member is enrolled.</summary>
public enum LoyaltyAccountStatus
{
    /// <summary>Enrolled: earns and redeems.</summary>
    Active,

    /// <summary>Unenrolled: keeps its points and history but neither earns nor redeems until enrolled again.</summary>
    Closed,
}

/// <summary>One tier change of a member.</summary>
/// <param name="From">The tier before, or <see langword="null"/> on entry.</param>
/// <param name="To">The tier after.</param>
/// <param name="At">When.</param>
/// <param name="Reason"><c>qualified</c>, <c>downgraded</c> or <c>entry</c>.</param>
public sealed record TierChange(string? From, string To, DateTimeOffset At, string Reason);

/// <summary>
/// A customer's membership of the tenant's loyalty programme: the balances the ledger adds up to, kept on the
/// account so that reading them never sums the ledger.
/// </summary>
public sealed record LoyaltyAccount
{
    /// <summary>The id.</summary>
    public required Guid Id { get; init; }

    /// <summary>The owning tenant.</summary>
    public required string TenantId { get; init; }

    /// <summary>The optimistic-concurrency version; every posting increments it.</summary>
    public long Version { get; init; }

    /// <summary>The member.</summary>
    public Guid CustomerId { get; init; }

    /// <summary>Enrolled or not.</summary>
    public LoyaltyAccountStatus Status { get; init; }

    /// <summary>The sum of every ledger entry: pending and available points together. Never negative.</summary>
    public long Balance { get; init; }

    /// <summary>Points in lots not yet available at <see cref="PendingAsOf"/>.</summary>
    public long PendingPoints { get; init; }

    /// <summary>When <see cref="PendingPoints"/> was last worked out (at the latest posting).</summary>
    public DateTimeOffset PendingAsOf { get; init; }

    /// <summary>When the next pending lot becomes available, or <see langword="null"/> when nothing is pending.</summary>
    public DateTimeOffset? NextActivationAt { get; init; }

    /// <summary>Every point ever earned or credited, net of reversed earnings; redemptions and expiry do not lower it.</summary>
    public long LifetimePoints { get; init; }

    /// <summary>The number of ledger entries, which is also the sequence number of the latest one.</summary>
    public long EntryCount { get; init; }

    /// <summary>The current tier, or <see langword="null"/> in a programme without tiers.</summary>
    public string? Tier { get; init; }

    /// <summary>Since when the member holds <see cref="Tier"/>.</summary>
    public DateTimeOffset? TierSince { get; init; }

    /// <summary>When a member found below their tier's threshold will be downgraded unless they requalify first.</summary>
    public DateTimeOffset? DowngradeDueAt { get; init; }

    /// <summary>Every tier change, oldest first.</summary>
    public IReadOnlyList<TierChange> TierHistory { get; init; } = [];

    /// <summary>The code this member gives friends; unique in the tenant.</summary>
    public required string ReferralCode { get; init; }

    /// <summary>The account of the member who referred this one, if any.</summary>
    public Guid? ReferredByAccountId { get; init; }

    /// <summary>When the referral bonuses for this member were awarded (their first qualifying order).</summary>
    public DateTimeOffset? ReferralRewardedAt { get; init; }

    /// <summary>When the customer first enrolled.</summary>
    public DateTimeOffset EnrolledAt { get; init; }

    /// <summary>When the customer last unenrolled, while <see cref="Status"/> is <see cref="LoyaltyAccountStatus.Closed"/>.</summary>
    public DateTimeOffset? ClosedAt { get; init; }
}

/// <summary>The kind of a ledger entry.</summary>
public enum LedgerEntryKind
{
    /// <summary>Points earned (from an order, an event bonus, a promotion or a partner); creates a lot.</summary>
    Earn,

    /// <summary>Points spent; takes from the oldest available lots.</summary>
    Redeem,

    /// <summary>Points that reached their lot's expiry date.</summary>
    Expire,

    /// <summary>A manual correction with a reason and an actor; a credit creates a lot, a debit takes from lots.</summary>
    Adjust,

    /// <summary>Undoes (part of) an earlier entry, which it references.</summary>
    Reverse,
}

/// <summary>Points an entry took from, or gave back to, one lot.</summary>
/// <param name="LotId">The lot (the id of the entry that created it).</param>
/// <param name="Points">How many points; always positive.</param>
public sealed record LotDraw(Guid LotId, long Points);

/// <summary>One order line's weight in an order's earning.</summary>
/// <param name="Sku">The line's SKU.</param>
/// <param name="Quantity">The line's quantity.</param>
/// <param name="WeightedSpend">Line total × the line's multiplier, in the order currency (0 for excluded lines).</param>
public sealed record EarnedLine(string Sku, int Quantity, decimal WeightedSpend);

/// <summary>
/// What an order earned on, kept on its earn entry so that a refund reverses the share of the points the
/// refunded part earned — at the rates of that day, whatever the programme says now.
/// </summary>
/// <param name="OrderTotal">The order total, in the order currency.</param>
/// <param name="WeightedSpend">The sum of the lines' weighted spend, in the order currency.</param>
/// <param name="Lines">Each line's weight.</param>
public sealed record EarnBasis(decimal OrderTotal, decimal WeightedSpend, IReadOnlyList<EarnedLine> Lines);

/// <summary>One append-only ledger entry. Entries are never changed or removed.</summary>
public sealed record LedgerEntry
{
    /// <summary>The id; an entry that credits points also names the lot it created.</summary>
    public required Guid Id { get; init; }

    /// <summary>The owning tenant.</summary>
    public required string TenantId { get; init; }

    /// <summary>The account.</summary>
    public Guid AccountId { get; init; }

    /// <summary>1 for the account's first entry, then one more for each.</summary>
    public long Sequence { get; init; }

    /// <summary>The kind.</summary>
    public LedgerEntryKind Kind { get; init; }

    /// <summary>Signed points: positive credits, negative debits.</summary>
    public long Points { get; init; }

    /// <summary>The account balance right after this entry (the running balance of a statement).</summary>
    public long BalanceAfter { get; init; }

    /// <summary>The caller's idempotency key, unique per account.</summary>
    public required string IdempotencyKey { get; init; }

    /// <summary>When it was posted.</summary>
    public DateTimeOffset At { get; init; }

    /// <summary>Where it came from, for example <c>order</c>, <c>bonus:birthday</c>, <c>reward</c>, <c>referral</c>, <c>promotion</c>.</summary>
    public string? Source { get; init; }

    /// <summary>Why (required for adjustments).</summary>
    public string? Reason { get; init; }

    /// <summary>Who (required for adjustments).</summary>
    public string? Actor { get; init; }

    /// <summary>For a reversal: the entry it undoes.</summary>
    public Guid? ReversesEntryId { get; init; }

    /// <summary>The order an earning (or its reversal) belongs to.</summary>
    public Guid? OrderId { get; init; }

    /// <summary>The reward a redemption bought.</summary>
    public Guid? RewardId { get; init; }

    /// <summary>Points that count towards tiers (order earnings, negative for their reversals).</summary>
    public long QualifyingPoints { get; init; }

    /// <summary>Spend that counts towards tiers, in the programme currency (negative for refunds).</summary>
    public decimal QualifyingSpend { get; init; }

    /// <summary>For an order's earning: what it earned on.</summary>
    public EarnBasis? Basis { get; init; }

    /// <summary>The lots this entry took from (debits) or gave back to (a reversed redemption).</summary>
    public IReadOnlyList<LotDraw> Draws { get; init; } = [];

    /// <summary>
    /// For a reversal of an earning: points that could not be taken back because the member had already spent
    /// them. The balance never goes negative; the shortfall says what the business absorbed.
    /// </summary>
    public long Shortfall { get; init; }
}

/// <summary>
/// A lot: the points one credit brought in, with their own availability and expiry dates, and how many of them
/// are left. Debits consume the oldest lots first. The balance always equals the sum of the lots' remaining points.
/// </summary>
public sealed record PointLot
{
    /// <summary>The id: that of the entry that created the lot.</summary>
    public required Guid Id { get; init; }

    /// <summary>The owning tenant.</summary>
    public required string TenantId { get; init; }

    /// <summary>The account.</summary>
    public Guid AccountId { get; init; }

    /// <summary>Points credited.</summary>
    public long Points { get; init; }

    /// <summary>Points not yet redeemed, expired or reversed.</summary>
    public long Remaining { get; init; }

    /// <summary>Points of this lot that expired so far.</summary>
    public long Expired { get; init; }

    /// <summary>When they were earned; debits take from the oldest lots first.</summary>
    public DateTimeOffset EarnedAt { get; init; }

    /// <summary>When they become redeemable.</summary>
    public DateTimeOffset AvailableAt { get; init; }

    /// <summary>When they expire, or <see langword="null"/> for never.</summary>
    public DateTimeOffset? ExpiresAt { get; init; }
}

/// <summary>
/// One atomic write to the ledger, which a store applies all or nothing: the account's new state (checked
/// against <see cref="ExpectedVersion"/>), the new entries, the new and changed lots, and optionally a reward
/// whose stock changes with it.
/// </summary>
public sealed record LedgerPosting
{
    /// <summary>The account after the posting, with its version incremented.</summary>
    public required LoyaltyAccount Account { get; init; }

    /// <summary>The version the stored account must still have.</summary>
    public required long ExpectedVersion { get; init; }

    /// <summary>
    /// The account as it was read before the posting, when the caller has it: a store may use it to write only the
    /// fields that changed. <see langword="null"/> means the store writes the whole account.
    /// </summary>
    public LoyaltyAccount? OriginalAccount { get; init; }

    /// <summary>Entries to append.</summary>
    public IReadOnlyList<LedgerEntry> Entries { get; init; } = [];

    /// <summary>Lots to add.</summary>
    public IReadOnlyList<PointLot> NewLots { get; init; } = [];

    /// <summary>Stored lots whose remaining or expired points changed.</summary>
    public IReadOnlyList<PointLot> ChangedLots { get; init; } = [];

    /// <summary>A reward whose stock changed, with the version it must still have, or <see langword="null"/>.</summary>
    public (LoyaltyReward Reward, long ExpectedVersion)? Reward { get; init; }
}

/// <summary>A member's balances, as of the moment they were read.</summary>
/// <param name="CustomerId">The member.</param>
/// <param name="Balance">Every point held (the ledger sum).</param>
/// <param name="Available">Points that can be redeemed now.</param>
/// <param name="Pending">Points still in their activation delay.</param>
/// <param name="LifetimePoints">Every point ever earned, net of reversed earnings.</param>
/// <param name="Tier">The current tier, if the programme has tiers.</param>
/// <param name="Status">Enrolled or not.</param>
public sealed record LoyaltyBalance(Guid CustomerId, long Balance, long Available, long Pending, long LifetimePoints, string? Tier, LoyaltyAccountStatus Status);

/// <summary>Points that will expire on a date unless spent first.</summary>
/// <param name="ExpiresAt">When.</param>
/// <param name="Points">How many.</param>
public sealed record UpcomingExpiry(DateTimeOffset ExpiresAt, long Points);

/// <summary>A page of a member's statement: entries newest first, each with the balance right after it.</summary>
/// <param name="Balance">The balances now.</param>
/// <param name="Entries">The entries on this page and the token for the next.</param>
/// <param name="UpcomingExpiries">The next expiry dates with their points, soonest first.</param>
public sealed record LoyaltyStatement(LoyaltyBalance Balance, Page<LedgerEntry> Entries, IReadOnlyList<UpcomingExpiry> UpcomingExpiries);

/// <summary>Where a member stands against the tiers.</summary>
/// <param name="Tier">The current tier.</param>
/// <param name="Qualification">Points or spend counted in the current window.</param>
/// <param name="NextTier">The next tier up, or <see langword="null"/> at the top.</param>
/// <param name="ToNextTier">What is still needed to reach <paramref name="NextTier"/>; 0 at the top.</param>
/// <param name="DowngradeDueAt">When a pending downgrade takes effect unless the member requalifies.</param>
public sealed record TierProgress(string Tier, decimal Qualification, string? NextTier, decimal ToNextTier, DateTimeOffset? DowngradeDueAt);

/// <summary>Qualification sums over a window.</summary>
/// <param name="Points">The sum of qualifying points.</param>
/// <param name="Spend">The sum of qualifying spend.</param>
public readonly record struct QualifyingTotals(long Points, decimal Spend);

/// <summary>What a tier evaluation did.</summary>
/// <param name="Evaluated">Accounts looked at.</param>
/// <param name="Upgraded">Members moved up.</param>
/// <param name="Downgraded">Members moved down.</param>
/// <param name="DowngradesScheduled">Members found below their tier who now have a downgrade date.</param>
public sealed record TierEvaluation(int Evaluated, int Upgraded, int Downgraded, int DowngradesScheduled);

/// <summary>What an expiry run did.</summary>
/// <param name="Accounts">Accounts with points expired.</param>
/// <param name="Points">Points expired in total.</param>
public sealed record ExpiryRun(int Accounts, long Points);

/// <summary>Points earned elsewhere (a previous loyalty system, a partner's statement), to import.</summary>
/// <param name="CustomerId">The member; they must be enrolled.</param>
/// <param name="Points">The points; at least 1.</param>
/// <param name="IdempotencyKey">Unique per member; an import line whose key is already posted is skipped.</param>
/// <param name="EarnedAt">When they were earned: the lot's age (for oldest-first spending) and expiry follow from it.</param>
/// <param name="Source">Where they came from.</param>
/// <param name="Reason">A note, if any.</param>
public sealed record PointsImport(Guid CustomerId, long Points, string IdempotencyKey, DateTimeOffset EarnedAt, string Source = "import", string? Reason = null);

/// <summary>What an import did.</summary>
/// <param name="Posted">Lines posted.</param>
/// <param name="Repeated">Lines skipped because their key was already posted (before, or earlier in the same import).</param>
public sealed record PointsImportResult(int Posted, int Repeated);
