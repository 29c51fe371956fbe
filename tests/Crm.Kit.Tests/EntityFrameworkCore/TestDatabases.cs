using Crm.Kit.Testing.Specification;
using Microsoft.Data.Sqlite;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Diagnostics;
using Microsoft.Extensions.DependencyInjection;

namespace Crm.Kit.Tests.EntityFrameworkCore;

/// <summary>A host application's own context, as a user would write it.</summary>
public sealed class TestCrmDbContext(DbContextOptions<TestCrmDbContext> options) : DbContext(options)
{
    protected override void OnModelCreating(ModelBuilder modelBuilder)
    {
        modelBuilder.ApplyCrmKitModel();
        modelBuilder.Entity<HostScore>().HasKey(s => new { s.TenantId, s.CustomerId });
    }
}

/// <summary>A table of the host's own, which a module-style segment field reads.</summary>
public sealed class HostScore
{
    public string TenantId { get; set; } = string.Empty;

    public Guid CustomerId { get; set; }

    public long Score { get; set; }
}

/// <summary>A database the EF specification classes run against, through the host's own context.</summary>
public abstract class EfTestDatabase : ISpecificationStore
{
    public abstract ValueTask InitializeAsync();

    public abstract void Configure(DbContextOptionsBuilder options);

    /// <summary>Registers the context with <c>AddDbContextPool</c>, so that scopes reuse context instances.</summary>
    public bool PooledContext { get; init; }

    public void AddStores(CrmKitBuilder builder)
    {
        if (PooledContext)
        {
            builder.Services.AddDbContextPool<TestCrmDbContext>(Configure);
        }
        else
        {
            builder.Services.AddDbContext<TestCrmDbContext>(Configure);
        }

        builder.AddEntityFrameworkStores<TestCrmDbContext>();
    }

    public abstract ValueTask DisposeAsync();
}

/// <summary>A temporary SQLite file, created per test class instance and deleted afterwards.</summary>
public sealed class SqliteTestDatabase : EfTestDatabase
{
    private readonly string _path = Path.Combine(Path.GetTempPath(), $"crmkit-test-{Guid.NewGuid():N}.db");

    // Without Microsoft.Data.Sqlite's connection pool: in the version pinned here (10.0.5) the pool can hand one
    // native connection to two concurrent opens (dotnet/efcore#39008, fixed upstream by #39009), and the
    // concurrency specifications then fail now and then with "cannot start a transaction within a transaction"
    // at BEGIN. docs/adapters.md tells hosts the same.
    private string ConnectionString => new SqliteConnectionStringBuilder { DataSource = _path, DefaultTimeout = 60, Pooling = false }.ToString();

    public override void Configure(DbContextOptionsBuilder options) =>
        options.UseSqlite(ConnectionString).ConfigureWarnings(w => w.Throw(RelationalEventId.MultipleCollectionIncludeWarning));

    public override async ValueTask InitializeAsync()
    {
        var options = new DbContextOptionsBuilder<TestCrmDbContext>();
        Configure(options);
        await using var context = new TestCrmDbContext(options.Options);
        await context.Database.EnsureCreatedAsync();
        // WAL lets readers run while a writer commits, as a production SQLite set-up would.
        await context.Database.ExecuteSqlRawAsync("PRAGMA journal_mode=WAL;");
    }

    public override ValueTask DisposeAsync()
    {
        SqliteConnection.ClearAllPools();
        foreach (var file in new[] { _path, _path + "-wal", _path + "-shm" })
        {
            File.Delete(file);
        }

        return ValueTask.CompletedTask;
    }
}

/// <summary>
/// The PostgreSQL database named by <c>CRMKIT_TEST_POSTGRES</c>. It is dropped and recreated once per test run;
/// tests then share it safely because each works in tenants of its own.
/// </summary>
public sealed class PostgresTestDatabase : EfTestDatabase
{
    public const string Variable = "CRMKIT_TEST_POSTGRES";
    private static readonly SemaphoreSlim SchemaGate = new(1, 1);
    private static bool _schemaReady;

    public static string? ConnectionString => Environment.GetEnvironmentVariable(Variable) is { Length: > 0 } value ? value : null;

    public override void Configure(DbContextOptionsBuilder options) => options.UseNpgsql(ConnectionString);

    public override async ValueTask InitializeAsync()
    {
        if (ConnectionString is null)
        {
            Assert.Skip($"PostgreSQL tests need a server: set {Variable} to a connection string (.ci/run does this).");
        }

        await SchemaGate.WaitAsync();
        try
        {
            if (!_schemaReady)
            {
                var options = new DbContextOptionsBuilder<TestCrmDbContext>();
                Configure(options);
                await using var context = new TestCrmDbContext(options.Options);
                await context.Database.EnsureDeletedAsync();
                await context.Database.EnsureCreatedAsync();
                _schemaReady = true;
            }
        }
        finally
        {
            SchemaGate.Release();
        }
    }

    public override ValueTask DisposeAsync() => ValueTask.CompletedTask;
}
