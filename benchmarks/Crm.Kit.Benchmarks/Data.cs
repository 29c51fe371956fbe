using Crm.Kit.Customers;
using Crm.Kit.Testing;
using Microsoft.Extensions.DependencyInjection;

namespace Crm.Kit.Benchmarks;

/// <summary>Loads CrmFaker customers through the public API, in batches.</summary>
internal static class Data
{
    public static async Task<List<Customer>> LoadAsync(CustomerManager customers, int count, int seed = 7)
    {
        var all = new List<Customer>(count);
        await LoadAsync(customers, count, all.AddRange, seed);
        return all;
    }

    /// <summary>Loads customers and hands each created batch to <paramref name="created"/> (which may drop it).</summary>
    public static async Task LoadAsync(CustomerManager customers, int count, Action<IReadOnlyList<Customer>> created, int seed = 7)
    {
        foreach (var batch in Batches(count, seed))
        {
            created(await customers.CreateManyAsync(batch));
        }
    }

    /// <summary>Loads customers through a fresh scope of <paramref name="provider"/> per batch, as an import job would.</summary>
    public static async Task LoadAsync(int count, Action<IReadOnlyList<Customer>> created, IServiceProvider provider, int seed = 7)
    {
        foreach (var batch in Batches(count, seed))
        {
            await using var scope = provider.CreateAsyncScope();
            created(await scope.ServiceProvider.GetRequiredService<CustomerManager>().CreateManyAsync(batch));
        }
    }

    /// <summary>The same CrmFaker people for the same seed, in batches of the largest size an import takes.</summary>
    private static IEnumerable<List<CustomerDraft>> Batches(int count, int seed)
    {
        var faker = new CrmFaker(seed);
        for (var done = 0; done < count; done += CustomerManager.MaxBatchSize)
        {
            yield return Enumerable.Range(0, Math.Min(CustomerManager.MaxBatchSize, count - done))
                .Select(i => faker.Person() with { ExternalReference = $"bench-{done + i}" })
                .ToList();
        }
    }

    public static (ServiceProvider Provider, AsyncServiceScope Scope, CustomerManager Customers) InMemory()
    {
        var services = new ServiceCollection();
        services.AddCrmKit();
        var provider = services.BuildServiceProvider();
        var scope = provider.CreateAsyncScope();
        return (provider, scope, scope.ServiceProvider.GetRequiredService<CustomerManager>());
    }
}
