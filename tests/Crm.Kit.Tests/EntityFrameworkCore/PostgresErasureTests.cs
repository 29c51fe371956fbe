using Crm.Kit.Privacy;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Infrastructure;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;

namespace Crm.Kit.Tests.EntityFrameworkCore;

/// <summary>
/// Erasure on PostgreSQL, which keeps deleted and updated rows in its table files as dead tuples: after
/// <see cref="CustomerPrivacy.EraseAsync"/> and the documented maintenance call
/// (<see cref="ErasedDataPurge.PurgeErasedDataAsync"/>), none of the erased values is in the files of any table,
/// TOAST table or index of the database. Runs in a database of its own, since the maintenance locks every table.
/// </summary>
public sealed class PostgresErasureTests : IAsyncLifetime
{
    private string _connectionString = string.Empty;

    private static CancellationToken Cancel => TestContext.Current.CancellationToken;

    public async ValueTask InitializeAsync()
    {
        if (PostgresTestDatabase.ConnectionString is not { } connection)
        {
            Assert.Skip($"PostgreSQL tests need a server: set {PostgresTestDatabase.Variable} to a connection string (.ci/run does this).");
            return;
        }

        _connectionString = new NpgsqlConnectionStringBuilder(connection) { Database = $"crmkit_erasure_{Guid.NewGuid():N}", Pooling = false }.ToString();
        await using var provider = Services();
        await provider.GetRequiredService<TestCrmDbContext>().Database.EnsureCreatedAsync(Cancel);
    }

    public async ValueTask DisposeAsync()
    {
        if (_connectionString.Length > 0)
        {
            await using var provider = Services();
            await provider.GetRequiredService<TestCrmDbContext>().Database.EnsureDeletedAsync();
        }
    }

    private ServiceProvider Services()
    {
        var services = new ServiceCollection();
        services.AddDbContext<TestCrmDbContext>(o => o.UseNpgsql(_connectionString));
        services.AddCrmKit().AddServiceCases().AddPipeline().AddFeedback().AddEntityFrameworkStores<TestCrmDbContext>();
        return services.BuildServiceProvider();
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task After_erasure_and_the_purge_no_erased_value_is_in_the_table_files(bool withMerge)
    {
        await using var provider = Services();
        await using var scope = provider.CreateAsyncScope();
        var database = scope.ServiceProvider.GetRequiredService<TestCrmDbContext>().Database;
        var customerId = await ErasureScenario.RecordAsync(scope.ServiceProvider, withMerge, Cancel);
        Assert.NotEmpty(ErasureScenario.Find(await RelationFilesAsync(database)));

        await scope.ServiceProvider.GetRequiredService<CustomerPrivacy>().EraseAsync(customerId, Cancel);
        var tables = await database.PurgeErasedDataAsync(Cancel);

        Assert.Contains("crm_customers", tables);
        var left = ErasureScenario.Find(await RelationFilesAsync(database));
        Assert.True(left.Count == 0, "Readable after erasure and purge: " + string.Join("; ", left));
    }

    /// <summary>The on-disk bytes of every table, TOAST table and index in the database, after a checkpoint.</summary>
    private static async Task<List<(string Name, byte[] Bytes)>> RelationFilesAsync(DatabaseFacade database)
    {
        await database.ExecuteSqlRawAsync("CHECKPOINT;", Cancel);
        var connection = (NpgsqlConnection)database.GetDbConnection();
        await connection.OpenAsync(Cancel);
        try
        {
            await using var command = new NpgsqlCommand(
                """
                SELECT c.relname, pg_read_binary_file(pg_relation_filepath(c.oid), 0, (pg_stat_file(pg_relation_filepath(c.oid), true)).size, true)
                FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                WHERE c.relkind IN ('r', 't', 'i') AND n.nspname IN ('public', 'pg_toast') AND pg_relation_filepath(c.oid) IS NOT NULL
                """,
                connection);
            var files = new List<(string, byte[])>();
            await using var reader = await command.ExecuteReaderAsync(Cancel);
            while (await reader.ReadAsync(Cancel))
            {
                if (!await reader.IsDBNullAsync(1, Cancel))
                {
                    files.Add((reader.GetString(0), (byte[])reader.GetValue(1)));
                }
            }

            return files;
        }
        finally
        {
            await connection.CloseAsync();
        }
    }
}
