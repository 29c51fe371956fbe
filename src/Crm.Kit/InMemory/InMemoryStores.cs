using System.Runtime.CompilerServices;
using Crm.Kit.Customers;
using Crm.Kit.Interactions;
using Crm.Kit.Orders;

namespace Crm.Kit.InMemory;

/// <summary>The in-memory <see cref="ICustomerStore"/>: every lookup is a hash or sorted-set index, never a scan.</summary>
public sealed class InMemoryCustomerStore : ICustomerStore
{
    private readonly InMemoryTable<Customer, CustomerIndex> _table;
    private readonly InMemoryCrmDatabase _database;

    // The read by id is Crm.Kit's hottest path. It is written here, small and over concrete types, so that
    // CustomerManager can call it directly and the JIT can inline the whole read into the caller: measured,
    // every call layer left on the path cost more than the dictionary lookup itself (docs/benchmarks.md).
    // Remembering the last tenant turns the tenant lookup into a reference comparison; the holder is one
    // immutable object, so a reader never pairs one tenant's id with another tenant's rows.
    private LastTenant? _lastTenant;

    /// <summary>Creates the store over a database.</summary>
    public InMemoryCustomerStore(InMemoryCrmDatabase database)
    {
        ArgumentNullException.ThrowIfNull(database);
        _database = database;
        _table = new(database, database.Customers, nameof(Customer),
            c => c.Id, c => c.TenantId, c => c.Version, (index, c) => index.Add(c), (index, c) => index.Remove(c));
    }

    /// <inheritdoc />
    public ValueTask<Customer?> FindByIdAsync(string tenantId, Guid id, CancellationToken cancellationToken) =>
        new(Tenant(tenantId) is { } tenant && tenant.Rows.TryGetValue(id, out var customer) ? customer : null);

