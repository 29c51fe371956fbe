using Crm.Kit.Analytics;
using Crm.Kit.Customers;
using Crm.Kit.InMemory;
using Crm.Kit.Insights;
using Crm.Kit.Orders;
using Crm.Kit.Segmentation;
using Crm.Kit.Testing;
using Crm.Kit.Testing.Specification;
using Crm.Kit.Tests.EntityFrameworkCore;
using Crm.Kit.Tests.InMemory;
using Microsoft.Extensions.DependencyInjection;

namespace Crm.Kit.Tests.Analytics;

/// <summary>
/// <see cref="CustomerAnalytics"/> over each store. The CDNOW sample is recorded as real orders and analysed:
/// the store's aggregation must rebuild the published summary, and the models fitted from it must give the published
/// figures — the same on every store.
/// </summary>
public abstract class CustomerAnalyticsSpecification : CrmSpecification
{
    private static readonly DateOnly CalibrationEnd = new(1997, 9, 30);
    private static readonly DateOnly ObservationEnd = new(1998, 6, 30);

    [Fact]
    public async Task Analytics_over_the_recorded_cdnow_orders_reproduce_the_published_results()
    {
        var host = CreateHost(configure: s => s.AddCrmKit().AddAnalytics(o => o.Currency = "USD"));
        var transactions = TestData.CdnowSample();
        var ids = await RecordAsync(host, transactions);
        var analytics = host.Services.GetRequiredService<CustomerAnalytics>();

        // 1. The store's per-customer aggregation rebuilds the published calibration summary (x exactly; tₓ, T and z̄ to its rounding).
        var lifetime = await analytics.PredictLifetimeValueAsync(CalibrationEnd, cancellationToken: Cancel);
        var published = TestData.CdnowSummaries();
        Assert.Equal(2357, lifetime.Customers.Count);
        var bySampleId = lifetime.Customers.ToDictionary(c => ids.IndexOf(c.CustomerId) + 1);
        for (var id = 1; id <= 2357; id++)
        {
            var mine = bySampleId[id].Summary;
            var theirs = published[id - 1];
            Assert.Equal(theirs.Frequency, mine.Frequency);
            Assert.Equal(theirs.Recency, mine.Recency, 0.005);
            Assert.Equal(theirs.Age, mine.Age, 0.005);
            Assert.Equal(theirs.AverageRepeatValue, mine.AverageRepeatValue, 0.0051);
        }

        // 2. BG/NBD on the unrounded summary: the paper's parameters to its three decimals, BTYD's log-likelihood
        //    -9582.429, and BTYD's printed parameters to within the tolerance of its Nelder-Mead search: the optimum
        //    found here has a log-likelihood at least as high as BTYD's point (the surface is flat to 1e-5 between them).
        var p = lifetime.Purchases.Model.Parameters;
        TestContext.Current.TestOutputHelper?.WriteLine($"{p} LL={lifetime.Purchases.LogLikelihood:R} {lifetime.Spend.Model.Parameters} r={lifetime.SpendFrequencyCorrelation}");
        Assert.Equal((0.243, 4.414, 0.793, 2.426), (Math.Round(p.R, 3), Math.Round(p.Alpha, 3), Math.Round(p.A, 3), Math.Round(p.B, 3)));
        Assert.Equal(-9582.429, Math.Round(lifetime.Purchases.LogLikelihood, 3));
        var btyd = new BgNbdModel(new BgNbdParameters(0.2425982, 4.4136842, 0.7929899, 2.4261667));
        var atBtyd = lifetime.Customers.Sum(c => btyd.LogLikelihood(c.Summary));
        Assert.Equal(-9582.429, Math.Round(atBtyd, 3));
        Assert.True(lifetime.Purchases.LogLikelihood >= atBtyd - 1e-9, $"The fit ({lifetime.Purchases.LogLikelihood}) is below BTYD's point ({atBtyd}).");
        Assert.Equal(0.2425982, p.R, 0.2425982 * 3e-4);
        Assert.Equal(4.4136842, p.Alpha, 4.4136842 * 3e-4);
        Assert.Equal(0.7929899, p.A, 0.7929899 * 3e-4);
        Assert.Equal(2.4261667, p.B, 2.4261667 * 3e-4);
        // Gamma-Gamma on the unrounded z̄: Hardie's p = 6.25, q = 3.74, γ = 15.44.
        var spend = lifetime.Spend.Model.Parameters;
        Assert.Equal((6.25, 3.74, 15.44), (Math.Round(spend.P, 2), Math.Round(spend.Q, 2), Math.Round(spend.Gamma, 2)));
        Assert.Equal(0.11388, lifetime.SpendFrequencyCorrelation, 0.001);
        Assert.Equal(lifetime.Customers.OrderByDescending(c => c.PredictedValue).Select(c => c.CustomerId), lifetime.Customers.Select(c => c.CustomerId));

        // 3. RFM and cohorts over the whole 78 weeks equal a plain computation over the transactions.
        var rfm = await analytics.ScoreRfmAsync(ObservationEnd, cancellationToken: Cancel);
        var expected = RfmScoring.Score(
            [.. transactions.GroupBy(t => t.CustomerId).Select(g => new RfmInput(ids[g.Key - 1], ObservationEnd.DayNumber - g.Max(t => t.Date).DayNumber, g.Count(), g.Sum(t => t.Value)))],
            ObservationEnd);
        Assert.Equal(expected.Customers.OrderBy(c => c.CustomerId), rfm.Customers.OrderBy(c => c.CustomerId));
        Assert.Equal(expected.Segments, rfm.Segments);

        var cohorts = await analytics.GetCohortsAsync(ObservationEnd, cancellationToken: Cancel);
        Assert.Equal([new DateOnly(1997, 1, 1), new DateOnly(1997, 2, 1), new DateOnly(1997, 3, 1)], cohorts.Rows.Select(r => r.Month));
        Assert.Equal(2357, cohorts.Rows.Sum(r => r.Customers));
        Assert.Equal(18, cohorts.Columns);
        foreach (var row in cohorts.Rows)
        {
            var members = transactions.GroupBy(t => t.CustomerId).Where(g => Month(g.Min(t => t.Date)) == row.Month).ToList();
            Assert.Equal(members.Count, row.Customers);
            Assert.All(row.Cells, cell =>
            {
                var active = members.Where(g => g.Any(t => Months(row.Month, t.Date) == cell.MonthsSinceFirstPurchase)).ToList();
                Assert.Equal(active.Count, cell.ActiveCustomers);
                Assert.Equal(members.Sum(g => g.Where(t => Months(row.Month, t.Date) == cell.MonthsSinceFirstPurchase).Sum(t => t.Value)), cell.Revenue);
            });
            Assert.Equal(1.0, row.Cells[0].RetentionRate);
        }
    }

