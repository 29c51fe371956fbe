using Crm.Kit.Analytics;
using CsCheck;

namespace Crm.Kit.Tests.Analytics;

public sealed class AssociationRuleTests
{
    private static CancellationToken Cancel => TestContext.Current.CancellationToken;

    private static IEnumerable<string[]> Baskets(string file) => TestData.Lines("basket", file).Select(l => l.Split(','));

    private static string Describe(AssociationRule r) => $"{r} {r.Support:0.0} {r.Confidence:0.00} {r.Lift:0.00}";

    [Fact]
    public void The_mlxtend_example_gives_the_published_itemsets_and_rules()
    {
        var all = AssociationRuleMiner.Mine(Baskets("mlxtend_example.csv"), new() { MinSupport = 0.6, MinConfidence = 0, MaxConsequentItems = 10 }, Cancel);

        Assert.Equal(
            [
                "Eggs 0.8", "Kidney Beans 1.0", "Milk 0.6", "Onion 0.6", "Yogurt 0.6",
                "Eggs+Kidney Beans 0.8", "Eggs+Onion 0.6", "Kidney Beans+Milk 0.6", "Kidney Beans+Onion 0.6", "Kidney Beans+Yogurt 0.6",
                "Eggs+Kidney Beans+Onion 0.6",
            ],
            all.Itemsets.Select(s => $"{string.Join('+', s.Items)} {s.Support:0.0}").Order(StringComparer.Ordinal).OrderBy(s => s.Count(c => c == '+')));
        Assert.Equal(16, all.Rules.Count);

        var confident = AssociationRuleMiner.Mine(Baskets("mlxtend_example.csv"), new() { MinSupport = 0.6, MinConfidence = 0.9, MaxConsequentItems = 10 }, Cancel);
        Assert.Equal(
            new[]
            {
                "{Eggs} => {Kidney Beans} 0.8 1.00 1.00", "{Onion} => {Eggs} 0.6 1.00 1.25", "{Milk} => {Kidney Beans} 0.6 1.00 1.00",
                "{Onion} => {Kidney Beans} 0.6 1.00 1.00", "{Yogurt} => {Kidney Beans} 0.6 1.00 1.00", "{Eggs, Onion} => {Kidney Beans} 0.6 1.00 1.00",
                "{Kidney Beans, Onion} => {Eggs} 0.6 1.00 1.25", "{Onion} => {Eggs, Kidney Beans} 0.6 1.00 1.25",
            }.Order(StringComparer.Ordinal),
            confident.Rules.Select(Describe).Order(StringComparer.Ordinal));

        // Lift 0.75 / 0.6 is 1.2499999999999998 in floating point; the exact comparison keeps all six rules at 1.25 ≥ 1.2.
        var lifted = AssociationRuleMiner.Mine(Baskets("mlxtend_example.csv"), new() { MinSupport = 0.6, MinConfidence = 0, MinLift = 1.25, MaxConsequentItems = 10 }, Cancel);
        Assert.Equal(
            new[]
            {
                "{Eggs} => {Onion} 0.6 0.75 1.25", "{Onion} => {Eggs} 0.6 1.00 1.25", "{Eggs, Kidney Beans} => {Onion} 0.6 0.75 1.25",
                "{Kidney Beans, Onion} => {Eggs} 0.6 1.00 1.25", "{Eggs} => {Kidney Beans, Onion} 0.6 0.75 1.25", "{Onion} => {Eggs, Kidney Beans} 0.6 1.00 1.25",
            }.Order(StringComparer.Ordinal),
            lifted.Rules.Select(Describe).Order(StringComparer.Ordinal));
    }

    [Fact]
    public void Groceries_at_support_0_006_and_confidence_0_25_gives_the_published_rule_set()
    {
        var mined = AssociationRuleMiner.Mine(Baskets("groceries.csv"), new() { MinSupport = 0.006, MinConfidence = 0.25 }, Cancel);

        Assert.Equal(9835, mined.Transactions);
        Assert.Equal(109, mined.Itemsets.Count(s => s.Items.Count == 1));
        Assert.Equal(463, mined.Rules.Count);
        var lengths = mined.Rules.GroupBy(r => r.Antecedent.Count + r.Consequent.Count).ToDictionary(g => g.Key, g => g.Count());
        Assert.Equal(new Dictionary<int, int> { [2] = 150, [3] = 297, [4] = 16 }, lengths);
        Assert.Equal(0.006101, mined.Rules.Min(r => r.Support), 6);
        Assert.Equal(0.074835, mined.Rules.Max(r => r.Support), 6);
        Assert.Equal(0.2500, mined.Rules.Min(r => r.Confidence), 4);
        Assert.Equal(0.6600, mined.Rules.Max(r => r.Confidence), 4);
        Assert.Equal(0.9932, mined.Rules.Min(r => r.Lift), 4);
        Assert.Equal(2.0351, mined.Rules.Average(r => r.Lift), 4);
        Assert.Equal(3.9565, mined.Rules.Max(r => r.Lift), 4);
        Assert.Equal(60, mined.Rules.Min(r => r.Count));

        AssertRule(mined, "pot plants", "whole milk", 0.006914082, 0.4000000, 1.565460, 68);
        AssertRule(mined, "pasta", "whole milk", 0.006100661, 0.4054054, 1.586614, 60);
        AssertRule(mined, "herbs", "root vegetables", 0.007015760, 0.4312500, 3.956477, 69);
        AssertRule(mined, "herbs", "other vegetables", 0.007727504, 0.4750000, 2.4548739, 76);
        AssertRule(mined, "herbs", "whole milk", 0.007727504, 0.4750000, 1.8589833, 76);
        Assert.Equal(0.01728521, mined.AlsoBought("pot plants").Single().Coverage, 8);
    }

