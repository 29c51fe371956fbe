using System.Diagnostics;
using Microsoft.Extensions.DependencyInjection;

namespace Crm.Kit.Benchmarks;

/// <summary>
/// Measures how much memory the in-memory store keeps per customer: the managed heap after a full collection,
/// with N CrmFaker customers loaded, minus the heap before. The generated drafts are not kept.
/// </summary>
internal static class MemoryFootprint
{
    public static async Task<int> RunAsync(int count)
    {
        var (provider, scope, customers) = Data.InMemory();
        await using (provider)
        await using (scope)
        {
            var before = GC.GetTotalMemory(forceFullCollection: true);
            var timer = Stopwatch.StartNew();
            // Count, do not keep: the manager returns its own instances, and the store keeps compacted copies.
            var loaded = 0;
            await Data.LoadAsync(customers, count, batch => loaded += batch.Count);
            timer.Stop();
            var after = GC.GetTotalMemory(forceFullCollection: true);
            var perCustomer = (after - before) / (double)loaded;
            Console.WriteLine($"Loaded {loaded:N0} CrmFaker customers into the in-memory store in {timer.Elapsed.TotalSeconds:N1} s.");
            Console.WriteLine($"Retained managed heap: {(after - before) / 1024.0 / 1024.0:N1} MiB = {perCustomer:N0} bytes per customer (target: at most 1,024).");
            if (Environment.GetEnvironmentVariable("CRMKIT_MEMORY_PAUSE") is not null)
            {
                // Lets a heap profiler (dotnet-gcdump) attach while everything is still loaded.
                Console.WriteLine($"Paused; process {Environment.ProcessId}. Press Enter to exit.");
                Console.ReadLine();
            }

            GC.KeepAlive(customers);
            return perCustomer <= 1024 ? 0 : 1;
        }
    }
}
