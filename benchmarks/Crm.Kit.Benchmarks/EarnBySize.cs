using System.Diagnostics;
using System.Globalization;
using Microsoft.Extensions.DependencyInjection;

namespace Crm.Kit.Benchmarks;

/// <summary>
/// In-memory earn postings (the same calls as <see cref="LoyaltyEarnBenchmarks"/>) timed by ledger size: each round
/// starts a new store with one member and posts 10,000, 100,000 or 1,000,000 earnings to it, and reports per
/// posting the time, the bytes allocated, the garbage-collection pause and, on Linux, the page faults (new memory
/// the kernel had to map in) and the heap the store kept. It separates what a posting costs from what a store that keeps growing costs.
/// </summary>
internal static class EarnBySize
{
    public static async Task<int> RunAsync()
    {
        // Let tiered compilation settle: the first rounds run slower code than the later ones.
        for (var i = 0; i < 80; i++)
        {
            await RoundAsync(10_000, report: false);
        }

        Console.WriteLine("| postings into a new store | µs per posting | bytes allocated per posting | GC pause µs per posting | page faults per posting | bytes kept per posting |");
        Console.WriteLine("|---|---|---|---|---|---|");
        foreach (var (size, rounds) in new[] { (10_000, 5), (100_000, 3), (1_000_000, 2) })
        {
            for (var r = 0; r < rounds; r++)
            {
                await RoundAsync(size, report: true);
            }
        }

        return 0;
    }

    private static async Task RoundAsync(int postings, bool report)
    {
        await using var provider = LoyaltySetup.InMemoryProvider();
        await using var scope = provider.CreateAsyncScope();
        var (loyalty, members) = await LoyaltySetup.CreateAsync(scope.ServiceProvider, 1);
        var keys = new string[postings];
        for (var i = 0; i < postings; i++)
        {
            keys[i] = "k" + i.ToString(CultureInfo.InvariantCulture);
        }

        var kept = GC.GetTotalMemory(forceFullCollection: true);
        var allocated = GC.GetAllocatedBytesForCurrentThread();
        var pause = GC.GetTotalPauseDuration();
        var faults = PageFaults();
        var timer = Stopwatch.StartNew();
        for (var i = 0; i < postings; i++)
        {
            await loyalty.EarnAsync(members[0], 1 + (i & 7), keys[i]);
        }

        timer.Stop();
        GC.KeepAlive(provider);
        if (report)
        {
            var faulted = PageFaults() - faults;
            kept = GC.GetTotalMemory(forceFullCollection: true) - kept;
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"| {postings:N0} | {timer.Elapsed.TotalMicroseconds / postings:F2} | {(GC.GetAllocatedBytesForCurrentThread() - allocated) / postings:N0} | " +
                $"{(GC.GetTotalPauseDuration() - pause).TotalMicroseconds / postings:F2} | {(faulted < 0 ? "n/a" : (faulted / (double)postings).ToString("F3", CultureInfo.InvariantCulture))} | {kept / postings:N0} |"));
        }
    }

    /// <summary>Minor page faults of this process so far (field 10 of /proc/self/stat), or -1 where there is none.</summary>
    private static long PageFaults()
    {
        if (!File.Exists("/proc/self/stat"))
        {
            return -1;
        }

        // The command name (field 2) is in parentheses and may hold spaces: count fields after its closing one.
        var stat = File.ReadAllText("/proc/self/stat");
        var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
        return long.Parse(fields[7], CultureInfo.InvariantCulture);
    }
}
