using System.Globalization;
using System.Text;
using Crm.Kit;
using Crm.Kit.Analytics;
using Crm.Kit.Customers;
using Crm.Kit.Insights;
using Crm.Kit.Orders;
using Crm.Kit.Segmentation;
using Microsoft.Extensions.DependencyInjection;

/// <summary>
/// Section 8 of the QuickStart: a small shop's 18 months of simulated orders, analysed. Customers arrive over a year,
/// buy at their own pace and stop for good at some point (the behaviour the lifetime models assume); baskets follow
/// product affinities, so there is something for the association rules to find.
/// </summary>
internal static class AnalyticsSection
{
    private static readonly DateOnly AsOf = new(2026, 6, 30);

    private static readonly (string Sku, string Name, decimal Price, string[] GoesWith)[] Catalogue =
    [
        ("SEED-TOM", "Tomato seeds", 3.50m, ["COMPOST", "GLOVES"]),
        ("SEED-BAS", "Basil seeds", 2.90m, ["POT-S", "COMPOST"]),
        ("COMPOST", "Compost 20 l", 9.90m, ["GLOVES"]),
        ("GLOVES", "Garden gloves", 12.00m, []),
        ("POT-S", "Clay pot, small", 4.20m, ["SAUCER"]),
        ("SAUCER", "Pot saucer", 1.80m, []),
        ("SHEARS", "Pruning shears", 24.50m, ["GLOVES", "OIL"]),
        ("OIL", "Tool oil", 6.40m, []),
        ("HOSE", "Hose 25 m", 39.00m, ["NOZZLE"]),
        ("NOZZLE", "Spray nozzle", 8.70m, []),
    ];

