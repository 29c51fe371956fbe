using System.Collections.Concurrent;
using System.Globalization;
using BenchmarkDotNet.Attributes;
using Crm.Kit.Customers;
using Crm.Kit.Loyalty;
using Microsoft.Data.Sqlite;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;

namespace Crm.Kit.Benchmarks;

/// <summary>Sets up a loyalty programme with members on a service provider.</summary>
internal static class LoyaltySetup
{
    /// <summary>A provider on the in-memory stores with the loyalty module.</summary>
    public static ServiceProvider InMemoryProvider()
    {
        var services = new ServiceCollection();
        services.AddCrmKit().AddLoyalty();
        return services.BuildServiceProvider();
    }

    public static async Task<(LoyaltyManager Loyalty, Guid[] Members)> CreateAsync(IServiceProvider scoped, int members)
    {
        var loyalty = scoped.GetRequiredService<LoyaltyManager>();
        await loyalty.CreateProgrammeAsync(new LoyaltyProgrammeDefinition { Name = "Bench", Currency = "USD", Expiry = PointExpiry.MonthsAfterEarning(24) });
        var created = await scoped.GetRequiredService<CustomerManager>().CreateManyAsync(
            [.. Enumerable.Range(0, members).Select(i => new CustomerDraft { FirstName = "Member", LastName = i.ToString(CultureInfo.InvariantCulture) })]);
        foreach (var customer in created)
        {
            await loyalty.EnrolAsync(customer.Id);
        }

        return (loyalty, [.. created.Select(c => c.Id)]);
    }
}

/// <summary>A programme with one member on the in-memory stores, for the in-memory loyalty benchmarks.</summary>
public abstract class InMemoryLoyaltyBenchmark
{
    private ServiceProvider _provider = null!;
    private AsyncServiceScope _scope;

    /// <summary>The manager, in a scope that lives for the whole run.</summary>
    protected LoyaltyManager Loyalty { get; private set; } = null!;

    /// <summary>The member's customer id.</summary>
    protected Guid Member { get; private set; }

    [GlobalCleanup]
    public async Task CleanupAsync()
    {
        await _scope.DisposeAsync();
        await _provider.DisposeAsync();
    }

    protected async Task StartAsync()
    {
        _provider = LoyaltySetup.InMemoryProvider();
        _scope = _provider.CreateAsyncScope();
        (Loyalty, var members) = await LoyaltySetup.CreateAsync(_scope.ServiceProvider, 1);
        Member = members[0];
    }
}

/// <summary>
/// In-memory earn postings on one thread through LoyaltyManager.EarnAsync — idempotency check, lot, account
/// balances, event, segment notification — against appending the points to a List&lt;long&gt;.
/// </summary>
[MemoryDiagnoser]
[ShortRunJob]
public class LoyaltyEarnBenchmarks : InMemoryLoyaltyBenchmark
{
    private const int Postings = 4096;
    private long _next;

    [GlobalSetup]
    public Task SetupAsync() => StartAsync();

    [Benchmark(Baseline = true, OperationsPerInvoke = Postings)]
    public List<long> ListAppend()
    {
        var list = new List<long>();
        for (var i = 0; i < Postings; i++)
        {
            list.Add(1 + (i & 7));
        }

        return list;
    }

    [Benchmark(OperationsPerInvoke = Postings)]
    public async Task<LedgerEntry?> EarnPostings()
    {
        LedgerEntry? last = null;
        for (var i = 0; i < Postings; i++)
        {
            // Every key is new, so every call checks it and posts.
            last = await Loyalty.EarnAsync(Member, 1 + (i & 7), "k" + (++_next).ToString(CultureInfo.InvariantCulture));
        }

        return last;
    }
}

/// <summary>Reading a member's balance with 10, 1,000 and 100,000 ledger entries: the time must not grow with the ledger.</summary>
[MemoryDiagnoser]
[ShortRunJob]
public class LoyaltyBalanceBenchmarks : InMemoryLoyaltyBenchmark
{
    private const int Reads = 1024;
    private readonly ConcurrentDictionary<Guid, long> _balances = new();

    [Params(10, 1_000, 100_000)]
    public int Entries { get; set; }

