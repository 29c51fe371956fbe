using Crm.Kit.Customers;
using Microsoft.Extensions.DependencyInjection;
using Xunit;

namespace Crm.Kit.Testing.Specification;

/// <summary>
/// The base of every specification test class. An adapter's test project derives from each area's class and
/// implements <see cref="AddStores"/>; every test then runs against that adapter through real DI. Tests are
/// virtual so an adapter can override one to adjust or skip it with a reason. Each test works in tenants of its
/// own, so tests never see each other's data even when they share one database.
/// </summary>
public abstract class CrmSpecification : IAsyncLifetime
{
    private readonly List<CrmTestHost> _hosts = [];

    /// <summary>The clock every host of this test uses, starting at 2026-03-01 09:00 UTC.</summary>
    protected ManualTimeProvider Clock { get; } = new(new DateTimeOffset(2026, 3, 1, 9, 0, 0, TimeSpan.Zero));

    /// <summary>A seeded data generator.</summary>
    protected CrmFaker Faker { get; } = new(seed: 20261122);

    /// <summary>The cancellation token of the running test.</summary>
    protected static CancellationToken Cancel => TestContext.Current.CancellationToken;

    /// <summary>
    /// Registers the adapter under test. Called once for every host a test creates; hosts of one test must
    /// share the same underlying data (one database), which tenant-isolation tests rely on.
    /// </summary>
    protected abstract void AddStores(CrmKitBuilder builder);

    /// <summary>Prepares the store (for example creates the schema). Runs before each test.</summary>
    public virtual ValueTask InitializeAsync() => ValueTask.CompletedTask;

    /// <summary>Disposes the hosts, then the store.</summary>
    public virtual async ValueTask DisposeAsync()
    {
        foreach (var host in _hosts)
        {
            await host.DisposeAsync();
        }

        GC.SuppressFinalize(this);
    }

    /// <summary>Creates a host acting for a tenant of this test (a fresh tenant id when none is given).</summary>
    protected CrmTestHost CreateHost(string? tenantId = null, Action<IServiceCollection>? configure = null)
    {
        tenantId ??= "tenant-" + Guid.NewGuid().ToString("N")[..12];
        var services = new ServiceCollection();
        services.AddSingleton<TimeProvider>(Clock);
        services.AddSingleton<ICrmTenantContext>(new FixedTenantContext(tenantId));
        services.AddSingleton<RecordedEvents>();
        services.AddSingleton<ICrmEventHandler<CrmEvent>>(sp => sp.GetRequiredService<RecordedEvents>());
        var builder = services.AddCrmKit();
        AddStores(builder);
        configure?.Invoke(services);
        var host = new CrmTestHost(services.BuildServiceProvider(new ServiceProviderOptions { ValidateScopes = true }), tenantId);
        _hosts.Add(host);
        return host;
    }

    /// <summary>Creates a customer from the faker, with the given changes.</summary>
    protected static Task<Customer> CreatePersonAsync(CrmTestHost host, CustomerDraft draft) => host.Customers.CreateAsync(draft, Cancel);
}