    public static async Task RunAsync(string? chartsDirectory)
    {
        var services = new ServiceCollection();
        services.AddCrmKit(o => o.ReportingCurrency = "USD").AddAnalytics(o => o.MarginRate = 0.35m);
        await using var provider = services.BuildServiceProvider();
        await using var scope = provider.CreateAsyncScope();
        var customers = scope.ServiceProvider.GetRequiredService<CustomerManager>();
        var orders = scope.ServiceProvider.GetRequiredService<OrderManager>();
        var analytics = scope.ServiceProvider.GetRequiredService<CustomerAnalytics>();

        var names = await SimulateShopAsync(customers, orders);
        Console.WriteLine($"A garden shop: {names.Count} customers, orders from 2025-01 to {AsOf:yyyy-MM}.");

        var rfm = await analytics.ScoreRfmAsync(AsOf);
        Console.WriteLine();
        Console.WriteLine("RFM segments (recency to 2026-06-30):");
        Console.WriteLine($"   {"segment",-20} {"customers",9} {"share",6} {"days since",10} {"orders",6} {"avg spend",9}");
        foreach (var s in rfm.Segments.Where(s => s.Customers > 0))
        {
            Console.WriteLine($"   {s.Segment,-20} {s.Customers,9} {s.Share,6:P0} {s.AverageRecencyDays,10:0} {s.AverageFrequency,6:0.0} {s.AverageMonetary,9:0.00}");
        }

        var value = await analytics.PredictLifetimeValueAsync(AsOf);
        var bg = value.Purchases.Model.Parameters;
        var gg = value.Spend.Model.Parameters;
        Console.WriteLine();
        Console.WriteLine($"Lifetime models (weeks): BG/NBD r={bg.R:0.###} alpha={bg.Alpha:0.###} a={bg.A:0.###} b={bg.B:0.###}; Gamma-Gamma p={gg.P:0.##} q={gg.Q:0.##} gamma={gg.Gamma:0.##}");
        Console.WriteLine("Top customers by predicted 12-month margin (35 % of spend, 1 % a month discount):");
        foreach (var c in value.Customers.Take(5))
        {
            Console.WriteLine($"   {names[c.CustomerId],-18} {c.Orders,3} orders, spent {c.Spend,8:0.00}; P(alive) {c.ProbabilityAlive:0.00}, expects {c.ExpectedPurchases:0.0} purchases -> {c.PredictedValue,7:0.00} USD");
        }

        var atRisk = value.Customers.Where(c => c.AtRisk).OrderByDescending(c => c.Spend).Take(3).ToList();
        Console.WriteLine($"At risk of churning: {value.Customers.Count(c => c.AtRisk)} customers; the biggest spenders among them:");
        foreach (var c in atRisk)
        {
            Console.WriteLine($"   {names[c.CustomerId],-18} last order {c.DaysSinceLastOrder} days ago, usually every {c.ExpectedGapDays:0} days; risk {c.ChurnRisk:0.00}");
        }

        var cohorts = await analytics.GetCohortsAsync(AsOf);
        Console.WriteLine();
        Console.WriteLine("Cohort retention (share of each month's new customers who bought again N months later):");
        Console.WriteLine("   cohort    size " + string.Concat(Enumerable.Range(0, Math.Min(cohorts.Columns, 12)).Select(m => $"{m,5}")));
        foreach (var row in cohorts.Rows)
        {
            Console.WriteLine($"   {row.Month:yyyy-MM} {row.Customers,6} " + string.Concat(row.Cells.Take(12).Select(c => $"{c.RetentionRate,5:P0}".Replace(" %", "%", StringComparison.Ordinal))));
        }

        var rules = await analytics.MineProductRulesAsync(new AssociationMiningOptions { MinSupport = 0.03, MinConfidence = 0.4 }, AsOf);
        Console.WriteLine();
        Console.WriteLine($"Association rules from {rules.Transactions} baskets: {rules.Rules.Count} at support >= 3 %, confidence >= 40 %; the strongest:");
        foreach (var rule in rules.Rules.Take(4))
        {
            Console.WriteLine($"   {rule,-32} confidence {rule.Confidence:P0}, lift {rule.Lift:0.00}");
        }

        var someone = value.Customers[value.Customers.Count / 2];
        var suggestions = await analytics.SuggestProductsAsync(someone.CustomerId, rules, 3);
        Console.WriteLine($"Next best products for {names[someone.CustomerId]}: " +
            (suggestions.Count == 0 ? "(nothing new the rules support)" : string.Join("; ", suggestions.Select(s => $"{s.Item} ({s.Confidence:P0}, because {s.Because})"))));

        // Stored insights make the figures usable in segment rules: refresh them nightly, target them like any field.
        var segments = scope.ServiceProvider.GetRequiredService<SegmentManager>();
        var slipping = await segments.CreateAsync(SegmentDraft.Dynamic("Valuable but slipping", Rule.All(
            Rule.Field(CustomerInsightFields.AtRisk).IsTrue(),
            Rule.Field(CustomerInsightFields.PredictedLifetimeValue).AtLeast(20))));
        var champions = await segments.CreateAsync(SegmentDraft.Dynamic("Champions", Rule.Field(CustomerInsightFields.RfmSegment).EqualTo("Champions")));
        var refresh = await analytics.RefreshInsightsAsync(AsOf);
        Console.WriteLine();
        Console.WriteLine($"Insights stored for {refresh.Customers} customers; {refresh.Segments.Entered} segment entries published.");
        var slippingMembers = await segments.GetMembersAsync(slipping.Id, pageSize: 5);
        Console.WriteLine($"   '{slipping.Name}' (at risk, predicted margin >= 20 USD): {await segments.CountAsync(slipping.Id)} customers, e.g. " +
            string.Join(", ", slippingMembers.Items.Select(c => names[c.Id])));
        Console.WriteLine($"   '{champions.Name}': {await segments.CountAsync(champions.Id)} customers");
        var insight = await analytics.GetInsightAsync(someone.CustomerId);
        Console.WriteLine($"   {names[someone.CustomerId]}: RFM {insight?.RfmScore} ({insight?.RfmSegment}), churn risk {insight?.ChurnRisk:0.00}, predicted margin {insight?.PredictedLifetimeValue:0.00} USD");

        if (chartsDirectory is not null)
        {
            Directory.CreateDirectory(chartsDirectory);
            var heatMap = Path.Combine(chartsDirectory, "cohort-retention.svg");
            var histogram = Path.Combine(chartsDirectory, "clv-distribution.svg");
            await File.WriteAllTextAsync(heatMap, Charts.RetentionHeatMap(cohorts));
            await File.WriteAllTextAsync(histogram, Charts.Histogram("Predicted 12-month margin per customer (USD)", [.. value.Customers.Select(c => c.PredictedValue)], 20));
            Console.WriteLine($"Charts written: {heatMap}, {histogram}");
        }
    }

