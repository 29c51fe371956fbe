using System.Buffers.Binary;
using CsCheck;
using Crm.Kit.InMemory;
using Xunit;

namespace Crm.Kit.Tests.InMemory;

public sealed class RowMapTests
{
    /// <summary>
    /// Operations as (kind, key): 0-4 set, 5-7 remove, 8-9 look up. Keys come from a small range so that sets
    /// replace, removes hit, removed ids come back, and runs of colliding slots form.
    /// </summary>
    private static readonly Gen<(int Kind, int Key)[]> Operations =
        Gen.Select(Gen.Int[0, 9], Gen.Int[0, 400]).Array[0, 3_000];

    [Fact]
    public void Behaves_like_a_dictionary()
    {
        Operations.Sample(operations =>
        {
            var map = new RowMap<Row>();
            var expected = new Dictionary<Guid, Row>();
            var version = 0;
            foreach (var (kind, number) in operations)
            {
                var id = CollidingId(number);
                switch (kind)
                {
                    case < 5:
                        var row = new Row(id, version++);
                        map.Set(id, row);
                        expected[id] = row;
                        break;
                    case < 8:
                        Assert.Equal(expected.Remove(id), map.Remove(id));
                        break;
                    default:
                        Assert.Equal(expected.GetValueOrDefault(id), map.GetValueOrDefault(id));
                        break;
                }

                Assert.Equal(expected.Count, map.Count);
            }

            foreach (var number in operations.Select(o => o.Key).Distinct())
            {
                var id = CollidingId(number);
                Assert.Equal(expected.TryGetValue(id, out var found), map.TryGetValue(id, out var read));
                Assert.Same(found, read);
                Assert.Equal(found is not null, map.ContainsKey(id));
            }
        }, iter: 300);
    }

    [Fact]
    public void Test_ids_collide_as_intended()
    {
        // The property above relies on these ids sharing eight hash codes; if Guid's hash changed, it would
        // still check the map, but no longer its colliding runs.
        Assert.Equal(8, Enumerable.Range(0, 400).Select(n => CollidingId(n).GetHashCode()).Distinct().Count());
    }

    [Fact]
    public void Refuses_a_null_row()
    {
        var map = new RowMap<Row>();
        Assert.Throws<ArgumentNullException>(() => map.Set(Guid.NewGuid(), null!));
        Assert.Equal(0, map.Count);
    }

    [Fact]
    public async Task Readers_without_a_lock_see_only_whole_rows_while_a_writer_grows_and_removes()
    {
        var map = new RowMap<Row>();
        var stable = Enumerable.Range(0, 2_000).Select(_ => Guid.CreateVersion7()).ToArray();
        foreach (var id in stable)
        {
            map.Set(id, new Row(id, 0));
        }

        var churn = Enumerable.Range(0, 50_000).Select(_ => Guid.CreateVersion7()).ToArray();
        var writing = true;
        var readers = Enumerable.Range(0, 3).Select(seed => Task.Run(() =>
        {
            var random = new Random(seed);
            var problems = new List<string>();
            while (Volatile.Read(ref writing) && problems.Count < 10)
            {
                var stableId = stable[random.Next(stable.Length)];
                if (!map.TryGetValue(stableId, out var row) || row.Id != stableId)
                {
                    problems.Add($"stable id {stableId} read as {row?.Id.ToString() ?? "missing"}");
                }

                var churnId = churn[random.Next(churn.Length)];
                if (map.TryGetValue(churnId, out var other) && other.Id != churnId)
                {
                    problems.Add($"id {churnId} read as the row of {other.Id}");
                }
            }

            return problems;
        })).ToArray();

        // Adds grow the table many times over; removals leave markers that later rebuilds drop; updates and
        // re-adds rewrite slots in place, all while the readers probe.
        for (var i = 0; i < churn.Length; i++)
        {
            map.Set(churn[i], new Row(churn[i], 0));
            map.Set(stable[i % stable.Length], new Row(stable[i % stable.Length], i));
            if (i % 3 == 0)
            {
                map.Remove(churn[i / 2]);
            }

            if (i % 7 == 0)
            {
                map.Set(churn[i / 2], new Row(churn[i / 2], i));
            }
        }

        Volatile.Write(ref writing, false);
        var problems = (await Task.WhenAll(readers)).SelectMany(p => p).ToList();
        Assert.Empty(problems);
        Assert.All(stable, id => Assert.Equal(id, map.GetValueOrDefault(id)?.Id));
    }

    /// <summary>An id whose hash code is <paramref name="number"/> mod 8: Guid's hash folds its four ints together.</summary>
    internal static Guid CollidingId(int number)
    {
        Span<byte> bytes = stackalloc byte[16];
        BinaryPrimitives.WriteInt32LittleEndian(bytes, number);
        BinaryPrimitives.WriteInt32LittleEndian(bytes[4..], number);
        BinaryPrimitives.WriteInt32LittleEndian(bytes[12..], number & 7);
        return new Guid(bytes);
    }

    private sealed record Row(Guid Id, int Version);
}
