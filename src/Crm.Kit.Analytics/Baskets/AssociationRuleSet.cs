namespace Crm.Kit.Analytics;

/// <summary>Mined itemsets and rules, with the questions hosts ask of them.</summary>
public sealed class AssociationRuleSet
{
    private readonly ILookup<string, AssociationRule> _bySingleAntecedent;

    internal AssociationRuleSet(int transactions, IReadOnlyList<FrequentItemset> itemsets, IReadOnlyList<AssociationRule> rules)
    {
        Transactions = transactions;
        Itemsets = itemsets;
        Rules = rules;
        _bySingleAntecedent = rules.Where(r => r.Antecedent.Count == 1).ToLookup(r => r.Antecedent[0], StringComparer.Ordinal);
    }

    /// <summary>Transactions mined.</summary>
    public int Transactions { get; }

    /// <summary>Frequent itemsets: by size, then most frequent first.</summary>
    public IReadOnlyList<FrequentItemset> Itemsets { get; }

    /// <summary>Rules: highest confidence first, then lift, then count.</summary>
    public IReadOnlyList<AssociationRule> Rules { get; }

    /// <summary>"Customers who bought <paramref name="item"/> also bought …": rules from that item alone, best first.</summary>
    public IReadOnlyList<AssociationRule> AlsoBought(string item, int limit = 10)
    {
        ArgumentNullException.ThrowIfNull(item);
        CheckLimit(limit);
        return [.. _bySingleAntecedent[item].Take(limit)];
    }

    /// <summary>
    /// Next best products for someone who owns <paramref name="owned"/>: consequents of rules whose whole left-hand side
    /// they own, never an item they own, each item once with its most confident rule; best first.
    /// </summary>
    public IReadOnlyList<ProductSuggestion> Suggest(IEnumerable<string> owned, int limit = 5)
    {
        ArgumentNullException.ThrowIfNull(owned);
        CheckLimit(limit);
        var have = owned.ToHashSet(StringComparer.Ordinal);
        var best = new Dictionary<string, ProductSuggestion>(StringComparer.Ordinal);
        // Rules are sorted best first, so the first rule to suggest an item is its best.
        foreach (var rule in Rules)
        {
            if (!rule.Antecedent.All(have.Contains) || rule.Consequent.Any(have.Contains))
            {
                continue;
            }

            foreach (var item in rule.Consequent)
            {
                best.TryAdd(item, new ProductSuggestion(item, rule.Confidence, rule.Lift, rule));
            }
        }

        return [.. best.Values.OrderByDescending(s => s.Confidence).ThenByDescending(s => s.Lift).ThenBy(s => s.Item, StringComparer.Ordinal).Take(limit)];
    }

    private static void CheckLimit(int limit)
    {
        if (limit is < 1 or > 1000)
        {
            throw new CrmValidationException(nameof(limit), "range", $"The limit must lie between 1 and 1000; it is {limit}.");
        }
    }
}