    /// <summary>Simulates the shop with a seeded random, so every run prints the same figures.</summary>
    private static async Task<Dictionary<Guid, string>> SimulateShopAsync(CustomerManager customers, OrderManager orders)
    {
        var random = new Random(2026);
        string[] first = ["Ana", "Ben", "Chloe", "Dev", "Elif", "Farid", "Grace", "Hugo", "Ines", "Jonas", "Kemi", "Luca", "Mei", "Noor", "Olek", "Priya"];
        string[] last = ["Lima", "Okafor", "Novak", "Silva", "Berg", "Khan", "Moreau", "Ito", "Rossi", "Haddad", "Meyer", "Costa"];
        var drafts = Enumerable.Range(0, 600).Select(i => new CustomerDraft
        {
            FirstName = first[random.Next(first.Length)],
            LastName = $"{last[random.Next(last.Length)]}-{i:000}",
            ExternalReference = $"shop-{i:000}",
        }).ToList();
        var created = await customers.CreateManyAsync(drafts);
        var start = new DateTime(2025, 1, 1, 0, 0, 0, DateTimeKind.Utc);
        var end = AsOf.ToDateTime(new TimeOnly(23, 59), DateTimeKind.Utc);
        var reference = 0;
        foreach (var customer in created)
        {
            // Arrival over the first year; a personal buying rate (purchases per 30 days), chance of leaving after each
            // purchase, and appetite (how many of each item they take).
            var at = start.AddDays(random.NextDouble() * 365).AddHours(9 + random.Next(10));
            var rate = new[] { 0.3, 0.6, 1.0, 2.0 }[random.Next(4)];
            var leave = 0.05 + (random.NextDouble() * 0.35);
            var appetite = 1 + random.Next(5);
            while (at <= end)
            {
                await orders.RecordAsync(new OrderDraft
                {
                    CustomerId = customer.Id,
                    Reference = $"web-{++reference}",
                    Currency = "USD",
                    PlacedAt = new DateTimeOffset(at, TimeSpan.Zero),
                    Lines = Basket(random, appetite),
                });
                if (random.NextDouble() < leave)
                {
                    break;
                }

                at = at.AddDays(-Math.Log(1 - random.NextDouble()) * 30 / rate);
            }
        }

        return created.ToDictionary(c => c.Id, c => c.DisplayName);
    }

    private static List<OrderLine> Basket(Random random, int appetite)
    {
        var main = Catalogue[random.Next(Catalogue.Length)];
        var skus = new List<string> { main.Sku };
        skus.AddRange(main.GoesWith.Where(_ => random.NextDouble() < 0.6));
        if (random.NextDouble() < 0.2)
        {
            skus.Add(Catalogue[random.Next(Catalogue.Length)].Sku);
        }

        return [.. skus.Distinct().Select(sku => Catalogue.First(p => p.Sku == sku)).Select(p => new OrderLine(p.Sku, p.Name, "Garden", 1 + random.Next(appetite), p.Price))];
    }
}

