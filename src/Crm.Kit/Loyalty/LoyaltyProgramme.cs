namespace Crm.Kit.Loyalty;

/// <summary>
/// A tenant's loyalty programme: what points are called, how they are earned, when they expire and which tiers
/// members can reach. A tenant has at most one programme, so that "this customer's points" always has one answer
/// (in segment rules and in the customer view); a host running several brands gives each its own tenant.
/// </summary>
public sealed record LoyaltyProgramme
{
    /// <summary>The id.</summary>
    public required Guid Id { get; init; }

    /// <summary>The owning tenant.</summary>
    public required string TenantId { get; init; }

    /// <summary>The optimistic-concurrency version.</summary>
    public long Version { get; init; }

    /// <summary>The settings.</summary>
    public required LoyaltyProgrammeDefinition Definition { get; init; }

    /// <summary>When the programme was created.</summary>
    public DateTimeOffset CreatedAt { get; init; }

    /// <summary>When the settings last changed.</summary>
    public DateTimeOffset UpdatedAt { get; init; }
}

/// <summary>The settings of a loyalty programme. Changing them never changes points already earned.</summary>
public sealed record LoyaltyProgrammeDefinition
{
    /// <summary>The programme's name, for example "Club Rewards".</summary>
    public required string Name { get; init; }

    /// <summary>What the points are called, for example "stars".</summary>
    public string PointName { get; init; } = "points";

    /// <summary>ISO 4217 currency that spend steps, minimum orders and tier spend are in.</summary>
    public required string Currency { get; init; }

    /// <summary>How orders earn points.</summary>
    public EarnRules Earning { get; init; } = new();

    /// <summary>Points awarded for events other than orders.</summary>
    public EventBonuses Bonuses { get; init; } = new();

    /// <summary>When earned points expire.</summary>
    public PointExpiry Expiry { get; init; } = PointExpiry.Never;

    /// <summary>
    /// Days an order's points stay pending (counted in the balance, not yet redeemable) after the order was
    /// placed, typically the return window; 0 makes them available at once.
    /// </summary>
    public int ActivationDelayDays { get; init; }

    /// <summary>The tiers members qualify for; <see langword="null"/> for a programme without tiers.</summary>
    public TierPolicy? Tiers { get; init; }

    /// <summary>Time-boxed promotions aimed at segments.</summary>
    public IReadOnlyList<LoyaltyPromotion> Promotions { get; init; } = [];
}

/// <summary>
/// How an order earns points. The order's lines are weighted (line total × the line's multiplier; excluded lines
/// weigh nothing), the weighted spend is converted to the programme currency and divided into whole
/// <see cref="SpendStep"/>s — a part step earns nothing — and each step earns <see cref="PointsPerStep"/>. The
/// tier multiplier and the multipliers of every applying promotion then multiply that figure, which is rounded
/// down once; fixed promotion bonuses are added, and <see cref="MaxPointsPerOrder"/> caps the total.
/// </summary>
public sealed record EarnRules
{
    /// <summary>Points earned per whole spend step; at least 1.</summary>
    public int PointsPerStep { get; init; } = 1;

    /// <summary>The spend that earns <see cref="PointsPerStep"/> points, in the programme currency; greater than zero.</summary>
    public decimal SpendStep { get; init; } = 1m;

    /// <summary>Orders whose qualifying (non-excluded) total is below this earn nothing, promotion bonuses included.</summary>
    public decimal MinimumOrder { get; init; }

    /// <summary>The most points one order can earn, bonuses included; <see langword="null"/> for no cap.</summary>
    public long? MaxPointsPerOrder { get; init; }

    /// <summary>Multipliers by product category (case-insensitive), for example 2 for double points.</summary>
    public IReadOnlyDictionary<string, decimal> CategoryMultipliers { get; init; } = new Dictionary<string, decimal>();

    /// <summary>Multipliers by SKU (case-insensitive). A SKU's multiplier replaces its category's: the most specific rule wins.</summary>
    public IReadOnlyDictionary<string, decimal> SkuMultipliers { get; init; } = new Dictionary<string, decimal>();

    /// <summary>Categories that never earn (gift cards, tobacco, …); case-insensitive.</summary>
    public IReadOnlyList<string> ExcludedCategories { get; init; } = [];

    /// <summary>SKUs that never earn; case-insensitive.</summary>
    public IReadOnlyList<string> ExcludedSkus { get; init; } = [];
}

/// <summary>Points for events other than orders. 0 turns a bonus off.</summary>
public sealed record EventBonuses
{
    /// <summary>Awarded once, when a customer first enrols.</summary>
    public int SignUp { get; init; }

    /// <summary>Awarded when the host reports a birthday (once per idempotency key, e.g. per year).</summary>
    public int Birthday { get; init; }

    /// <summary>Awarded when the host reports a product review.</summary>
    public int Review { get; init; }

    /// <summary>Awarded to the referring member when a referred member's first qualifying order earns.</summary>
    public int Referrer { get; init; }

    /// <summary>Awarded to the referred member on that first qualifying order.</summary>
    public int Referee { get; init; }
}

/// <summary>The kind of an event bonus.</summary>
public enum LoyaltyBonus
{
    /// <summary>Enrolment.</summary>
    SignUp,

    /// <summary>The member's birthday.</summary>
    Birthday,

    /// <summary>A product review.</summary>
    Review,
}

/// <summary>How the expiry date of earned points is set.</summary>
public enum PointExpiryKind
{
    /// <summary>Points never expire.</summary>
    Never,

