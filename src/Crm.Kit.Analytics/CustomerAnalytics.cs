using System.Runtime.CompilerServices;
using Crm.Kit.Insights;
using Crm.Kit.Orders;
using Crm.Kit.Segmentation;
using Microsoft.Extensions.Options;

namespace Crm.Kit.Analytics;

/// <summary>Historic value of one customer.</summary>
/// <param name="CustomerId">The customer.</param>
/// <param name="Orders">Orders counted.</param>
/// <param name="Revenue">Net spend.</param>
/// <param name="Margin">Net spend × the margin rate of each line's category (refunds reduce every line in proportion).</param>
public sealed record CustomerHistoricValue(Guid CustomerId, int Orders, decimal Revenue, decimal Margin)
{
    /// <summary>Margin per order.</summary>
    public decimal AverageMargin => Orders == 0 ? 0 : Margin / Orders;
}

/// <summary>What one <see cref="CustomerAnalytics.RefreshInsightsAsync"/> did.</summary>
/// <param name="AsOf">The last day of the window.</param>
/// <param name="ComputedAt">The time stamped on every snapshot written.</param>
/// <param name="Customers">Snapshots written: customers with a counted order in the window.</param>
/// <param name="Removed">Older snapshots removed: customers with no counted order in the window any more.</param>
/// <param name="LifetimeModelsFitted">Whether BG/NBD and Gamma-Gamma could be fitted (someone bought on two different days).</param>
/// <param name="Segments">The re-evaluation of the dynamic segments using insight fields.</param>
public sealed record InsightRefresh(DateOnly AsOf, DateTimeOffset ComputedAt, int Customers, int Removed, bool LifetimeModelsFitted, SegmentReevaluation Segments);

/// <summary>
/// Customer analytics over the current tenant's orders: RFM, historic and predicted lifetime value, churn risk,
/// cohort retention and product association rules. Per-customer aggregation happens in the store
/// (<see cref="IPurchaseHistoryStore"/>; in SQL with the EF adapter); only aggregates reach this service.
/// </summary>
public sealed class CustomerAnalytics
{
    private const int InsightBatch = 1000;
    private readonly IPurchaseHistoryStore _purchases;
    private readonly IOrderStore _orders;
    private readonly ICustomerInsightStore _insights;
    private readonly SegmentManager _segments;
    private readonly ICrmTenantContext _tenant;
    private readonly TimeProvider _time;
    private readonly AnalyticsOptions _options;
    private readonly string _currency;

    /// <summary>Creates the service; resolve it from DI after <c>AddCrmKit().AddAnalytics()</c>.</summary>
    public CustomerAnalytics(
        IPurchaseHistoryStore purchases,
        IOrderStore orders,
        ICustomerInsightStore insights,
        SegmentManager segments,
        ICrmTenantContext tenant,
        TimeProvider time,
        IOptions<AnalyticsOptions> options,
        IOptions<CrmKitOptions> crmOptions)
    {
        _purchases = purchases;
        _orders = orders;
        _insights = insights;
        _segments = segments;
        _tenant = tenant;
        _time = time;
        _options = options.Value;
        _currency = _options.Currency ?? crmOptions.Value.ReportingCurrency;
    }

    /// <summary>The orders analysed when <paramref name="asOf"/> (default: today) and <paramref name="since"/> (default: all history) are given.</summary>
    public PurchaseWindow Window(DateOnly? asOf = null, DateOnly? since = null)
    {
        var today = DateOnly.FromDateTime(_time.GetUtcNow().UtcDateTime + _options.DayOffset);
        var window = new PurchaseWindow { Currency = _currency, FirstDay = since, LastDay = asOf ?? today, DayOffset = _options.DayOffset };
        window.Validate();
        return window;
    }

    /// <summary>RFM scores and segments of every customer who bought in the window, recency measured to <paramref name="asOf"/>.</summary>
    public async Task<RfmResult> ScoreRfmAsync(DateOnly? asOf = null, DateOnly? since = null, CancellationToken cancellationToken = default)
    {
        var window = Window(asOf, since);
        var inputs = new List<RfmInput>();
        await foreach (var s in _purchases.StreamSummariesAsync(_tenant.TenantId, window, cancellationToken).ConfigureAwait(false))
        {
            inputs.Add(RfmInputOf(s, window));
        }

        return RfmScoring.Score(inputs, window.LastDay, _options.RfmSegments);
    }