    [GlobalSetup]
    public async Task SetupAsync()
    {
        await StartAsync();
        for (var i = 0; i < Entries; i++)
        {
            await Loyalty.EarnAsync(Member, 5, "e" + i.ToString(CultureInfo.InvariantCulture));
        }

        _balances[Member] = (await Loyalty.GetBalanceAsync(Member))!.Balance;
    }

    [Benchmark(Baseline = true, OperationsPerInvoke = Reads)]
    public long DictionaryRead()
    {
        long balance = 0;
        for (var i = 0; i < Reads; i++)
        {
            _balances.TryGetValue(Member, out balance);
        }

        return balance;
    }

    [Benchmark(OperationsPerInvoke = Reads)]
    public async Task<long> GetBalance()
    {
        long balance = 0;
        for (var i = 0; i < Reads; i++)
        {
            balance = (await Loyalty.GetBalanceAsync(Member))!.Balance;
        }

        return balance;
    }
}

/// <summary>
/// Single postings on SQLite (a WAL file): LoyaltyManager.EarnAsync, each in its own transaction, against
/// hand-written SQL doing the same writes per posting (lock the account, check the key, insert the entry and the
/// lot, update the account, commit) on prepared commands. Members rotate over 1,000 accounts. Crm.Kit runs twice:
/// with the context registered by <c>AddDbContext</c> (a new context per scope, as in the other benchmarks) and by
/// <c>AddDbContextPool</c>, which EF Core recommends for hot paths. The same statements also run on SQLite's C API
/// (<see cref="SqliteCApi"/>), the floor any .NET code has on this SQLite and disk.
/// </summary>
[MemoryDiagnoser]
// Every posting waits for the disk at commit, and this disk's flush time wanders: ten iterations, not three.
[SimpleJob(launchCount: 1, warmupCount: 3, iterationCount: 10, id: "Postings")]
public class SqliteLoyaltyPostingBenchmarks
{
    private const int Postings = 256;
    private SqliteBenchDatabase _database = null!;
    private ServiceProvider _pooled = null!;
    private Guid[] _members = [];
    private Guid[] _accounts = [];
    private long _next;

    [GlobalSetup]
    public async Task SetupAsync()
    {
        _database = new SqliteBenchDatabase(b => b.AddLoyalty());
        await using var scope = _database.Provider.CreateAsyncScope();
        (var loyalty, _members) = await LoyaltySetup.CreateAsync(scope.ServiceProvider, 1000);
        _accounts = new Guid[_members.Length];
        for (var i = 0; i < _members.Length; i++)
        {
            _accounts[i] = (await loyalty.FindAccountAsync(_members[i]))!.Id;
        }

        var services = new ServiceCollection();
        services.AddDbContextPool<BenchmarkDbContext>(o => o.UseSqlite(_database.ConnectionString));
        services.AddCrmKit().AddEntityFrameworkStores<BenchmarkDbContext>().AddLoyalty();
        _pooled = services.BuildServiceProvider();
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _pooled.Dispose();
        _database.Dispose();
    }