    [Fact]
    public async Task Product_rules_historic_value_and_suggestions_come_from_the_stored_orders()
    {
        var host = CreateHost(configure: s => s.AddCrmKit().AddAnalytics(o =>
        {
            o.Currency = "USD";
            o.MarginRate = 0.3m;
            o.CategoryMarginRates["Books"] = 0.5m;
        }));
        var customers = await host.Customers.CreateManyAsync([.. Enumerable.Range(0, 40).Select(_ => Faker.Person())], Cancel);
        var orders = new List<Order>();
        var start = new DateTimeOffset(2025, 1, 1, 10, 0, 0, TimeSpan.Zero);
        foreach (var customer in customers)
        {
            for (var i = Faker.Number(1, 5); i > 0; i--)
            {
                orders.Add(await host.Orders.RecordAsync(Faker.Order(customer.Id, start.AddDays(Faker.Number(0, 300))), Cancel));
            }
        }

        orders[0] = await host.Orders.RefundAsync(orders[0].Id, new RefundRequest { Reference = "r1" }, Cancel);
        orders[1] = await host.Orders.RefundAsync(orders[1].Id, new RefundRequest { Reference = "r2", Amount = 1m }, Cancel);
        var analytics = host.Services.GetRequiredService<CustomerAnalytics>();
        var asOf = new DateOnly(2025, 12, 31);
        var options = new AssociationMiningOptions { MinSupport = 0.02, MinConfidence = 0.1 };

        var rules = await analytics.MineProductRulesAsync(options, asOf, cancellationToken: Cancel);
        var counted = orders.Where(o => !o.IsFullyRefunded).ToList();
        var expected = AssociationRuleMiner.Mine(counted.Select(o => o.Lines.Select(l => l.Sku)), options, Cancel);
        Assert.Equal(counted.Count, rules.Transactions);
        Assert.Equal(expected.Rules, rules.Rules);
        Assert.Equal(expected.Itemsets.Select(i => (string.Join(",", i.Items), i.Count)), rules.Itemsets.Select(i => (string.Join(",", i.Items), i.Count)));

        var owner = customers[0].Id;
        var suggestions = await analytics.SuggestProductsAsync(owner, rules, 5, Cancel);
        var owned = orders.Where(o => o.CustomerId == owner).SelectMany(o => o.Lines.Select(l => l.Sku)).ToHashSet();
        Assert.Equal(rules.Suggest(owned, 5), suggestions);
        Assert.All(suggestions, s => Assert.DoesNotContain(s.Item, owned));

        var value = await analytics.GetHistoricValueAsync(asOf, cancellationToken: Cancel);
        Assert.Equal(counted.Select(o => o.CustomerId).Distinct().Count(), value.Count);
        foreach (var customer in value)
        {
            var mine = counted.Where(o => o.CustomerId == customer.CustomerId).ToList();
            Assert.Equal(mine.Count, customer.Orders);
            Assert.Equal(mine.Sum(o => o.NetTotal), customer.Revenue);
            var margin = mine.Sum(o => o.Lines.Sum(l => l.LineTotal * (l.Category == "Books" ? 0.5m : 0.3m)) * o.NetTotal / o.Total);
            Assert.Equal(decimal.Round(margin, 8), customer.Margin);
        }
    }

