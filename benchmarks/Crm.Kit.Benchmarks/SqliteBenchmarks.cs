using System.Globalization;
using System.Text.Json;
using BenchmarkDotNet.Attributes;
using Crm.Kit.Customers;
using Crm.Kit.Testing;
using Microsoft.Data.Sqlite;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;

namespace Crm.Kit.Benchmarks;

/// <summary>A host's context, as a user writes it.</summary>
public sealed class BenchmarkDbContext(DbContextOptions<BenchmarkDbContext> options) : DbContext(options)
{
    protected override void OnModelCreating(ModelBuilder modelBuilder) => modelBuilder.ApplyCrmKitModel();
}

/// <summary>A fresh SQLite file with the Crm.Kit schema, and a service provider over it.</summary>
internal sealed class SqliteBenchDatabase : IDisposable
{
    public SqliteBenchDatabase(Action<CrmKitBuilder>? configure = null)
    {
        Path = System.IO.Path.Combine(System.IO.Path.GetTempPath(), $"crmkit-bench-{Guid.NewGuid():N}.db");
        var services = new ServiceCollection();
        services.AddDbContext<BenchmarkDbContext>(o => o.UseSqlite(ConnectionString));
        var crm = services.AddCrmKit().AddEntityFrameworkStores<BenchmarkDbContext>();
        configure?.Invoke(crm);
        Provider = services.BuildServiceProvider();
        using var scope = Provider.CreateScope();
        var context = scope.ServiceProvider.GetRequiredService<BenchmarkDbContext>();
        context.Database.EnsureCreated();
        context.Database.ExecuteSqlRaw("PRAGMA journal_mode=WAL;");
    }

    public string Path { get; }

    public string ConnectionString => $"Data Source={Path}";

    public ServiceProvider Provider { get; }

    public void Dispose()
    {
        Provider.Dispose();
        SqliteConnection.ClearAllPools();
        foreach (var file in new[] { Path, Path + "-wal", Path + "-shm" })
        {
            File.Delete(file);
        }
    }
}

/// <summary>
/// Importing 100,000 CrmFaker customers into SQLite in batches of 5,000 with CustomerManager.CreateManyAsync,
/// against hand-written prepared INSERTs of the same rows (customers and their lookup keys, the keys in key order)
/// in one transaction per batch, and the same inserts on SQLite's C API (<see cref="SqliteCApi"/>). Throughput is
/// 100,000 divided by the mean.
/// </summary>
[MemoryDiagnoser]
[SimpleJob(launchCount: 1, warmupCount: 1, iterationCount: 3, invocationCount: 1, id: "Import")]
public class SqliteImportBenchmarks
{
    private const int Count = 100_000;
    private const int BatchSize = 5_000;
    private List<CustomerDraft> _drafts = [];
    private List<Customer> _normalized = [];
    private SqliteBenchDatabase? _database;
    private string?[][] _rows = [];
    private (string Kind, string Value, string Id, string TenantId)[][] _batchKeys = [];

    [GlobalSetup]
    public async Task SetupAsync()
    {
        var faker = new CrmFaker(11);
        _drafts = Enumerable.Range(0, Count).Select(i => faker.Person() with { ExternalReference = $"imp-{i}" }).ToList();
        // The hand-written baseline gets the rows already normalised, so it measures only the database work.
        var (provider, scope, customers) = Data.InMemory();
        for (var i = 0; i < Count; i += CustomerManager.MaxBatchSize)
        {
            _normalized.AddRange(await customers.CreateManyAsync(_drafts.GetRange(i, CustomerManager.MaxBatchSize)));
        }

        await scope.DisposeAsync();
        await provider.DisposeAsync();

        // The C-API baseline gets every value already as text and each batch's keys already in order: SQLite alone.
        _rows = [.. _normalized.Select(c => new[]
        {
            c.Id.ToString().ToUpperInvariant(), c.TenantId, c.FirstName, c.LastName, c.ExternalReference, c.OwnerId,
            ((int)c.LifecycleStage).ToString(CultureInfo.InvariantCulture), c.CreatedAt.UtcTicks.ToString(CultureInfo.InvariantCulture),
            JsonSerializer.Serialize(new { c.Emails, c.Phones, c.Addresses, c.Tags, c.Attributes, c.LifecycleHistory, c.ConsentHistory }),
            ConsentFlags(c).ToString(CultureInfo.InvariantCulture),
        })];
        _batchKeys = [.. Enumerable.Range(0, Count / BatchSize).Select(b => Keys(_normalized.GetRange(b * BatchSize, BatchSize)).ToArray())];
    }