    [Benchmark(Baseline = true, OperationsPerInvoke = Postings)]
    public void HandWrittenSql()
    {
        using var connection = new SqliteConnection(_database.ConnectionString);
        connection.Open();
        using var lockAccount = SqliteCommands.Create(connection, null, LoyaltySql.LockAccount, "$id");
        using var readAccount = SqliteCommands.Create(connection, null, LoyaltySql.ReadAccount, "$id");
        using var findKey = SqliteCommands.Create(connection, null, LoyaltySql.FindKey, "$a", "$k");
        using var insertEntry = SqliteCommands.Create(connection, null, LoyaltySql.InsertPartnerEntry, "$id", "$a", "$s", "$p", "$b", "$k", "$at");
        using var insertLot = SqliteCommands.Create(connection, null, LoyaltySql.InsertLot,
            "$id", "$a", "$p", "$at", "$x");
        using var updateAccount = SqliteCommands.Create(connection, null, LoyaltySql.UpdateAccountAfterPosting,
            "$v", "$b", "$l", "$s", "$at", "$id");
        for (var i = 0; i < Postings; i++)
        {
            var account = _accounts[(int)(++_next % _accounts.Length)].ToString().ToUpperInvariant();
            var key = "h" + _next.ToString(CultureInfo.InvariantCulture);
            var now = DateTimeOffset.UtcNow;
            using var transaction = connection.BeginTransaction();
            foreach (var command in new[] { lockAccount, readAccount, findKey, insertEntry, insertLot, updateAccount })
            {
                command.Transaction = transaction;
            }

            lockAccount.Parameters[0].Value = account;
            lockAccount.ExecuteNonQuery();
            readAccount.Parameters[0].Value = account;
            long version, balance, lifetime, count;
            using (var reader = readAccount.ExecuteReader())
            {
                reader.Read();
                (version, balance, lifetime, count) = (reader.GetInt64(0), reader.GetInt64(1), reader.GetInt64(2), reader.GetInt64(3));
            }

            findKey.Parameters[0].Value = account;
            findKey.Parameters[1].Value = key;
            if (findKey.ExecuteScalar() is not null)
            {
                continue;
            }

            var points = 1 + (i & 7);
            var id = Guid.CreateVersion7(now).ToString().ToUpperInvariant();
            SqliteCommands.Set(insertEntry, id, account, count + 1, points, balance + points, key, now.UtcTicks);
            insertEntry.ExecuteNonQuery();
            SqliteCommands.Set(insertLot, id, account, points, now.UtcTicks, now.AddMonths(24).UtcTicks);
            insertLot.ExecuteNonQuery();
            SqliteCommands.Set(updateAccount, version, balance + points, lifetime + points, count + 1, now.UtcTicks, account);
            updateAccount.ExecuteNonQuery();
            transaction.Commit();
        }
    }

    /// <summary>The same statements as <see cref="HandWrittenSql"/> on SQLite's C API: what SQLite alone costs here.</summary>
    [Benchmark(OperationsPerInvoke = Postings)]
    public void SqliteCApi()
    {
        using var database = new NativeSqlite(_database.Path);
        using var begin = database.Prepare("BEGIN");
        using var commit = database.Prepare("COMMIT");
        using var lockAccount = database.Prepare(LoyaltySql.LockAccount);
        using var readAccount = database.Prepare(LoyaltySql.ReadAccount);
        using var findKey = database.Prepare(LoyaltySql.FindKey);
        using var insertEntry = database.Prepare(LoyaltySql.InsertPartnerEntry);
        using var insertLot = database.Prepare(LoyaltySql.InsertLot);
        using var updateAccount = database.Prepare(LoyaltySql.UpdateAccountAfterPosting);
        for (var i = 0; i < Postings; i++)
        {
            var account = _accounts[(int)(++_next % _accounts.Length)].ToString().ToUpperInvariant();
            var key = "n" + _next.ToString(CultureInfo.InvariantCulture);
            var now = DateTimeOffset.UtcNow;
            begin.Run();
            lockAccount.Bind(1, account).Run();
            readAccount.Bind(1, account).Step();
            var (version, balance, lifetime, count) = (readAccount.Int64(0), readAccount.Int64(1), readAccount.Int64(2), readAccount.Int64(3));
            readAccount.Reset();
            var known = findKey.Bind(1, account).Bind(2, key).Step();
            findKey.Reset();
            if (!known)
            {
                var points = 1 + (i & 7);
                var id = Guid.CreateVersion7(now).ToString().ToUpperInvariant();
                insertEntry.Bind(1, id).Bind(2, account).Bind(3, count + 1).Bind(4, points).Bind(5, balance + points).Bind(6, key).Bind(7, now.UtcTicks).Run();
                insertLot.Bind(1, id).Bind(2, account).Bind(3, points).Bind(4, now.UtcTicks).Bind(5, now.AddMonths(24).UtcTicks).Run();
                updateAccount.Bind(1, version).Bind(2, balance + points).Bind(3, lifetime + points).Bind(4, count + 1).Bind(5, now.UtcTicks).Bind(6, account).Run();
            }

            commit.Run();
        }
    }

    [Benchmark(OperationsPerInvoke = Postings)]
    public Task CrmKitEarn() => EarnAsync(_database.Provider, "c");

