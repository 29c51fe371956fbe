using Crm.Kit.Customers;
using Crm.Kit.Interactions;
using Crm.Kit.Orders;

namespace Crm.Kit.InMemory;

/// <summary>A key that maps to a few ids; arrays keep the common one-id case small.</summary>
internal sealed class MultiMap<TKey>
    where TKey : notnull
{
    private readonly Dictionary<TKey, Guid[]> _map;

    public MultiMap(IEqualityComparer<TKey>? comparer = null) => _map = new Dictionary<TKey, Guid[]>(comparer);

    public Guid[] Get(TKey key) => _map.TryGetValue(key, out var ids) ? ids : [];

    public void Add(TKey key, Guid id)
    {
        _map[key] = _map.TryGetValue(key, out var ids) ? [.. ids, id] : [id];
    }

    public void Remove(TKey key, Guid id)
    {
        if (_map.TryGetValue(key, out var ids))
        {
            var rest = Array.FindAll(ids, x => x != id);
            if (rest.Length == 0)
            {
                _map.Remove(key);
            }
            else
            {
                _map[key] = rest;
            }
        }
    }
}

/// <summary>Orders (key, id) pairs by ordinal key, then by id.</summary>
internal sealed class KeyIdComparer : IComparer<(string Key, Guid Id)>
{
    public static readonly KeyIdComparer Instance = new();

    public int Compare((string Key, Guid Id) x, (string Key, Guid Id) y)
    {
        var byKey = string.CompareOrdinal(x.Key, y.Key);
        return byKey != 0 ? byKey : x.Id.CompareTo(y.Id);
    }
}

/// <summary>Orders (time, id) pairs by time, then id.</summary>
internal sealed class TimeIdComparer : IComparer<(long Ticks, Guid Id)>
{
    public static readonly TimeIdComparer Instance = new();

    public int Compare((long Ticks, Guid Id) x, (long Ticks, Guid Id) y)
    {
        var byTime = x.Ticks.CompareTo(y.Ticks);
        return byTime != 0 ? byTime : x.Id.CompareTo(y.Id);
    }
}

/// <summary>One tenant's customer indexes. Guarded by locking the instance.</summary>
internal sealed class CustomerIndex
{
    public Dictionary<string, Guid> ExternalReferences { get; } = new(StringComparer.Ordinal);

    public MultiMap<string> Emails { get; } = new(StringComparer.Ordinal);

    public MultiMap<string> Phones { get; } = new(StringComparer.Ordinal);

    public MultiMap<Guid> MergedInto { get; } = new();

    public SortedSet<(string Key, Guid Id)> Names { get; } = new(KeyIdComparer.Instance);

    public SortedSet<Guid> Live { get; } = [];

    public void Remove(Customer customer)
    {
        if (customer.ExternalReference is { } reference)
        {
            ExternalReferences.Remove(reference);
        }

        foreach (var email in CustomerSearchKeys.Emails(customer))
        {
            Emails.Remove(email, customer.Id);
        }

        foreach (var phone in CustomerSearchKeys.Phones(customer))
        {
            Phones.Remove(phone, customer.Id);
        }

        foreach (var name in CustomerSearchKeys.NameKeys(customer))
        {
            Names.Remove((name, customer.Id));
        }

        if (customer.MergedIntoId is { } survivor)
        {
            MergedInto.Remove(survivor, customer.Id);
        }

        Live.Remove(customer.Id);
    }

    public void Add(Customer customer)
    {
        if (customer.ExternalReference is { } reference)
        {
            ExternalReferences[reference] = customer.Id;
        }

        foreach (var email in CustomerSearchKeys.Emails(customer))
        {
            Emails.Add(email, customer.Id);
        }

        foreach (var phone in CustomerSearchKeys.Phones(customer))
        {
            Phones.Add(phone, customer.Id);
        }

        foreach (var name in CustomerSearchKeys.NameKeys(customer))
        {
            Names.Add((name, customer.Id));
        }

        if (customer.MergedIntoId is { } survivor)
        {
            MergedInto.Add(survivor, customer.Id);
        }
        else
        {
            Live.Add(customer.Id);
        }
    }
}

/// <summary>One tenant's order indexes. Guarded by locking the instance.</summary>
internal sealed class OrderIndex
{
    public Dictionary<string, Guid> References { get; } = new(StringComparer.Ordinal);

    public Dictionary<Guid, SortedSet<(long Ticks, Guid Id)>> ByCustomer { get; } = [];

    public SortedSet<Guid> All { get; } = [];

    public void Remove(Order order)
    {
        References.Remove(order.Reference);
        if (ByCustomer.TryGetValue(order.CustomerId, out var set))
        {
            set.Remove((order.PlacedAt.UtcTicks, order.Id));
        }

        All.Remove(order.Id);
    }

    public void Add(Order order)
    {
        References[order.Reference] = order.Id;
        if (!ByCustomer.TryGetValue(order.CustomerId, out var set))
        {
            ByCustomer[order.CustomerId] = set = new SortedSet<(long, Guid)>(TimeIdComparer.Instance);
        }

        set.Add((order.PlacedAt.UtcTicks, order.Id));
        All.Add(order.Id);
    }
}

/// <summary>One tenant's interaction indexes. Guarded by locking the instance.</summary>
internal sealed class InteractionIndex
{
    public Dictionary<Guid, SortedSet<(long Ticks, Guid Id)>> ByCustomer { get; } = [];

    public Dictionary<string, SortedSet<(long Ticks, Guid Id)>> OpenTasksByOwner { get; } = new(StringComparer.Ordinal);

    public void Remove(Interaction interaction)
    {
        if (ByCustomer.TryGetValue(interaction.CustomerId, out var timeline))
        {
            timeline.Remove((interaction.OccurredAt.UtcTicks, interaction.Id));
        }

        if (interaction is { IsOpenTask: true, OwnerId: { } owner, DueAt: { } due } && OpenTasksByOwner.TryGetValue(owner, out var tasks))
        {
            tasks.Remove((due.UtcTicks, interaction.Id));
        }
    }

    public void Add(Interaction interaction)
    {
        if (!ByCustomer.TryGetValue(interaction.CustomerId, out var timeline))
        {
            ByCustomer[interaction.CustomerId] = timeline = new SortedSet<(long, Guid)>(TimeIdComparer.Instance);
        }

        timeline.Add((interaction.OccurredAt.UtcTicks, interaction.Id));
        if (interaction is { IsOpenTask: true, OwnerId: { } owner, DueAt: { } due })
        {
            if (!OpenTasksByOwner.TryGetValue(owner, out var tasks))
            {
                OpenTasksByOwner[owner] = tasks = new SortedSet<(long, Guid)>(TimeIdComparer.Instance);
            }

            tasks.Add((due.UtcTicks, interaction.Id));
        }
    }
}