    /// <summary>Points expire <see cref="PointExpiry.Count"/> calendar months after they were earned.</summary>
    MonthsAfterEarning,

    /// <summary>
    /// Points expire at the end of the calendar year (UTC) <see cref="PointExpiry.Count"/> years after the year
    /// they were earned in: 0 is the end of the same year.
    /// </summary>
    EndOfYear,
}

/// <summary>The expiry policy. Each earning is a lot with its own expiry date, fixed when it is earned.</summary>
/// <param name="Kind">The kind of policy.</param>
/// <param name="Count">Months or years, as <paramref name="Kind"/> says.</param>
public sealed record PointExpiry(PointExpiryKind Kind, int Count)
{
    /// <summary>Points never expire.</summary>
    public static PointExpiry Never { get; } = new(PointExpiryKind.Never, 0);

    /// <summary>Points expire <paramref name="months"/> months after earning.</summary>
    public static PointExpiry MonthsAfterEarning(int months) => new(PointExpiryKind.MonthsAfterEarning, months);

    /// <summary>Points expire at the end of the calendar year <paramref name="yearsAfter"/> years after earning.</summary>
    public static PointExpiry EndOfYear(int yearsAfter = 0) => new(PointExpiryKind.EndOfYear, yearsAfter);

    /// <summary>The expiry time of points earned at <paramref name="earnedAt"/>, or <see langword="null"/> when they never expire.</summary>
    public DateTimeOffset? ExpiryOf(DateTimeOffset earnedAt)
    {
        var utc = earnedAt.ToUniversalTime();
        return Kind switch
        {
            PointExpiryKind.MonthsAfterEarning => utc.AddMonths(Count),
            PointExpiryKind.EndOfYear => new DateTimeOffset(utc.Year + Count + 1, 1, 1, 0, 0, 0, TimeSpan.Zero),
            _ => null,
        };
    }
}

/// <summary>What tier qualification counts.</summary>
public enum TierMeasure
{
    /// <summary>Points earned from orders in the window, net of refunds (not the current balance: redeeming never costs a tier).</summary>
    QualifyingPoints,

    /// <summary>Spend on orders in the window, in the programme currency, net of refunds.</summary>
    QualifyingSpend,
}

/// <summary>The period qualification is counted over.</summary>
public enum TierWindowKind
{
    /// <summary>The last <see cref="TierPolicy.WindowMonths"/> months up to the evaluation.</summary>
    RollingMonths,

    /// <summary>
    /// Calendar years (UTC): a member keeps the best of the previous full year and the current year to date, so
    /// a tier reached in one year lasts through the next.
    /// </summary>
    CalendarYear,
}

/// <summary>One tier.</summary>
/// <param name="Name">The tier's name, unique in the programme.</param>
/// <param name="Threshold">The qualification needed (points or spend, per <see cref="TierPolicy.Measure"/>); the first tier's is 0.</param>
/// <param name="EarnMultiplier">Multiplies the points orders earn while in this tier; 1 for none.</param>
public sealed record TierLevel(string Name, decimal Threshold, decimal EarnMultiplier = 1m);

/// <summary>
/// The tier policy. Upgrades happen at once, when an order lifts qualification over a threshold; downgrades only
/// at an evaluation the host schedules (<see cref="LoyaltyManager.EvaluateTiersAsync"/>), and only after the
/// member has stayed below the tier's threshold for <see cref="GraceDays"/>.
/// </summary>
public sealed record TierPolicy
{
    /// <summary>What qualification counts.</summary>
    public TierMeasure Measure { get; init; } = TierMeasure.QualifyingPoints;

    /// <summary>The window qualification is counted over.</summary>
    public TierWindowKind Window { get; init; } = TierWindowKind.RollingMonths;

    /// <summary>The length of a rolling window, in months; used with <see cref="TierWindowKind.RollingMonths"/>.</summary>
    public int WindowMonths { get; init; } = 12;

    /// <summary>Days a member keeps a tier after falling below its threshold; 0 downgrades at the first evaluation.</summary>
    public int GraceDays { get; init; }

    /// <summary>The tiers, lowest first, thresholds strictly rising; the first (the entry tier) has threshold 0.</summary>
    public IReadOnlyList<TierLevel> Levels { get; init; } = [];
}

/// <summary>
/// A promotion: while it runs, orders of customers in its segment earn with an extra multiplier, a fixed bonus,
/// or both. Promotions that apply together multiply (multipliers) and add up (bonuses).
/// </summary>
public sealed record LoyaltyPromotion
{
    /// <summary>A code unique in the programme.</summary>
    public required string Code { get; init; }

    /// <summary>A name for people.</summary>
    public required string Name { get; init; }

    /// <summary>The first moment an order placed counts.</summary>
    public required DateTimeOffset StartsAt { get; init; }

    /// <summary>The end of the window (exclusive).</summary>
    public required DateTimeOffset EndsAt { get; init; }

    /// <summary>The segment (dynamic or static) whose members qualify; <see langword="null"/> for every member.</summary>
    public Guid? SegmentId { get; init; }

    /// <summary>Multiplies the order's points; 1 for none.</summary>
    public decimal Multiplier { get; init; } = 1m;

    /// <summary>Points added to each qualifying order; 0 for none.</summary>
    public int BonusPoints { get; init; }

    /// <summary>Whether an order placed at <paramref name="placedAt"/> falls in the window.</summary>
    public bool Covers(DateTimeOffset placedAt) => placedAt >= StartsAt && placedAt < EndsAt;
}
