namespace Crm.Kit.Feedback;

/// <summary>What a survey measures, and with it the score scale.</summary>
public enum SurveyKind
{
    /// <summary>Net Promoter Score: "how likely are you to recommend us", 0–10.</summary>
    Nps = 0,

    /// <summary>Customer satisfaction: "how satisfied were you", 1–5.</summary>
    Csat = 1,

    /// <summary>Customer effort: "the company made it easy to handle my issue", 1 (strongly disagree) – 7 (strongly agree).</summary>
    Ces = 2,
}

/// <summary>The NPS group of a 0–10 answer.</summary>
public enum NpsCategory
{
    /// <summary>0–6: unhappy, may talk others out of buying.</summary>
    Detractor = 0,

    /// <summary>7–8: satisfied but unenthusiastic.</summary>
    Passive = 1,

    /// <summary>9–10: loyal enthusiasts.</summary>
    Promoter = 2,
}

/// <summary>Whether an answer is good, middling or bad news, whatever the survey's scale.</summary>
public enum FeedbackSentiment
{
    /// <summary>NPS 0–6, CSAT 1–2, CES 1–3: someone should follow up.</summary>
    Negative = 0,

    /// <summary>NPS 7–8, CSAT 3, CES 4.</summary>
    Neutral = 1,

    /// <summary>NPS 9–10, CSAT 4–5, CES 5–7.</summary>
    Positive = 2,
}

/// <summary>The scales and groupings of each survey kind.</summary>
public static class SurveyScale
{
    /// <summary>The lowest allowed score for <paramref name="kind"/>.</summary>
    public static int Min(SurveyKind kind) => kind == SurveyKind.Nps ? 0 : 1;

    /// <summary>The highest allowed score for <paramref name="kind"/>.</summary>
    public static int Max(SurveyKind kind) => kind switch
    {
        SurveyKind.Nps => 10,
        SurveyKind.Csat => 5,
        _ => 7,
    };

    /// <summary>The NPS group of a 0–10 score.</summary>
    public static NpsCategory Category(int npsScore) => npsScore >= 9 ? NpsCategory.Promoter : npsScore >= 7 ? NpsCategory.Passive : NpsCategory.Detractor;

    /// <summary>The sentiment of a score on the scale of <paramref name="kind"/>.</summary>
    public static FeedbackSentiment Sentiment(SurveyKind kind, int score) => kind switch
    {
        SurveyKind.Nps => (FeedbackSentiment)(int)Category(score),
        SurveyKind.Csat => score >= 4 ? FeedbackSentiment.Positive : score == 3 ? FeedbackSentiment.Neutral : FeedbackSentiment.Negative,
        _ => score >= 5 ? FeedbackSentiment.Positive : score == 4 ? FeedbackSentiment.Neutral : FeedbackSentiment.Negative,
    };
}

/// <summary>Creates a task for someone to call back a customer who answered negatively.</summary>
/// <param name="FallbackOwnerId">Who gets the task when the customer has no owner (required).</param>
/// <param name="DueWithin">How long after the answer the task is due (more than zero, at most 90 days).</param>
public sealed record FollowUpPolicy(string FallbackOwnerId, TimeSpan DueWithin);

/// <summary>A survey a host sends to customers (by email, in app, after a case): what it asks and what happens with bad answers.</summary>
public sealed record Survey
{
    /// <summary>The id.</summary>
    public required Guid Id { get; init; }

    /// <summary>The owning tenant.</summary>
    public required string TenantId { get; init; }

    /// <summary>The optimistic-concurrency version.</summary>
    public long Version { get; init; }

    /// <summary>A name, unique per tenant.</summary>
    public required string Name { get; init; }

    /// <summary>What it measures.</summary>
    public SurveyKind Kind { get; init; }

    /// <summary>The question asked.</summary>
    public string? Question { get; init; }

    /// <summary>When set, every negative answer creates a follow-up task for the customer's owner.</summary>
    public FollowUpPolicy? FollowUp { get; init; }

    /// <summary>Whether it still takes answers.</summary>
    public bool IsActive { get; init; } = true;

    /// <summary>When it was created.</summary>
    public DateTimeOffset CreatedAt { get; init; }

    /// <summary>When it last changed.</summary>
    public DateTimeOffset UpdatedAt { get; init; }
}

/// <summary>What a caller sets on a survey.</summary>
public sealed record SurveyDraft
{
    /// <summary>A name, unique per tenant (required, at most 200 characters).</summary>
    public string? Name { get; init; }

    /// <summary>What it measures. It cannot change once the survey has answers.</summary>
    public SurveyKind Kind { get; init; }

    /// <summary>The question asked (at most 1,000 characters).</summary>
    public string? Question { get; init; }

    /// <summary>Follow up negative answers with a task; <see langword="null"/> for no follow-up.</summary>
    public FollowUpPolicy? FollowUp { get; init; }

    /// <summary>Whether it takes answers.</summary>
    public bool IsActive { get; init; } = true;
}

/// <summary>One customer's answer to a survey.</summary>
public sealed record SurveyResponse
{
    /// <summary>The id.</summary>
    public required Guid Id { get; init; }

    /// <summary>The owning tenant.</summary>
    public required string TenantId { get; init; }

    /// <summary>The survey answered.</summary>
    public Guid SurveyId { get; init; }

    /// <summary>The survey's kind, kept with the answer.</summary>
    public SurveyKind Kind { get; init; }

    /// <summary>Who answered.</summary>
    public Guid CustomerId { get; init; }

    /// <summary>The score, on the kind's scale.</summary>
    public int Score { get; init; }

    /// <summary>Whether the answer is good or bad news.</summary>
    public FeedbackSentiment Sentiment { get; init; }

