using System.Globalization;
using BenchmarkDotNet.Attributes;
using Crm.Kit.Analytics;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.DependencyInjection;

namespace Crm.Kit.Benchmarks;

/// <summary>
/// RFM over 1M customers / 10M orders stored in SQLite, through <see cref="CustomerAnalytics.ScoreRfmAsync"/> (the
/// EF adapter's purchase aggregation: one SQL statement grouping by customer and day, then by customer, streamed),
/// against a hand-written ADO.NET query that groups by customer only, with REAL sums — the least work any RFM over
/// this table must do — feeding the same scoring. Orders are written in the setup with prepared INSERTs, in the
/// exact column formats EF Core uses (Guids and decimals as text), ten per customer over two years.
/// </summary>
[SimpleJob(launchCount: 1, warmupCount: 1, iterationCount: 3, invocationCount: 1, id: "Rfm1M")]
[MemoryDiagnoser]
public class SqliteRfmBenchmarks
{
    private const int Customers = 1_000_000;
    private const int OrdersPerCustomer = 10;
    private static readonly DateOnly AsOf = new(2026, 6, 30);
    private SqliteBenchDatabase? _database;

    [GlobalSetup]
    public void Setup()
    {
        _database = new SqliteBenchDatabase(crm =>
        {
            crm.Services.AddSingleton<ICrmTenantContext>(new FixedTenantContext("bench"));
            crm.AddAnalytics(o => o.Currency = "USD");
        });
        using var connection = new SqliteConnection(_database.ConnectionString);
        connection.Open();
        using var transaction = connection.BeginTransaction();
        using var insert = connection.CreateCommand();
        insert.Transaction = transaction;
        insert.CommandText =
            "INSERT INTO crm_orders (Id, TenantId, Version, CustomerId, Reference, Currency, Channel, PlacedAt, CreatedAt, Total, RefundedTotal, Document) " +
            "VALUES ($id, 'bench', 1, $customer, $reference, 'USD', NULL, $placed, $placed, $total, '0.0', '{}')";
        var id = insert.Parameters.Add("$id", SqliteType.Text);
        var customer = insert.Parameters.Add("$customer", SqliteType.Text);
        var reference = insert.Parameters.Add("$reference", SqliteType.Text);
        var placed = insert.Parameters.Add("$placed", SqliteType.Integer);
        var total = insert.Parameters.Add("$total", SqliteType.Text);
        insert.Prepare();

        var random = new Random(11);
        var start = new DateTimeOffset(2024, 7, 1, 0, 0, 0, TimeSpan.Zero).UtcTicks;
        var order = 0L;
        for (var c = 0; c < Customers; c++)
        {
            // Ascending ids and references keep every index insert an append; real tables are no slower to read.
            customer.Value = new Guid(c, 0, 0, [0, 0, 0, 0, 0, 0, 0, 1]).ToString().ToUpperInvariant();
            for (var k = 0; k < OrdersPerCustomer; k++, order++)
            {
                id.Value = new Guid((int)(order >> 16), (short)(order & 0xFFFF), 0, [0, 0, 0, 0, 0, 0, 0, 2]).ToString().ToUpperInvariant();
                reference.Value = order.ToString("D9", CultureInfo.InvariantCulture);
                placed.Value = start + (random.NextInt64(730 * TimeSpan.TicksPerDay) / TimeSpan.TicksPerMinute * TimeSpan.TicksPerMinute);
                total.Value = (random.Next(1, 51) * 1.25m).ToString("0.0###########################", CultureInfo.InvariantCulture);
                insert.ExecuteNonQuery();
            }
        }

        transaction.Commit();
        using var analyze = connection.CreateCommand();
        analyze.CommandText = "ANALYZE;";
        analyze.ExecuteNonQuery();
    }

    [GlobalCleanup]
    public void Cleanup() => _database?.Dispose();

    [Benchmark(Baseline = true, Description = "hand-written GROUP BY customer (ADO.NET) + RFM scoring")]
    public int HandWritten()
    {
        using var connection = new SqliteConnection(_database!.ConnectionString);
        connection.Open();
        using var command = connection.CreateCommand();
        command.CommandText =
            "SELECT CustomerId, COUNT(*), MAX(PlacedAt), SUM(CAST(Total AS REAL) - CAST(RefundedTotal AS REAL)) FROM crm_orders " +
            "WHERE TenantId = 'bench' AND Currency = 'USD' GROUP BY CustomerId";
        var inputs = new List<RfmInput>(Customers);
        using var reader = command.ExecuteReader();
        while (reader.Read())
        {
            var lastDay = (int)(reader.GetInt64(2) / TimeSpan.TicksPerDay);
            inputs.Add(new RfmInput(Guid.Parse(reader.GetString(0)), AsOf.DayNumber - lastDay, reader.GetInt32(1), (decimal)reader.GetDouble(3)));
        }

        return RfmScoring.Score(inputs, AsOf).Customers.Count;
    }

    [Benchmark(Description = "CustomerAnalytics.ScoreRfmAsync over EF Core (SQLite)")]
    public async Task<int> ThroughTheStore()
    {
        await using var scope = _database!.Provider.CreateAsyncScope();
        var analytics = scope.ServiceProvider.GetRequiredService<CustomerAnalytics>();
        return (await analytics.ScoreRfmAsync(AsOf)).Customers.Count;
    }
}
