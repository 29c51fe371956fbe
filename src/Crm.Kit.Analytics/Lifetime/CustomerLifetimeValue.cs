namespace Crm.Kit.Analytics;

/// <summary>What the lifetime models say about one customer.</summary>
/// <param name="CustomerId">The customer.</param>
/// <param name="Summary">Frequency, recency, age (model time units) and average repeat value the models read.</param>
/// <param name="Orders">Orders counted.</param>
/// <param name="Spend">Net spend counted (historic revenue).</param>
/// <param name="ProbabilityAlive">P(alive): the chance the customer has not dropped out.</param>
/// <param name="ExpectedPurchases">Purchases expected over the value horizon.</param>
/// <param name="ExpectedAverageValue">Spend expected per purchase (Gamma-Gamma).</param>
/// <param name="PredictedValue">Discounted margin expected over the horizon: the predictive customer lifetime value.</param>
/// <param name="DaysSinceLastOrder">Days from the last order to the analysis date.</param>
/// <param name="ExpectedGapDays">The customer's own mean days between purchase days; the population's median for one-time buyers.</param>
/// <param name="ChurnRisk">0 (safe) to 1 (gone): 1 − P(alive) for repeat buyers; for one-time buyers 1 − e^(−age / typical gap).</param>
/// <param name="AtRisk">Whether <paramref name="ChurnRisk"/> reaches the configured threshold.</param>
public sealed record CustomerLifetimeValue(
    Guid CustomerId,
    RepeatPurchaseSummary Summary,
    int Orders,
    decimal Spend,
    double ProbabilityAlive,
    double ExpectedPurchases,
    double ExpectedAverageValue,
    double PredictedValue,
    int DaysSinceLastOrder,
    double ExpectedGapDays,
    double ChurnRisk,
    bool AtRisk);

/// <summary>The fitted models and every customer's predictions.</summary>
/// <param name="AnalysisDate">The end of observation.</param>
/// <param name="TimeUnit">The models' time unit.</param>
/// <param name="Purchases">The BG/NBD fit.</param>
/// <param name="Spend">The Gamma-Gamma fit.</param>
/// <param name="SpendFrequencyCorrelation">Pearson correlation of z̄ and x over repeat buyers; the spend model assumes it is near 0.</param>
/// <param name="Customers">Every customer with a counted order, highest predicted value first.</param>
public sealed record LifetimeValueAnalysis(
    DateOnly AnalysisDate,
    TimeSpan TimeUnit,
    BgNbdFit Purchases,
    GammaGammaFit Spend,
    double SpendFrequencyCorrelation,
    IReadOnlyList<CustomerLifetimeValue> Customers);

/// <summary>Discounted lifetime value from the two models, with the time unit handled explicitly.</summary>
public static class LifetimeValueCalculator
{
    /// <summary>
    /// Σₖ₌₁..K margin · E[spend per purchase] · (E[Y(k·P)] − E[Y((k−1)·P)]) / (1 + d)ᵏ, where P is one discount period in
    /// model time units: purchases expected in each period, valued at the expected spend, discounted per period.
    /// </summary>
    /// <param name="purchases">The purchase model.</param>
    /// <param name="customer">The customer's summary.</param>
    /// <param name="averageValue">Expected spend per purchase.</param>
    /// <param name="periods">K.</param>
    /// <param name="periodInModelUnits">P.</param>
    /// <param name="discountRate">d, per period.</param>
    /// <param name="marginRate">The share of spend that is margin.</param>
    public static double Compute(BgNbdModel purchases, RepeatPurchaseSummary customer, double averageValue, int periods, double periodInModelUnits, double discountRate, double marginRate)
    {
        ArgumentNullException.ThrowIfNull(purchases);
        if (periods < 1)
        {
            throw new CrmValidationException(nameof(periods), "range", "At least one period is needed.");
        }

        if (!(periodInModelUnits > 0) || !double.IsFinite(periodInModelUnits))
        {
            throw new CrmValidationException(nameof(periodInModelUnits), "positive", "The period length must be positive.");
        }

        var value = 0.0;
        var before = 0.0;
        for (var k = 1; k <= periods; k++)
        {
            var upTo = purchases.ConditionalExpectedPurchases(customer, k * periodInModelUnits);
            value += marginRate * averageValue * (upTo - before) / Math.Pow(1 + discountRate, k);
            before = upTo;
        }

        return value;
    }
}