    /// <summary>The NPS group, for NPS answers.</summary>
    public NpsCategory? NpsCategory => Kind == SurveyKind.Nps ? SurveyScale.Category(Score) : null;

    /// <summary>Free text; erased with the customer's personal data.</summary>
    public string? Comment { get; init; }

    /// <summary>The case the answer is about, if any.</summary>
    public Guid? CaseId { get; init; }

    /// <summary>The order the answer is about, if any.</summary>
    public Guid? OrderId { get; init; }

    /// <summary>The sender's own id for this answer; a second answer with the same reference returns the first.</summary>
    public string? Reference { get; init; }

    /// <summary>When the customer answered.</summary>
    public DateTimeOffset RespondedAt { get; init; }

    /// <summary>When it was recorded.</summary>
    public DateTimeOffset RecordedAt { get; init; }

    /// <summary>The follow-up task created for a negative answer, if one was.</summary>
    public Guid? FollowUpTaskId { get; init; }
}

/// <summary>An answer to record.</summary>
public sealed record SurveyResponseDraft
{
    /// <summary>The survey answered.</summary>
    public Guid SurveyId { get; init; }

    /// <summary>Who answered.</summary>
    public Guid CustomerId { get; init; }

    /// <summary>The score, on the survey kind's scale (NPS 0–10, CSAT 1–5, CES 1–7).</summary>
    public int Score { get; init; }

    /// <summary>Free text (at most 10,000 characters).</summary>
    public string? Comment { get; init; }

    /// <summary>The customer's case the answer is about.</summary>
    public Guid? CaseId { get; init; }

    /// <summary>The customer's order the answer is about.</summary>
    public Guid? OrderId { get; init; }

    /// <summary>The sender's id for the answer (at most 200 characters), so a resent answer is recorded once.</summary>
    public string? Reference { get; init; }

    /// <summary>When the customer answered; defaults to now, must not be in the future.</summary>
    public DateTimeOffset? RespondedAt { get; init; }
}

/// <summary>A customer's latest NPS answer, kept per customer so that segments can filter on it.</summary>
/// <param name="CustomerId">The customer.</param>
/// <param name="Score">The score, 0–10.</param>
/// <param name="RespondedAt">When it was given.</param>
/// <param name="ResponseId">The answer.</param>
public sealed record LatestNps(Guid CustomerId, int Score, DateTimeOffset RespondedAt, Guid ResponseId)
{
    /// <summary>The NPS group.</summary>
    public NpsCategory Category => SurveyScale.Category(Score);
}

/// <summary>Which answers to summarise.</summary>
public sealed record FeedbackQuery
{
    /// <summary>The survey kind (required: scores of different scales are never mixed).</summary>
    public SurveyKind Kind { get; init; }

    /// <summary>Only answers given at or after this time.</summary>
    public required DateTimeOffset From { get; init; }

    /// <summary>Only answers given before this time.</summary>
    public required DateTimeOffset To { get; init; }

    /// <summary>Only answers to this survey (which must be of <see cref="Kind"/>).</summary>
    public Guid? SurveyId { get; init; }

    /// <summary>Only answers of the segment's (or list's) stored members.</summary>
    public Guid? SegmentId { get; init; }
}

/// <summary>How the answers in a period came out: counts per score, and the headline figures derived from them.</summary>
public sealed record FeedbackSummary
{
    /// <summary>The survey kind.</summary>
    public required SurveyKind Kind { get; init; }

    /// <summary>How many answers gave each score: <c>Distribution[score - min]</c>, from the scale's minimum to its maximum.</summary>
    public required IReadOnlyList<long> Distribution { get; init; }

    /// <summary>The lowest score of the scale (the score counted by <c>Distribution[0]</c>).</summary>
    public int MinScore => SurveyScale.Min(Kind);

    /// <summary>The number of answers.</summary>
    public long Responses => Distribution.Sum();

    /// <summary>Answers with positive sentiment (NPS promoters).</summary>
    public long Positive => Count(FeedbackSentiment.Positive);

    /// <summary>Answers with neutral sentiment (NPS passives).</summary>
    public long Neutral => Count(FeedbackSentiment.Neutral);

    /// <summary>Answers with negative sentiment (NPS detractors).</summary>
    public long Negative => Count(FeedbackSentiment.Negative);

    /// <summary>The mean score, rounded to two decimals; <see langword="null"/> without answers.</summary>
    public decimal? Average => Responses == 0 ? null : Math.Round((decimal)Distribution.Select((count, i) => count * (i + MinScore)).Sum() / Responses, 2, MidpointRounding.AwayFromZero);

    /// <summary>The share of positive answers in percent, rounded to two decimals (for CSAT: the satisfaction score); <see langword="null"/> without answers.</summary>
    public decimal? PositivePercent => Responses == 0 ? null : Math.Round(Positive * 100m / Responses, 2, MidpointRounding.AwayFromZero);

    /// <summary>For NPS: % promoters − % detractors, from −100 to 100, rounded to two decimals; <see langword="null"/> for other kinds or without answers.</summary>
    public decimal? NetPromoterScore => Kind != SurveyKind.Nps || Responses == 0 ? null : Math.Round((Positive - Negative) * 100m / Responses, 2, MidpointRounding.AwayFromZero);

    private long Count(FeedbackSentiment sentiment)
    {
        long total = 0;
        for (var i = 0; i < Distribution.Count; i++)
        {
            if (SurveyScale.Sentiment(Kind, i + MinScore) == sentiment)
            {
                total += Distribution[i];
            }
        }

        return total;
    }
}

/// <summary>A survey answer was recorded.</summary>
public sealed record FeedbackReceived : CrmEvent
{
    /// <summary>The answer.</summary>
    public required SurveyResponse Response { get; init; }
}
