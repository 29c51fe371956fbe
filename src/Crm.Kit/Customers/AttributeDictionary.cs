using System.Collections;
using System.Diagnostics.CodeAnalysis;

namespace Crm.Kit.Customers;

/// <summary>
/// A small immutable attribute dictionary kept as two sorted arrays: a customer has a handful of attributes,
/// so a binary search beats hashing, and the map costs a fraction of a <see cref="Dictionary{TKey, TValue}"/>.
/// Keys are compared ordinally.
/// </summary>
public sealed class AttributeDictionary : IReadOnlyDictionary<string, AttributeValue>
{
    private readonly string[] _keys;
    private readonly AttributeValue[] _values;

    private AttributeDictionary(string[] keys, AttributeValue[] values)
    {
        _keys = keys;
        _values = values;
    }

    /// <summary>The map with no attributes.</summary>
    public static AttributeDictionary Empty { get; } = new([], []);

    /// <inheritdoc />
    public int Count => _keys.Length;

    /// <inheritdoc />
    public IEnumerable<string> Keys => _keys;

    /// <inheritdoc />
    public IEnumerable<AttributeValue> Values => _values;

    /// <inheritdoc />
    public AttributeValue this[string key] => TryGetValue(key, out var value) ? value : throw new KeyNotFoundException($"No attribute '{key}'.");

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

        return sorted.Count == 0 ? Empty : new AttributeDictionary([.. sorted.Keys], [.. sorted.Values]);
    }

    /// <inheritdoc />
    public bool ContainsKey(string key) => Array.BinarySearch(_keys, key, StringComparer.Ordinal) >= 0;

    /// <inheritdoc />
    public bool TryGetValue(string key, [MaybeNullWhen(false)] out AttributeValue value)
    {
        var index = Array.BinarySearch(_keys, key, StringComparer.Ordinal);
        value = index >= 0 ? _values[index] : null;
        return index >= 0;
    }

    /// <inheritdoc />
    public IEnumerator<KeyValuePair<string, AttributeValue>> GetEnumerator()
    {
        for (var i = 0; i < _keys.Length; i++)
        {
            yield return new KeyValuePair<string, AttributeValue>(_keys[i], _values[i]);
        }
    }

    IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();
}
