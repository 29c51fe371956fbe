using CsCheck;
using Crm.Kit.InMemory;
using Xunit;

namespace Crm.Kit.Tests.InMemory;

public sealed class FlatMapTests
{
    /// <summary>
    /// Operations as (kind, key): 0-4 set, 5-7 remove, 8-9 look up. Keys come from a small range so that sets
    /// replace, removes hit, and runs of colliding entries form and are cut by removals.
    /// </summary>
    private static readonly Gen<(int Kind, int Key)[]> Operations =
        Gen.Select(Gen.Int[0, 9], Gen.Int[0, 400]).Array[0, 3_000];

    [Fact]
    public void Behaves_like_a_dictionary()
    {
        Operations.Sample(operations =>
        {
            // Few distinct hash codes, so that keys share home slots and probe runs wrap around the table.
            var map = new FlatMap<string, string>(new CollidingComparer());
            var expected = new Dictionary<string, string>(new CollidingComparer());
            var version = 0;
            foreach (var (kind, number) in operations)
            {
                var key = "k" + number;
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

            // Every key ever used is found exactly as the dictionary has it.
            foreach (var number in operations.Select(o => o.Key).Distinct())
            {
                var key = "k" + number;
                Assert.Equal(expected.TryGetValue(key, out var found), map.TryGetValue(key, out var read));
                Assert.Equal(found, read);
            }
        }, iter: 300);
    }

    [Fact]
    public void Refuses_a_null_value()
    {
        var map = new FlatMap<string, string>(StringComparer.Ordinal);
        Assert.Throws<ArgumentNullException>(() => map.Set("key", null!));
        Assert.Equal(0, map.Count);
    }

    private sealed class CollidingComparer : IEqualityComparer<string>
    {
        public bool Equals(string? x, string? y) => string.Equals(x, y, StringComparison.Ordinal);

        public int GetHashCode(string obj) => StringComparer.Ordinal.GetHashCode(obj) & 0x7;
    }
}