    /// <summary>A batch's lookup keys in the keys' own order, as Crm.Kit writes them.</summary>
    private static IEnumerable<(string Kind, string Value, string Id, string TenantId)> Keys(IEnumerable<Customer> batch) =>
        batch.SelectMany(c =>
            {
                var id = c.Id.ToString().ToUpperInvariant();
                return CustomerSearchKeys.Emails(c).Select(v => (Kind: "E", Value: v, Id: id, c.TenantId))
                    .Concat(CustomerSearchKeys.Phones(c).Select(v => (Kind: "P", Value: v, Id: id, c.TenantId)))
                    .Concat(CustomerSearchKeys.NameKeys(c).Select(v => (Kind: "N", Value: v, Id: id, c.TenantId)));
            })
            .OrderBy(k => k.Kind, StringComparer.Ordinal).ThenBy(k => k.Value, StringComparer.Ordinal).ThenBy(k => k.Id, StringComparer.Ordinal);

    [IterationSetup]
    public void CreateDatabase() => _database = new SqliteBenchDatabase();

    [IterationCleanup]
    public void DeleteDatabase() => _database?.Dispose();

    [Benchmark(Baseline = true)]
    public void HandWrittenSql()
    {
        using var connection = new SqliteConnection(_database!.ConnectionString);
        connection.Open();
        for (var start = 0; start < Count; start += BatchSize)
        {
            using var transaction = connection.BeginTransaction();
            using var customer = connection.CreateCommand();
            customer.Transaction = transaction;
            customer.CommandText = "INSERT INTO crm_customers (Id, TenantId, Version, Kind, FirstName, LastName, ExternalReference, OwnerId, LifecycleStage, OrderCount, TotalSpent, AverageOrderValue, CreatedAt, UpdatedAt, Document, ConsentFlags) VALUES ($id, $t, 1, 0, $f, $l, $x, $o, $s, 0, '0.0', '0.0', $c, $c, $d, $cf)";
            var p = new[] { "$id", "$t", "$f", "$l", "$x", "$o", "$s", "$c", "$d", "$cf" }.Select(n => customer.Parameters.Add(n, SqliteType.Text)).ToArray();
            using var key = connection.CreateCommand();
            key.Transaction = transaction;
            key.CommandText = "INSERT INTO crm_customer_keys (TenantId, Kind, Value, CustomerId) VALUES ($t, $k, $v, $id)";
            var kp = new[] { "$t", "$k", "$v", "$id" }.Select(n => key.Parameters.Add(n, SqliteType.Text)).ToArray();
            customer.Prepare();
            key.Prepare();
            var keys = new List<(string Kind, string Value, string Id, string TenantId)>();
            foreach (var c in _normalized.Skip(start).Take(BatchSize))
            {
                var id = c.Id.ToString().ToUpperInvariant();
                p[0].Value = id;
                p[1].Value = c.TenantId;
                p[2].Value = (object?)c.FirstName ?? DBNull.Value;
                p[3].Value = (object?)c.LastName ?? DBNull.Value;
                p[4].Value = (object?)c.ExternalReference ?? DBNull.Value;
                p[5].Value = (object?)c.OwnerId ?? DBNull.Value;
                p[6].Value = ((int)c.LifecycleStage).ToString(CultureInfo.InvariantCulture);
                p[7].Value = c.CreatedAt.UtcTicks.ToString(CultureInfo.InvariantCulture);
                p[8].Value = JsonSerializer.Serialize(new { c.Emails, c.Phones, c.Addresses, c.Tags, c.Attributes, c.LifecycleHistory, c.ConsentHistory });
                p[9].Value = ConsentFlags(c).ToString(CultureInfo.InvariantCulture);
                customer.ExecuteNonQuery();
                keys.AddRange(CustomerSearchKeys.Emails(c).Select(v => ("E", v, id, c.TenantId))
                    .Concat(CustomerSearchKeys.Phones(c).Select(v => ("P", v, id, c.TenantId)))
                    .Concat(CustomerSearchKeys.NameKeys(c).Select(v => ("N", v, id, c.TenantId))));
            }

            // In the keys' own order, as Crm.Kit writes them: random email addresses would otherwise land on random
            // pages of the key index, each read back and written out again several times per transaction.
            foreach (var (kind, value, id, tenantId) in keys.OrderBy(k => k.Kind, StringComparer.Ordinal).ThenBy(k => k.Value, StringComparer.Ordinal).ThenBy(k => k.Id, StringComparer.Ordinal))
            {
                kp[0].Value = tenantId;
                kp[1].Value = kind;
                kp[2].Value = value;
                kp[3].Value = id;
                key.ExecuteNonQuery();
            }

            transaction.Commit();
        }
    }

