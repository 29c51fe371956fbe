using System.Collections.Concurrent;
using Crm.Kit.Customers;
using Crm.Kit.Interactions;
using Crm.Kit.Orders;

namespace Crm.Kit.InMemory;

/// <summary>
/// A key that maps to one customer or, rarely, to several. Most keys (an email, a phone) belong to one customer,
/// so they live in a plain <c>key → customer</c> map; only keys shared by several pay for an array. Holding the
/// customer itself, not its id, saves a second dictionary hop (a cache miss at a million customers) on every
/// lookup; the index is rewritten whenever a customer is, so the reference is always the stored one.
/// </summary>
internal sealed class MultiMap<TKey>
    where TKey : notnull
{
    // A flat map for the single-customer keys: a lookup in a million-key index misses the cache once to reach its
    // entry instead of twice (see FlatMap).
    private readonly FlatMap<TKey, Customer> _single;
    private readonly Dictionary<TKey, Customer[]> _shared;

    public MultiMap(IEqualityComparer<TKey>? comparer = null)
    {
        _single = new FlatMap<TKey, Customer>(comparer ?? EqualityComparer<TKey>.Default);
        _shared = new Dictionary<TKey, Customer[]>(comparer);
    }

    public Customer[] Get(TKey key) =>
        _single.TryGetValue(key, out var one) ? [one] : _shared.TryGetValue(key, out var many) ? [.. many] : [];

    public void Add(TKey key, Customer customer)
    {
        if (_single.Remove(key, out var existing))
        {
            _shared[key] = existing.Id == customer.Id ? [customer] : [existing, customer];
        }
        else if (_shared.TryGetValue(key, out var many))
        {
            _shared[key] = [.. many.Where(c => c.Id != customer.Id), customer];
        }
        else
        {
            _single.Set(key, customer);
        }
    }

    public void Remove(TKey key, Guid id)
    {
        if (_single.TryGetValue(key, out var existing))
        {
            if (existing.Id == id)
            {
                _single.Remove(key);
            }
        }
        else if (_shared.TryGetValue(key, out var ids))
        {
            var rest = Array.FindAll(ids, x => x.Id != id);
            if (rest.Length == 1)
            {
                _shared.Remove(key);
                _single.Set(key, rest[0]);
            }
            else if (rest.Length == 0)
            {
                _shared.Remove(key);
            }
            else
            {
                _shared[key] = rest;
            }
        }
    }
}

/// <summary>
/// A name key in the in-memory index: the suffix of <see cref="Text"/> from <see cref="Offset"/>, and the customer
/// it finds. A person's family-name key is the end of their folded display name, so both keys share one string.
/// Holding the customer rather than its id makes an entry 24 bytes instead of 32 and saves a lookup per match;
/// like <see cref="MultiMap{TKey}"/>, the index is rewritten whenever the customer is.
/// </summary>
internal readonly struct NameKey(string text, int offset, Customer? customer)
{
    public string Text { get; } = text;

    public int Offset { get; } = offset;

    /// <summary>The customer; <see langword="null"/> only in a search key, which sorts before every customer.</summary>
    public Customer? Customer { get; } = customer;

    public ReadOnlySpan<char> Key => Text.AsSpan(Offset);

    public static IEnumerable<NameKey> For(Customer customer)
    {
        var display = SearchKeys.Fold(customer.DisplayName);
        foreach (var key in CustomerSearchKeys.NameKeys(customer))
        {
            yield return display.EndsWith(key, StringComparison.Ordinal)
                ? new NameKey(display, display.Length - key.Length, customer)
                : new NameKey(key, 0, customer);
        }
    }
}

/// <summary>Orders name keys by ordinal key text, then by customer id.</summary>
internal sealed class NameKeyComparer : IComparer<NameKey>
{
    public static readonly NameKeyComparer Instance = new();

