using System.Runtime.InteropServices;

namespace Crm.Kit.Analytics;

/// <summary>
/// Frequent itemsets and association rules mined with FP-growth (Han, Pei &amp; Yin 2000): transactions are folded
/// into a prefix tree ordered by item frequency, and itemsets grow from conditional trees, so only itemsets that
/// actually occur often enough are ever built — subsets are never enumerated blindly as Apriori candidates are.
/// </summary>
public static class AssociationRuleMiner
{
    /// <summary>
    /// Mines <paramref name="transactions"/> (each an order's items; duplicates within one count once; items are
    /// compared ordinally, so trim or fold them first if the source is inconsistent).
    /// </summary>
    /// <exception cref="CrmValidationException">An option is out of range, or an item is null.</exception>
    public static AssociationRuleSet Mine(IEnumerable<IEnumerable<string>> transactions, AssociationMiningOptions options, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(transactions);
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();

        // Pass 1: intern items and count them.
        var ids = new Dictionary<string, int>(StringComparer.Ordinal);
        var names = new List<string>();
        var counts = new List<int>();
        var encoded = new List<int[]>();
        var scratch = new HashSet<int>();
        foreach (var transaction in transactions)
        {
            ArgumentNullException.ThrowIfNull(transaction, nameof(transactions));
            scratch.Clear();
            foreach (var item in transaction)
            {
                if (item is null)
                {
                    throw new CrmValidationException($"transactions[{encoded.Count}]", "no-null-items", "A transaction holds a null item.");
                }

                ref var id = ref CollectionsMarshal.GetValueRefOrAddDefault(ids, item, out var exists);
                if (!exists)
                {
                    id = names.Count;
                    names.Add(item);
                    counts.Add(0);
                }

                if (scratch.Add(id))
                {
                    counts[id]++;
                }
            }

            encoded.Add([.. scratch]);
        }

        var n = encoded.Count;
        if (n == 0)
        {
            return new AssociationRuleSet(0, [], []);
        }

        // count / N ≥ minSupport, decided in decimal so that 0.006 × 9835 = 59.01 needs 60 rather than suffering binary rounding.
        var minCount = Math.Max(1, (int)Math.Ceiling((decimal)options.MinSupport * n));

        // Rank frequent items: most frequent first, ties by name, so results never depend on input order.
        var frequent = Enumerable.Range(0, names.Count).Where(i => counts[i] >= minCount)
            .OrderByDescending(i => counts[i]).ThenBy(i => names[i], StringComparer.Ordinal).ToArray();
        var rankOf = new int[names.Count];
        Array.Fill(rankOf, -1);
        for (var r = 0; r < frequent.Length; r++)
        {
            rankOf[frequent[r]] = r;
        }

        var tree = new FpTree(frequent.Length);
        var path = new List<int>();
        foreach (var transaction in encoded)
        {
            path.Clear();
            foreach (var id in transaction)
            {
                if (rankOf[id] >= 0)
                {
                    path.Add(rankOf[id]);
                }
            }

            path.Sort();
            tree.Insert(CollectionsMarshal.AsSpan(path), 1);
        }

        var found = new Dictionary<ItemsetKey, int>();
        var suffix = new List<int>();
        Grow(tree, suffix, minCount, options.MaxItems, found, cancellationToken);

        string[] ItemNames(int[] ranks) => [.. ranks.Select(r => names[frequent[r]]).Order(StringComparer.Ordinal)];
        var itemsets = found
            .Select(e => new FrequentItemset(ItemNames(e.Key.Ranks), e.Value, n))
            .OrderBy(s => s.Items.Count).ThenByDescending(s => s.Count).ThenBy(s => string.Join('\u0001', s.Items), StringComparer.Ordinal)
            .ToList();
        var rules = Rules(found, options, n, ItemNames, cancellationToken);
        return new AssociationRuleSet(n, itemsets, rules);
    }

    private static void Grow(FpTree tree, List<int> suffix, int minCount, int maxItems, Dictionary<ItemsetKey, int> found, CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        var basePaths = new List<(int[] Path, int Count)>();
        var prefix = new List<int>();
        // Least frequent first: each item's conditional base holds only items ranked before it.
        for (var rank = tree.Items - 1; rank >= 0; rank--)
        {
            var support = tree.ItemCount(rank);
            if (support < minCount)
            {
                continue;
            }

            suffix.Add(rank);
            found[ItemsetKey.Of(suffix)] = support;
            if (suffix.Count < maxItems)
            {
                basePaths.Clear();
                var conditionalCounts = new int[rank];
                for (var node = tree.FirstNode(rank); node >= 0; node = tree.NextNode(node))
                {
                    prefix.Clear();
                    for (var up = tree.Parent(node); up > 0; up = tree.Parent(up))
                    {
                        prefix.Add(tree.Item(up));
                    }

                    if (prefix.Count == 0)
                    {
                        continue;
                    }

                    var count = tree.Count(node);
                    foreach (var item in prefix)
                    {
                        conditionalCounts[item] += count;
                    }

                    prefix.Reverse();
                    basePaths.Add((prefix.ToArray(), count));
                }

                if (basePaths.Count > 0)
                {
                    var conditional = new FpTree(rank);
                    var kept = new List<int>();
                    foreach (var (items, count) in basePaths)
                    {
                        kept.Clear();
                        foreach (var item in items)
                        {
                            if (conditionalCounts[item] >= minCount)
                            {
                                kept.Add(item);
                            }
                        }

                        conditional.Insert(CollectionsMarshal.AsSpan(kept), count);
                    }

                    Grow(conditional, suffix, minCount, maxItems, found, cancellationToken);
                }
            }

            suffix.RemoveAt(suffix.Count - 1);
        }
    }