    /// <summary>
    /// Fits BG/NBD and Gamma-Gamma on the window's purchases (observation ending on <paramref name="asOf"/>) and returns
    /// each customer's probability of being alive, expected purchases and spend, predicted value and churn risk.
    /// </summary>
    /// <exception cref="CrmValidationException">No customer has a repeat purchase, so the models cannot be fitted.</exception>
    public async Task<LifetimeValueAnalysis> PredictLifetimeValueAsync(DateOnly? asOf = null, DateOnly? since = null, CancellationToken cancellationToken = default)
    {
        var window = Window(asOf, since);
        var rows = await SummariesAsync(window, cancellationToken).ConfigureAwait(false);
        return Predict(window, rows, cancellationToken)
            ?? throw new CrmValidationException("orders", "repeat-buyers", "The lifetime models need at least one customer with purchases on two different days in the window.");
    }

    /// <summary>
    /// Recomputes every customer's stored <see cref="CustomerInsight"/> (RFM scores and segment, churn risk and
    /// at-risk flag, probability alive, predicted lifetime value) from the window's purchases, removes the snapshots
    /// of customers who no longer bought in it, then re-evaluates the dynamic segments whose rules use
    /// <see cref="CustomerInsightFields"/>, publishing who entered and left them. Schedule it (nightly, say): the
    /// figures move with time even when nobody orders.
    /// </summary>
    /// <remarks>
    /// Snapshots are written in batches of 1,000, each atomic; a refresh that stops half-way leaves some customers
    /// with the new snapshot and the rest with the previous one, and the next refresh completes it. Run one refresh
    /// per tenant at a time; if two overlap, each customer keeps the newer snapshot. When no customer has bought on
    /// two different days the lifetime models cannot be fitted: RFM is still stored and the model figures are unset.
    /// </remarks>
    public async Task<InsightRefresh> RefreshInsightsAsync(DateOnly? asOf = null, DateOnly? since = null, CancellationToken cancellationToken = default)
    {
        var window = Window(asOf, since);
        var computedAt = _time.GetUtcNow();
        var rows = await SummariesAsync(window, cancellationToken).ConfigureAwait(false);
        var rfm = RfmScoring.Score(rows.ConvertAll(r => RfmInputOf(r.Purchases, window)), window.LastDay, _options.RfmSegments)
            .Customers.ToDictionary(c => c.CustomerId);
        var lifetime = Predict(window, rows, cancellationToken)?.Customers.ToDictionary(c => c.CustomerId);

        var batch = new List<CustomerInsight>(InsightBatch);
        foreach (var (purchases, _) in rows)
        {
            var scores = rfm[purchases.CustomerId];
            var model = lifetime?[purchases.CustomerId];
            var churnRisk = Stored(model?.ChurnRisk);
            batch.Add(new CustomerInsight
            {
                CustomerId = purchases.CustomerId,
                ComputedAt = computedAt,
                AsOf = window.LastDay,
                Currency = window.Currency,
                RecencyScore = scores.R,
                FrequencyScore = scores.F,
                MonetaryScore = scores.M,
                RfmSegment = scores.Segment,
                ChurnRisk = churnRisk,
                AtRisk = churnRisk >= (decimal)_options.AtRiskThreshold,
                ProbabilityAlive = Stored(model?.ProbabilityAlive),
                PredictedLifetimeValue = Stored(model?.PredictedValue),
            });
            if (batch.Count == InsightBatch)
            {
                await WriteInsightsAsync(batch, cancellationToken).ConfigureAwait(false);
            }
        }

        await WriteInsightsAsync(batch, cancellationToken).ConfigureAwait(false);
        var removed = await _insights.RemoveComputedBeforeAsync(_tenant.TenantId, computedAt, cancellationToken).ConfigureAwait(false);
        var segments = await _segments.ReevaluateUsingFieldsAsync(CustomerInsightFields.Names, cancellationToken).ConfigureAwait(false);
        return new InsightRefresh(window.LastDay, computedAt, rows.Count, removed, lifetime is not null, segments);
    }

    /// <summary>The customer's stored insight from the latest refresh, or <see langword="null"/> when none covers them.</summary>
    public async Task<CustomerInsight?> GetInsightAsync(Guid customerId, CancellationToken cancellationToken = default) =>
        await _insights.FindAsync(_tenant.TenantId, customerId, cancellationToken).ConfigureAwait(false);

    // Six decimals: finer than any threshold a rule would use, and exactly representable in every store.
    private static decimal? Stored(double? value) => value is { } v && double.IsFinite(v) ? Math.Round((decimal)v, 6) : null;

