namespace Crm.Kit.Analytics;

/// <summary>
/// Validated summaries with identical ones pooled into one weighted row. Real data repeats itself a lot (every
/// one-time buyer with the same age is the same row), so a likelihood pass over the pooled rows is much cheaper.
/// </summary>
internal sealed class PooledSummaries
{
    private PooledSummaries(int[] frequency, double[] recency, double[] age, double[] value, double[] weight, int customers)
    {
        Frequency = frequency;
        Recency = recency;
        Age = age;
        AverageRepeatValue = value;
        Weight = weight;
        Customers = customers;
        MaxFrequency = frequency.Length == 0 ? 0 : frequency.Max();
        DistinctFrequencies = [.. frequency.Distinct()];
        var ageSum = 0.0;
        for (var i = 0; i < age.Length; i++)
        {
            ageSum += age[i] * weight[i];
        }

        MeanAge = customers == 0 ? 0 : ageSum / customers;
    }

    public int[] Frequency { get; }

    public double[] Recency { get; }

    public double[] Age { get; }

    public double[] AverageRepeatValue { get; }

    public double[] Weight { get; }

    public int Customers { get; }

    public int MaxFrequency { get; }

    public int[] DistinctFrequencies { get; }

    public double MeanAge { get; }

    /// <summary>
    /// Pools the summaries. With <paramref name="requireRepeatValue"/> (the spend model) customers without repeat
    /// purchases are left out, and the pooling key is (x, z̄); otherwise it is (x, tₓ, T).
    /// </summary>
    public static PooledSummaries From(IEnumerable<RepeatPurchaseSummary> summaries, bool requireRepeatValue)
    {
        ArgumentNullException.ThrowIfNull(summaries);
        var counts = new Dictionary<RepeatPurchaseSummary, int>();
        var index = 0;
        var customers = 0;
        foreach (var summary in summaries)
        {
            summary.Validate($"customers[{index}]");
            index++;
            // The spend model describes positive spend: customers without repeat purchases, or whose repeat purchases
            // were all free, carry no information about it.
            if (requireRepeatValue && (summary.Frequency == 0 || summary.AverageRepeatValue <= 0))
            {
                continue;
            }

            var key = requireRepeatValue
                ? new RepeatPurchaseSummary(summary.Frequency, 0, 0, summary.AverageRepeatValue)
                : summary with { AverageRepeatValue = 0 };
            counts[key] = counts.GetValueOrDefault(key) + 1;
            customers++;
        }

        // Rows in a fixed order, whatever order the customers came in: the likelihood sums over them, and floating-point
        // sums depend on their order. Stores list customers in different orders (PostgreSQL even from one query to the
        // next), and a fit that ends at the limit of double precision must not succeed on one and fail on another.
        var pooled = counts.ToArray();
        Array.Sort(pooled, static (a, b) =>
            (a.Key.Frequency, a.Key.Recency, a.Key.Age, a.Key.AverageRepeatValue).CompareTo((b.Key.Frequency, b.Key.Recency, b.Key.Age, b.Key.AverageRepeatValue)));
        var rows = pooled.Length;
        var frequency = new int[rows];
        var recency = new double[rows];
        var age = new double[rows];
        var value = new double[rows];
        var weight = new double[rows];
        var i = 0;
        foreach (var (key, count) in pooled)
        {
            frequency[i] = key.Frequency;
            recency[i] = key.Recency;
            age[i] = key.Age;
            value[i] = key.AverageRepeatValue;
            weight[i] = count;
            i++;
        }

        return new PooledSummaries(frequency, recency, age, value, weight, customers);
    }
}
