using Crm.Kit.Insights;
using Crm.Kit.Segmentation;

namespace Crm.Kit.EntityFrameworkCore;

internal sealed class CustomerInsightRow : ICrmRow
{
    public string TenantId { get; set; } = string.Empty;

    public Guid CustomerId { get; set; }

    public long ComputedAt { get; set; }

    public int AsOf { get; set; }

    public string Currency { get; set; } = string.Empty;

    public int? RecencyScore { get; set; }

    public int? FrequencyScore { get; set; }

    public int? MonetaryScore { get; set; }

    /// <summary>The three scores as one code, stored so that rules on it compare a column.</summary>
    public string? RfmScore { get; set; }

    public string? RfmSegment { get; set; }

    /// <summary><see cref="RfmSegment"/> folded (<see cref="SegmentText.Fold"/>): what rules compare.</summary>
    public string? RfmSegmentKey { get; set; }

    public decimal? ChurnRisk { get; set; }

    public bool AtRisk { get; set; }

    public decimal? ProbabilityAlive { get; set; }

    public decimal? PredictedLifetimeValue { get; set; }

    public void CopyFrom(CustomerInsight insight)
    {
        CustomerId = insight.CustomerId;
        ComputedAt = insight.ComputedAt.UtcTicks;
        AsOf = insight.AsOf.DayNumber;
        Currency = insight.Currency;
        RecencyScore = insight.RecencyScore;
        FrequencyScore = insight.FrequencyScore;
        MonetaryScore = insight.MonetaryScore;
        RfmScore = insight.RfmScore;
        RfmSegment = insight.RfmSegment;
        RfmSegmentKey = SegmentText.Fold(insight.RfmSegment);
        ChurnRisk = insight.ChurnRisk;
        AtRisk = insight.AtRisk;
        ProbabilityAlive = insight.ProbabilityAlive;
        PredictedLifetimeValue = insight.PredictedLifetimeValue;
    }

    public CustomerInsight ToInsight() => new()
    {
        CustomerId = CustomerId,
        ComputedAt = Ticks.ToTime(ComputedAt),
        AsOf = DateOnly.FromDayNumber(AsOf),
        Currency = Currency,
        RecencyScore = RecencyScore,
        FrequencyScore = FrequencyScore,
        MonetaryScore = MonetaryScore,
        RfmSegment = RfmSegment,
        ChurnRisk = ChurnRisk,
        AtRisk = AtRisk,
        ProbabilityAlive = ProbabilityAlive,
        PredictedLifetimeValue = PredictedLifetimeValue,
    };
}

/// <summary>Binds <see cref="CustomerInsightFields"/> to the insight table, so rules using them run in SQL.</summary>
internal static class InsightRowFields
{
    public static IEnumerable<IEfSegmentFieldBinding> Bindings()
    {
        yield return CustomerRowBinding.Bind(CustomerInsightFields.Recency, (CustomerInsightRow r) => (long?)r.RecencyScore);
        yield return CustomerRowBinding.Bind(CustomerInsightFields.Frequency, (CustomerInsightRow r) => (long?)r.FrequencyScore);
        yield return CustomerRowBinding.Bind(CustomerInsightFields.Monetary, (CustomerInsightRow r) => (long?)r.MonetaryScore);
        yield return CustomerRowBinding.Bind(CustomerInsightFields.RfmScore, (CustomerInsightRow r) => r.RfmScore);
        yield return CustomerRowBinding.Bind(CustomerInsightFields.RfmSegment, (CustomerInsightRow r) => r.RfmSegmentKey);
        yield return CustomerRowBinding.Bind(CustomerInsightFields.ChurnRisk, (CustomerInsightRow r) => r.ChurnRisk);
        yield return CustomerRowBinding.Bind(CustomerInsightFields.AtRisk, (CustomerInsightRow r) => r.AtRisk);
        yield return CustomerRowBinding.Bind(CustomerInsightFields.ProbabilityAlive, (CustomerInsightRow r) => r.ProbabilityAlive);
        yield return CustomerRowBinding.Bind(CustomerInsightFields.PredictedLifetimeValue, (CustomerInsightRow r) => r.PredictedLifetimeValue);
    }
}