    /// <summary>
    /// Answers a read by id at once when it can without reading the customer: <see langword="true"/> with the
    /// customer when it was never merged away, or with <see langword="null"/> when there is none. Returns
    /// <see langword="false"/> for a customer that may have been merged away, which the caller resolves.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal bool TryFindLive(string tenantId, Guid id, out Customer? customer)
    {
        if (Tenant(tenantId) is not { } tenant || !tenant.Rows.TryGetValue(id, out customer))
        {
            customer = null;
            return true;
        }

        return !tenant.MergedAway.MayContain(id);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private LastTenant? Tenant(string tenantId)
    {
        var last = _lastTenant;
        if (last is not null && ReferenceEquals(last.TenantId, tenantId))
        {
            return last;
        }

        if (!_database.Customers.TryGetValue(tenantId, out var tenant))
        {
            return null;
        }

        return _lastTenant = new LastTenant(tenantId, tenant.Rows, tenant.Index.MergedAway);
    }

    private sealed record LastTenant(string TenantId, RowMap<Customer> Rows, MergedAwayIds MergedAway);

    /// <inheritdoc />
    public ValueTask<Customer?> FindByExternalReferenceAsync(string tenantId, string externalReference, CancellationToken cancellationToken)
    {
        var index = _table.Index(tenantId);
        lock (index)
        {
            return new(index.ExternalReferences.GetValueOrDefault(externalReference));
        }
    }

    /// <inheritdoc />
    public ValueTask<IReadOnlyList<Customer>> FindByEmailAsync(string tenantId, string normalizedEmail, CancellationToken cancellationToken)
    {
        var index = _table.Index(tenantId);
        lock (index)
        {
            return new(index.Emails.Get(normalizedEmail));
        }
    }

    /// <inheritdoc />
    public ValueTask<IReadOnlyList<Customer>> FindByPhoneAsync(string tenantId, string e164Phone, CancellationToken cancellationToken)
    {
        var index = _table.Index(tenantId);
        lock (index)
        {
            return new(index.Phones.Get(e164Phone));
        }
    }

    /// <inheritdoc />
    public ValueTask<IReadOnlyList<Customer>> FindByNamePrefixAsync(string tenantId, string foldedPrefix, int limit, CancellationToken cancellationToken)
    {
        var index = _table.Index(tenantId);
        lock (index)
        {
            IReadOnlyList<Customer> found = index.Names.From(new NameKey(foldedPrefix, 0, null))
                .TakeWhile(k => k.Key.StartsWith(foldedPrefix, StringComparison.Ordinal))
                .Take(limit)
                .Select(k => k.Customer!)
                .ToList();
            return new(found);
        }
    }

    /// <inheritdoc />
    public ValueTask<IReadOnlyList<Customer>> ListAsync(string tenantId, Guid? afterId, int limit, CancellationToken cancellationToken)
    {
        var index = _table.Index(tenantId);
        lock (index)
        {
            var ids = afterId is { } after ? index.Live.After(after) : index.Live.All();

            return new(_table.Resolve(tenantId, ids.Take(limit)));
        }
    }

    /// <inheritdoc />
    public IAsyncEnumerable<Customer> StreamAsync(string tenantId, CancellationToken cancellationToken) =>
        KeysetStream.ByIdAsync((after, limit, ct) => ListAsync(tenantId, after, limit, ct), c => c.Id, cancellationToken);

    /// <inheritdoc />
    public ValueTask<IReadOnlyList<Customer>> FindMergedIntoAsync(string tenantId, Guid survivorId, CancellationToken cancellationToken)
    {
        var index = _table.Index(tenantId);
        lock (index)
        {
            return new(index.MergedInto.TryGetValue(survivorId, out var merged) ? [.. merged] : []);
        }
    }

    /// <inheritdoc />
    public ValueTask CreateAsync(Customer customer, CancellationToken cancellationToken) =>
        _table.CreateAsync(Compact(customer), CheckReference, cancellationToken);

    /// <inheritdoc />
    public ValueTask CreateManyAsync(IReadOnlyList<Customer> customers, CancellationToken cancellationToken) =>
        _table.CreateManyAsync(customers.Select(Compact).ToList(), CheckReference, cancellationToken);

    /// <inheritdoc />
    public ValueTask UpdateAsync(Customer customer, long expectedVersion, CancellationToken cancellationToken) =>
        _table.UpdateAsync(Compact(customer), expectedVersion, CheckReference, cancellationToken);

    /// <inheritdoc />
    public ValueTask ConfirmVersionAsync(string tenantId, Guid id, long expectedVersion, CancellationToken cancellationToken) =>
        _table.ConfirmVersionAsync(tenantId, id, expectedVersion, cancellationToken);

    /// <summary>
    /// The copy to keep. Strings that many customers share (owner, city, region, country, labels, tags, consent
    /// sources, lifecycle reasons) point at one pooled instance: a million customers otherwise hold a million copies
    /// of "US". Names and postcodes point at the instance the tenant's stored customers already share, counted so
    /// that it goes with the last customer holding it (<see cref="SharedStrings"/>). Other strings (emails, phones,
    /// street lines) are kept as they are.
    /// </summary>
    private Customer Compact(Customer customer)
    {
        // Shared strings are read under the index lock, which its writers hold; lookups wait on it, so it covers only
        // these few reads and copies. A string shared here whose last holder goes before this customer is stored is
        // simply counted again.
        var index = _table.Index(customer.TenantId);
        string? firstName, lastName;
        var addresses = customer.Addresses.Count == 0 ? [] : new PostalAddress[customer.Addresses.Count];
        lock (index)
        {
            firstName = index.Shared.Share(customer.FirstName);
            lastName = index.Shared.Share(customer.LastName);
            for (var i = 0; i < addresses.Length; i++)
            {
                var address = customer.Addresses[i];
                addresses[i] = address with
                {
                    City = Intern(address.City)!,
                    Region = Intern(address.Region),
                    PostalCode = index.Shared.Share(address.PostalCode),
                    CountryCode = Intern(address.CountryCode)!,
                    Label = Intern(address.Label),
                };
            }
        }

        return customer with
        {
            FirstName = firstName,
            LastName = lastName,
            OwnerId = Intern(customer.OwnerId),
            Emails = Map(customer.Emails, e => e.Label is null ? e : e with { Label = Intern(e.Label) }),
            Phones = Map(customer.Phones, p => p.Label is null ? p : p with { Label = Intern(p.Label) }),
            Addresses = addresses,
            Tags = Map(customer.Tags, t => Intern(t)!),
            ConsentHistory = Map(customer.ConsentHistory, c => c with { Source = Intern(c.Source)! }),
            LifecycleHistory = Map(customer.LifecycleHistory, h => h with { Reason = Intern(h.Reason)! }),
        };
    }

    private string? Intern(string? value) => value is null ? null : _database.Strings.GetOrAdd(value, value);

    private static T[] Map<T>(IReadOnlyList<T> items, Func<T, T> compact)
    {
        if (items.Count == 0)
        {
            return [];
        }

        var result = new T[items.Count];
        for (var i = 0; i < result.Length; i++)
        {
            result[i] = compact(items[i]);
        }

        return result;
    }

    private static DuplicateValueException? CheckReference(CustomerIndex index, Customer customer) =>
        customer.ExternalReference is { } reference && index.ExternalReferences.TryGetValue(reference, out var holder) && holder.Id != customer.Id
            ? new DuplicateValueException(nameof(Customer.ExternalReference), reference)
            : null;
}

/// <summary>The in-memory <see cref="IOrderStore"/>.</summary>
public sealed class InMemoryOrderStore : IOrderStore
{
    private readonly InMemoryTable<Order, OrderIndex> _table;

