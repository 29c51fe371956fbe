using Crm.Kit.Service;
using CsCheck;

namespace Crm.Kit.Tests.Service;

/// <summary>
/// Business-time arithmetic agrees with a plain reference that walks the calendar one minute at a time, in zones
/// with and without daylight saving, with holidays and stopped periods.
/// </summary>
public sealed class BusinessCalendarTests
{
    private static readonly string[] Zones = ["UTC", "Europe/Paris", "America/New_York", "Australia/Lord_Howe", "Asia/Kolkata", "Asia/Tokyo"];

    private sealed record Case(BusinessHours Hours, DateTimeOffset Start, int Minutes, StoppedPeriod[] Stops);

    // Windows open from 05:00 on: the zones above change their clocks between midnight and 03:00, and what a
    // window reaching into a repeated hour means is a documented choice, not something a minute walk decides.
    private static readonly Gen<BusinessWindow[]> WindowsGen =
        Gen.Select(Gen.Int[0, 6], Gen.Int[5 * 4, 20 * 4], Gen.Int[1, 8 * 4])
            .Select((day, open, length) => new BusinessWindow((DayOfWeek)day, TimeSpan.FromMinutes(open * 15), TimeSpan.FromMinutes(Math.Min(open + length, 96) * 15)))
            .Array[1, 8]
            .Select(windows => windows.GroupBy(w => w.Day).Select(g => g.First()).ToArray());

    private static readonly Gen<Case> CaseGen =
        Gen.Select(
            Gen.Int[0, Zones.Length - 1],
            WindowsGen,
            Gen.Int[0, 365 * 24 * 60 * 2],
            Gen.Int[1, 16 * 60],
            Gen.Int[0, 120].Array[0, 6],
            Gen.Select(Gen.Int[0, 72 * 60], Gen.Int[1, 24 * 60]).Array[0, 3],
            Gen.Bool)
        .Select((zone, windows, startMinute, minutes, holidayOffsets, stops, openEnded) =>
        {
            var start = new DateTimeOffset(2026, 1, 1, 0, 0, 0, TimeSpan.Zero).AddMinutes(startMinute);
            var hours = new BusinessHours
            {
                TimeZoneId = Zones[zone],
                Windows = windows.Sum(w => (w.Closes - w.Opens).TotalHours) < 5
                    ? [.. windows.Where(w => w.Day != DayOfWeek.Monday), new BusinessWindow(DayOfWeek.Monday, TimeSpan.FromHours(9), TimeSpan.FromHours(17))]
                    : windows,
                Holidays = [.. holidayOffsets.Select(d => DateOnly.FromDateTime(start.UtcDateTime).AddDays(d)).Distinct()],
            };
            return new Case(hours, start, minutes, Stops(start, stops, openEnded));
        });

    [Fact]
    public void Adding_business_time_matches_a_minute_by_minute_walk()
    {
        CaseGen.Sample(c =>
        {
            var calendar = BusinessCalendar.For(c.Hours);
            var expected = Walk(c.Hours, c.Start, c.Minutes, c.Stops);
            var actual = calendar.Add(c.Start, TimeSpan.FromMinutes(c.Minutes), c.Stops);
            Assert.Equal(expected, actual);
            if (actual is { } due)
            {
                Assert.Equal(TimeSpan.FromMinutes(c.Minutes), calendar.Measure(c.Start, due, c.Stops));
            }
        }, iter: 150);
    }

    [Fact]
    public void Measuring_is_the_inverse_of_adding()
    {
        CaseGen.Sample(c =>
        {
            var calendar = BusinessCalendar.For(c.Hours);
            var end = c.Start.AddMinutes(c.Minutes * 7);
            var measured = calendar.Measure(c.Start, end, c.Stops);
            Assert.Equal(TimeSpan.FromMinutes(CountMinutes(c.Hours, c.Start, end, c.Stops)), measured);
            if (measured > TimeSpan.Zero && c.Stops.All(s => s.Until is not null))
            {
                Assert.True(calendar.Add(c.Start, measured, c.Stops) <= end);
            }
        }, iter: 100);
    }

