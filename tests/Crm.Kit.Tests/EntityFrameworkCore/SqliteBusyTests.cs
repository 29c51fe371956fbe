using Crm.Kit.Customers;
using Crm.Kit.Orders;
using Microsoft.Data.Sqlite;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;

namespace Crm.Kit.Tests.EntityFrameworkCore;

/// <summary>
/// A SQLite file another writer holds locked longer than the connection waits: Crm.Kit's writes fail with
/// <see cref="CrmStoreBusyException"/>, never SQLite's raw "database is locked", and nothing of them is written;
/// once the lock is released the same calls succeed.
/// </summary>
public sealed class SqliteBusyTests : IAsyncLifetime
{
    private readonly string _path = Path.Combine(Path.GetTempPath(), $"crmkit-busy-{Guid.NewGuid():N}.db");

    private static CancellationToken Cancel => TestContext.Current.CancellationToken;

    // A one-second budget keeps the test short; the default is 30 seconds.
    private string ConnectionString => new SqliteConnectionStringBuilder { DataSource = _path, Pooling = false, DefaultTimeout = 1 }.ToString();

    public async ValueTask InitializeAsync()
    {
        await using var provider = Services();
        var context = provider.GetRequiredService<TestCrmDbContext>();
        await context.Database.EnsureCreatedAsync(Cancel);
        await context.Database.ExecuteSqlRawAsync("PRAGMA journal_mode=WAL;", Cancel);
    }

    public ValueTask DisposeAsync()
    {
        SqliteConnection.ClearAllPools();
        foreach (var file in new[] { _path, _path + "-wal", _path + "-shm" })
        {
            File.Delete(file);
        }

        return ValueTask.CompletedTask;
    }

    private ServiceProvider Services()
    {
        var services = new ServiceCollection();
        services.AddDbContext<TestCrmDbContext>(o => o.UseSqlite(ConnectionString));
        services.AddCrmKit().AddEntityFrameworkStores<TestCrmDbContext>();
        return services.BuildServiceProvider();
    }

    [Fact]
    public async Task Writes_to_a_locked_database_fail_with_the_crm_exception_and_leave_nothing()
    {
        await using var provider = Services();
        await using var scope = provider.CreateAsyncScope();
        var customers = scope.ServiceProvider.GetRequiredService<CustomerManager>();
        var orders = scope.ServiceProvider.GetRequiredService<OrderManager>();
        var ana = await customers.CreateAsync(new CustomerDraft { FirstName = "Ana", Emails = [new EmailContact("ana@example.com")] }, Cancel);

        await using (var other = new SqliteConnection(ConnectionString))
        {
            await other.OpenAsync(Cancel);
            await using var held = (SqliteTransaction)await other.BeginTransactionAsync(Cancel);   // BEGIN IMMEDIATE: the write lock

            var create = await Assert.ThrowsAsync<CrmStoreBusyException>(() => customers.CreateAsync(new CustomerDraft { FirstName = "Ben" }, Cancel));
            Assert.IsType<SqliteException>(create.InnerException, exactMatch: false);
            await Assert.ThrowsAsync<CrmStoreBusyException>(() => customers.CreateManyAsync([new CustomerDraft { FirstName = "Cy" }], Cancel));
            await Assert.ThrowsAsync<CrmStoreBusyException>(() => customers.RecordConsentAsync(ana.Id, new ConsentRecord(ContactChannel.Email, ConsentPurpose.Marketing, true, DateTimeOffset.UtcNow, "form"), Cancel));
            await Assert.ThrowsAsync<CrmStoreBusyException>(() => orders.RecordAsync(new OrderDraft { CustomerId = ana.Id, Reference = "o-1", Currency = "USD", Lines = [new OrderLine("S", "Seeds", null, 1, 2m)] }, Cancel));
        }

        // Nothing of the refused calls was written; with the lock gone, the same calls succeed.
        Assert.Single((await customers.ListAsync(cancellationToken: Cancel)).Items);
        Assert.Null(await orders.FindByReferenceAsync("o-1", Cancel));
        Assert.False((await customers.GetByIdAsync(ana.Id, Cancel)).HasConsent(ContactChannel.Email, ConsentPurpose.Marketing));
        await customers.CreateAsync(new CustomerDraft { FirstName = "Ben" }, Cancel);
        await orders.RecordAsync(new OrderDraft { CustomerId = ana.Id, Reference = "o-1", Currency = "USD", Lines = [new OrderLine("S", "Seeds", null, 1, 2m)] }, Cancel);
        Assert.Equal(1, (await customers.GetByIdAsync(ana.Id, Cancel)).Metrics.OrderCount);
    }
}
