using System.Runtime.CompilerServices;
using BenchmarkDotNet.Attributes;
using Crm.Kit.Analytics;
using Crm.Kit.Orders;

namespace Crm.Kit.Benchmarks;

/// <summary>
/// BG/NBD fit on 100,000 simulated customers (a BG/NBD process with CDNOW-like parameters, 78 weeks, days as the
/// grain, so summaries repeat only as much as real ones do). Baseline: one pass of the textbook log-likelihood per
/// customer (four ln Γ calls each), the unit a naive fitter pays hundreds of times.
/// </summary>
[ShortRunJob]
[MemoryDiagnoser]
public class BgNbdFitBenchmarks
{
    private RepeatPurchaseSummary[] _customers = [];

    [GlobalSetup]
    public void Setup() => _customers = Simulate(100_000, seed: 7);

    [Benchmark(Baseline = true, Description = "one naive log-likelihood pass")]
    public double NaivePass()
    {
        var model = new BgNbdModel(new BgNbdParameters(0.243, 4.414, 0.793, 2.426));
        var total = 0.0;
        foreach (var c in _customers)
        {
            total += model.LogLikelihood(c);
        }

        return total;
    }

    [Benchmark(Description = "BgNbdModel.Fit, 100k customers")]
    public BgNbdFit Fit() => BgNbdModel.Fit(_customers);

    /// <summary>Customers arriving over 12 weeks, observed to week 78; rates and dropout drawn from CDNOW's fitted distributions.</summary>
    internal static RepeatPurchaseSummary[] Simulate(int count, int seed)
    {
        var random = new Random(seed);
        var result = new RepeatPurchaseSummary[count];
        for (var i = 0; i < count; i++)
        {
            var firstDay = random.Next(0, 84);
            var ageDays = (78 * 7) - firstDay;
            var rate = Gamma(random, 0.243) / 4.414 / 7;           // purchases per day
            var dropout = Beta(random, 0.793, 2.426);
            int x = 0, last = 0;
            var t = 0.0;
            while (rate > 0)
            {
                t += -Math.Log(1 - random.NextDouble()) / rate;
                if (t > ageDays)
                {
                    break;
                }

                var day = (int)t;
                if (day != last)
                {
                    x++;
                    last = day;
                }

                if (random.NextDouble() < dropout)
                {
                    break;
                }
            }

            result[i] = new RepeatPurchaseSummary(x, x == 0 ? 0 : last / 7.0, ageDays / 7.0);
        }

        return result;
    }

    // Marsaglia-Tsang, with the shape < 1 boost.
    private static double Gamma(Random random, double shape)
    {
        if (shape < 1)
        {
            return Gamma(random, shape + 1) * Math.Pow(random.NextDouble(), 1 / shape);
        }

        var d = shape - (1.0 / 3);
        var c = 1 / Math.Sqrt(9 * d);
        while (true)
        {
            double z, v;
            do
            {
                z = Normal(random);
                v = 1 + (c * z);
            }
            while (v <= 0);

            v = v * v * v;
            if (Math.Log(random.NextDouble()) < (0.5 * z * z) + d - (d * v) + (d * Math.Log(v)))
            {
                return d * v;
            }
        }
    }

    private static double Beta(Random random, double a, double b)
    {
        var x = Gamma(random, a);
        return x / (x + Gamma(random, b));
    }

    private static double Normal(Random random) => Math.Sqrt(-2 * Math.Log(1 - random.NextDouble())) * Math.Cos(2 * Math.PI * random.NextDouble());
}

/// <summary>
/// FP-growth on the Groceries baskets (9,835 transactions, 169 items). Baseline: counting every item pair of every
/// basket in a dictionary — the least a hand-written "bought together" feature does, and only pairs.
/// </summary>
[ShortRunJob]
[MemoryDiagnoser]
public class GroceriesMiningBenchmarks
{
    private string[][] _baskets = [];

    [GlobalSetup]
    public void Setup() => _baskets = [.. File.ReadLines(TestData("basket", "groceries.csv")).Where(l => l.Length > 0).Select(l => l.Split(','))];

    [Benchmark(Baseline = true, Description = "hand-written pair counting")]
    public int PairCounts()
    {
        var pairs = new Dictionary<(string, string), int>();
        foreach (var basket in _baskets)
        {
            for (var i = 0; i < basket.Length; i++)
            {
                for (var j = i + 1; j < basket.Length; j++)
                {
                    var key = string.CompareOrdinal(basket[i], basket[j]) < 0 ? (basket[i], basket[j]) : (basket[j], basket[i]);
                    pairs[key] = pairs.GetValueOrDefault(key) + 1;
                }
            }
        }

        return pairs.Count;
    }

    [Benchmark(Description = "FP-growth, support 0.001, confidence 0.5")]
    public int Mine() => AssociationRuleMiner.Mine(_baskets, new AssociationMiningOptions { MinSupport = 0.001, MinConfidence = 0.5 }).Rules.Count;

