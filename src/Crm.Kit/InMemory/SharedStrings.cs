using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace Crm.Kit.InMemory;

/// <summary>
/// Strings that many customers of one tenant hold by value (given and family names, postcodes), each kept once:
/// a new customer's copy is swapped for the instance stored customers already share. Every string is counted by
/// the customers that hold it and dropped with the last of them, so a name leaves memory when no stored customer
/// has it any more (after erasure, for instance), unlike an intern pool's. Guarded by the tenant's index lock.
/// </summary>
/// <remarks>
/// A thousand common names cover most people, so a million customers hold a thousand strings rather than two
/// million copies (about 75 bytes per customer with CrmFaker's people). A name held by one customer only costs
/// an entry here (about 28 bytes) on top of its string.
/// </remarks>
internal sealed class SharedStrings
{
    private readonly Dictionary<string, int> _holders = new(StringComparer.Ordinal);

    /// <summary>The instance stored customers share for <paramref name="value"/>, or <paramref name="value"/> itself.</summary>
    public string? Share(string? value)
    {
        if (value is null || _holders.Count == 0)
        {
            return value;
        }

        return _holders.GetAlternateLookup<ReadOnlySpan<char>>().TryGetValue(value, out var shared, out _) ? shared : value;
    }

    /// <summary>
    /// Counts a stored customer that starts (<paramref name="hold"/>) or stops holding <paramref name="value"/>; the
    /// last one to stop takes it out.
    /// </summary>
    public void Count(string? value, bool hold)
    {
        if (value is null)
        {
            return;
        }

        if (hold)
        {
            CollectionsMarshal.GetValueRefOrAddDefault(_holders, value, out _)++;
            return;
        }

        ref var holders = ref CollectionsMarshal.GetValueRefOrNullRef(_holders, value);
        if (!Unsafe.IsNullRef(ref holders) && --holders == 0)
        {
            _holders.Remove(value);
        }
    }

    /// <summary>Whether some stored customer holds <paramref name="value"/>; for tests.</summary>
    public bool IsHeld(string value) => _holders.ContainsKey(value);
}
