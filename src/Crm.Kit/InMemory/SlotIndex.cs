namespace Crm.Kit.InMemory;

/// <summary>
/// Finds the slot that holds an id, where the slots themselves say which id each holds: an open-addressing table
/// of slot numbers alone, found by linear probing. An entry is 4 bytes, so a million ids cost 5 to 11 bytes each,
/// where a <c>Dictionary&lt;Guid, int&gt;</c> costs about 40. Each probe asks <c>idOfSlot</c>, which reads the slot,
/// so this suits write paths rather than hot reads. Not thread-safe: the caller serialises every call.
/// </summary>
/// <param name="idOfSlot">The id a slot holds; asked only about slots this index was given and still holds.</param>
internal sealed class SlotIndex(Func<int, Guid> idOfSlot)
{
    private const int MinCapacity = 16;

    // A slot number plus one; zero marks an empty entry.
    private int[] _entries = new int[MinCapacity];

    /// <summary>How many ids the index holds.</summary>
    public int Count { get; private set; }

    /// <summary>The slot holding <paramref name="id"/>.</summary>
    public bool TryGetValue(Guid id, out int slot)
    {
        var i = Find(id);
        slot = i < 0 ? -1 : _entries[i] - 1;
        return i >= 0;
    }

    /// <summary>Records that <paramref name="slot"/> holds <paramref name="id"/>, replacing the slot it had.</summary>
    public void Set(Guid id, int slot)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(slot);
        if (Find(id) is var existing and >= 0)
        {
            _entries[existing] = slot + 1;
            return;
        }

        // Doubled before it is three-quarters full, where linear probing's runs start to lengthen quickly.
        if ((Count + 1) * 4L > _entries.Length * 3L)
        {
            Resize(_entries.Length * 2);
        }

        Place(_entries, slot, LinearProbing.Home(id, _entries.Length));
        Count++;
    }

    /// <summary>Forgets <paramref name="id"/>, giving back the slot it was in.</summary>
    public bool Remove(Guid id, out int slot)
    {
        var i = Find(id);
        if (i < 0)
        {
            slot = -1;
            return false;
        }

        slot = _entries[i] - 1;
        var size = _entries.Length;

        // Close the gap: move back each later entry of the run that the gap would cut off from its home.
        var gap = i;
        for (var j = LinearProbing.Next(gap, size); _entries[j] != 0; j = LinearProbing.Next(j, size))
        {
            var home = LinearProbing.Home(idOfSlot(_entries[j] - 1), size);
            if (LinearProbing.Distance(home, j, size) >= LinearProbing.Distance(gap, j, size))
            {
                _entries[gap] = _entries[j];
                gap = j;
            }
        }

        _entries[gap] = 0;
        Count--;
        return true;
    }

    private int Find(Guid id)
    {
        var size = _entries.Length;
        for (var i = LinearProbing.Home(id, size); _entries[i] != 0; i = LinearProbing.Next(i, size))
        {
            if (idOfSlot(_entries[i] - 1) == id)
            {
                return i;
            }
        }

        return -1;
    }

    private void Resize(int capacity)
    {
        var fresh = new int[capacity];
        foreach (var entry in _entries)
        {
            if (entry != 0)
            {
                Place(fresh, entry - 1, LinearProbing.Home(idOfSlot(entry - 1), capacity));
            }
        }

        _entries = fresh;
    }

    private static void Place(int[] entries, int slot, int home)
    {
        var i = home;
        while (entries[i] != 0)
        {
            i = LinearProbing.Next(i, entries.Length);
        }

        entries[i] = slot + 1;
    }
}
