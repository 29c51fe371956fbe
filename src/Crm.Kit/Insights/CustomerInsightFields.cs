using System.Linq.Expressions;
using System.Reflection;
using Crm.Kit.Customers;
using Crm.Kit.InMemory;
using Crm.Kit.Segmentation;

namespace Crm.Kit.Insights;

/// <summary>
/// Contributes the stored <see cref="CustomerInsight"/> figures as segment fields, so rules such as
/// "<c>rfm.segment</c> equals Champions" or "<c>churn.atRisk</c> is true and <c>clv.predicted</c> &gt; 500" select
/// customers. Registered by <c>AddAnalytics()</c>. A customer without a snapshot has every field unset (and
/// <see cref="AtRisk"/> false). In memory the fields read the in-memory insight store; the EF Core adapter binds
/// them to its insight table, so rules using them still run entirely in SQL.
/// </summary>
public sealed class CustomerInsightFields : ISegmentFieldProvider
{
    /// <summary>RFM recency score, 1–5.</summary>
    public const string Recency = "rfm.recency";

    /// <summary>RFM frequency score, 1–5.</summary>
    public const string Frequency = "rfm.frequency";

    /// <summary>RFM monetary score, 1–5.</summary>
    public const string Monetary = "rfm.monetary";

    /// <summary>The three RFM scores as one code, for example "545".</summary>
    public const string RfmScore = "rfm.score";

    /// <summary>The RFM segment name.</summary>
    public const string RfmSegment = "rfm.segment";

    /// <summary>Churn risk, 0–1.</summary>
    public const string ChurnRisk = "churn.risk";

    /// <summary>Whether the churn risk reached the at-risk threshold.</summary>
    public const string AtRisk = "churn.atRisk";

    /// <summary>Probability of being alive, 0–1.</summary>
    public const string ProbabilityAlive = "clv.probabilityAlive";

    /// <summary>Predicted lifetime value.</summary>
    public const string PredictedLifetimeValue = "clv.predicted";

    private readonly InMemoryCustomerInsightStore _inMemory;

    /// <summary>Creates the provider; in-memory rules read <paramref name="inMemory"/>.</summary>
    public CustomerInsightFields(InMemoryCustomerInsightStore inMemory) => _inMemory = inMemory ?? throw new ArgumentNullException(nameof(inMemory));

    /// <summary>The names of every field contributed.</summary>
    public static IReadOnlyList<string> Names { get; } = [Recency, Frequency, Monetary, RfmScore, RfmSegment, ChurnRisk, AtRisk, ProbabilityAlive, PredictedLifetimeValue];

    /// <inheritdoc />
    public IEnumerable<SegmentField> GetFields()
    {
        yield return SegmentField.Number(Recency, "RFM recency score, 1 (longest ago) to 5 (most recent), from the latest insight refresh.", Read<long?>(nameof(CustomerInsightAccess.Recency)));
        yield return SegmentField.Number(Frequency, "RFM frequency score, 1 to 5, from the latest insight refresh.", Read<long?>(nameof(CustomerInsightAccess.Frequency)));
        yield return SegmentField.Number(Monetary, "RFM monetary score, 1 to 5, from the latest insight refresh.", Read<long?>(nameof(CustomerInsightAccess.Monetary)));
        yield return SegmentField.Text(RfmScore, "The RFM scores as one code, recency first, for example \"545\".", Read<string?>(nameof(CustomerInsightAccess.RfmScore)));
        yield return SegmentField.Text(RfmSegment, "The RFM segment, for example \"Champions\" or \"At Risk\".", Read<string?>(nameof(CustomerInsightAccess.RfmSegment)));
        yield return SegmentField.Number(ChurnRisk, "Churn risk from 0 to 1: one minus the probability of being alive, or for one-time buyers the time since the purchase against the typical gap between purchases.", Read<decimal?>(nameof(CustomerInsightAccess.ChurnRisk)));
        yield return SegmentField.Boolean(AtRisk, "Whether the churn risk reached the at-risk threshold.", Read<bool>(nameof(CustomerInsightAccess.AtRisk)));
        yield return SegmentField.Number(ProbabilityAlive, "Probability the customer still buys (BG/NBD), 0 to 1.", Read<decimal?>(nameof(CustomerInsightAccess.ProbabilityAlive)));
        yield return SegmentField.Number(PredictedLifetimeValue, "Predicted lifetime value (discounted margin over the configured horizon).", Read<decimal?>(nameof(CustomerInsightAccess.PredictedLifetimeValue)));
    }

    private Expression<Func<Customer, T>> Read<T>(string reader) => StoreFieldReader.Read<T>(_inMemory, FindMethod, typeof(CustomerInsightAccess), reader);

    private static readonly MethodInfo FindMethod = typeof(InMemoryCustomerInsightStore).GetMethod(nameof(InMemoryCustomerInsightStore.Find))!;
}

/// <summary>Readers the in-memory insight fields use. Public only because compiled rules call them.</summary>
[System.ComponentModel.EditorBrowsable(System.ComponentModel.EditorBrowsableState.Never)]
public static class CustomerInsightAccess
{
    /// <summary>The recency score, or null.</summary>
    public static long? Recency(CustomerInsight? insight) => insight?.RecencyScore;

    /// <summary>The frequency score, or null.</summary>
    public static long? Frequency(CustomerInsight? insight) => insight?.FrequencyScore;

    /// <summary>The monetary score, or null.</summary>
    public static long? Monetary(CustomerInsight? insight) => insight?.MonetaryScore;

    /// <summary>The RFM code, or null.</summary>
    public static string? RfmScore(CustomerInsight? insight) => insight?.RfmScore;

    /// <summary>The RFM segment, or null.</summary>
    public static string? RfmSegment(CustomerInsight? insight) => insight?.RfmSegment;

    /// <summary>The churn risk, or null.</summary>
    public static decimal? ChurnRisk(CustomerInsight? insight) => insight?.ChurnRisk;

    /// <summary>Whether at risk; false without a snapshot.</summary>
    public static bool AtRisk(CustomerInsight? insight) => insight?.AtRisk ?? false;

    /// <summary>The probability of being alive, or null.</summary>
    public static decimal? ProbabilityAlive(CustomerInsight? insight) => insight?.ProbabilityAlive;

    /// <summary>The predicted lifetime value, or null.</summary>
    public static decimal? PredictedLifetimeValue(CustomerInsight? insight) => insight?.PredictedLifetimeValue;
}