    [Fact]
    public async Task Refreshed_insights_equal_the_analyses_and_move_customers_between_segments()
    {
        var host = CreateHost(configure: s => s.AddCrmKit().AddAnalytics(o => o.Currency = "USD"));
        var customers = await host.Customers.CreateManyAsync([.. Enumerable.Range(0, 80).Select(_ => Faker.Person())], Cancel);
        var start = new DateTimeOffset(2025, 1, 1, 10, 0, 0, TimeSpan.Zero);
        var lastOrder = new Dictionary<Guid, DateTimeOffset>();
        foreach (var customer in customers.Take(70))
        {
            for (var i = Faker.Number(1, 6); i > 0; i--)
            {
                var order = await host.Orders.RecordAsync(Faker.Order(customer.Id, start.AddDays(Faker.Number(0, 360))), Cancel);
                lastOrder[customer.Id] = order.PlacedAt > lastOrder.GetValueOrDefault(customer.Id) ? order.PlacedAt : lastOrder[customer.Id];
            }
        }

        var slipping = await host.Segments.CreateAsync(SegmentDraft.Dynamic("Slipping", Rule.Field(CustomerInsightFields.AtRisk).IsTrue()), Cancel);
        var best = await host.Segments.CreateAsync(SegmentDraft.Dynamic("Best", Rule.Field(CustomerInsightFields.RfmSegment).EqualTo("champions")), Cancel);
        var analytics = host.Services.GetRequiredService<CustomerAnalytics>();
        var asOf = new DateOnly(2025, 12, 31);

        // 1. The stored snapshot of every buyer equals RFM and the lifetime analysis of the same window.
        var refresh = await analytics.RefreshInsightsAsync(asOf, cancellationToken: Cancel);
        var rfm = (await analytics.ScoreRfmAsync(asOf, cancellationToken: Cancel)).Customers.ToDictionary(c => c.CustomerId);
        var lifetime = (await analytics.PredictLifetimeValueAsync(asOf, cancellationToken: Cancel)).Customers.ToDictionary(c => c.CustomerId);
        Assert.Equal((asOf, 70, 0, true, 2), (refresh.AsOf, refresh.Customers, refresh.Removed, refresh.LifetimeModelsFitted, refresh.Segments.SegmentsEvaluated));
        var insights = new Dictionary<Guid, CustomerInsight>();
        foreach (var customer in customers)
        {
            var insight = await analytics.GetInsightAsync(customer.Id, Cancel);
            if (!rfm.TryGetValue(customer.Id, out var scores))
            {
                Assert.Null(insight);
                continue;
            }

            Assert.NotNull(insight);
            insights[customer.Id] = insight;
            var model = lifetime[customer.Id];
            Assert.Equal((scores.R, scores.F, scores.M, scores.Segment), (insight.RecencyScore, insight.FrequencyScore, insight.MonetaryScore, insight.RfmSegment));
            Assert.Equal(Math.Round((decimal)model.ChurnRisk, 6), insight.ChurnRisk);
            Assert.Equal(Math.Round((decimal)model.ProbabilityAlive, 6), insight.ProbabilityAlive);
            Assert.Equal(Math.Round((decimal)model.PredictedValue, 6), insight.PredictedLifetimeValue);
            Assert.Equal(insight.ChurnRisk >= 0.5m, insight.AtRisk);
            Assert.Equal((refresh.ComputedAt, asOf, "USD"), (insight.ComputedAt, insight.AsOf, insight.Currency));
        }

        Assert.Equal(insights.Values.Count(i => i.AtRisk), await host.Segments.CountAsync(slipping.Id, Cancel));
        Assert.Equal(insights.Values.Count(i => i.RfmSegment == "Champions"), await host.Segments.CountAsync(best.Id, Cancel));
        Assert.Equal(refresh.Segments.Entered, host.Events.Of<SegmentEntered>().Count);
        Assert.InRange(insights.Values.Count(i => i.AtRisk), 1, 69);

        // 2. A refresh over the second half-year drops those who did not buy in it and re-scores the rest.
        Clock.Advance(TimeSpan.FromDays(1));
        var since = new DateOnly(2025, 7, 1);
        var gone = lastOrder.Where(o => DateOnly.FromDateTime(o.Value.UtcDateTime) < since).Select(o => o.Key).ToHashSet();
        Assert.NotEmpty(gone);
        var second = await analytics.RefreshInsightsAsync(asOf, since, Cancel);
        Assert.Equal((70 - gone.Count, gone.Count), (second.Customers, second.Removed));
        var rescored = (await analytics.ScoreRfmAsync(asOf, since, Cancel)).Customers.ToDictionary(c => c.CustomerId);
        foreach (var customer in customers)
        {
            var insight = await analytics.GetInsightAsync(customer.Id, Cancel);
            Assert.Equal(rescored.TryGetValue(customer.Id, out var scores) ? scores.Segment : null, insight?.RfmSegment);
            Assert.True(insight is null || insight.ComputedAt == second.ComputedAt);
        }

        var exitedSlipping = host.Events.Of<SegmentExited>().Where(e => e.SegmentId == slipping.Id).Select(e => e.CustomerId).ToHashSet();
        Assert.Superset(gone.Where(id => insights[id].AtRisk).ToHashSet(), exitedSlipping);
        Assert.Equal(rescored.Values.Count(c => c.Segment == "Champions"), await host.Segments.CountAsync(best.Id, Cancel));
    }