    internal static string TestData(params string[] parts)
    {
        for (var directory = new DirectoryInfo(AppContext.BaseDirectory); directory is not null; directory = directory.Parent)
        {
            if (File.Exists(Path.Combine(directory.FullName, "Crm.Kit.sln")))
            {
                return Path.Combine([directory.FullName, "tests", "data", .. parts]);
            }
        }

        throw new DirectoryNotFoundException("Run the benchmarks from inside the repository: the datasets are in tests/data.");
    }
}

/// <summary>
/// RFM over 1M customers and 10M orders: the orders stream through the in-memory aggregation
/// (<see cref="OrderScanPurchaseHistoryStore"/>) and are scored. Orders are generated as they are read, so the
/// benchmark measures aggregation and scoring, not holding 10M orders. Baseline: a hand-written dictionary
/// aggregation of the same stream into recency/frequency/monetary.
/// </summary>
[ShortRunJob]
[MemoryDiagnoser]
public class RfmBenchmarks
{
    private const int Customers = 1_000_000;
    private const int Orders = 10_000_000;
    private static readonly DateOnly AsOf = new(2026, 6, 30);
    private readonly GeneratedOrders _orders = new();

    [Benchmark(Baseline = true, Description = "hand-written aggregation, 10M orders")]
    public async Task<int> HandWritten()
    {
        var totals = new Dictionary<Guid, (int Orders, decimal Spend, long Last)>();
        await foreach (var order in _orders.StreamAsync("bench", CancellationToken.None))
        {
            var (count, spend, last) = totals.GetValueOrDefault(order.CustomerId);
            totals[order.CustomerId] = (count + 1, spend + order.NetTotal, Math.Max(last, order.PlacedAt.UtcTicks));
        }

        return totals.Count;
    }

    [Benchmark(Description = "purchase summaries + RFM scoring, 1M customers / 10M orders")]
    public async Task<int> Rfm()
    {
        var store = new OrderScanPurchaseHistoryStore(_orders);
        var window = new PurchaseWindow { Currency = "USD", LastDay = AsOf };
        var inputs = new List<RfmInput>(Customers);
        await foreach (var s in store.StreamSummariesAsync("bench", window, CancellationToken.None))
        {
            inputs.Add(new RfmInput(s.CustomerId, AsOf.DayNumber - s.LastDay.DayNumber, s.Orders, s.Spend));
        }

        return RfmScoring.Score(inputs, AsOf).Customers.Count;
    }

    /// <summary>An order store that makes its 10M orders on the fly: customer i mod 1M, a day in the last two years.</summary>
    private sealed class GeneratedOrders : IOrderStore
    {
        private static readonly Guid[] Ids = [.. Enumerable.Range(0, Customers).Select(i => new Guid(i, 0, 0, [0, 0, 0, 0, 0, 0, 0, 1]))];
        private static readonly IReadOnlyList<OrderLine>[] Lines = [.. Enumerable.Range(1, 50).Select(p => (IReadOnlyList<OrderLine>)[new OrderLine("SKU", "Product", null, 1, p * 1.25m)])];

        public async IAsyncEnumerable<Order> StreamAsync(string tenantId, [EnumeratorCancellation] CancellationToken cancellationToken)
        {
            var random = new Random(11);
            var start = new DateTimeOffset(2024, 7, 1, 0, 0, 0, TimeSpan.Zero);
            for (var i = 0; i < Orders; i++)
            {
                yield return new Order
                {
                    Id = Guid.Empty,
                    TenantId = tenantId,
                    Reference = "o",
                    Currency = "USD",
                    CustomerId = Ids[i % Customers],
                    PlacedAt = start.AddMinutes(random.Next(0, 730 * 24 * 60)),
                    Lines = Lines[random.Next(Lines.Length)],
                };
            }

            await Task.CompletedTask;
        }

        public ValueTask<Order?> FindByIdAsync(string tenantId, Guid id, CancellationToken cancellationToken) => throw new NotSupportedException();

        public ValueTask<Order?> FindByReferenceAsync(string tenantId, string reference, CancellationToken cancellationToken) => throw new NotSupportedException();

        public ValueTask<IReadOnlyList<Order>> ListByCustomerAsync(string tenantId, Guid customerId, KeysetPosition? before, int limit, CancellationToken cancellationToken) => throw new NotSupportedException();

        public IAsyncEnumerable<Order> StreamByCustomerAsync(string tenantId, Guid customerId, CancellationToken cancellationToken) => throw new NotSupportedException();

        public ValueTask CreateAsync(Order order, CancellationToken cancellationToken) => throw new NotSupportedException();

        public ValueTask UpdateAsync(Order order, long expectedVersion, CancellationToken cancellationToken) => throw new NotSupportedException();

        public ValueTask<int> ReassignCustomerAsync(string tenantId, Guid fromCustomerId, Guid toCustomerId, CancellationToken cancellationToken) => throw new NotSupportedException();
    }
}