/// <summary>Two small SVG charts, written by hand so the sample needs no charting package.</summary>
internal static class Charts
{
    public static string RetentionHeatMap(CohortTable table)
    {
        const int cell = 34, left = 110, top = 60;
        var columns = table.Columns;
        var width = left + (columns * cell) + 20;
        var height = top + (table.Rows.Count * cell) + 40;
        var svg = Begin(width, height, "Cohort retention: share of each month's new customers buying N months later");
        for (var m = 0; m < columns; m++)
        {
            svg.AppendLine(CultureInfo.InvariantCulture, $"<text x=\"{left + (m * cell) + (cell / 2)}\" y=\"{top - 8}\" text-anchor=\"middle\">{m}</text>");
        }

        for (var r = 0; r < table.Rows.Count; r++)
        {
            var row = table.Rows[r];
            var y = top + (r * cell);
            svg.AppendLine(CultureInfo.InvariantCulture, $"<text x=\"{left - 8}\" y=\"{y + 21}\" text-anchor=\"end\">{row.Month:yyyy-MM} ({row.Customers})</text>");
            foreach (var c in row.Cells)
            {
                // Darker blue for higher retention; month 0 is always 100 %.
                var shade = (int)(255 - (Math.Sqrt(c.RetentionRate) * 200));
                var x = left + (c.MonthsSinceFirstPurchase * cell);
                svg.AppendLine(CultureInfo.InvariantCulture, $"<rect x=\"{x}\" y=\"{y}\" width=\"{cell - 2}\" height=\"{cell - 2}\" fill=\"rgb({shade},{shade},255)\"><title>{row.Month:yyyy-MM} +{c.MonthsSinceFirstPurchase}: {c.RetentionRate:P1}</title></rect>");
                svg.AppendLine(CultureInfo.InvariantCulture, $"<text x=\"{x + (cell / 2) - 1}\" y=\"{y + 20}\" text-anchor=\"middle\" font-size=\"9\" fill=\"{(c.RetentionRate > 0.35 ? "white" : "black")}\">{c.RetentionRate * 100:0}</text>");
            }
        }

        svg.AppendLine(CultureInfo.InvariantCulture, $"<text x=\"{left}\" y=\"{height - 12}\">months since first purchase (columns); acquisition month and cohort size (rows); cells in %</text>");
        return End(svg);
    }

    public static string Histogram(string title, double[] values, int bins)
    {
        const int left = 60, top = 50, plotWidth = 600, plotHeight = 260;
        var max = values.Length == 0 ? 1 : values.Max();
        var counts = new int[bins];
        foreach (var v in values)
        {
            counts[Math.Min(bins - 1, (int)(v / max * bins))]++;
        }

        var tallest = Math.Max(1, counts.Max());
        var svg = Begin(left + plotWidth + 30, top + plotHeight + 60, title);
        var barWidth = plotWidth / bins;
        for (var i = 0; i < bins; i++)
        {
            var h = (double)counts[i] / tallest * plotHeight;
            svg.AppendLine(CultureInfo.InvariantCulture, $"<rect x=\"{left + (i * barWidth)}\" y=\"{top + plotHeight - h:0.#}\" width=\"{barWidth - 2}\" height=\"{h:0.#}\" fill=\"#4a7bd0\"><title>{i * max / bins:0}-{(i + 1) * max / bins:0} USD: {counts[i]} customers</title></rect>");
        }

        svg.AppendLine(CultureInfo.InvariantCulture, $"<line x1=\"{left}\" y1=\"{top + plotHeight}\" x2=\"{left + plotWidth}\" y2=\"{top + plotHeight}\" stroke=\"black\"/>");
        for (var i = 0; i <= 4; i++)
        {
            svg.AppendLine(CultureInfo.InvariantCulture, $"<text x=\"{left + (i * plotWidth / 4)}\" y=\"{top + plotHeight + 18}\" text-anchor=\"middle\">{i * max / 4:0}</text>");
        }

        svg.AppendLine(CultureInfo.InvariantCulture, $"<text x=\"{left - 8}\" y=\"{top + 10}\" text-anchor=\"end\">{tallest}</text>");
        svg.AppendLine(CultureInfo.InvariantCulture, $"<text x=\"{left}\" y=\"{top + plotHeight + 42}\">{values.Length} customers; bar height = customers in the range</text>");
        return End(svg);
    }

    private static StringBuilder Begin(int width, int height, string title)
    {
        var svg = new StringBuilder();
        svg.AppendLine(CultureInfo.InvariantCulture, $"<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{width}\" height=\"{height}\" font-family=\"sans-serif\" font-size=\"11\">");
        svg.AppendLine("<rect width=\"100%\" height=\"100%\" fill=\"white\"/>");
        svg.AppendLine(CultureInfo.InvariantCulture, $"<text x=\"10\" y=\"24\" font-size=\"14\" font-weight=\"bold\">{title}</text>");
        return svg;
    }

    private static string End(StringBuilder svg) => svg.AppendLine("</svg>").ToString();
}