    private static RfmInput RfmInputOf(CustomerPurchaseSummary s, PurchaseWindow window) =>
        new(s.CustomerId, window.LastDay.DayNumber - s.LastDay.DayNumber, s.Orders, s.Spend);

    private async Task WriteInsightsAsync(List<CustomerInsight> batch, CancellationToken cancellationToken)
    {
        if (batch.Count > 0)
        {
            // The store validates the batch before writing anything; checking here too would walk 1M snapshots twice.
            await _insights.UpsertAsync(_tenant.TenantId, batch, cancellationToken).ConfigureAwait(false);
            batch.Clear();
        }
    }

    private async Task<List<(CustomerPurchaseSummary Purchases, RepeatPurchaseSummary Summary)>> SummariesAsync(PurchaseWindow window, CancellationToken cancellationToken)
    {
        var rows = new List<(CustomerPurchaseSummary Purchases, RepeatPurchaseSummary Summary)>();
        await foreach (var s in _purchases.StreamSummariesAsync(_tenant.TenantId, window, cancellationToken).ConfigureAwait(false))
        {
            rows.Add((s, RepeatPurchaseSummary.FromPurchases(s, window.LastDay, _options.ModelTimeUnit)));
        }

        return rows;
    }

    /// <summary>Fits both models and predicts every customer; <see langword="null"/> when nobody bought on two different days.</summary>
    private LifetimeValueAnalysis? Predict(PurchaseWindow window, List<(CustomerPurchaseSummary Purchases, RepeatPurchaseSummary Summary)> rows, CancellationToken cancellationToken)
    {
        if (!rows.Any(r => r.Summary.Frequency > 0))
        {
            return null;
        }

        var unitDays = _options.ModelTimeUnit.TotalDays;
        var summaries = rows.ConvertAll(r => r.Summary);
        var purchases = BgNbdModel.Fit(summaries, cancellationToken);
        var spend = GammaGammaModel.Fit(summaries, cancellationToken);
        var gaps = rows.Where(r => r.Summary.Frequency > 0).Select(r => (double)(r.Purchases.LastDay.DayNumber - r.Purchases.FirstDay.DayNumber) / r.Summary.Frequency).Order().ToArray();
        var typicalGap = gaps.Length % 2 == 1 ? gaps[gaps.Length / 2] : (gaps[(gaps.Length / 2) - 1] + gaps[gaps.Length / 2]) / 2;
        var periodUnits = _options.LifetimeValuePeriodLength.TotalDays / unitDays;
        var horizon = _options.LifetimeValuePeriods * periodUnits;
        var margin = (double)_options.MarginRate;

        // Customers with the same summary get the same predictions; real data repeats summaries a lot.
        var cache = new Dictionary<RepeatPurchaseSummary, (double Alive, double Expected, double Value, double Predicted)>();
        var customers = new List<CustomerLifetimeValue>(rows.Count);
        foreach (var (p, s) in rows)
        {
            cancellationToken.ThrowIfCancellationRequested();
            if (!cache.TryGetValue(s, out var prediction))
            {
                var value = spend.Model.ExpectedAverageValue(s);
                prediction = (
                    purchases.Model.ProbabilityAlive(s),
                    purchases.Model.ConditionalExpectedPurchases(s, horizon),
                    value,
                    LifetimeValueCalculator.Compute(purchases.Model, s, value, _options.LifetimeValuePeriods, periodUnits, _options.DiscountRatePerPeriod, margin));
                cache[s] = prediction;
            }

            var daysSince = window.LastDay.DayNumber - p.LastDay.DayNumber;
            var gap = s.Frequency > 0 ? (double)(p.LastDay.DayNumber - p.FirstDay.DayNumber) / s.Frequency : typicalGap;
            var ageDays = window.LastDay.DayNumber - p.FirstDay.DayNumber;
            var risk = s.Frequency > 0 ? 1 - prediction.Alive : (gap > 0 ? 1 - Math.Exp(-ageDays / gap) : 0);
            customers.Add(new CustomerLifetimeValue(
                p.CustomerId, s, p.Orders, p.Spend, prediction.Alive, prediction.Expected, prediction.Value, prediction.Predicted,
                daysSince, gap, risk, risk >= _options.AtRiskThreshold));
        }

        customers.Sort((a, b) => b.PredictedValue.CompareTo(a.PredictedValue) is var c && c != 0 ? c : a.CustomerId.CompareTo(b.CustomerId));
        return new LifetimeValueAnalysis(window.LastDay, _options.ModelTimeUnit, purchases, spend, Correlation(summaries), customers);
    }

