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

    // Shared by the ADO.NET and C-API baselines; SQLite numbers named parameters by first appearance, so the C API
    // binds them by position in that order.
    private const string InsertCustomer =
        "INSERT INTO crm_customers (Id, TenantId, Version, Kind, FirstName, LastName, ExternalReference, OwnerId, LifecycleStage, OrderCount, TotalSpent, AverageOrderValue, CreatedAt, UpdatedAt, Document, ConsentFlags) " +
        "VALUES ($id, $t, 1, 0, $f, $l, $x, $o, $s, 0, '0.0', '0.0', $c, $c, $d, $cf)";

    private const string InsertKey = "INSERT INTO crm_customer_keys (TenantId, Kind, Value, CustomerId) VALUES ($t, $k, $v, $id)";
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
        _rows = [.. _normalized.Select(RowValues)];
        _batchKeys = [.. Enumerable.Range(0, Count / BatchSize).Select(b => Keys(_normalized.GetRange(b * BatchSize, BatchSize)).ToArray())];
    }

    /// <summary>A customer's row as <see cref="InsertCustomer"/>'s parameters take it, in order, all text.</summary>
    private static string?[] RowValues(Customer c) =>
    [
        c.Id.ToString().ToUpperInvariant(), c.TenantId, c.FirstName, c.LastName, c.ExternalReference, c.OwnerId,
        ((int)c.LifecycleStage).ToString(CultureInfo.InvariantCulture), c.CreatedAt.UtcTicks.ToString(CultureInfo.InvariantCulture),
        JsonSerializer.Serialize(new { c.Emails, c.Phones, c.Addresses, c.Tags, c.Attributes, c.LifecycleHistory, c.ConsentHistory }),
        ConsentFlags(c).ToString(CultureInfo.InvariantCulture),
    ];

    /// <summary>
    /// A batch's lookup keys in the keys' own order, as Crm.Kit writes them: random email addresses would otherwise
    /// land on random pages of the key index, each read back and written out again several times per transaction.
    /// </summary>
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
            customer.CommandText = InsertCustomer;
            var p = new[] { "$id", "$t", "$f", "$l", "$x", "$o", "$s", "$c", "$d", "$cf" }.Select(n => customer.Parameters.Add(n, SqliteType.Text)).ToArray();
            using var key = connection.CreateCommand();
            key.Transaction = transaction;
            key.CommandText = InsertKey;
            var kp = new[] { "$t", "$k", "$v", "$id" }.Select(n => key.Parameters.Add(n, SqliteType.Text)).ToArray();
            customer.Prepare();
            key.Prepare();
            var batch = _normalized.GetRange(start, BatchSize);
            foreach (var c in batch)
            {
                var values = RowValues(c);
                for (var i = 0; i < values.Length; i++)
                {
                    p[i].Value = (object?)values[i] ?? DBNull.Value;
                }

                customer.ExecuteNonQuery();
            }

            foreach (var (kind, value, id, tenantId) in Keys(batch))
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
        using var customer = database.Prepare(InsertCustomer);
        using var key = database.Prepare(InsertKey);
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