    private static List<AssociationRule> Rules(
        Dictionary<ItemsetKey, int> found, AssociationMiningOptions options, int n, Func<int[], string[]> itemNames, CancellationToken cancellationToken)
    {
        var rules = new List<AssociationRule>();
        var minConfidence = (decimal)options.MinConfidence;
        var minLift = (decimal)options.MinLift;
        foreach (var (key, count) in found)
        {
            var items = key.Ranks;
            if (items.Length < 2)
            {
                continue;
            }

            cancellationToken.ThrowIfCancellationRequested();
            // Every non-empty proper subset as the consequent, up to the allowed size; itemsets are at most 30 items.
            var full = (1 << items.Length) - 1;
            for (var mask = 1; mask < full; mask++)
            {
                if (int.PopCount(mask) > options.MaxConsequentItems)
                {
                    continue;
                }

                var consequent = Subset(items, mask);
                var antecedent = Subset(items, full & ~mask);
                // Every subset of a frequent itemset is frequent, so both lookups succeed.
                var antecedentCount = found[new ItemsetKey(antecedent)];
                var consequentCount = found[new ItemsetKey(consequent)];
                // Exact comparisons on the integer counts: confidence = c / a, lift = c · N / (a · b).
                if (count < minConfidence * antecedentCount || (decimal)count * n < minLift * antecedentCount * consequentCount)
                {
                    continue;
                }

                rules.Add(new AssociationRule(itemNames(antecedent), itemNames(consequent), count, antecedentCount, consequentCount, n));
            }
        }

        rules.Sort(static (x, y) =>
        {
            var order = y.Confidence.CompareTo(x.Confidence);
            if (order == 0) order = y.Lift.CompareTo(x.Lift);
            if (order == 0) order = y.Count.CompareTo(x.Count);
            if (order == 0) order = string.CompareOrdinal(x.ToString(), y.ToString());
            return order;
        });
        return rules;
    }

    private static int[] Subset(int[] items, int mask)
    {
        var result = new int[int.PopCount(mask)];
        var j = 0;
        for (var i = 0; i < items.Length; i++)
        {
            if ((mask & (1 << i)) != 0)
            {
                result[j++] = items[i];
            }
        }

        return result;
    }

    /// <summary>An itemset as sorted item ranks, compared by value.</summary>
    private readonly struct ItemsetKey : IEquatable<ItemsetKey>
    {
        public ItemsetKey(int[] sortedRanks) => Ranks = sortedRanks;

        public int[] Ranks { get; }

        public static ItemsetKey Of(List<int> ranks)
        {
            var copy = ranks.ToArray();
            Array.Sort(copy);
            return new ItemsetKey(copy);
        }

        public bool Equals(ItemsetKey other) => Ranks.AsSpan().SequenceEqual(other.Ranks);

        public override bool Equals(object? obj) => obj is ItemsetKey other && Equals(other);

        public override int GetHashCode()
        {
            var hash = new HashCode();
            hash.AddBytes(MemoryMarshal.AsBytes(Ranks.AsSpan()));
            return hash.ToHashCode();
        }
    }

    /// <summary>An FP-tree in flat arrays: node 0 is the root; nodes of one item are chained for the header table.</summary>
    private sealed class FpTree
    {
        private readonly List<int> _item = [-1];
        private readonly List<int> _count = [0];
        private readonly List<int> _parent = [-1];
        private readonly List<int> _next = [-1];
        private readonly Dictionary<long, int> _children = [];
        private readonly int[] _first;
        private readonly int[] _itemCounts;

        public FpTree(int items)
        {
            Items = items;
            _first = new int[items];
            Array.Fill(_first, -1);
            _itemCounts = new int[items];
        }

        public int Items { get; }

        public int ItemCount(int item) => _itemCounts[item];

        public int FirstNode(int item) => _first[item];

        public int NextNode(int node) => _next[node];

        public int Parent(int node) => _parent[node];

        public int Item(int node) => _item[node];

        public int Count(int node) => _count[node];

        /// <summary>Adds a path of ascending item ranks with a count.</summary>
        public void Insert(ReadOnlySpan<int> items, int count)
        {
            var node = 0;
            foreach (var item in items)
            {
                _itemCounts[item] += count;
                ref var child = ref CollectionsMarshal.GetValueRefOrAddDefault(_children, ((long)node << 32) | (uint)item, out var exists);
                if (!exists)
                {
                    child = _item.Count;
                    _item.Add(item);
                    _count.Add(0);
                    _parent.Add(node);
                    _next.Add(_first[item]);
                    _first[item] = child;
                }

                node = child;
                _count[node] += count;
            }
        }
    }
}
