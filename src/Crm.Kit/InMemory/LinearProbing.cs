using System.Runtime.CompilerServices;

namespace Crm.Kit.InMemory;

/// <summary>The slot arithmetic the in-memory open-addressing tables (<see cref="RowMap{T}"/>, <see cref="TextMap{TValue, TText}"/>, <see cref="SlotIndex"/>) share.</summary>
internal static class LinearProbing
{
    /// <summary>
    /// Where a hash code's probe starts. Fibonacci hashing spreads hash codes whose low bits repeat over the high
    /// bits; multiplying those by the length and keeping the top half maps them onto any length, not only powers of two.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static int Home(int hash, int length) => (int)(((ulong)((uint)hash * 0x9E3779B9u) * (uint)length) >> 32);

    /// <summary>Where an id's probe starts; Guid's own hash code folds all 128 bits.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static int Home(Guid id, int length) => Home(id.GetHashCode(), length);

    /// <summary>The slot after <paramref name="i"/>, going round the end of the table.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static int Next(int i, int length) => ++i == length ? 0 : i;

    /// <summary>How many steps forward from <paramref name="from"/> to <paramref name="to"/>, going round the end of the table.</summary>
    public static int Distance(int from, int to, int length) => to >= from ? to - from : to + length - from;
}
