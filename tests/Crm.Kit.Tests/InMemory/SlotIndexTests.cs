using CsCheck;
using Crm.Kit.InMemory;
using Xunit;

namespace Crm.Kit.Tests.InMemory;

public sealed class SlotIndexTests
{
    /// <summary>
    /// Operations as (kind, key): 0-4 put the id in a new slot, 5-7 remove it, 8-9 look it up. Keys come from a
    /// small range of ids that share eight hash codes, so runs of colliding entries form and removals must close
    /// gaps inside them.
    /// </summary>
    private static readonly Gen<(int Kind, int Key)[]> Operations =
        Gen.Select(Gen.Int[0, 9], Gen.Int[0, 400]).Array[0, 3_000];

    [Fact]
    public void Finds_what_a_dictionary_finds()
    {
        Operations.Sample(operations =>
        {
            // The slots' own record of which id each holds, as the scan rows are for the real index.
            var slots = new List<Guid>();
            var index = new SlotIndex(slot => slots[slot]);
            var expected = new Dictionary<Guid, int>();
            foreach (var (kind, number) in operations)
            {
                var id = RowMapTests.CollidingId(number);
                switch (kind)
                {
                    case < 5:
                        slots.Add(id);
                        index.Set(id, slots.Count - 1);
                        expected[id] = slots.Count - 1;
                        break;
                    case < 8:
                        var removed = expected.Remove(id, out var expectedSlot);
                        Assert.Equal(removed, index.Remove(id, out var slot));
                        Assert.Equal(removed ? expectedSlot : -1, slot);
                        break;
                    default:
                        Assert.Equal(expected.TryGetValue(id, out var want), index.TryGetValue(id, out var got));
                        Assert.Equal(expected.ContainsKey(id) ? want : -1, got);
                        break;
                }

                Assert.Equal(expected.Count, index.Count);
            }

            foreach (var (id, slot) in expected)
            {
                Assert.True(index.TryGetValue(id, out var found));
                Assert.Equal(slot, found);
            }
        }, iter: 300);
    }

    [Fact]
    public void Grows_past_its_first_capacity_and_keeps_every_id()
    {
        var ids = Enumerable.Range(0, 10_000).Select(_ => Guid.CreateVersion7()).ToArray();
        var index = new SlotIndex(slot => ids[slot]);
        for (var i = 0; i < ids.Length; i++)
        {
            index.Set(ids[i], i);
        }

        for (var i = 0; i < ids.Length; i += 2)
        {
            Assert.True(index.Remove(ids[i], out var slot));
            Assert.Equal(i, slot);
        }

        Assert.Equal(5_000, index.Count);
        for (var i = 0; i < ids.Length; i++)
        {
            Assert.Equal(i % 2 == 1, index.TryGetValue(ids[i], out var slot));
            Assert.Equal(i % 2 == 1 ? i : -1, slot);
        }
    }

    [Fact]
    public void Refuses_a_negative_slot()
    {
        var index = new SlotIndex(_ => Guid.Empty);
        Assert.Throws<ArgumentOutOfRangeException>(() => index.Set(Guid.NewGuid(), -1));
        Assert.Equal(0, index.Count);
    }
}
