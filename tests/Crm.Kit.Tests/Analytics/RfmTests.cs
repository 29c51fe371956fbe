using Crm.Kit.Analytics;

namespace Crm.Kit.Tests.Analytics;

public sealed class RfmTests
{
    [Fact]
    public void The_default_map_gives_every_rf_cell_exactly_the_grid_segment()
    {
        // The R×F grid of tests/data/README.md (RFM), cell by cell.
        string[,] grid =
        {
            // F = 1            2                       3                       4                  5
            { "Hibernating", "Hibernating", "At Risk", "At Risk", "Can't Lose Them" },                               // R = 1
            { "Hibernating", "Hibernating", "At Risk", "At Risk", "Can't Lose Them" },                               // R = 2
            { "About To Sleep", "About To Sleep", "Need Attention", "Loyal Customers", "Loyal Customers" },          // R = 3
            { "Promising", "Potential Loyalists", "Potential Loyalists", "Loyal Customers", "Loyal Customers" },     // R = 4
            { "New Customers", "Potential Loyalists", "Potential Loyalists", "Champions", "Champions" },             // R = 5
        };
        for (var r = 1; r <= 5; r++)
        {
            for (var f = 1; f <= 5; f++)
            {
                for (var m = 1; m <= 5; m++)
                {
                    Assert.Equal(grid[r - 1, f - 1], RfmSegmentMap.Default.Classify(r, f, m));
                }
            }
        }
    }

    [Fact]
    public void A_map_with_shadowed_or_missing_cells_is_rejected_naming_them()
    {
        // The vignette's first-match table: New Customers is shadowed by Potential Loyalist, and 36 cells match nothing.
        var vignette = new RfmSegmentRule[]
        {
            new("Champions", new(4, 5), new(4, 5), new(4, 5)),
            new("Loyal Customers", new(2, 5), new(3, 5), new(3, 5)),
            new("Potential Loyalist", new(3, 5), new(1, 3), new(1, 3)),
            new("New Customers", new(4, 5), new(1, 1), new(1, 1)),
        };

        var error = Assert.Throws<CrmValidationException>(() => new RfmSegmentMap(vignette));

        Assert.Contains(error.Errors, e => e.Field == "rules[3]" && e.Rule == "reachable");
        Assert.Contains(error.Errors, e => e.Field == "rules" && e.Rule == "covers-every-cell");
        Assert.Contains(Assert.Throws<CrmValidationException>(() => new RfmSegmentMap([new("All", new(0, 5), ScoreRange.Any, ScoreRange.Any)])).Errors, e => e.Field == "rules[0].Recency");
    }

    [Fact]
    public void Quintile_breakpoints_interpolate_like_r_type_7_and_ties_share_a_score()
    {
        // 1..10: h = 9p → 2.8, 4.6, 6.4, 8.2.
        var breakpoints = QuintileBreakpoints.Of([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
        Assert.Equal([2.8m, 4.6m, 6.4m, 8.2m], breakpoints.Values);
        Assert.Equal([1, 1, 2, 2, 3, 3, 4, 4, 5, 5], Enumerable.Range(1, 10).Select(v => breakpoints.Score(v)));

        // Heavy ties: most customers bought once; all of them score the same.
        var frequency = QuintileBreakpoints.Of([1, 1, 1, 1, 1, 1, 2, 2, 3, 7]);
        Assert.Equal([1m, 1m, 1.4m, 2.2m], frequency.Values);
        Assert.Equal(1, frequency.Score(1));
        Assert.Equal(4, frequency.Score(2));
        Assert.Equal(5, frequency.Score(7));
    }

    [Fact]
    public void Scores_do_not_depend_on_the_order_customers_arrive_in()
    {
        var random = new Random(7);
        var inputs = Enumerable.Range(0, 500).Select(i => new RfmInput(Guid.NewGuid(), random.Next(0, 400), random.Next(1, 12), Math.Round((decimal)random.NextDouble() * 900, 2))).ToList();
        var date = new DateOnly(2026, 1, 1);

        var forwards = RfmScoring.Score(inputs, date);
        var backwards = RfmScoring.Score([.. Enumerable.Reverse(inputs)], date);

        Assert.Equal(forwards.Customers.OrderBy(c => c.CustomerId), backwards.Customers.OrderBy(c => c.CustomerId));
        Assert.All(forwards.Customers, c => Assert.Equal(c.R * 100 + c.F * 10 + c.M, c.Score));
        // The most recent buyer scores R = 5, the longest-lapsed R = 1.
        Assert.Equal(5, forwards.Customers.MinBy(c => c.RecencyDays)!.R);
        Assert.Equal(1, forwards.Customers.MaxBy(c => c.RecencyDays)!.R);
        Assert.Equal(500, forwards.Segments.Sum(s => s.Customers));
    }
}
