using System.Collections.Concurrent;
using Crm.Kit.Customers;
using Crm.Kit.Interactions;
using Crm.Kit.Orders;

namespace Crm.Kit.InMemory;

/// <summary>
/// A text key (an email, a phone) that maps to one customer or, rarely, to several. Most keys belong to one
/// customer, so they live in a plain <c>key → customer</c> map; only keys shared by several pay for an array.
/// Holding the customer itself, not its id, saves a second hop (a cache miss at a million customers) on every
/// lookup; the index is rewritten whenever a customer is, so the reference is always the stored one.
/// </summary>
/// <typeparam name="TText">The inline size of the keys' text (see <see cref="TextMap{TValue, TText}"/>).</typeparam>
internal sealed class MultiMap<TText>
    where TText : struct
{
    // A map that keeps each key's text inside its entry: a lookup in a million-key index misses the cache once to
    // reach the entry, not a second time to reach the key's string (see TextMap).
    private readonly TextMap<Customer, TText> _single = new();
    private readonly Dictionary<string, Customer[]> _shared = new(StringComparer.Ordinal);

    public Customer[] Get(string key) =>
        _single.TryGetValue(key, out var one) ? [one] : _shared.TryGetValue(key, out var many) ? [.. many] : [];

    public void Add(string key, Customer customer)
    {
        if (_single.Remove(key, out var existing))
        {
            _shared[key] = existing.Id == customer.Id ? [customer] : [existing, customer];
        }
        else if (_shared.TryGetValue(key, out var many))
        {
            _shared[key] = Customers.With(many, customer);
        }
        else
        {
            _single.Set(key, customer);
        }
    }

    public void Remove(string key, Guid id)
    {
        if (_single.TryGetValue(key, out var existing))
        {
            if (existing.Id == id)
            {
                _single.Remove(key);
            }
        }
        else if (_shared.TryGetValue(key, out var many))
        {
            var rest = Customers.Without(many, id);
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

/// <summary>Small arrays of customers, replaced whole when one changes, as the in-memory indexes keep them.</summary>
internal static class Customers
{
    /// <summary>The customers with <paramref name="customer"/> added, or put in place of its older version.</summary>
    public static Customer[] With(Customer[] customers, Customer customer) =>
        [.. customers.Where(c => c.Id != customer.Id), customer];

    /// <summary>The customers without the one with this id.</summary>
    public static Customer[] Without(Customer[] customers, Guid id) => Array.FindAll(customers, c => c.Id != id);
}

/// <summary>
/// A name key in the in-memory index: the suffix of <see cref="Text"/> from <see cref="Offset"/>, and the customer
/// it finds. A person's family-name key is the end of their folded display name, so both keys share one string.
/// Holding the customer rather than its id makes an entry 24 bytes instead of 32 and saves a lookup per match;
/// like <see cref="MultiMap{TText}"/>, the index is rewritten whenever the customer is.
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

    public MultiMap<EmailText> Emails { get; } = new();

    public MultiMap<PhoneText> Phones { get; } = new();

    /// <summary>Customers merged away, by the survivor they were merged into; merges are rare, so a plain map.</summary>
    public Dictionary<Guid, Customer[]> MergedInto { get; } = [];

    /// <summary>Ids of customers that were merged away at some point; read without the lock.</summary>
    public MergedAwayIds MergedAway { get; } = new();

    public SortedChunkList<NameKey> Names { get; } = new(NameKeyComparer.Instance);

    public SortedChunkList<Guid> Live { get; } = new(Comparer<Guid>.Default);

    /// <summary>Names and postcodes stored customers share; see <see cref="SharedStrings"/>.</summary>
    public SharedStrings Shared { get; } = new();

    public void Remove(Customer customer)
    {
        CountShared(customer, hold: false);
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

        if (customer.MergedIntoId is { } survivor && MergedInto.TryGetValue(survivor, out var merged))
        {
            var rest = Customers.Without(merged, customer.Id);
            if (rest.Length == 0)
            {
                MergedInto.Remove(survivor);
            }
            else
            {
                MergedInto[survivor] = rest;
            }
        }

        Live.Remove(customer.Id);
        ScanRows.Remove(customer);
    }

    public void Add(Customer customer)
    {
        CountShared(customer, hold: true);
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
            MergedInto[survivor] = MergedInto.TryGetValue(survivor, out var merged) ? Customers.With(merged, customer) : [customer];
        }
        else
        {
            Live.Add(customer.Id);
        }

        ScanRows.Add(customer);
    }

    /// <summary>Counts the strings of a customer that <see cref="Shared"/> keeps once: the ones the store shares.</summary>
    private void CountShared(Customer customer, bool hold)
    {
        Shared.Count(customer.FirstName, hold);
        Shared.Count(customer.LastName, hold);
        foreach (var address in customer.Addresses)
        {
            Shared.Count(address.PostalCode, hold);
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
