using Crm.Kit.Orders;

namespace Crm.Kit.Loyalty;

/// <summary>
/// The arithmetic of earning and of taking back, kept pure so that it can be tested on its own. Everything is
/// decimal; a figure becomes whole points only at the documented rounding points (always down).
/// </summary>
internal static class EarnCalculator
{
    /// <summary>Weighs an order's lines: line total × multiplier (a SKU's replaces its category's), 0 for excluded lines.</summary>
    public static (EarnBasis Basis, decimal QualifyingTotal) Weigh(EarnRules rules, Order order)
    {
        var lines = new List<EarnedLine>(order.Lines.Count);
        decimal weighted = 0m, qualifying = 0m;
        foreach (var line in order.Lines)
        {
            decimal weight = 0m;
            if (!IsExcluded(rules, line))
            {
                qualifying += line.LineTotal;
                weight = line.LineTotal * MultiplierOf(rules, line);
            }

            weighted += weight;
            lines.Add(new EarnedLine(line.Sku, line.Quantity, weight));
        }

        return (new EarnBasis(order.Total, weighted, lines), qualifying);
    }

    /// <summary>Whole spend steps × points per step; a part step earns nothing.</summary>
    public static long BasePoints(EarnRules rules, decimal weightedSpend)
    {
        if (weightedSpend <= 0m)
        {
            return 0;
        }

        return ToPoints(decimal.Floor(weightedSpend / rules.SpendStep) * rules.PointsPerStep);
    }

    /// <summary>
    /// Applies the tier and promotion multipliers (rounded down once), adds the fixed bonuses, and caps the total.
    /// </summary>
    public static long Total(EarnRules rules, long basePoints, decimal multiplier, long bonus)
    {
        var total = ToPoints(decimal.Floor(basePoints * multiplier)) + bonus;
        return rules.MaxPointsPerOrder is { } cap ? Math.Min(total, cap) : total;
    }

    /// <summary>
    /// The share of an order refunded so far, between 0 and 1: by the weight of the refunded lines when refunds
    /// name lines, by amount over the order total otherwise; exactly 1 once the order is fully refunded.
    /// </summary>
    public static decimal RefundedShare(EarnBasis basis, Order order)
    {
        if (order.IsFullyRefunded)
        {
            return 1m;
        }

        var useWeights = basis.WeightedSpend > 0m;
        decimal refunded = 0m;
        foreach (var refund in order.Refunds)
        {
            if (refund.Lines.Count > 0 && useWeights)
            {
                foreach (var line in refund.Lines)
                {
                    var (quantity, weight) = (0, 0m);
                    foreach (var earned in basis.Lines.Where(l => string.Equals(l.Sku, line.Sku, StringComparison.OrdinalIgnoreCase)))
                    {
                        quantity += earned.Quantity;
                        weight += earned.WeightedSpend;
                    }

                    if (quantity > 0)
                    {
                        refunded += weight * Math.Min(line.Quantity, quantity) / quantity;
                    }
                }
            }
            else if (basis.OrderTotal > 0m)
            {
                refunded += useWeights ? refund.Amount / basis.OrderTotal * basis.WeightedSpend : refund.Amount;
            }
        }

        var whole = useWeights ? basis.WeightedSpend : basis.OrderTotal;
        return whole <= 0m ? 0m : Math.Clamp(refunded / whole, 0m, 1m);
    }

    /// <summary>The points a refunded share takes back in total: the share of the points earned, rounded down.</summary>
    public static long ReversalTarget(long pointsEarned, decimal share) => ToPoints(decimal.Floor(pointsEarned * share));

    /// <summary>Whole points from a non-negative decimal; a figure beyond the range of points is bad input.</summary>
    public static long ToPoints(decimal value) =>
        value <= long.MaxValue / 4
            ? (long)value
            : throw new CrmValidationException("Lines", "points-range", "the order would earn more points than a ledger can hold");

    private static bool IsExcluded(EarnRules rules, OrderLine line) =>
        rules.ExcludedSkus.Contains(line.Sku, StringComparer.OrdinalIgnoreCase) ||
        (line.Category is { } category && rules.ExcludedCategories.Contains(category, StringComparer.OrdinalIgnoreCase));

    private static decimal MultiplierOf(EarnRules rules, OrderLine line)
    {
        if (Lookup(rules.SkuMultipliers, line.Sku) is { } sku)
        {
            return sku;
        }

        return line.Category is { } category && Lookup(rules.CategoryMultipliers, category) is { } byCategory ? byCategory : 1m;
    }

    private static decimal? Lookup(IReadOnlyDictionary<string, decimal> map, string key)
    {
        if (map.TryGetValue(key, out var exact))
        {
            return exact;
        }

        foreach (var (k, v) in map)
        {
            if (string.Equals(k, key, StringComparison.OrdinalIgnoreCase))
            {
                return v;
            }
        }

        return null;
    }
}
