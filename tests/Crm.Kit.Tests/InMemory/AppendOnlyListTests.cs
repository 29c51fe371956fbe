using CsCheck;
using Crm.Kit.InMemory;
using Xunit;

namespace Crm.Kit.Tests.InMemory;

public sealed class AppendOnlyListTests
{
    /// <summary>
    /// Runs of appends and removals from the end (lengths up to a few thousand, so that lists cross chunk
    /// boundaries both ways): after each run the list holds what a <see cref="List{T}"/> would, item for item.
    /// </summary>
    [Fact]
    public void Behaves_like_a_list_grown_and_cut_at_its_end()
    {
        Gen.Select(Gen.Bool, Gen.Int[1, 2_500]).Array[1, 12].Sample(runs =>
        {
            var list = new AppendOnlyList<(long, string)>();
            var expected = new List<(long, string)>();
            var next = 0L;
            foreach (var (append, length) in runs)
            {
                for (var i = 0; i < length; i++)
                {
                    if (append)
                    {
                        var item = (next, "item " + next);
                        next++;
                        list.Add(item);
                        expected.Add(item);
                    }
                    else if (expected.Count > 0)
                    {
                        list.RemoveLast();
                        expected.RemoveAt(expected.Count - 1);
                    }
                }

                Assert.Equal(expected.Count, list.Count);
                for (var i = 0; i < expected.Count; i++)
                {
                    Assert.Equal(expected[i], list[i]);
                }
            }
        }, iter: 60);
    }

    [Fact]
    public void Items_can_be_changed_in_place_and_indexes_outside_are_refused()
    {
        var list = new AppendOnlyList<int>();
        for (var i = 0; i < 3_000; i++)
        {
            list.Add(i);
        }

        list[2_999] = -1;
        list[1_024] += 10;
        Assert.Equal((-1, 1_034, 1_023), (list[2_999], list[1_024], list[1_023]));
        Assert.Throws<ArgumentOutOfRangeException>(() => list[3_000]);
        Assert.Throws<ArgumentOutOfRangeException>(() => list[-1]);
        Assert.Throws<InvalidOperationException>(() => new AppendOnlyList<int>().RemoveLast());
    }
}