    [Fact]
    public async Task A_refresh_of_a_tenant_without_orders_stores_nothing_and_succeeds()
    {
        var host = CreateHost(configure: s => s.AddCrmKit().AddAnalytics(o => o.Currency = "USD"));
        var customer = await host.Customers.CreateAsync(Faker.Person(), Cancel);
        var analytics = host.Services.GetRequiredService<CustomerAnalytics>();

        var refresh = await analytics.RefreshInsightsAsync(new DateOnly(2026, 1, 31), cancellationToken: Cancel);

        Assert.Equal((0, 0, false), (refresh.Customers, refresh.Removed, refresh.LifetimeModelsFitted));
        Assert.Null(await analytics.GetInsightAsync(customer.Id, Cancel));
    }

    private static DateOnly Month(DateOnly day) => new(day.Year, day.Month, 1);

    private static int Months(DateOnly cohort, DateOnly day) => ((day.Year - cohort.Year) * 12) + day.Month - cohort.Month;

    /// <summary>Creates the 2,357 customers and records every transaction as a one-line USD order at noon UTC.</summary>
    private static async Task<List<Guid>> RecordAsync(CrmTestHost host, IReadOnlyList<TestData.CdnowTransaction> transactions)
    {
        var ids = new List<Guid>();
        foreach (var batch in Enumerable.Range(1, 2357).Chunk(500))
        {
            var created = await host.Customers.CreateManyAsync(
                [.. batch.Select(id => new CustomerDraft { Kind = CustomerKind.Person, FirstName = "CDNOW", LastName = $"#{id}", ExternalReference = $"cdnow-{id}" })], Cancel);
            ids.AddRange(created.Select(c => c.Id));
        }

        var line = 0;
        foreach (var t in transactions)
        {
            line++;
            await host.Orders.RecordAsync(new OrderDraft
            {
                CustomerId = ids[t.CustomerId - 1],
                Reference = $"cdnow-{line}",
                Currency = "USD",
                PlacedAt = new DateTimeOffset(t.Date.ToDateTime(new TimeOnly(12, 0)), TimeSpan.Zero),
                Lines = [new OrderLine("CD", "Compact discs", "music", 1, t.Value)],
            }, Cancel);
        }

        return ids;
    }
}

public sealed class InMemoryCustomerAnalyticsSpecification : CustomerAnalyticsSpecification
{
    protected override ISpecificationStore CreateStore() => new InMemorySpecificationStore();
}

public sealed class SqliteCustomerAnalyticsSpecification : CustomerAnalyticsSpecification
{
    protected override ISpecificationStore CreateStore() => new SqliteTestDatabase();
}

public sealed class PostgresCustomerAnalyticsSpecification : CustomerAnalyticsSpecification
{
    protected override ISpecificationStore CreateStore() => new PostgresTestDatabase();
}
