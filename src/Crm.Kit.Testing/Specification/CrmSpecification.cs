using Crm.Kit.Customers;
using Microsoft.Extensions.DependencyInjection;
using Xunit;

namespace Crm.Kit.Testing.Specification;

/// <summary>
/// The store an adapter puts under test: how to register it, and how to prepare and clean up the data behind it.
/// One instance serves one test; every host the test creates must see the same data (one database), which the
/// tenant-isolation tests rely on.
/// </summary>
public interface ISpecificationStore : IAsyncDisposable
{
    /// <summary>Prepares the backing data (for example creates a database and its schema). Runs before the test.</summary>
    ValueTask InitializeAsync();

    /// <summary>Registers the adapter's stores on a host's Crm.Kit builder. Called once for every host the test creates.</summary>
    void AddStores(CrmKitBuilder builder);
}

/// <summary>
/// The base of every specification test class. An adapter's test project derives from each area's class and
/// implements <see cref="CreateStore"/>; every test then runs against that adapter through real DI. Tests are
/// virtual so an adapter can override one to adjust or skip it with a reason. Each test works in tenants of its
/// own, so tests never see each other's data even when they share one database.
/// </summary>
public abstract class CrmSpecification : IAsyncLifetime
{
    private readonly List<CrmTestHost> _hosts = [];
    private ISpecificationStore? _store;

    /// <summary>The clock every host of this test uses, starting at 2026-03-01 09:00 UTC.</summary>
    protected ManualTimeProvider Clock { get; } = new(new DateTimeOffset(2026, 3, 1, 9, 0, 0, TimeSpan.Zero));

    /// <summary>A seeded data generator.</summary>
    protected CrmFaker Faker { get; } = new(seed: 20261122);

    /// <summary>The cancellation token of the running test.</summary>
    protected static CancellationToken Cancel => TestContext.Current.CancellationToken;

    /// <summary>Creates the store under test for one test.</summary>
    protected abstract ISpecificationStore CreateStore();

    /// <summary>Creates and prepares the store. Runs before each test.</summary>
    public virtual async ValueTask InitializeAsync()
    {
        _store = CreateStore();
        await _store.InitializeAsync();
    }

    /// <summary>Disposes the hosts, then the store.</summary>
    public virtual async ValueTask DisposeAsync()
    {
        foreach (var host in _hosts)
        {
            await host.DisposeAsync();
        }

        if (_store is not null)
        {
            await _store.DisposeAsync();
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
        (_store ?? throw new InvalidOperationException("The store is created in InitializeAsync; create hosts inside tests.")).AddStores(builder);
        configure?.Invoke(services);
        var host = new CrmTestHost(services.BuildServiceProvider(new ServiceProviderOptions { ValidateScopes = true }), tenantId);
        _hosts.Add(host);
        return host;
    }

    /// <summary>Creates a customer from the faker, with the given changes.</summary>
    protected static Task<Customer> CreatePersonAsync(CrmTestHost host, CustomerDraft draft) => host.Customers.CreateAsync(draft, Cancel);
}