    [Benchmark(OperationsPerInvoke = Postings)]
    public Task CrmKitEarnPooledContext() => EarnAsync(_pooled, "p");

    /// <summary>One posting per scope, as a request would make it; keys are prefixed per row so rows never repeat each other's.</summary>
    private async Task EarnAsync(ServiceProvider provider, string keyPrefix)
    {
        for (var i = 0; i < Postings; i++)
        {
            await using var scope = provider.CreateAsyncScope();
            await scope.ServiceProvider.GetRequiredService<LoyaltyManager>()
                .EarnAsync(_members[(int)(++_next % _members.Length)], 1 + (i & 7), keyPrefix + _next.ToString(CultureInfo.InvariantCulture));
        }
    }
}

/// <summary>
/// A batched import of 100,000 point lines (10 for each of 10,000 members, the members taking turns) into SQLite:
/// LoyaltyManager.ImportAsync (validation, grouping by account, batches of 2,000 per transaction, lock, key check,
/// bulk insert of entries and lots, account updates) against hand-written ADO.NET doing the same writes in the same
/// order on prepared commands in transactions of 2,000 lines. Each iteration imports new keys into the same
/// database, and the same writes also run on SQLite's C API (<see cref="SqliteCApi"/>), the floor under any .NET
/// code. Throughput is 100,000 divided by the mean.
/// </summary>
[MemoryDiagnoser]
[SimpleJob(launchCount: 1, warmupCount: 1, iterationCount: 3, invocationCount: 1, id: "Import")]
public class SqliteLoyaltyImportBenchmarks
{
    private const int Members = 10_000;
    private const int Lines = 100_000;
    private SqliteBenchDatabase _database = null!;
    private Guid[] _members = [];
    private int _round;

    [GlobalSetup]
    public async Task SetupAsync()
    {
        _database = new SqliteBenchDatabase(b => b.AddLoyalty());
        await using var scope = _database.Provider.CreateAsyncScope();
        (_, _members) = await LoyaltySetup.CreateAsync(scope.ServiceProvider, Members);
    }

    [GlobalCleanup]
    public void Cleanup() => _database.Dispose();

    [Benchmark(Baseline = true)]
    public void HandWrittenSql()
    {
        var round = "h" + (++_round).ToString(CultureInfo.InvariantCulture) + "-";
        var earnedAt = DateTimeOffset.UtcNow.AddDays(-30);
        using var connection = new SqliteConnection(_database.ConnectionString);
        connection.Open();
        var accounts = new Dictionary<string, (string Id, long Version, long Balance, long Lifetime, long Count)>();
        using (var read = connection.CreateCommand())
        {
            read.CommandText = LoyaltySql.ReadAccounts;
            using var reader = read.ExecuteReader();
            while (reader.Read())
            {
                accounts[reader.GetString(0)] = (reader.GetString(1), reader.GetInt64(2), reader.GetInt64(3), reader.GetInt64(4), reader.GetInt64(5));
            }
        }

        var customerKeys = _members.Select(m => m.ToString().ToUpperInvariant()).ToArray();

        // Written account by account, each account's lines in their order, as ImportAsync writes them: the ledger's
        // indexes lead with the account, so neighbouring accounts share index pages within a transaction.
        var order = Enumerable.Range(0, Lines).OrderBy(i => accounts[customerKeys[i % Members]].Id, StringComparer.Ordinal).ToArray();
        for (var start = 0; start < Lines; start += LoyaltyManager.ImportBatchSize)
        {
            using var transaction = connection.BeginTransaction();
            using var findKey = SqliteCommands.Create(connection, transaction, LoyaltySql.FindKey, "$a", "$k");
            using var insertEntry = SqliteCommands.Create(connection, transaction, LoyaltySql.InsertLegacyEntry, "$id", "$a", "$s", "$p", "$b", "$k", "$at");
            using var insertLot = SqliteCommands.Create(connection, transaction, LoyaltySql.InsertLot,
                "$id", "$a", "$p", "$at", "$x");
            using var updateAccount = SqliteCommands.Create(connection, transaction, LoyaltySql.UpdateAccountAfterImport,
                "$v", "$b", "$l", "$s", "$id");
            var touched = new HashSet<string>();
            for (var line = start; line < start + LoyaltyManager.ImportBatchSize; line++)
            {
                var i = order[line];
                var customer = customerKeys[i % Members];
                var (id, version, balance, lifetime, count) = accounts[customer];
                var key = round + i.ToString(CultureInfo.InvariantCulture);
                findKey.Parameters[0].Value = id;
                findKey.Parameters[1].Value = key;
                if (findKey.ExecuteScalar() is not null)
                {
                    continue;
                }

                var points = 1 + (i % 50);
                var entryId = Guid.CreateVersion7().ToString().ToUpperInvariant();
                SqliteCommands.Set(insertEntry, entryId, id, count + 1, points, balance + points, key, earnedAt.UtcTicks);
                insertEntry.ExecuteNonQuery();
                SqliteCommands.Set(insertLot, entryId, id, points, earnedAt.UtcTicks, earnedAt.AddMonths(24).UtcTicks);
                insertLot.ExecuteNonQuery();
                accounts[customer] = (id, version, balance + points, lifetime + points, count + 1);
                touched.Add(customer);
            }

            foreach (var customer in touched)
            {
                var (id, version, balance, lifetime, count) = accounts[customer];
                SqliteCommands.Set(updateAccount, version, balance, lifetime, count, id);
                updateAccount.ExecuteNonQuery();
                accounts[customer] = (id, version + 1, balance, lifetime, count);
            }

            transaction.Commit();
        }
    }

