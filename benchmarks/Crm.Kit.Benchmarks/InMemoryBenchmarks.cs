using System.Collections.Concurrent;
using BenchmarkDotNet.Attributes;
using Crm.Kit.Customers;
using Microsoft.Extensions.DependencyInjection;

namespace Crm.Kit.Benchmarks;

/// <summary>CustomerManager.FindByIdAsync on the in-memory store against a raw ConcurrentDictionary lookup of the same customers.</summary>
[MemoryDiagnoser]
[ShortRunJob]
public class GetByIdBenchmarks
{
    private const int Lookups = 4096;
    private readonly ConcurrentDictionary<Guid, Customer> _dictionary = new();
    private ServiceProvider _provider = null!;
    private CustomerManager _customers = null!;
    private ICustomerStore _store = null!;
    private Guid[] _ids = [];

    [GlobalSetup]
    public async Task SetupAsync()
    {
        (_provider, var scope, _customers) = Data.InMemory();
        _store = scope.ServiceProvider.GetRequiredService<ICustomerStore>();
        var loaded = await Data.LoadAsync(_customers, 100_000);
        foreach (var customer in loaded)
        {
            _dictionary[customer.Id] = customer;
        }

        var random = new Random(1);
        _ids = Enumerable.Range(0, Lookups).Select(_ => loaded[random.Next(loaded.Count)].Id).ToArray();
    }

    [GlobalCleanup]
    public void Cleanup() => _provider.Dispose();

    [Benchmark(Baseline = true, OperationsPerInvoke = Lookups)]
    public Customer? ConcurrentDictionaryTryGetValue()
    {
        Customer? found = null;
        foreach (var id in _ids)
        {
            _dictionary.TryGetValue(id, out found);
        }

        return found;
    }

    /// <summary>What hand-written code does with a lookup: find the record, then read it (here, whether it was merged away).</summary>
    [Benchmark(OperationsPerInvoke = Lookups)]
    public Customer? ConcurrentDictionaryThenReadRecord()
    {
        Customer? found = null;
        foreach (var id in _ids)
        {
            if (_dictionary.TryGetValue(id, out var customer) && customer.MergedIntoId is null)
            {
                found = customer;
            }
        }

        return found;
    }

    [Benchmark(OperationsPerInvoke = Lookups)]
    public Customer? InMemoryStoreFindById()
    {
        Customer? found = null;
        foreach (var id in _ids)
        {
            var lookup = _store.FindByIdAsync("default", id, CancellationToken.None);
            found = lookup.IsCompletedSuccessfully ? lookup.Result : lookup.AsTask().GetAwaiter().GetResult();
        }

        return found;
    }

    [Benchmark(OperationsPerInvoke = Lookups)]
    public Customer? CustomerManagerFindById()
    {
        Customer? found = null;
        foreach (var id in _ids)
        {
            var lookup = _customers.FindByIdAsync(id);
            found = lookup.IsCompletedSuccessfully ? lookup.Result : lookup.AsTask().GetAwaiter().GetResult();
        }

        return found;
    }
}

/// <summary>CustomerManager.FindByEmailAsync on the in-memory store at 10k and 1M customers: the cost must not grow with the tenant.</summary>
[MemoryDiagnoser]
[ShortRunJob]
public class GetByEmailBenchmarks
{
    private const int Lookups = 4096;
    private ServiceProvider _provider = null!;
    private CustomerManager _customers = null!;
    private string[] _emails = [];

    [Params(10_000, 1_000_000)]
    public int Customers { get; set; }

    [GlobalSetup]
    public async Task SetupAsync()
    {
        (_provider, _, _customers) = Data.InMemory();
        var loaded = await Data.LoadAsync(_customers, Customers);
        var random = new Random(1);
        // Looked up as a person types them: mixed case, so normalisation is part of the measured cost.
        _emails = Enumerable.Range(0, Lookups).Select(_ => loaded[random.Next(loaded.Count)].Emails[0].Address.ToUpperInvariant()).ToArray();
    }

    [GlobalCleanup]
    public void Cleanup() => _provider.Dispose();

    [Benchmark(OperationsPerInvoke = Lookups)]
    public int FindByEmail()
    {
        var found = 0;
        foreach (var email in _emails)
        {
            var lookup = _customers.FindByEmailAsync(email);
            found += (lookup.IsCompletedSuccessfully ? lookup.Result : lookup.AsTask().GetAwaiter().GetResult()).Count;
        }

        return found;
    }
}
