using System.Text;
using CsCheck;
using Crm.Kit.InMemory;
using Xunit;

namespace Crm.Kit.Tests.InMemory;

public sealed class TextMapTests
{
    /// <summary>
    /// Operations as (kind, key): 0-4 set, 5-7 remove, 8-9 look up. Keys come from a small range so that sets
    /// replace, removes hit, and runs of colliding entries form and are cut by removals. A quarter of the keys have a
    /// character beyond one byte, and each of those differs from another key only there. With 16 bytes inline,
    /// the keys of more than 16 one-byte or 8 two-byte characters go to the map's dictionary of long keys.
    /// </summary>
    private static readonly Gen<(int Kind, int Key)[]> Operations =
        Gen.Select(Gen.Int[0, 9], Gen.Int[0, 400]).Array[0, 3_000];

    [Fact]
    public void Behaves_like_a_dictionary()
    {
        Operations.Sample(operations =>
        {
            // Eight hash codes in all, so that keys share home slots and probe runs wrap around the table.
            var map = new TextMap<string, PhoneText>(hashMask: 0x7);
            var expected = new Dictionary<string, string>(StringComparer.Ordinal);
            var version = 0;
            foreach (var (kind, number) in operations)
            {
                var key = Key(number);
                switch (kind)
                {
                    case < 5:
                        var value = key + "#" + version++;
                        map.Set(key, value);
                        expected[key] = value;
                        break;
                    case < 8:
                        Assert.Equal(expected.Remove(key, out var removed), map.Remove(key, out var got));
                        Assert.Equal(removed, got);
                        break;
                    default:
                        Assert.Equal(expected.TryGetValue(key, out var found), map.TryGetValue(key, out var read));
                        Assert.Equal(found, read);
                        break;
                }

                Assert.Equal(expected.Count, map.Count);
            }

            // Every key ever used, and keys never used, are found exactly as the dictionary has them.
            foreach (var number in operations.Select(o => o.Key).Distinct().Append(401).Append(402))
            {
                var key = Key(number);
                Assert.Equal(expected.TryGetValue(key, out var found), map.TryGetValue(key, out var read));
                Assert.Equal(found, read);
            }
        }, iter: 300);
    }

    [Fact]
    public void Keys_that_differ_only_beyond_one_byte_are_different_keys()
    {
        // 'ł' (U+0142) narrowed to one byte becomes whatever Latin-1's fallback makes of it, and the key would then
        // equal the second one. Every key has the same hash code here, so only the stored text tells them apart.
        var map = new TextMap<string, EmailText>(hashMask: 0);
        map.Set("jan.kowalski@ł.pl", "wide");
        map.Set($"jan.kowalski@{NarrowedL}.pl", "narrow");
        map.Set("zoë@example.com", "latin-1");

        Assert.True(map.TryGetValue("jan.kowalski@ł.pl", out var wide));
        Assert.Equal("wide", wide);
        Assert.True(map.TryGetValue($"jan.kowalski@{NarrowedL}.pl", out var narrow));
        Assert.Equal("narrow", narrow);
        Assert.True(map.TryGetValue("zoë@example.com", out var latin));
        Assert.Equal("latin-1", latin);
        Assert.False(map.TryGetValue("zoe@example.com", out _));
        Assert.False(map.TryGetValue("jan.kowalski@ń.pl", out _));
    }

    [Fact]
    public void Keys_longer_than_the_inline_text_are_kept_whole()
    {
        // 40 bytes inline: these share their first 40 characters and differ after them.
        var map = new TextMap<string, EmailText>();
        var prefix = new string('a', 40);
        map.Set(prefix + "1@example.com", "one");
        map.Set(prefix + "2@example.com", "two");
        map.Set(prefix[..30] + "@example.com", "inline");

        Assert.Equal(3, map.Count);
        Assert.True(map.TryGetValue(prefix + "1@example.com", out var one));
        Assert.Equal("one", one);
        Assert.True(map.Remove(prefix + "2@example.com", out var two));
        Assert.Equal("two", two);
        Assert.False(map.TryGetValue(prefix + "2@example.com", out _));
        Assert.True(map.TryGetValue(prefix[..30] + "@example.com", out var inline));
        Assert.Equal("inline", inline);
        Assert.Equal(2, map.Count);
    }

    [Fact]
    public void Refuses_a_null_value()
    {
        var map = new TextMap<string, EmailText>();
        Assert.Throws<ArgumentNullException>(() => map.Set("key", null!));
        Assert.Equal(0, map.Count);
    }

    /// <summary>What 'ł' becomes when Latin-1 encoding narrows it to one byte.</summary>
    private static readonly string NarrowedL = Encoding.Latin1.GetString(Encoding.Latin1.GetBytes("ł"));

    // Four spellings of each suffix: narrow, Latin-1, beyond one byte, and the last narrowed as Latin-1 would;
    // the suffix pads the number so that lengths run from 2 to 17 characters, across the inline limit, and keys of
    // one length share all but their last characters.
    private static string Key(int number) => (number % 4) switch
    {
        0 => "k" + Suffix(number / 4),
        1 => "kä" + Suffix(number / 4),
        2 => "kł" + Suffix(number / 4),
        _ => "k" + NarrowedL + Suffix(number / 4),
    };

    private static string Suffix(int n) => new string('x', n % 13) + n.ToString(System.Globalization.CultureInfo.InvariantCulture);
}
