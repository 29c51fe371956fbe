using Crm.Kit.Customers;
using Crm.Kit.Interactions;
using Crm.Kit.Segmentation;

namespace Crm.Kit.Sales;

/// <summary>A fit rule: points for a customer who matches a condition on customer fields.</summary>
/// <param name="Name">Shown in the score's explanation (required, unique, at most 100 characters).</param>
/// <param name="Rule">The condition, in the segmentation rule language (any field but the <c>lead.*</c> ones).</param>
/// <param name="Points">Points for a match, from −1,000 to 1,000; negative points mark a poor fit.</param>
public sealed record FitRule(string Name, SegmentRule Rule, int Points);

/// <summary>What an engagement rule counts.</summary>
public enum EngagementSource
{
    /// <summary>Interactions on the customer's timeline (open tasks are plans, not engagement, and never count).</summary>
    Interaction = 0,

    /// <summary>Orders the customer placed.</summary>
    Order = 1,
}

/// <summary>An engagement rule: points for each recent interaction or order that matches, fading with age.</summary>
public sealed record EngagementRule
{
    /// <summary>Shown in the score's explanation (required, unique, at most 100 characters).</summary>
    public required string Name { get; init; }

    /// <summary>Interactions or orders.</summary>
    public EngagementSource Source { get; init; }

    /// <summary>Only interactions of this kind; any kind when <see langword="null"/>. Only for interaction rules.</summary>
    public InteractionKind? Kind { get; init; }

    /// <summary>Only interactions in this direction; any when <see langword="null"/>. Only for interaction rules.</summary>
    public InteractionDirection? Direction { get; init; }

    /// <summary>Points for each matching event when it just happened, from −1,000 to 1,000.</summary>
    public int Points { get; init; }

    /// <summary>
    /// Time decay: an event's points halve every this many days (1 to 3,650), so a visit last week outweighs one
    /// last quarter; <see langword="null"/> for no decay.
    /// </summary>
    public int? HalfLifeDays { get; init; }

    /// <summary>The most this rule can add (or, for negative points, take away) in total; <see langword="null"/> for no cap.</summary>
    public int? MaxPoints { get; init; }
}

/// <summary>The lead scoring model, set at start-up with <c>AddLeadScoring</c> and validated then.</summary>
public sealed class LeadScoringOptions
{
    /// <summary>Points for who the customer is.</summary>
    public IList<FitRule> FitRules { get; } = [];

    /// <summary>Points for what the customer did.</summary>
    public IList<EngagementRule> EngagementRules { get; } = [];

    /// <summary>Only interactions and orders from the last this many days count (1 to 730; default 90).</summary>
    public int EngagementWindowDays { get; set; } = 90;

    /// <summary>The score at which a subscriber or lead becomes marketing-qualified (default 50).</summary>
    public int MarketingQualifiedAt { get; set; } = 50;

    /// <summary>The score at which a subscriber, lead or marketing-qualified lead becomes sales-qualified (default 80).</summary>
    public int SalesQualifiedAt { get; set; } = 80;

    /// <summary>Whether reaching a threshold moves the lifecycle stage (default true); scores are kept either way.</summary>
    public bool QualifyLifecycle { get; set; } = true;
}

/// <summary>Whether a contribution came from a fit rule or an engagement rule.</summary>
public enum ScoreRuleKind
{
    /// <summary>A fit rule.</summary>
    Fit = 0,

    /// <summary>An engagement rule.</summary>
    Engagement = 1,
}

/// <summary>What one rule added to a score.</summary>
/// <param name="Rule">The rule's name.</param>
/// <param name="Kind">Fit or engagement.</param>
/// <param name="Points">The points it added, rounded to a whole number (half away from zero); the score is the sum of these.</param>
/// <param name="Events">For engagement rules, how many interactions or orders matched; 1 for a matching fit rule.</param>
public sealed record ScoreContribution(string Rule, ScoreRuleKind Kind, int Points, int Events);

/// <summary>A customer's lead score and how it came about.</summary>
public sealed record LeadScore
{
    /// <summary>The customer.</summary>
    public required Guid CustomerId { get; init; }

    /// <summary>The owning tenant.</summary>
    public required string TenantId { get; init; }

    /// <summary>The score: the sum of <see cref="Contributions"/>.</summary>
    public int Score { get; init; }

    /// <summary>The points from fit rules.</summary>
    public int Fit { get; init; }

    /// <summary>The points from engagement rules.</summary>
    public int Engagement { get; init; }

    /// <summary>Every rule that added or took away points, fit rules first, each in the model's order.</summary>
    public IReadOnlyList<ScoreContribution> Contributions { get; init; } = [];

    /// <summary>When it was computed: engagement decays from then on until the next scoring.</summary>
    public DateTimeOffset ScoredAt { get; init; }
}

/// <summary>A lead crossed a threshold: its lifecycle moved to marketing- or sales-qualified.</summary>
public sealed record LeadQualified : CrmEvent
{
    /// <summary>The customer.</summary>
    public required Guid CustomerId { get; init; }

    /// <summary>The stage before.</summary>
    public LifecycleStage From { get; init; }

    /// <summary>The stage now.</summary>
    public LifecycleStage To { get; init; }

    /// <summary>The score that qualified it, with its explanation.</summary>
    public required LeadScore Score { get; init; }
}

/// <summary>What a rescoring run did.</summary>
/// <param name="Scored">Customers scored.</param>
/// <param name="Changed">Customers whose score changed.</param>
/// <param name="Qualified">Customers whose lifecycle moved.</param>
public sealed record LeadRescoring(long Scored, long Changed, long Qualified);