    [Fact]
    public void Groceries_summary_matches_the_published_counts()
    {
        var baskets = Baskets("groceries.csv").ToList();
        var mined = AssociationRuleMiner.Mine(baskets, new() { MinSupport = 1.0 / 9835, MinConfidence = 1, MaxItems = 1 }, Cancel);
        var singles = mined.Itemsets.Where(s => s.Items.Count == 1).ToDictionary(s => s.Items[0], s => s.Count);

        Assert.Equal(169, singles.Count);
        Assert.Equal([2513, 1903, 1809, 1715, 1372], singles.Values.OrderDescending().Take(5));
        Assert.Equal(2513, singles["whole milk"]);
        Assert.Equal(0.02609146, baskets.Sum(b => b.Length) / (9835.0 * 169), 8);
        Assert.Equal(2159, baskets.Count(b => b.Length == 1));
        Assert.Equal(32, baskets.Max(b => b.Length));
    }

    [Fact]
    public void Suggestions_never_repeat_what_the_customer_owns()
    {
        var mined = AssociationRuleMiner.Mine(Baskets("groceries.csv"), new() { MinSupport = 0.006, MinConfidence = 0.25 }, Cancel);

        string[] owned = ["herbs", "whole milk"];
        var suggestions = mined.Suggest(owned, 3);

        var applicable = mined.Rules.Where(r => r.Antecedent.All(owned.Contains) && !r.Consequent.Any(owned.Contains)).ToList();
        var expected = applicable.SelectMany(r => r.Consequent.Select(item => (Item: item, r.Confidence)))
            .GroupBy(e => e.Item).Select(g => (Item: g.Key, Confidence: g.Max(e => e.Confidence)))
            .OrderByDescending(e => e.Confidence).Take(3).ToList();
        Assert.Equal(expected.Select(e => e.Item), suggestions.Select(s => s.Item));
        Assert.All(suggestions, s => Assert.DoesNotContain(s.Item, owned));
        Assert.All(suggestions, s => Assert.Contains(s.Because, applicable));
        Assert.Equal(["other vegetables", "root vegetables", "whole milk"], mined.AlsoBought("herbs").Select(r => r.Consequent[0]).Take(3).Order(StringComparer.Ordinal));
    }

    [Fact]
    public void Fp_growth_finds_exactly_the_itemsets_brute_force_counting_finds()
    {
        var gen = Gen.Int[0, 7].Array[0, 6].Array[1, 40];
        gen.Sample(baskets =>
        {
            var transactions = baskets.Select(b => b.Select(i => "p" + i)).ToList();
            var mined = AssociationRuleMiner.Mine(transactions, new() { MinSupport = 0.15, MinConfidence = 0, MaxConsequentItems = 8 }, Cancel);
            var expected = new Dictionary<string, int>();
            var minCount = (int)Math.Ceiling(0.15m * baskets.Length);
            for (var mask = 1; mask < 256; mask++)
            {
                var count = baskets.Count(b => Enumerable.Range(0, 8).Where(i => (mask & (1 << i)) != 0).All(b.Contains));
                if (count >= minCount)
                {
                    expected[string.Join(",", Enumerable.Range(0, 8).Where(i => (mask & (1 << i)) != 0).Select(i => "p" + i))] = count;
                }
            }

            var actual = mined.Itemsets.ToDictionary(s => string.Join(",", s.Items), s => s.Count);
            Assert.Equal(expected.OrderBy(e => e.Key), actual.OrderBy(e => e.Key));
            Assert.All(mined.Rules, r => Assert.Equal(actual[string.Join(",", r.Antecedent.Concat(r.Consequent).Order(StringComparer.Ordinal))], r.Count));
        }, iter: 300);
    }

    [Fact]
    public void Invalid_thresholds_are_rejected_by_name()
    {
        var error = Assert.Throws<CrmValidationException>(() => AssociationRuleMiner.Mine([["a"]], new() { MinSupport = 0 }, Cancel));
        Assert.Equal("MinSupport", error.Errors[0].Field);
        error = Assert.Throws<CrmValidationException>(() => AssociationRuleMiner.Mine([["a"]], new() { MinConfidence = 1.5 }, Cancel));
        Assert.Equal("MinConfidence", error.Errors[0].Field);
    }

    private static void AssertRule(AssociationRuleSet mined, string from, string to, double support, double confidence, double lift, int count)
    {
        var rule = Assert.Single(mined.Rules, r => r.Antecedent.SequenceEqual([from]) && r.Consequent.SequenceEqual([to]));
        Assert.Equal(count, rule.Count);
        Assert.Equal(support, rule.Support, 9);
        Assert.Equal(confidence, rule.Confidence, 7);
        Assert.Equal(lift, rule.Lift, 6);
    }
}
