using System.Buffers.Binary;
using System.Security.Cryptography;

namespace Crm.Kit;

/// <summary>
/// New ids: RFC 9562 version 7 GUIDs, like <see cref="Guid.CreateVersion7(DateTimeOffset)"/> (48 bits of Unix
/// milliseconds, then 74 random bits, so ids sort by creation time and index well), but with the random bits
/// drawn from the cryptographic generator 256 ids at a time. <see cref="Guid.CreateVersion7(DateTimeOffset)"/>
/// asks the operating system for 16 bytes per id, which on a virtual machine costs about 1.5 µs — more than the
/// rest of an in-memory loyalty posting put together.
/// </summary>
internal static class CrmIds
{
    private const int IdsPerRefill = 256;

    [ThreadStatic]
    private static byte[]? t_random;

    [ThreadStatic]
    private static int t_used;

    /// <summary>A new version 7 id stamped with <paramref name="time"/>.</summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="time"/> is before the Unix epoch.</exception>
    public static Guid NewId(DateTimeOffset time)
    {
        var milliseconds = time.ToUnixTimeMilliseconds();
        ArgumentOutOfRangeException.ThrowIfNegative(milliseconds, nameof(time));
        var random = t_random ??= new byte[16 * IdsPerRefill];
        if (t_used == 0)
        {
            RandomNumberGenerator.Fill(random);
        }

        Span<byte> id = stackalloc byte[16];
        random.AsSpan(t_used * 16, 16).CopyTo(id);
        t_used = (t_used + 1) % IdsPerRefill;

        // Big-endian layout: unix_ts_ms (48 bits), version 7 (4 bits), rand_a (12), variant 0b10 (2), rand_b (62).
        var versionAndRandA = (long)((id[6] & 0x0F) | 0x70);
        BinaryPrimitives.WriteInt64BigEndian(id, (milliseconds << 16) | (versionAndRandA << 8) | id[7]);
        id[8] = (byte)((id[8] & 0x3F) | 0x80);
        return new Guid(id, bigEndian: true);
    }
}