    /// <summary>The same writes as <see cref="HandWrittenSql"/> on SQLite's C API: what SQLite alone costs here.</summary>
    [Benchmark]
    public void SqliteCApi()
    {
        var round = "n" + (++_round).ToString(CultureInfo.InvariantCulture) + "-";
        var earnedAt = DateTimeOffset.UtcNow.AddDays(-30);
        using var database = new NativeSqlite(_database.Path);
        var accounts = new Dictionary<string, (string Id, long Version, long Balance, long Lifetime, long Count)>();
        using (var read = database.Prepare(LoyaltySql.ReadAccounts))
        {
            while (read.Step())
            {
                accounts[read.Text(0)] = (read.Text(1), read.Int64(2), read.Int64(3), read.Int64(4), read.Int64(5));
            }
        }

        var customerKeys = _members.Select(m => m.ToString().ToUpperInvariant()).ToArray();
        var order = Enumerable.Range(0, Lines).OrderBy(i => accounts[customerKeys[i % Members]].Id, StringComparer.Ordinal).ToArray();
        using var begin = database.Prepare("BEGIN");
        using var commit = database.Prepare("COMMIT");
        using var findKey = database.Prepare(LoyaltySql.FindKey);
        using var insertEntry = database.Prepare(LoyaltySql.InsertLegacyEntry);
        using var insertLot = database.Prepare(LoyaltySql.InsertLot);
        using var updateAccount = database.Prepare(LoyaltySql.UpdateAccountAfterImport);
        for (var start = 0; start < Lines; start += LoyaltyManager.ImportBatchSize)
        {
            begin.Run();
            var touched = new HashSet<string>();
            for (var line = start; line < start + LoyaltyManager.ImportBatchSize; line++)
            {
                var i = order[line];
                var customer = customerKeys[i % Members];
                var (id, version, balance, lifetime, count) = accounts[customer];
                var key = round + i.ToString(CultureInfo.InvariantCulture);
                var known = findKey.Bind(1, id).Bind(2, key).Step();
                findKey.Reset();
                if (known)
                {
                    continue;
                }

                var points = 1 + (i % 50);
                var entryId = Guid.CreateVersion7().ToString().ToUpperInvariant();
                insertEntry.Bind(1, entryId).Bind(2, id).Bind(3, count + 1).Bind(4, points).Bind(5, balance + points).Bind(6, key).Bind(7, earnedAt.UtcTicks).Run();
                insertLot.Bind(1, entryId).Bind(2, id).Bind(3, points).Bind(4, earnedAt.UtcTicks).Bind(5, earnedAt.AddMonths(24).UtcTicks).Run();
                accounts[customer] = (id, version, balance + points, lifetime + points, count + 1);
                touched.Add(customer);
            }

            foreach (var customer in touched)
            {
                var (id, version, balance, lifetime, count) = accounts[customer];
                updateAccount.Bind(1, version).Bind(2, balance).Bind(3, lifetime).Bind(4, count).Bind(5, id).Run();
                accounts[customer] = (id, version + 1, balance, lifetime, count);
            }

            commit.Run();
        }
    }

