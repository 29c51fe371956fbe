using System.Runtime.CompilerServices;

namespace Crm.Kit.InMemory;

/// <summary>
/// A hash map whose entries (hash, key, value) sit in one array, found by linear probing. A lookup in a map of a
/// million keys that has left the cache costs one miss to reach the entry, where <see cref="Dictionary{TKey, TValue}"/>
/// costs two (its bucket array, then its entry array); the key's own text is the other miss both pay. Removal shifts
/// the entries after the removed one back, so the table never fills with tombstones. Values are never null: an
/// empty slot is one without a value. The table grows by half, not double, up to four-fifths full, so that it holds
/// a key in about as much memory as a dictionary does. Not thread-safe: the in-memory indexes lock around it.
/// </summary>
internal sealed class FlatMap<TKey, TValue>(IEqualityComparer<TKey> comparer)
    where TKey : notnull
    where TValue : class
{
    private const int MinCapacity = 16;

    private Slot[] _slots = new Slot[MinCapacity];

    public int Count { get; private set; }

    public bool TryGetValue(TKey key, out TValue value)
    {
        var i = Find(key, comparer.GetHashCode(key));
        value = i >= 0 ? _slots[i].Value! : null!;
        return i >= 0;
    }

    /// <summary>Adds the key or replaces its value.</summary>
    public void Set(TKey key, TValue value)
    {
        ArgumentNullException.ThrowIfNull(value);

        // Grown before the table is four-fifths full: linear probing's chains lengthen quickly beyond that.
        if ((Count + 1) * 5L > _slots.Length * 4L)
        {
            Grow();
        }

        var hash = comparer.GetHashCode(key);
        var i = Find(key, hash);
        if (i >= 0)
        {
            _slots[i].Value = value;
        }
        else
        {
            _slots[~i] = new Slot(hash, key, value);
            Count++;
        }
    }

    public bool Remove(TKey key, out TValue value)
    {
        var i = Find(key, comparer.GetHashCode(key));
        if (i < 0)
        {
            value = null!;
            return false;
        }

        value = _slots[i].Value!;
        var length = _slots.Length;

        // Close the gap: move back each later entry of the run that the gap would cut off from its home slot.
        var gap = i;
        for (var j = Next(gap, length); _slots[j].Value is not null; j = Next(j, length))
        {
            var home = Home(_slots[j].Hash, length);

            // The entry at j may fill the gap when its home is not in the circular range (gap, j].
            if (Distance(home, j, length) >= Distance(gap, j, length))
            {
                _slots[gap] = _slots[j];
                gap = j;
            }
        }

        _slots[gap] = default;
        Count--;
        return true;
    }

    public bool Remove(TKey key) => Remove(key, out _);

    /// <summary>The key's slot, or the complement of the empty slot where it would go.</summary>
    private int Find(TKey key, int hash)
    {
        var slots = _slots;
        for (var i = Home(hash, slots.Length); ; i = Next(i, slots.Length))
        {
            ref var slot = ref slots[i];
            if (slot.Value is null)
            {
                return ~i;
            }

            if (slot.Hash == hash && comparer.Equals(slot.Key, key))
            {
                return i;
            }
        }
    }

    // Fibonacci hashing spreads hash codes whose low bits repeat over the high bits; multiplying those by the
    // length and keeping the top half maps them onto any length, not only powers of two.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static int Home(int hash, int length) => (int)(((ulong)((uint)hash * 0x9E3779B9u) * (uint)length) >> 32);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static int Next(int i, int length) => ++i == length ? 0 : i;

    // How many steps forward from `from` to `to`, going round the end of the table.
    private static int Distance(int from, int to, int length) => to >= from ? to - from : to + length - from;

    private void Grow()
    {
        var old = _slots;
        _slots = new Slot[old.Length + (old.Length / 2)];
        foreach (var slot in old)
        {
            if (slot.Value is null)
            {
                continue;
            }

            var i = Home(slot.Hash, _slots.Length);
            while (_slots[i].Value is not null)
            {
                i = Next(i, _slots.Length);
            }

            _slots[i] = slot;
        }
    }

    private struct Slot(int hash, TKey key, TValue value)
    {
        public int Hash = hash;
        public TKey Key = key;
        public TValue? Value = value;
    }
}
