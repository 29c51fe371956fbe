using System.Collections;
using System.Diagnostics.CodeAnalysis;

namespace Crm.Kit.Customers;

/// <summary>
/// A small immutable attribute dictionary kept as one array of pairs sorted by key: a customer has a handful of
/// attributes, so a binary search beats hashing, and the map costs a fraction of a
/// <see cref="Dictionary{TKey, TValue}"/>. Keys are compared ordinally.
/// </summary>
public sealed class AttributeDictionary : IReadOnlyDictionary<string, AttributeValue>
{
    private readonly KeyValuePair<string, AttributeValue>[] _items;

    private AttributeDictionary(KeyValuePair<string, AttributeValue>[] items) => _items = items;

    /// <summary>The map with no attributes.</summary>
    public static AttributeDictionary Empty { get; } = new([]);

    /// <inheritdoc />
    public int Count => _items.Length;

    /// <inheritdoc />
    public IEnumerable<string> Keys => _items.Select(item => item.Key);

    /// <inheritdoc />
    public IEnumerable<AttributeValue> Values => _items.Select(item => item.Value);

    /// <inheritdoc />
    public AttributeValue this[string key] => TryGetValue(key, out var value) ? value : throw new KeyNotFoundException($"No attribute {InputText.Quote(key)}.");

    /// <summary>Builds a map; when a key repeats, the last value wins.</summary>
    public static AttributeDictionary From(IEnumerable<KeyValuePair<string, AttributeValue>> attributes)
    {
        ArgumentNullException.ThrowIfNull(attributes);
        if (attributes is AttributeDictionary map)
        {
            return map;
        }

        var sorted = new SortedDictionary<string, AttributeValue>(StringComparer.Ordinal);
        foreach (var (key, value) in attributes)
        {
            sorted[key] = value;
        }

        return sorted.Count == 0 ? Empty : new AttributeDictionary([.. sorted]);
    }

    /// <inheritdoc />
    public bool ContainsKey(string key) => IndexOf(key) >= 0;

    /// <inheritdoc />
    public bool TryGetValue(string key, [MaybeNullWhen(false)] out AttributeValue value)
    {
        var index = IndexOf(key);
        value = index >= 0 ? _items[index].Value : null;
        return index >= 0;
    }

    /// <inheritdoc />
    public IEnumerator<KeyValuePair<string, AttributeValue>> GetEnumerator() => ((IEnumerable<KeyValuePair<string, AttributeValue>>)_items).GetEnumerator();

    IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();

    private int IndexOf(string key) => _items.AsSpan().BinarySearch(new OrdinalKey(key));

    /// <summary>Compares a key with an item's key, ordinally, for the span's binary search.</summary>
    private readonly struct OrdinalKey(string key) : IComparable<KeyValuePair<string, AttributeValue>>
    {
        public int CompareTo(KeyValuePair<string, AttributeValue> other) => string.CompareOrdinal(key, other.Key);
    }
}
