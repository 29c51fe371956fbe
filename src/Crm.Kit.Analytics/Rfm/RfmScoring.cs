namespace Crm.Kit.Analytics;

/// <summary>One customer's RFM inputs.</summary>
/// <param name="CustomerId">The customer.</param>
/// <param name="RecencyDays">Days from the last order to the analysis date.</param>
/// <param name="Frequency">Orders in the window.</param>
/// <param name="Monetary">Net spend in the window.</param>
public readonly record struct RfmInput(Guid CustomerId, int RecencyDays, int Frequency, decimal Monetary);

/// <summary>One customer's RFM scores and segment.</summary>
/// <param name="CustomerId">The customer.</param>
/// <param name="RecencyDays">Days from the last order to the analysis date.</param>
/// <param name="Frequency">Orders in the window.</param>
/// <param name="Monetary">Net spend in the window.</param>
/// <param name="R">Recency score, 5 for the most recent buyers.</param>
/// <param name="F">Frequency score, 5 for the most frequent.</param>
/// <param name="M">Monetary score, 5 for the biggest spenders.</param>
/// <param name="Segment">The segment the map gives the (R, F, M) cell.</param>
public sealed record CustomerRfm(Guid CustomerId, int RecencyDays, int Frequency, decimal Monetary, int R, int F, int M, string Segment)
{
    /// <summary>The three scores as one number, R·100 + F·10 + M (for example 545).</summary>
    public int Score => (R * 100) + (F * 10) + M;
}

/// <summary>The four quintile breakpoints of one measure (20/40/60/80 %).</summary>
/// <param name="Values">The breakpoints, ascending.</param>
public sealed record QuintileBreakpoints(IReadOnlyList<decimal> Values)
{
    /// <summary>
    /// 1 + the number of breakpoints the value is strictly greater than. Equal values always get equal scores, and
    /// the score depends on the value only, never on the order customers were read in.
    /// </summary>
    public int Score(decimal value)
    {
        var score = 1;
        foreach (var b in Values)
        {
            if (value > b)
            {
                score++;
            }
        }

        return score;
    }

    /// <summary>
    /// Breakpoints at the 20/40/60/80 % quantiles, interpolated between order statistics the way R's default
    /// (type 7) and NumPy's default do: position h = (n − 1)·p, value x⌊h⌋ + (h − ⌊h⌋)(x⌊h⌋+1 − x⌊h⌋).
    /// </summary>
    public static QuintileBreakpoints Of(decimal[] sorted)
    {
        if (sorted.Length == 0)
        {
            return new QuintileBreakpoints([]);
        }

        var values = new decimal[4];
        for (var k = 1; k <= 4; k++)
        {
            var h = (sorted.Length - 1) * k / 5m;
            var low = (int)decimal.Floor(h);
            var high = Math.Min(low + 1, sorted.Length - 1);
            values[k - 1] = sorted[low] + ((h - low) * (sorted[high] - sorted[low]));
        }

        return new QuintileBreakpoints(values);
    }
}

