using CsCheck;
using Crm.Kit.InMemory;
using Xunit;

namespace Crm.Kit.Tests.InMemory;

public sealed class SortedChunkListTests
{
    /// <summary>
    /// Operations as (kind, value): kind 0-5 appends past the largest value so far (the in-order path that
    /// keys following the clock take), 6-7 inserts anywhere, 8-9 removes.
    /// </summary>
    private static readonly Gen<(int Kind, int Value)[]> Operations =
        Gen.Select(Gen.Int[0, 9], Gen.Int[0, 5_000]).Array[0, 3_000];

    [Fact]
    public void Holds_the_same_items_in_the_same_order_as_a_sorted_set()
    {
        Operations.Sample(operations =>
        {
            var list = new SortedChunkList<int>(Comparer<int>.Default);
            var expected = new SortedSet<int>();
            var largest = 0;
            foreach (var (kind, value) in operations)
            {
                switch (kind)
                {
                    case < 6:
                        largest += 1 + (value % 3);
                        Assert.Equal(expected.Add(largest), list.Add(largest));
                        break;
                    case < 8:
                        Assert.Equal(expected.Add(value), list.Add(value));
                        break;
                    default:
                        Assert.Equal(expected.Remove(value), list.Remove(value));
                        break;
                }

                Assert.Equal(expected.Count, list.Count);
            }

            Assert.Equal(expected, list.All());
            var start = operations.Length == 0 ? 0 : operations[0].Value;
            Assert.Equal(expected.Where(v => v >= start), list.From(start));
            Assert.Equal(expected.Where(v => v > start), list.After(start));
        }, iter: 300);
    }
}
