namespace Crm.Kit.Insights;

/// <summary>
/// What the analytics know about one customer as of one day: RFM scores and segment, churn risk, probability of
/// being alive and predicted lifetime value. Computed in bulk by a refresh (<c>CustomerAnalytics.RefreshInsightsAsync</c>
/// in Crm.Kit.Analytics) and stored, so that segment rules can test it (<see cref="CustomerInsightFields"/>) and
/// screens can show it without recomputing models.
/// </summary>
public sealed record CustomerInsight
{
    /// <summary>The longest RFM segment name stored.</summary>
    public const int MaxSegmentNameLength = 100;

    /// <summary>The most decimal places a figure may have.</summary>
    public const int MaxDecimals = 8;

    /// <summary>The customer.</summary>
    public required Guid CustomerId { get; init; }

    /// <summary>When the refresh that produced this snapshot started; a stored snapshot is never replaced by an older one.</summary>
    public required DateTimeOffset ComputedAt { get; init; }

    /// <summary>The last day of the observation window: recency and the models' "now".</summary>
    public required DateOnly AsOf { get; init; }

    /// <summary>The currency of the monetary figures (ISO 4217).</summary>
    public required string Currency { get; init; }

    /// <summary>RFM recency score, 1 (longest ago) to 5 (most recent); unset when the customer was not scored.</summary>
    public int? RecencyScore { get; init; }

    /// <summary>RFM frequency score, 1 to 5; set together with <see cref="RecencyScore"/>.</summary>
    public int? FrequencyScore { get; init; }

    /// <summary>RFM monetary score, 1 to 5; set together with <see cref="RecencyScore"/>.</summary>
    public int? MonetaryScore { get; init; }

    /// <summary>The RFM segment the scores fall in, for example "Champions"; set together with the scores.</summary>
    public string? RfmSegment { get; init; }

    /// <summary>Churn risk from 0 to 1; unset when it could not be estimated (no repeat buyer to learn a rhythm from).</summary>
    public decimal? ChurnRisk { get; init; }

    /// <summary>Whether <see cref="ChurnRisk"/> reached the at-risk threshold in force when the snapshot was computed.</summary>
    public bool AtRisk { get; init; }

    /// <summary>Probability the customer is still active (BG/NBD), 0 to 1; unset when the model could not be fitted.</summary>
    public decimal? ProbabilityAlive { get; init; }

    /// <summary>Predicted lifetime value over the configured horizon (discounted margin); unset when the models could not be fitted.</summary>
    public decimal? PredictedLifetimeValue { get; init; }

    /// <summary>The three RFM scores as one code, recency first, for example "545"; unset when not scored.</summary>
    public string? RfmScore => RecencyScore is { } r && FrequencyScore is { } f && MonetaryScore is { } m ? $"{r}{f}{m}" : null;

    /// <summary>Throws <see cref="CrmValidationException"/> naming every broken rule of these snapshots, including repeated customers.</summary>
    public static void Validate(IReadOnlyList<CustomerInsight> insights)
    {
        ArgumentNullException.ThrowIfNull(insights);
        var errors = new ValidationErrorCollector();
        var seen = new HashSet<Guid>(insights.Count);
        for (var i = 0; i < insights.Count; i++)
        {
            var path = $"insights[{i}]";
            if (insights[i] is not { } insight)
            {
                errors.Add(path, "required", "must not be null");
                continue;
            }

            insight.Check(path, errors);
            if (!seen.Add(insight.CustomerId))
            {
                errors.Add(path + "." + nameof(CustomerId), "unique", $"customer {insight.CustomerId} appears more than once in one write");
            }
        }

        errors.ThrowIfAny();
    }

    private void Check(string path, ValidationErrorCollector errors)
    {
        if (CustomerId == Guid.Empty)
        {
            errors.Add($"{path}.{nameof(CustomerId)}", "required", "must not be empty");
        }

        if (!CurrencyCodes.IsValid(Currency))
        {
            errors.Add($"{path}.{nameof(Currency)}", "iso-4217", $"{InputText.Quote(Currency)} is not a three-letter ISO 4217 currency code");
        }

        var scored = RecencyScore is not null || FrequencyScore is not null || MonetaryScore is not null || RfmSegment is not null;
        if (scored)
        {
            foreach (var (score, field) in new[] { (RecencyScore, nameof(RecencyScore)), (FrequencyScore, nameof(FrequencyScore)), (MonetaryScore, nameof(MonetaryScore)) })
            {
                if (score is not (>= 1 and <= 5))
                {
                    errors.Add($"{path}.{field}", "rfm-score", $"must be 1 to 5 when any RFM figure is set (was {score?.ToString(System.Globalization.CultureInfo.InvariantCulture) ?? "unset"})");
                }
            }

            if (string.IsNullOrWhiteSpace(RfmSegment))
            {
                errors.Add($"{path}.{nameof(RfmSegment)}", "required", "must name the segment when the RFM scores are set");
            }

            errors.Text($"{path}.{nameof(RfmSegment)}", RfmSegment, MaxSegmentNameLength);
        }

        Probability(path, nameof(ChurnRisk), ChurnRisk, errors);
        Probability(path, nameof(ProbabilityAlive), ProbabilityAlive, errors);
        if (AtRisk && ChurnRisk is null)
        {
            errors.Add($"{path}.{nameof(AtRisk)}", "churn-risk", "a customer can only be at risk when a churn risk is set");
        }

        if (PredictedLifetimeValue is < 0)
        {
            errors.Add($"{path}.{nameof(PredictedLifetimeValue)}", "non-negative", $"must not be negative (was {PredictedLifetimeValue})");
        }

        Precision(path, nameof(ChurnRisk), ChurnRisk, errors);
        Precision(path, nameof(ProbabilityAlive), ProbabilityAlive, errors);
        Precision(path, nameof(PredictedLifetimeValue), PredictedLifetimeValue, errors);
    }

    // Database stores keep eight decimals; more would read back different from what was written.
    private static void Precision(string path, string field, decimal? value, ValidationErrorCollector errors)
    {
        if (value is { } v && decimal.Round(v, MaxDecimals) != v)
        {
            errors.Add($"{path}.{field}", "precision", $"must have at most {MaxDecimals} decimal places (was {v})");
        }
    }

    private static void Probability(string path, string field, decimal? value, ValidationErrorCollector errors)
    {
        if (value is < 0 or > 1)
        {
            errors.Add($"{path}.{field}", "probability", $"must lie between 0 and 1 (was {value})");
        }
    }
}