/// <summary>
/// RFM scoring: each measure is cut at its quintiles (<see cref="QuintileBreakpoints"/>); frequency and monetary
/// score 1–5 upwards, recency is reversed so that the most recent buyers score 5; a <see cref="RfmSegmentMap"/> names
/// the cell.
/// </summary>
public static class RfmScoring
{
    /// <summary>Scores every customer against the breakpoints of the whole population.</summary>
    public static RfmResult Score(IReadOnlyCollection<RfmInput> customers, DateOnly analysisDate, RfmSegmentMap? map = null)
    {
        ArgumentNullException.ThrowIfNull(customers);
        map ??= RfmSegmentMap.Default;
        var recency = new decimal[customers.Count];
        var frequency = new decimal[customers.Count];
        var monetary = new decimal[customers.Count];
        var i = 0;
        foreach (var c in customers)
        {
            if (c.RecencyDays < 0 || c.Frequency < 1)
            {
                throw new CrmValidationException($"customers[{i}]", "range", $"Recency must be 0 or more days and frequency at least 1; customer {c.CustomerId} has {c.RecencyDays} and {c.Frequency}.");
            }

            recency[i] = c.RecencyDays;
            frequency[i] = c.Frequency;
            monetary[i] = c.Monetary;
            i++;
        }

        Array.Sort(recency);
        Array.Sort(frequency);
        Array.Sort(monetary);
        var rb = QuintileBreakpoints.Of(recency);
        var fb = QuintileBreakpoints.Of(frequency);
        var mb = QuintileBreakpoints.Of(monetary);
        var scored = new List<CustomerRfm>(customers.Count);
        foreach (var c in customers)
        {
            var r = 6 - rb.Score(c.RecencyDays);
            var f = fb.Score(c.Frequency);
            var m = mb.Score(c.Monetary);
            scored.Add(new CustomerRfm(c.CustomerId, c.RecencyDays, c.Frequency, c.Monetary, r, f, m, map.Classify(r, f, m)));
        }

        return new RfmResult(analysisDate, rb, fb, mb, scored, map);
    }
}

/// <summary>One row of <see cref="RfmResult.Segments"/>.</summary>
/// <param name="Segment">The segment.</param>
/// <param name="Customers">Customers in it.</param>
/// <param name="Share">Their share of all scored customers.</param>
/// <param name="AverageRecencyDays">Mean days since the last order.</param>
/// <param name="AverageFrequency">Mean orders.</param>
/// <param name="AverageMonetary">Mean spend.</param>
/// <param name="TotalMonetary">Total spend.</param>
public sealed record RfmSegmentSummary(string Segment, int Customers, double Share, double AverageRecencyDays, double AverageFrequency, decimal AverageMonetary, decimal TotalMonetary);

/// <summary>Scores of every customer, the breakpoints used, and a per-segment summary.</summary>
public sealed class RfmResult
{
    internal RfmResult(DateOnly analysisDate, QuintileBreakpoints recency, QuintileBreakpoints frequency, QuintileBreakpoints monetary, IReadOnlyList<CustomerRfm> customers, RfmSegmentMap map)
    {
        AnalysisDate = analysisDate;
        RecencyBreakpoints = recency;
        FrequencyBreakpoints = frequency;
        MonetaryBreakpoints = monetary;
        Customers = customers;
        var total = Math.Max(1, customers.Count);
        // One pass to group; every rule of the map gets a row, empty segments included.
        var bySegment = customers.ToLookup(c => c.Segment, StringComparer.Ordinal);
        Segments =
        [
            .. map.Rules.Select(rule => bySegment[rule.Name].ToList() is { Count: > 0 } members
                ? new RfmSegmentSummary(
                    rule.Name, members.Count, (double)members.Count / total,
                    members.Average(c => (double)c.RecencyDays), members.Average(c => (double)c.Frequency),
                    decimal.Round(members.Average(c => c.Monetary), 2), members.Sum(c => c.Monetary))
                : new RfmSegmentSummary(rule.Name, 0, 0, 0, 0, 0, 0)),
        ];
    }

    /// <summary>The day recency is measured to.</summary>
    public DateOnly AnalysisDate { get; }

    /// <summary>Recency breakpoints (days); recency scores run 5 (at or below the first) to 1.</summary>
    public QuintileBreakpoints RecencyBreakpoints { get; }

    /// <summary>Frequency breakpoints (orders).</summary>
    public QuintileBreakpoints FrequencyBreakpoints { get; }

    /// <summary>Monetary breakpoints (spend).</summary>
    public QuintileBreakpoints MonetaryBreakpoints { get; }

    /// <summary>Every scored customer.</summary>
    public IReadOnlyList<CustomerRfm> Customers { get; }

    /// <summary>One row per segment of the map, in the map's order.</summary>
    public IReadOnlyList<RfmSegmentSummary> Segments { get; }
}