    /// <summary>Creates the store over a database.</summary>
    public InMemoryOrderStore(InMemoryCrmDatabase database)
    {
        ArgumentNullException.ThrowIfNull(database);
        _table = new(database, database.Orders, nameof(Order),
            o => o.Id, o => o.TenantId, o => o.Version, (index, o) => index.Add(o), (index, o) => index.Remove(o));
    }

    /// <inheritdoc />
    public ValueTask<Order?> FindByIdAsync(string tenantId, Guid id, CancellationToken cancellationToken) => new(_table.Find(tenantId, id));

    /// <inheritdoc />
    public ValueTask<Order?> FindByReferenceAsync(string tenantId, string reference, CancellationToken cancellationToken)
    {
        var index = _table.Index(tenantId);
        lock (index)
        {
            return new(index.References.TryGetValue(reference, out var id) ? _table.Find(tenantId, id) : null);
        }
    }

    /// <inheritdoc />
    public ValueTask<IReadOnlyList<Order>> ListByCustomerAsync(string tenantId, Guid customerId, KeysetPosition? before, int limit, CancellationToken cancellationToken)
    {
        var index = _table.Index(tenantId);
        lock (index)
        {
            if (!index.ByCustomer.TryGetValue(customerId, out var set))
            {
                return new(Array.Empty<Order>());
            }

            return new(_table.Resolve(tenantId, Before(set, before).Take(limit).Select(k => k.Id)));
        }
    }

    /// <inheritdoc />
    public async IAsyncEnumerable<Order> StreamByCustomerAsync(string tenantId, Guid customerId, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        List<Order> orders;
        var index = _table.Index(tenantId);
        lock (index)
        {
            orders = index.ByCustomer.TryGetValue(customerId, out var set) ? _table.Resolve(tenantId, set.Select(k => k.Id)) : [];
        }

        foreach (var order in orders)
        {
            cancellationToken.ThrowIfCancellationRequested();
            yield return order;
        }

        await Task.CompletedTask.ConfigureAwait(false);
    }

