using System.Globalization;
using Crm.Kit.Analytics;

namespace Crm.Kit.Tests.Analytics;

/// <summary>The public datasets in <c>tests/data</c>, with their published results (<c>tests/data/README.md</c>).</summary>
internal static class TestData
{
    private static readonly Lazy<string> Root = new(() =>
    {
        for (var directory = new DirectoryInfo(AppContext.BaseDirectory); directory is not null; directory = directory.Parent)
        {
            if (System.IO.File.Exists(Path.Combine(directory.FullName, "Crm.Kit.sln")))
            {
                return Path.Combine(directory.FullName, "tests", "data");
            }
        }

        throw new DirectoryNotFoundException("Crm.Kit.sln was not found above the test binaries.");
    });

    public static string File(params string[] parts) => Path.Combine([Root.Value, .. parts]);

    /// <summary>Lines of a text file, accepting CRLF and a missing final newline.</summary>
    public static IEnumerable<string> Lines(params string[] parts) =>
        System.IO.File.ReadLines(File(parts)).Select(l => l.TrimEnd('\r')).Where(l => l.Length > 0);

    /// <summary><c>cdnow_customers_summary_with_transactions.csv</c>: x, tₓ, T (weeks) and z̄, rounded to 2 decimals as published.</summary>
    public static IReadOnlyList<RepeatPurchaseSummary> CdnowSummaries() =>
    [
        .. Lines("cdnow", "cdnow_customers_summary_with_transactions.csv").Skip(1).Select(line =>
        {
            var f = line.Split(',');
            return new RepeatPurchaseSummary(
                int.Parse(f[1], CultureInfo.InvariantCulture),
                double.Parse(f[2], CultureInfo.InvariantCulture),
                double.Parse(f[3], CultureInfo.InvariantCulture),
                double.Parse(f[4], CultureInfo.InvariantCulture));
        }),
    ];

    /// <summary>One CDNOW transaction from <c>CDNOW_sample.txt</c>.</summary>
    public sealed record CdnowTransaction(int CustomerId, DateOnly Date, int Cds, decimal Value);

    public static IReadOnlyList<CdnowTransaction> CdnowSample() =>
    [
        .. Lines("cdnow", "CDNOW_sample.txt").Select(line =>
        {
            var f = line.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries);
            return new CdnowTransaction(
                int.Parse(f[1], CultureInfo.InvariantCulture),
                DateOnly.ParseExact(f[2], "yyyyMMdd", CultureInfo.InvariantCulture),
                int.Parse(f[3], CultureInfo.InvariantCulture),
                decimal.Parse(f[4], CultureInfo.InvariantCulture));
        }),
    ];
}