    [Fact]
    public void Round_the_clock_is_elapsed_time_minus_stops()
    {
        var start = new DateTimeOffset(2026, 3, 1, 9, 0, 0, TimeSpan.Zero);
        var calendar = BusinessCalendar.RoundTheClock;
        Assert.Equal(start.AddHours(5), calendar.Add(start, TimeSpan.FromHours(5)));
        StoppedPeriod[] stops = [new(start.AddHours(1), start.AddHours(3))];
        Assert.Equal(start.AddHours(7), calendar.Add(start, TimeSpan.FromHours(5), stops));
        Assert.Null(calendar.Add(start, TimeSpan.FromHours(5), [new StoppedPeriod(start.AddHours(1), null)]));
        Assert.Equal(TimeSpan.FromHours(3), calendar.Measure(start, start.AddHours(5), stops));
    }

    [Fact]
    public void A_skipped_hour_shortens_the_window_that_holds_it()
    {
        // Paris moves from 02:00 to 03:00 on 2026-03-29: a Sunday window from 01:00 to 05:00 holds three hours.
        var calendar = BusinessCalendar.For(new BusinessHours { TimeZoneId = "Europe/Paris", Windows = [new BusinessWindow(DayOfWeek.Sunday, TimeSpan.FromHours(1), TimeSpan.FromHours(5))] });
        var saturday = new DateTimeOffset(2026, 3, 28, 12, 0, 0, TimeSpan.Zero);
        Assert.Equal(TimeSpan.FromHours(3), calendar.Measure(saturday, saturday.AddDays(1)));
        Assert.Equal(new DateTimeOffset(2026, 3, 29, 3, 0, 0, TimeSpan.Zero), calendar.Add(saturday, TimeSpan.FromHours(3)));
    }

    private static StoppedPeriod[] Stops(DateTimeOffset start, (int Offset, int Length)[] stops, bool openEnded)
    {
        var ordered = stops.OrderBy(s => s.Offset).ToList();
        var result = new List<StoppedPeriod>();
        var free = start;
        for (var i = 0; i < ordered.Count; i++)
        {
            var from = start.AddMinutes(ordered[i].Offset);
            if (from < free)
            {
                from = free;
            }

            var last = i == ordered.Count - 1;
            if (last && openEnded)
            {
                result.Add(new StoppedPeriod(from, null));
                break;
            }

            var until = from.AddMinutes(ordered[i].Length);
            result.Add(new StoppedPeriod(from, until));
            free = until.AddMinutes(1);
        }

        return [.. result];
    }

    /// <summary>The reference: walks minute by minute, counting those inside a window, off holidays and outside stops.</summary>
    private static DateTimeOffset? Walk(BusinessHours hours, DateTimeOffset start, int minutes, StoppedPeriod[] stops)
    {
        var zone = TimeZoneInfo.FindSystemTimeZoneById(hours.TimeZoneId);
        var remaining = minutes;
        for (var t = start; t < start.AddYears(3); t = t.AddMinutes(1))
        {
            if (stops.Any(s => s.Until is null && t >= s.From))
            {
                return null;
            }

            if (Counts(hours, zone, t, stops) && --remaining == 0)
            {
                return t.AddMinutes(1);
            }
        }

        throw new InvalidOperationException("no working time within three years");
    }

    private static int CountMinutes(BusinessHours hours, DateTimeOffset from, DateTimeOffset to, StoppedPeriod[] stops)
    {
        var zone = TimeZoneInfo.FindSystemTimeZoneById(hours.TimeZoneId);
        var count = 0;
        for (var t = from; t < to; t = t.AddMinutes(1))
        {
            if (Counts(hours, zone, t, stops))
            {
                count++;
            }
        }

        return count;
    }

    private static bool Counts(BusinessHours hours, TimeZoneInfo zone, DateTimeOffset minute, StoppedPeriod[] stops)
    {
        if (stops.Any(s => minute >= s.From && (s.Until is null || minute < s.Until)))
        {
            return false;
        }

        var local = TimeZoneInfo.ConvertTime(minute, zone);
        if (hours.Holidays.Contains(DateOnly.FromDateTime(local.DateTime)))
        {
            return false;
        }

        var time = local.TimeOfDay;
        return hours.Windows.Any(w => w.Day == local.DayOfWeek && w.Opens <= time && time < w.Closes);
    }
}