    /// <inheritdoc />
    public IAsyncEnumerable<Order> StreamAsync(string tenantId, CancellationToken cancellationToken) =>
        KeysetStream.ByIdAsync(
            (after, limit, _) =>
            {
                var index = _table.Index(tenantId);
                lock (index)
                {
                    IEnumerable<Guid> ids = after is { } a ? index.All.GetViewBetween(a, Guid.AllBitsSet).SkipWhile(id => id == a) : index.All;
                    return new ValueTask<IReadOnlyList<Order>>(_table.Resolve(tenantId, ids.Take(limit)));
                }
            },
            o => o.Id,
            cancellationToken);

    /// <inheritdoc />
    public ValueTask CreateAsync(Order order, CancellationToken cancellationToken) => _table.CreateAsync(order, CheckReference, cancellationToken);

    /// <inheritdoc />
    public ValueTask UpdateAsync(Order order, long expectedVersion, CancellationToken cancellationToken) =>
        _table.UpdateAsync(order, expectedVersion, CheckReference, cancellationToken);

    /// <inheritdoc />
    public ValueTask<int> ReassignCustomerAsync(string tenantId, Guid fromCustomerId, Guid toCustomerId, CancellationToken cancellationToken) =>
        _table.UpdateManyAsync(
            tenantId,
            index => index.ByCustomer.TryGetValue(fromCustomerId, out var set) ? _table.Resolve(tenantId, set.Select(k => k.Id)) : [],
            order => order with { CustomerId = toCustomerId, Version = order.Version + 1 },
            cancellationToken);

    internal static IEnumerable<(long Ticks, Guid Id)> Before(SortedSet<(long Ticks, Guid Id)> set, KeysetPosition? before) =>
        before is { } position
            ? set.GetViewBetween((long.MinValue, Guid.Empty), (position.At.UtcTicks, position.Id)).Reverse().SkipWhile(k => k.Ticks == position.At.UtcTicks && k.Id == position.Id)
            : set.Reverse();

    /// <summary>Ids newest (largest) first, only those below <paramref name="beforeId"/> when given.</summary>
    internal static IEnumerable<Guid> Before(SortedSet<Guid> set, Guid? beforeId) =>
        beforeId is { } before
            ? set.GetViewBetween(Guid.Empty, before).Reverse().SkipWhile(id => id == before)
            : set.Reverse();

    private static DuplicateValueException? CheckReference(OrderIndex index, Order order) =>
        index.References.TryGetValue(order.Reference, out var holder) && holder != order.Id
            ? new DuplicateValueException(nameof(Order.Reference), order.Reference)
            : null;
}

/// <summary>The in-memory <see cref="IInteractionStore"/>.</summary>
public sealed class InMemoryInteractionStore : IInteractionStore
{
    private readonly InMemoryTable<Interaction, InteractionIndex> _table;

    /// <summary>Creates the store over a database.</summary>
    public InMemoryInteractionStore(InMemoryCrmDatabase database)
    {
        ArgumentNullException.ThrowIfNull(database);
        _table = new(database, database.Interactions, nameof(Interaction),
            i => i.Id, i => i.TenantId, i => i.Version, (index, i) => index.Add(i), (index, i) => index.Remove(i));
    }

    /// <inheritdoc />
    public ValueTask<Interaction?> FindByIdAsync(string tenantId, Guid id, CancellationToken cancellationToken) => new(_table.Find(tenantId, id));

    /// <inheritdoc />
    public ValueTask<IReadOnlyList<Interaction>> ListByCustomerAsync(string tenantId, Guid customerId, KeysetPosition? before, int limit, CancellationToken cancellationToken)
    {
        var index = _table.Index(tenantId);
        lock (index)
        {
            return index.ByCustomer.TryGetValue(customerId, out var set)
                ? new(_table.Resolve(tenantId, InMemoryOrderStore.Before(set, before).Take(limit).Select(k => k.Id)))
                : new(Array.Empty<Interaction>());
        }
    }