    /// <summary>
    /// The same inserts on SQLite's C API, from values prepared in the setup (text, JSON documents, keys in order):
    /// what SQLite alone costs here, with no .NET work per row beyond binding.
    /// </summary>
    [Benchmark]
    public void SqliteCApi()
    {
        using var database = new NativeSqlite(_database!.Path);
        using var begin = database.Prepare("BEGIN");
        using var commit = database.Prepare("COMMIT");
        using var customer = database.Prepare(
            "INSERT INTO crm_customers (Id, TenantId, Version, Kind, FirstName, LastName, ExternalReference, OwnerId, LifecycleStage, OrderCount, TotalSpent, AverageOrderValue, CreatedAt, UpdatedAt, Document, ConsentFlags) " +
            "VALUES (?1, ?2, 1, 0, ?3, ?4, ?5, ?6, ?7, 0, '0.0', '0.0', ?8, ?8, ?9, ?10)");
        using var key = database.Prepare("INSERT INTO crm_customer_keys (TenantId, Kind, Value, CustomerId) VALUES (?1, ?2, ?3, ?4)");
        for (var batch = 0; batch < _batchKeys.Length; batch++)
        {
            begin.Run();
            for (var row = batch * BatchSize; row < (batch + 1) * BatchSize; row++)
            {
                var values = _rows[row];
                for (var i = 0; i < values.Length; i++)
                {
                    customer.Bind(i + 1, values[i]);
                }

                customer.Run();
            }

            foreach (var (kind, value, id, tenantId) in _batchKeys[batch])
            {
                key.Bind(1, tenantId).Bind(2, kind).Bind(3, value).Bind(4, id).Run();
            }

            commit.Run();
        }
    }

    /// <summary>Consent in force, one bit per channel and purpose, as the customers table keeps it for segment rules.</summary>
    private static int ConsentFlags(Customer c)
    {
        var flags = 0;
        foreach (var channel in Enum.GetValues<ContactChannel>())
        {
            foreach (var purpose in Enum.GetValues<ConsentPurpose>())
            {
                flags |= c.HasConsent(channel, purpose) ? 1 << (((int)channel * 2) + (int)purpose) : 0;
            }
        }

        return flags;
    }

    [Benchmark]
    public async Task CrmKitCreateMany()
    {
        for (var start = 0; start < Count; start += BatchSize)
        {
            await using var scope = _database!.Provider.CreateAsyncScope();
            await scope.ServiceProvider.GetRequiredService<CustomerManager>().CreateManyAsync(_drafts.GetRange(start, BatchSize));
        }
    }
}

/// <summary>
/// Finding a customer by email in a SQLite database of 100,000 customers: CustomerManager.FindByEmailAsync
/// (normalise, index seek on the keys table, join, materialise) against a hand-written prepared query of the
/// same join that reads every column.
/// </summary>
[MemoryDiagnoser]
[ShortRunJob]
public class SqliteLookupBenchmarks
{
    private const int Lookups = 256;
    private SqliteBenchDatabase _database = null!;
    private AsyncServiceScope _scope;
    private CustomerManager _customers = null!;
    private SqliteConnection _connection = null!;
    private SqliteCommand _query = null!;
    private string[] _emails = [];

    [GlobalSetup]
    public async Task SetupAsync()
    {
        _database = new SqliteBenchDatabase();
        var loaded = new List<Customer>();
        var faker = new CrmFaker(3);
        for (var i = 0; i < 100_000; i += 5_000)
        {
            await using var scope = _database.Provider.CreateAsyncScope();
            var drafts = Enumerable.Range(i, 5_000).Select(n => faker.Person() with { ExternalReference = $"lk-{n}" }).ToList();
            loaded.AddRange(await scope.ServiceProvider.GetRequiredService<CustomerManager>().CreateManyAsync(drafts));
        }

        var random = new Random(5);
        _emails = Enumerable.Range(0, Lookups).Select(_ => loaded[random.Next(loaded.Count)].Emails[0].Address).ToArray();
        _scope = _database.Provider.CreateAsyncScope();
        _customers = _scope.ServiceProvider.GetRequiredService<CustomerManager>();
        _connection = new SqliteConnection(_database.ConnectionString);
        _connection.Open();
        _query = _connection.CreateCommand();
        // Written as a planner-proof seek: the key, then the customer by primary key.
        _query.CommandText = "SELECT c.* FROM crm_customers c WHERE c.TenantId = $t AND c.Id IN (SELECT k.CustomerId FROM crm_customer_keys k WHERE k.TenantId = $t AND k.Kind = 'E' AND k.Value = $v)";
        _query.Parameters.AddWithValue("$t", "default");
        _query.Parameters.Add("$v", SqliteType.Text);
        _query.Prepare();
    }

    [GlobalCleanup]
    public async Task CleanupAsync()
    {
        await _query.DisposeAsync();
        await _connection.DisposeAsync();
        await _scope.DisposeAsync();
        _database.Dispose();
    }

    [Benchmark(Baseline = true, OperationsPerInvoke = Lookups)]
    public int HandWrittenSql()
    {
        var columns = 0;
        foreach (var email in _emails)
        {
            _query.Parameters[1].Value = email;
            using var reader = _query.ExecuteReader();
            while (reader.Read())
            {
                for (var i = 0; i < reader.FieldCount; i++)
                {
                    columns += reader.IsDBNull(i) ? 0 : reader.GetString(i).Length > 0 ? 1 : 0;
                }
            }
        }

        return columns;
    }

    [Benchmark(OperationsPerInvoke = Lookups)]
    public async Task<int> CrmKitFindByEmail()
    {
        var found = 0;
        foreach (var email in _emails)
        {
            found += (await _customers.FindByEmailAsync(email)).Count;
        }

        return found;
    }
}
