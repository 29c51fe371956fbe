using Crm.Kit.Privacy;
using Microsoft.Data.Sqlite;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;

namespace Crm.Kit.Tests.EntityFrameworkCore;

/// <summary>
/// Erasure on SQLite leaves nothing readable: once <see cref="CustomerPrivacy.EraseAsync"/> has returned and every
/// connection is closed, a plain byte search of the database file and of its <c>-wal</c> and <c>-journal</c> finds
/// none of the erased values — including the copies earlier updates of the same rows left in free space.
/// </summary>
public sealed class SqliteErasureTests : IAsyncLifetime
{
    private readonly string _path = Path.Combine(Path.GetTempPath(), $"crmkit-erasure-{Guid.NewGuid():N}.db");

    private static CancellationToken Cancel => TestContext.Current.CancellationToken;

    public async ValueTask InitializeAsync()
    {
        await using var provider = Services();
        await using var scope = provider.CreateAsyncScope();
        var context = scope.ServiceProvider.GetRequiredService<TestCrmDbContext>();
        await context.Database.EnsureCreatedAsync(Cancel);
    }

    public ValueTask DisposeAsync()
    {
        SqliteConnection.ClearAllPools();
        foreach (var file in Files())
        {
            File.Delete(file);
        }

        return ValueTask.CompletedTask;
    }

    private IEnumerable<string> Files() => [_path, _path + "-wal", _path + "-shm", _path + "-journal"];

    private ServiceProvider Services()
    {
        var services = new ServiceCollection();
        services.AddDbContext<TestCrmDbContext>(o => o.UseSqlite(new SqliteConnectionStringBuilder { DataSource = _path, Pooling = false }.ToString()));
        services.AddCrmKit().AddServiceCases().AddPipeline().AddFeedback().AddEntityFrameworkStores<TestCrmDbContext>();
        return services.BuildServiceProvider();
    }

    [Theory]
    [InlineData(false, "WAL")]
    [InlineData(true, "WAL")]
    [InlineData(false, "DELETE")]
    [InlineData(true, "TRUNCATE")]
    public async Task After_erasure_no_erased_value_is_in_the_database_files(bool withMerge, string journalMode)
    {
        await using (var provider = Services())
        {
            await using var scope = provider.CreateAsyncScope();
            var pragma = journalMode switch { "WAL" => "PRAGMA journal_mode=WAL;", "DELETE" => "PRAGMA journal_mode=DELETE;", _ => "PRAGMA journal_mode=TRUNCATE;" };
            await scope.ServiceProvider.GetRequiredService<TestCrmDbContext>().Database.ExecuteSqlRawAsync(pragma, Cancel);
            var customerId = await ErasureScenario.RecordAsync(scope.ServiceProvider, withMerge, Cancel);

            // The values are there before erasure: the search below can find them.
            Assert.NotEmpty(Found());
            await scope.ServiceProvider.GetRequiredService<CustomerPrivacy>().EraseAsync(customerId, Cancel);

            // Erasing again is allowed (what a caller does when the first call could not empty the log) and changes nothing.
            await scope.ServiceProvider.GetRequiredService<CustomerPrivacy>().EraseAsync(customerId, Cancel);
        }

        SqliteConnection.ClearAllPools();
        var left = Found();
        Assert.True(left.Count == 0, "Readable after erasure: " + string.Join("; ", left));
    }

    private List<string> Found() =>
        ErasureScenario.Find(Files().Where(File.Exists).Select(f => (Path.GetExtension(f), ReadShared(f))));

    private static byte[] ReadShared(string path)
    {
        using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
        using var copy = new MemoryStream();
        stream.CopyTo(copy);
        return copy.ToArray();
    }
}