    /// <inheritdoc />
    public ValueTask<IReadOnlyList<Interaction>> ListOverdueTasksAsync(string tenantId, string ownerId, DateTimeOffset asOf, int limit, CancellationToken cancellationToken)
    {
        var index = _table.Index(tenantId);
        lock (index)
        {
            return index.OpenTasksByOwner.TryGetValue(ownerId, out var set)
                ? new(_table.Resolve(tenantId, set.TakeWhile(k => k.Ticks < asOf.UtcTicks).Take(limit).Select(k => k.Id)))
                : new(Array.Empty<Interaction>());
        }
    }

    /// <inheritdoc />
    public ValueTask<IReadOnlyList<Interaction>> ListByDealAsync(string tenantId, Guid dealId, KeysetPosition? before, int limit, CancellationToken cancellationToken)
    {
        var index = _table.Index(tenantId);
        lock (index)
        {
            return index.ByDeal.TryGetValue(dealId, out var set)
                ? new(_table.Resolve(tenantId, InMemoryOrderStore.Before(set, before).Take(limit).Select(k => k.Id)))
                : new(Array.Empty<Interaction>());
        }
    }

    /// <inheritdoc />
    public ValueTask<IReadOnlyList<Interaction>> ListOpenTasksByDealAsync(string tenantId, Guid dealId, int limit, CancellationToken cancellationToken)
    {
        var index = _table.Index(tenantId);
        lock (index)
        {
            // A deal's linked interactions are few: filtering them beats keeping one more index per deal.
            return index.ByDeal.TryGetValue(dealId, out var set)
                ? new([.. _table.Resolve(tenantId, set.Select(k => k.Id)).Where(i => i.IsOpenTask).OrderBy(i => i.DueAt is null).ThenBy(i => i.DueAt).ThenBy(i => i.Id).Take(limit)])
                : new(Array.Empty<Interaction>());
        }
    }

    /// <inheritdoc />
    public async IAsyncEnumerable<Interaction> StreamByCustomerAsync(string tenantId, Guid customerId, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        List<Interaction> items;
        var index = _table.Index(tenantId);
        lock (index)
        {
            items = index.ByCustomer.TryGetValue(customerId, out var set) ? _table.Resolve(tenantId, set.Select(k => k.Id)) : [];
        }

        foreach (var item in items)
        {
            cancellationToken.ThrowIfCancellationRequested();
            yield return item;
        }

        await Task.CompletedTask.ConfigureAwait(false);
    }

    /// <inheritdoc />
    public ValueTask CreateAsync(Interaction interaction, CancellationToken cancellationToken) => _table.CreateAsync(interaction, NoUniqueKeys, cancellationToken);

    /// <inheritdoc />
    public ValueTask UpdateAsync(Interaction interaction, long expectedVersion, CancellationToken cancellationToken) =>
        _table.UpdateAsync(interaction, expectedVersion, NoUniqueKeys, cancellationToken);

    /// <inheritdoc />
    public ValueTask<int> ReassignCustomerAsync(string tenantId, Guid fromCustomerId, Guid toCustomerId, CancellationToken cancellationToken) =>
        _table.UpdateManyAsync(tenantId, index => ForCustomer(tenantId, index, fromCustomerId), i => i with { CustomerId = toCustomerId, Version = i.Version + 1 }, cancellationToken);

    /// <inheritdoc />
    public ValueTask<int> EraseTextAsync(string tenantId, Guid customerId, CancellationToken cancellationToken) =>
        _table.UpdateManyAsync(tenantId, index => ForCustomer(tenantId, index, customerId), i => i with { Subject = null, Body = null, Version = i.Version + 1 }, cancellationToken);

    private List<Interaction> ForCustomer(string tenantId, InteractionIndex index, Guid customerId) =>
        index.ByCustomer.TryGetValue(customerId, out var set) ? _table.Resolve(tenantId, set.Select(k => k.Id)) : [];

    private static Exception? NoUniqueKeys(InteractionIndex index, Interaction interaction) => null;
}
