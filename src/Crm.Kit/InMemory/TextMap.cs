using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Text;

namespace Crm.Kit.InMemory;

/// <summary>
/// A hash map from short text keys (normalised emails, phone numbers) to values, for indexes of millions of keys.
/// Each entry holds its key's text inline, up to the size of <typeparamref name="TText"/>, next to its hash and
/// value in one array found by linear probing; the rare longer key goes to a plain dictionary beside it. Not
/// thread-safe: the in-memory indexes lock around it.
/// </summary>
/// <remarks>
/// <para>
/// Why inline: a lookup must compare the key it found with the one it was given. Held as a string, the stored key
/// lives wherever its customer was allocated, and reading it was a second cache miss after the entry's own, most
/// of the cost of a lookup in a million-customer tenant (measured: without that comparison a store lookup took 78
/// instead of 205 ns). Copying the keys' text into a separate block of the map's own did not help (210 ns): any
/// second place is a second miss. Inline, the text is in the entry's own cache line.
/// </para>
/// <para>
/// The text is one byte per character when every character fits in one byte (every normalised phone number and
/// nearly every email address), and the two bytes of each UTF-16 character otherwise; a flag in the length says
/// which, so two keys are equal exactly when their length, flag and bytes are.
/// </para>
/// </remarks>
/// <typeparam name="TValue">The values; never null, so that an empty slot is one without a value.</typeparam>
/// <typeparam name="TText">An inline byte array whose size is the longest key kept inline, in bytes.</typeparam>
internal sealed class TextMap<TValue, TText>
    where TValue : class
    where TText : struct
{
    // Small, because every tenant's index starts with one map for emails and one for phones, and an email entry is
    // 56 bytes; growing by half from 4 reaches 16 after three steps.
    private const int MinCapacity = 4;

    // Set in a slot's length when its bytes are UTF-16 rather than one byte per character.
    private const int Wide = 1 << 30;

    private static readonly int InlineBytes = Unsafe.SizeOf<TText>();

    private readonly int _hashMask;
    private readonly Dictionary<string, TValue> _long = new(StringComparer.Ordinal);
    private Slot[] _slots = new Slot[MinCapacity];
    private int _inline;

    /// <summary>Creates an empty map.</summary>
    /// <param name="hashMask">Kept bits of each hash code; tests pass a small mask to make keys collide.</param>
    public TextMap(int hashMask = -1) => _hashMask = hashMask;

    public int Count => _inline + _long.Count;

    public bool TryGetValue(string key, out TValue value)
    {
        Span<byte> text = stackalloc byte[InlineBytes];
        if (!TryEncode(key, text, out var length))
        {
            return _long.TryGetValue(key, out value!);
        }

        var i = Find(text, length, Hash(key));
        value = i >= 0 ? _slots[i].Value! : null!;
        return i >= 0;
    }

    /// <summary>Adds the key or replaces its value.</summary>
    public void Set(string key, TValue value)
    {
        ArgumentNullException.ThrowIfNull(key);
        ArgumentNullException.ThrowIfNull(value);
        Span<byte> text = stackalloc byte[InlineBytes];
        if (!TryEncode(key, text, out var length))
        {
            _long[key] = value;
            return;
        }

        // Grown before the table is four-fifths full: linear probing's runs lengthen quickly beyond that.
        if ((_inline + 1) * 5L > _slots.Length * 4L)
        {
            Grow();
        }

        var hash = Hash(key);
        var i = Find(text, length, hash);
        if (i >= 0)
        {
            _slots[i].Value = value;
            return;
        }

        ref var slot = ref _slots[~i];
        slot.Hash = hash;
        slot.Length = length;
        text.CopyTo(Inline(ref slot));
        slot.Value = value;
        _inline++;
    }

    public bool Remove(string key, out TValue value)
    {
        Span<byte> text = stackalloc byte[InlineBytes];
        if (!TryEncode(key, text, out var length))
        {
            return _long.Remove(key, out value!);
        }

        var i = Find(text, length, Hash(key));
        if (i < 0)
        {
            value = null!;
            return false;
        }

        value = _slots[i].Value!;
        var size = _slots.Length;

        // Close the gap: move back each later entry of the run that the gap would cut off from its home slot.
        var gap = i;
        for (var j = LinearProbing.Next(gap, size); _slots[j].Value is not null; j = LinearProbing.Next(j, size))
        {
            var home = LinearProbing.Home(_slots[j].Hash, size);

            // The entry at j may fill the gap when its home is not in the circular range (gap, j].
            if (LinearProbing.Distance(home, j, size) >= LinearProbing.Distance(gap, j, size))
            {
                _slots[gap] = _slots[j];
                gap = j;
            }
        }

        _slots[gap] = default;
        _inline--;
        return true;
    }

    public bool Remove(string key) => Remove(key, out _);

    private int Hash(string key) => string.GetHashCode(key.AsSpan()) & _hashMask;

    /// <summary>
    /// Writes the key's text as it is kept inline into a zeroed buffer (stackalloc zeroes it), and its flagged length; <see langword="false"/> when
    /// it does not fit. Latin-1 keeps a character below 256 as one byte and maps any other to a stand-in ('ł'
    /// becomes 'l'), so text is narrowed only when every character is below 256.
    /// </summary>
    private static bool TryEncode(string key, Span<byte> text, out int length)
    {
        if (!key.AsSpan().ContainsAnyExceptInRange('\0', '\u00FF'))
        {
            length = key.Length;
            if (length > text.Length)
            {
                return false;
            }

            Encoding.Latin1.GetBytes(key, text);
            return true;
        }

        var bytes = MemoryMarshal.AsBytes(key.AsSpan());
        length = bytes.Length | Wide;
        return bytes.TryCopyTo(text);
    }

    /// <summary>The key's slot, or the complement of the empty slot where it would go.</summary>
    private int Find(ReadOnlySpan<byte> text, int length, int hash)
    {
        var slots = _slots;
        for (var i = LinearProbing.Home(hash, slots.Length); ; i = LinearProbing.Next(i, slots.Length))
        {
            ref var slot = ref slots[i];
            if (slot.Value is null)
            {
                return ~i;
            }

            // Both sides are zero-padded to the inline size, so whole buffers compare.
            if (slot.Hash == hash && slot.Length == length && Inline(ref slot).SequenceEqual(text))
            {
                return i;
            }
        }
    }

    private static Span<byte> Inline(ref Slot slot) =>
        MemoryMarshal.CreateSpan(ref Unsafe.As<TText, byte>(ref slot.Text), InlineBytes);

    private void Grow()
    {
        var old = _slots;
        _slots = new Slot[old.Length + (old.Length / 2)];
        foreach (ref var slot in old.AsSpan())
        {
            if (slot.Value is null)
            {
                continue;
            }

            var i = LinearProbing.Home(slot.Hash, _slots.Length);
            while (_slots[i].Value is not null)
            {
                i = LinearProbing.Next(i, _slots.Length);
            }

            _slots[i] = slot;
        }
    }

    private struct Slot
    {
        public TValue? Value;

        public int Hash;

        // Bytes of text, with the Wide flag for UTF-16.
        public int Length;

        public TText Text;
    }
}

/// <summary>Inline text for email keys: 40 bytes hold 99% of normalised addresses (CrmFaker's: median 28, longest 43).</summary>
[InlineArray(40)]
internal struct EmailText
{
    private byte _first;
}

/// <summary>Inline text for phone keys: an E.164 number is a '+' and at most 15 digits.</summary>
[InlineArray(16)]
internal struct PhoneText
{
    private byte _first;
}
