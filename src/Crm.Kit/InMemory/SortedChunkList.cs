using System.Runtime.InteropServices;

namespace Crm.Kit.InMemory;

/// <summary>
/// A sorted set kept as a list of sorted chunks (the leaf level of a B+-tree): inserting, removing and finding
/// cost O(log n) plus a move within one chunk of at most <see cref="MaxChunk"/> items; adding past the last item
/// costs one comparison. It stores items inline, so it costs roughly the item's size per entry, where
/// <see cref="SortedSet{T}"/> spends a 40-byte node on each. Chunks grow in steps of an eighth rather than
/// doubling, so that at most about a tenth of the space they hold is spare: a chunk that filled by random inserts
/// and doubled would sit a third empty, and a million-customer name index is 100 MB of such chunks.
/// Not thread-safe: the in-memory indexes lock around it.
/// </summary>
internal sealed class SortedChunkList<T>(IComparer<T> comparer)
{
    private const int MaxChunk = 512;
    private readonly List<List<T>> _chunks = [];

    public int Count { get; private set; }

    public bool Add(T item)
    {
        if (_chunks.Count == 0)
        {
            _chunks.Add([item]);
            Count++;
            return true;
        }

        var last = _chunks[^1];
        if (comparer.Compare(last[^1], item) < 0)
        {
            // Past the end, the usual case for keys that follow the clock: no search, and a full chunk is left
            // full rather than split, so that appending in order packs the chunks.
            if (last.Count == MaxChunk)
            {
                _chunks.Add(new List<T>(MaxChunk) { item });
            }
            else
            {
                MakeRoom(last);
                last.Add(item);
            }

            Count++;
            return true;
        }

        var c = ChunkFor(item);
        var chunk = _chunks[c];
        var i = chunk.BinarySearch(item, comparer);
        if (i >= 0)
        {
            return false;
        }

        if (chunk.Count == MaxChunk)
        {
            // Split in two halves before inserting, each with a step of room for the next inserts.
            var half = MaxChunk / 2;
            var right = new List<T>(half + Step(half));
            right.AddRange(CollectionsMarshal.AsSpan(chunk)[half..]);
            chunk.RemoveRange(half, MaxChunk - half);
            chunk.Capacity = half + Step(half);
            _chunks.Insert(c + 1, right);
            if (comparer.Compare(right[0], item) <= 0)
            {
                chunk = right;
                i = chunk.BinarySearch(item, comparer);
            }
        }

        MakeRoom(chunk);
        chunk.Insert(~i, item);
        Count++;
        return true;
    }

    public bool Remove(T item)
    {
        if (_chunks.Count == 0)
        {
            return false;
        }

        var c = ChunkFor(item);
        var chunk = _chunks[c];
        var i = chunk.BinarySearch(item, comparer);
        if (i < 0)
        {
            return false;
        }

        chunk.RemoveAt(i);
        Count--;
        if (chunk.Count == 0)
        {
            _chunks.RemoveAt(c);
        }

        return true;
    }

    /// <summary>Items from the first one not less than <paramref name="start"/>, in order.</summary>
    public IEnumerable<T> From(T start)
    {
        if (_chunks.Count == 0)
        {
            yield break;
        }

        var c = ChunkFor(start);
        var i = _chunks[c].BinarySearch(start, comparer);
        for (i = i >= 0 ? i : ~i; c < _chunks.Count; c++, i = 0)
        {
            var chunk = _chunks[c];
            for (; i < chunk.Count; i++)
            {
                yield return chunk[i];
            }
        }
    }

    /// <summary>Items greater than <paramref name="item"/>, in order: the page after a keyset position.</summary>
    public IEnumerable<T> After(T item) => From(item).SkipWhile(x => comparer.Compare(x, item) == 0);

    /// <summary>Every item, in order.</summary>
    public IEnumerable<T> All()
    {
        foreach (var chunk in _chunks)
        {
            foreach (var item in chunk)
            {
                yield return item;
            }
        }
    }

    // Room for one more item, grown by a step rather than doubled (see the summary).
    private static void MakeRoom(List<T> chunk)
    {
        if (chunk.Count == chunk.Capacity)
        {
            chunk.Capacity = Math.Min(MaxChunk, chunk.Count + Step(chunk.Count));
        }
    }

    private static int Step(int count) => Math.Max(16, count / 8);

    // The last chunk whose first item is not greater than the item (or the first chunk).
    private int ChunkFor(T item)
    {
        int low = 0, high = _chunks.Count - 1;
        while (low < high)
        {
            var mid = (low + high + 1) / 2;
            if (comparer.Compare(_chunks[mid][0], item) <= 0)
            {
                low = mid;
            }
            else
            {
                high = mid - 1;
            }
        }

        return low;
    }
}
