using System.Collections.Concurrent;
using Xunit;

namespace Crm.Kit.Tests.DependencyInjection;

public sealed class CrmIdsTests
{
    [Fact]
    public void New_ids_are_version_7_stamped_with_the_time_and_unique()
    {
        var time = new DateTimeOffset(2026, 11, 22, 10, 30, 15, 123, TimeSpan.Zero);
        var seen = new HashSet<Guid>();
        for (var i = 0; i < 2_000; i++)
        {
            var id = CrmIds.NewId(time);
            Assert.Equal(7, id.Version);
            Assert.Equal(0b10, id.Variant >> 2);
            Assert.True(seen.Add(id), "an id repeated");

            // The first 48 bits are the Unix milliseconds, as in Guid.CreateVersion7.
            var text = id.ToString("N");
            Assert.Equal(time.ToUnixTimeMilliseconds(), Convert.ToInt64(text[..12], 16));
        }
    }

    [Fact]
    public void Ids_sort_by_their_time_and_threads_do_not_share_random_bits()
    {
        var earlier = CrmIds.NewId(new DateTimeOffset(2026, 1, 1, 0, 0, 0, TimeSpan.Zero));
        var later = CrmIds.NewId(new DateTimeOffset(2026, 1, 1, 0, 0, 0, 1, TimeSpan.Zero));
        Assert.True(string.CompareOrdinal(earlier.ToString("N"), later.ToString("N")) < 0);

        var ids = new ConcurrentBag<Guid>();
        Parallel.For(0, 8, _ =>
        {
            for (var i = 0; i < 1_000; i++)
            {
                ids.Add(CrmIds.NewId(DateTimeOffset.UnixEpoch));
            }
        });
        Assert.Equal(ids.Count, ids.Distinct().Count());
    }

    [Fact]
    public void A_time_before_1970_is_rejected() =>
        Assert.Throws<ArgumentOutOfRangeException>("time", () => CrmIds.NewId(DateTimeOffset.UnixEpoch.AddMilliseconds(-1)));
}