    [Benchmark]
    public async Task<PointsImportResult> CrmKitImport()
    {
        var round = "c" + (++_round).ToString(CultureInfo.InvariantCulture) + "-";
        var earnedAt = DateTimeOffset.UtcNow.AddDays(-30);
        var lines = Enumerable.Range(0, Lines)
            .Select(i => new PointsImport(_members[i % Members], 1 + (i % 50), round + i.ToString(CultureInfo.InvariantCulture), earnedAt, "legacy"))
            .ToList();
        await using var scope = _database.Provider.CreateAsyncScope();
        return await scope.ServiceProvider.GetRequiredService<LoyaltyManager>().ImportAsync(lines);
    }
}

/// <summary>
/// The SQL of the hand-written baselines, shared by their ADO.NET and C-API versions. SQLite numbers named parameters
/// by first appearance, so the C API binds <c>$id</c>, <c>$a</c>, … by position in that order.
/// </summary>
internal static class LoyaltySql
{
    public const string LockAccount = "UPDATE crm_loyalty_accounts SET Version = Version WHERE Id = $id AND TenantId = 'default'";

    public const string ReadAccount = "SELECT Version, Balance, LifetimePoints, EntryCount FROM crm_loyalty_accounts WHERE Id = $id AND TenantId = 'default'";

    public const string ReadAccounts = "SELECT CustomerId, Id, Version, Balance, LifetimePoints, EntryCount FROM crm_loyalty_accounts WHERE TenantId = 'default'";

    public const string FindKey = "SELECT 1 FROM crm_loyalty_entries WHERE TenantId = 'default' AND AccountId = $a AND IdempotencyKey = $k";

    public const string InsertPartnerEntry = InsertEntry + "'partner', 0, '0.0', 0)";

    public const string InsertLegacyEntry = InsertEntry + "'legacy', 0, '0.0', 0)";

    public const string InsertLot =
        "INSERT INTO crm_loyalty_lots (Id, TenantId, AccountId, Points, Remaining, Expired, Open, EarnedAt, AvailableAt, ExpiresAt) VALUES ($id, 'default', $a, $p, $p, 0, 1, $at, $at, $x)";

    public const string UpdateAccountAfterPosting =
        "UPDATE crm_loyalty_accounts SET Version = $v + 1, Balance = $b, LifetimePoints = $l, EntryCount = $s, PendingAsOf = $at WHERE Id = $id AND Version = $v";

    public const string UpdateAccountAfterImport =
        "UPDATE crm_loyalty_accounts SET Version = $v + 1, Balance = $b, LifetimePoints = $l, EntryCount = $s WHERE Id = $id AND Version = $v";

    // An earning entry up to its source, which each benchmark names.
    private const string InsertEntry =
        "INSERT INTO crm_loyalty_entries (Id, TenantId, AccountId, Sequence, Kind, Points, BalanceAfter, IdempotencyKey, At, Source, QualifyingPoints, QualifyingSpend, Shortfall) " +
        "VALUES ($id, 'default', $a, $s, 0, $p, $b, $k, $at, ";
}

/// <summary>Prepared-command helpers for the hand-written baselines.</summary>
internal static class SqliteCommands
{
    public static SqliteCommand Create(SqliteConnection connection, SqliteTransaction? transaction, string sql, params string[] parameters)
    {
        var command = connection.CreateCommand();
        command.Transaction = transaction;
        command.CommandText = sql;
        foreach (var name in parameters)
        {
            command.Parameters.Add(new SqliteParameter { ParameterName = name });
        }

        return command;
    }

    public static void Set(SqliteCommand command, params object[] values)
    {
        for (var i = 0; i < values.Length; i++)
        {
            command.Parameters[i].Value = values[i];
        }
    }
}
