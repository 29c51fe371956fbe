using BenchmarkDotNet.Attributes;
using Crm.Kit.Customers;
using Crm.Kit.Segmentation;
using Microsoft.Data.Sqlite;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;

namespace Crm.Kit.Benchmarks;

/// <summary>
/// Counting the realistic segment over 1M customers in SQLite: Crm.Kit's translated query against the SQL a
/// developer would write by hand over the same tables and indexes. The database is built once (imported through
/// CustomerManager, then given order metrics, stages and consent by SQL) and kept in the temp folder, so a
/// re-run starts in seconds.
/// </summary>
[ShortRunJob]
public class SqliteSegmentCountBenchmarks
{
    private const string HandWrittenSql = """
        SELECT COUNT(*) FROM crm_customers AS c
        WHERE c.TenantId = $tenant AND c.MergedIntoId IS NULL AND c.ErasedAt IS NULL
          AND (c.LifecycleStage IN (5, 8) OR EXISTS (
                SELECT 1 FROM crm_customer_keys AS k
                WHERE k.TenantId = c.TenantId AND k.CustomerId = c.Id AND k.Kind = 'T' AND k.Value IN ('vip', 'returning')))
          AND c.LastOrderAt >= $cutoff AND c.LastOrderAt <= $now
          AND CAST(c.TotalSpent AS REAL) >= 100
          AND (c.ConsentFlags & 1) <> 0
          AND c.CountryKey = 'us'
        """;

    private ServiceProvider? _provider;
    private SegmentRule? _rule;
    private string _path = string.Empty;

    [Params(1_000_000)]
    public int Customers { get; set; }

    [GlobalSetup]
    public async Task SetupAsync()
    {
        _path = Path.Combine(Path.GetTempPath(), $"crmkit-bench-segments-{Customers}.db");
        if (!File.Exists(_path))
        {
            await BuildAsync(_path, Customers);
        }

        var services = new ServiceCollection();
        services.AddDbContext<BenchmarkDbContext>(o => o.UseSqlite($"Data Source={_path}"));
        services.AddCrmKit().AddEntityFrameworkStores<BenchmarkDbContext>();
        _provider = services.BuildServiceProvider();
        _rule = SegmentRuleJson.Parse(BenchmarkRule.Json);
        var crmKit = await CrmKitAsync();
        var sql = HandWritten();
        Console.WriteLine($"// Crm.Kit counts {crmKit:N0}, the hand-written query {sql:N0}");
        if (crmKit != sql || crmKit == 0)
        {
            throw new InvalidOperationException("The two counts differ, or are zero.");
        }
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _provider?.Dispose();
        SqliteConnection.ClearAllPools();
    }

    [Benchmark(Baseline = true, Description = "hand-written SQL")]
    public long HandWritten()
    {
        using var connection = new SqliteConnection($"Data Source={_path}");
        connection.Open();
        using var command = connection.CreateCommand();
        command.CommandText = HandWrittenSql;
        command.Parameters.AddWithValue("$tenant", "default");
        command.Parameters.AddWithValue("$cutoff", BenchmarkRule.Now.AddDays(-90).UtcTicks);
        command.Parameters.AddWithValue("$now", BenchmarkRule.Now.UtcTicks);
        return (long)command.ExecuteScalar()!;
    }

    [Benchmark(Description = "Crm.Kit segment count")]
    public async Task<long> CrmKitAsync()
    {
        await using var scope = _provider!.CreateAsyncScope();
        var evaluator = scope.ServiceProvider.GetRequiredService<ISegmentEvaluator>();
        return await evaluator.CountAsync("default", _rule!, BenchmarkRule.Now, CancellationToken.None);
    }

    private static async Task BuildAsync(string path, int count)
    {
        var building = path + ".building";
        File.Delete(building);
        var services = new ServiceCollection();
        services.AddDbContext<BenchmarkDbContext>(o => o.UseSqlite($"Data Source={building}"));
        services.AddCrmKit().AddEntityFrameworkStores<BenchmarkDbContext>();
        await using (var provider = services.BuildServiceProvider())
        {
            await using (var scope = provider.CreateAsyncScope())
            {
                var context = scope.ServiceProvider.GetRequiredService<BenchmarkDbContext>();
                await context.Database.EnsureCreatedAsync();
                await context.Database.ExecuteSqlRawAsync("PRAGMA journal_mode=WAL;");
            }

            var done = 0;
            await Data.LoadAsync(count, batch =>
            {
                done += batch.Count;
                if (done % 100_000 == 0)
                {
                    Console.WriteLine($"// built {done:N0} of {count:N0} customers");
                }
            }, provider);

            await using (var scope = provider.CreateAsyncScope())
            {
                // Metrics, stages and consent as orders and sign-ups would leave them, spread so the rule selects a real share.
                var context = scope.ServiceProvider.GetRequiredService<BenchmarkDbContext>();
                context.Database.SetCommandTimeout(TimeSpan.FromMinutes(10));
                await context.Database.ExecuteSqlRawAsync("""
                    UPDATE crm_customers SET
                      LifecycleStage = abs(random()) % 9,
                      OrderCount = abs(random()) % 12,
                      ConsentFlags = CASE WHEN abs(random()) % 10 < 6 THEN 1 ELSE 0 END | 2;
                    UPDATE crm_customers SET
                      TotalSpent = printf('%.2f', OrderCount * (abs(random()) % 8000) / 100.0),
                      LastOrderAt = CASE WHEN OrderCount = 0 THEN NULL ELSE {0} - (abs(random()) % 400) * {1} END;
                    ANALYZE;
                    """, BenchmarkRule.Now.UtcTicks, TimeSpan.TicksPerDay);
            }
        }

        SqliteConnection.ClearAllPools();
        File.Move(building, path);
        File.Delete(building + "-wal");
        File.Delete(building + "-shm");
    }
}