    /// <summary>Monthly acquisition cohorts of the window, up to the month of <paramref name="asOf"/>.</summary>
    public Task<CohortTable> GetCohortsAsync(DateOnly? asOf = null, DateOnly? since = null, CancellationToken cancellationToken = default)
    {
        var window = Window(asOf, since);
        return CohortTable.BuildAsync(_purchases.StreamDaysAsync(_tenant.TenantId, window, cancellationToken), window.LastDay, cancellationToken);
    }

    /// <summary>
    /// Historic revenue and margin of every customer who bought in the window, using the margin rate of each line's
    /// category (<see cref="AnalyticsOptions.CategoryMarginRates"/>) or <see cref="AnalyticsOptions.MarginRate"/>.
    /// Reads the orders' lines, so it streams orders rather than aggregating in the database.
    /// </summary>
    public async Task<IReadOnlyList<CustomerHistoricValue>> GetHistoricValueAsync(DateOnly? asOf = null, DateOnly? since = null, CancellationToken cancellationToken = default)
    {
        var window = Window(asOf, since);
        var totals = new Dictionary<Guid, (int Orders, decimal Revenue, decimal Margin)>();
        await foreach (var order in CountedOrdersAsync(window, cancellationToken).ConfigureAwait(false))
        {
            var lineMargin = order.Lines.Sum(l => l.LineTotal * (l.Category is { } c && _options.CategoryMarginRates.TryGetValue(c, out var rate) ? rate : _options.MarginRate));
            var netShare = order.Total == 0 ? 0 : order.NetTotal / order.Total;
            var (orders, revenue, margin) = totals.GetValueOrDefault(order.CustomerId);
            totals[order.CustomerId] = (orders + 1, revenue + order.NetTotal, margin + (lineMargin * netShare));
        }

        return [.. totals.Select(t => new CustomerHistoricValue(t.Key, t.Value.Orders, t.Value.Revenue, decimal.Round(t.Value.Margin, 8)))
            .OrderByDescending(v => v.Margin).ThenBy(v => v.CustomerId)];
    }

    /// <summary>Mines association rules over the window's orders, each order a basket of its SKUs.</summary>
    public async Task<AssociationRuleSet> MineProductRulesAsync(AssociationMiningOptions options, DateOnly? asOf = null, DateOnly? since = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        var window = Window(asOf, since);
        var baskets = new List<string[]>();
        await foreach (var order in CountedOrdersAsync(window, cancellationToken).ConfigureAwait(false))
        {
            baskets.Add([.. order.Lines.Select(l => l.Sku)]);
        }

        return AssociationRuleMiner.Mine(baskets, options, cancellationToken);
    }

    /// <summary>Next best products for a customer: what the rules suggest given every SKU they ever bought, never one they own.</summary>
    public async Task<IReadOnlyList<ProductSuggestion>> SuggestProductsAsync(Guid customerId, AssociationRuleSet rules, int limit = 5, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(rules);
        var owned = new HashSet<string>(StringComparer.Ordinal);
        await foreach (var order in _orders.StreamByCustomerAsync(_tenant.TenantId, customerId, cancellationToken).ConfigureAwait(false))
        {
            owned.UnionWith(order.Lines.Select(l => l.Sku));
        }

        return rules.Suggest(owned, limit);
    }

    private async IAsyncEnumerable<Order> CountedOrdersAsync(PurchaseWindow window, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        await foreach (var order in _orders.StreamAsync(_tenant.TenantId, cancellationToken).ConfigureAwait(false))
        {
            if (window.Counts(order))
            {
                yield return order;
            }
        }
    }

    private static double Correlation(List<RepeatPurchaseSummary> summaries)
    {
        var repeat = summaries.Where(s => s.Frequency > 0).ToList();
        if (repeat.Count < 2)
        {
            return double.NaN;
        }

        double mx = repeat.Average(s => (double)s.Frequency), mz = repeat.Average(s => s.AverageRepeatValue);
        double sxz = 0, sxx = 0, szz = 0;
        foreach (var s in repeat)
        {
            double dx = s.Frequency - mx, dz = s.AverageRepeatValue - mz;
            sxz += dx * dz;
            sxx += dx * dx;
            szz += dz * dz;
        }

        return sxz / Math.Sqrt(sxx * szz);
    }
}