    public int Compare(NameKey x, NameKey y)
    {
        var byKey = x.Key.SequenceCompareTo(y.Key);
        return byKey != 0 ? byKey : (x.Customer?.Id ?? Guid.Empty).CompareTo(y.Customer?.Id ?? Guid.Empty);
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
internal sealed class CustomerIndex : IIndexWriteCompletion
{
    public CustomerIndex() => ScanRows = new CustomerScanColumns(this);

    /// <summary>Live customers as rows for whole-tenant segment scans; its writers hold this index's lock.</summary>
    public CustomerScanColumns ScanRows { get; }

    public void WriteCompleted() => ScanRows.WriteCompleted();

    public Dictionary<string, Customer> ExternalReferences { get; } = new(StringComparer.Ordinal);

    public MultiMap<string> Emails { get; } = new(StringComparer.Ordinal);

    public MultiMap<string> Phones { get; } = new(StringComparer.Ordinal);

    public MultiMap<Guid> MergedInto { get; } = new();

    /// <summary>Ids of customers that were merged away at some point; read without the lock.</summary>
    public MergedAwayIds MergedAway { get; } = new();

    public SortedChunkList<NameKey> Names { get; } = new(NameKeyComparer.Instance);

    public SortedChunkList<Guid> Live { get; } = new(Comparer<Guid>.Default);

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

        foreach (var name in NameKey.For(customer))
        {
            Names.Remove(name);
        }

        if (customer.MergedIntoId is { } survivor)
        {
            MergedInto.Remove(survivor, customer.Id);
        }

        Live.Remove(customer.Id);
        ScanRows.Remove(customer);
    }

    public void Add(Customer customer)
    {
        if (customer.ExternalReference is { } reference)
        {
            ExternalReferences[reference] = customer;
        }

        foreach (var email in CustomerSearchKeys.Emails(customer))
        {
            Emails.Add(email, customer);
        }

        foreach (var phone in CustomerSearchKeys.Phones(customer))
        {
            Phones.Add(phone, customer);
        }

        foreach (var name in NameKey.For(customer))
        {
            Names.Add(name);
        }

        if (customer.MergedIntoId is { } survivor)
        {
            MergedAway.Add(customer.Id);
            MergedInto.Add(survivor, customer);
        }
        else
        {
            Live.Add(customer.Id);
        }

        ScanRows.Add(customer);
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

    /// <summary>Interactions linked to each deal, by time then id.</summary>
    public Dictionary<Guid, SortedSet<(long Ticks, Guid Id)>> ByDeal { get; } = [];

    public void Remove(Interaction interaction)
    {
        if (interaction.DealId is { } dealId && ByDeal.TryGetValue(dealId, out var linked))
        {
            linked.Remove((interaction.OccurredAt.UtcTicks, interaction.Id));
        }

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
        if (interaction.DealId is { } dealId)
        {
            if (!ByDeal.TryGetValue(dealId, out var linked))
            {
                ByDeal[dealId] = linked = new SortedSet<(long, Guid)>(TimeIdComparer.Instance);
            }

            linked.Add((interaction.OccurredAt.UtcTicks, interaction.Id));
        }

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

/// <summary>
/// The ids of a tenant's customers that have been merged away, so that a read by id can tell a live customer
/// without reading the customer itself: at a million customers that read is a cache miss, and it is the only one
/// the lookup would make beyond the id dictionary. Merges are rare, so the set is small and stays in cache; a
/// tenant that never merged pays one flag test. Ids are only added, never removed: an id whose merge was rolled
/// back stays listed, and its lookups take the slower path, which reads the customer and finds it live.
/// </summary>
internal sealed class MergedAwayIds
{
    private readonly ConcurrentDictionary<Guid, byte> _ids = new();
    private volatile bool _any;

    /// <summary>Adds an id; the index adds it before the merged row is published, so no reader sees one without the other.</summary>
    public void Add(Guid id)
    {
        _ids.TryAdd(id, 0);
        _any = true;
    }

    public bool MayContain(Guid id) => _any && _ids.ContainsKey(id);
}
