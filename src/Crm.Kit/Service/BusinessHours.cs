namespace Crm.Kit.Service;

/// <summary>One opening window on a day of the week, in the calendar's time zone.</summary>
/// <param name="Day">The day of the week.</param>
/// <param name="Opens">When the window opens, as time of day (00:00 up to, not including, 24:00).</param>
/// <param name="Closes">When it closes, after <paramref name="Opens"/>; 24:00 means midnight at the end of the day.</param>
public sealed record BusinessWindow(DayOfWeek Day, TimeSpan Opens, TimeSpan Closes);

/// <summary>
/// When a support team works: weekly opening windows and whole-day holidays, in one time zone. SLA targets count
/// only time inside these windows, so an 8-hour target opened at 17:00 on a Friday falls due on Monday.
/// </summary>
public sealed record BusinessHours
{
    /// <summary>The time zone the windows and holidays are in: an IANA id such as <c>Europe/Paris</c> (or a Windows id).</summary>
    public required string TimeZoneId { get; init; }

    /// <summary>The weekly windows; at least one, and windows on the same day must not overlap.</summary>
    public required IReadOnlyList<BusinessWindow> Windows { get; init; }

    /// <summary>Days (in <see cref="TimeZoneId"/>) on which no window opens.</summary>
    public IReadOnlyList<DateOnly> Holidays { get; init; } = [];

    /// <summary>Monday to Friday, <paramref name="opens"/> to <paramref name="closes"/>, in <paramref name="timeZoneId"/>.</summary>
    public static BusinessHours Weekdays(string timeZoneId, TimeSpan opens, TimeSpan closes, IReadOnlyList<DateOnly>? holidays = null) => new()
    {
        TimeZoneId = timeZoneId,
        Windows = [.. new[] { DayOfWeek.Monday, DayOfWeek.Tuesday, DayOfWeek.Wednesday, DayOfWeek.Thursday, DayOfWeek.Friday }.Select(d => new BusinessWindow(d, opens, closes))],
        Holidays = holidays ?? [],
    };
}

/// <summary>
/// Business-time arithmetic over <see cref="BusinessHours"/> (or round the clock when there are none): adding a
/// duration of working time to an instant, and measuring the working time between two instants, both optionally
/// leaving out periods when the clock is stopped (a case waiting on the customer).
/// </summary>
public sealed class BusinessCalendar
{
    /// <summary>Most holidays one calendar may list.</summary>
    public const int MaxHolidays = 1_000;

    /// <summary>Most windows one week may hold.</summary>
    public const int MaxWindows = 70;

    // Weekly windows guarantee an opening at least once a week, and at most MaxHolidays days can be closed: no
    // search walks further than this without finding working time.
    private const int MaxDaysSearched = 7 * (MaxHolidays + 2) + 7;

    private readonly TimeZoneInfo _zone;
    private readonly (TimeSpan Opens, TimeSpan Closes)[][] _byDay;
    private readonly HashSet<DateOnly> _holidays;
    private readonly bool _roundTheClock;

    private BusinessCalendar(TimeZoneInfo zone, (TimeSpan, TimeSpan)[][] byDay, HashSet<DateOnly> holidays, bool roundTheClock)
    {
        _zone = zone;
        _byDay = byDay;
        _holidays = holidays;
        _roundTheClock = roundTheClock;
    }

    /// <summary>Round the clock, every day: business time is elapsed time.</summary>
    public static BusinessCalendar RoundTheClock { get; } = new(TimeZoneInfo.Utc, [], [], roundTheClock: true);

    /// <summary>The calendar of <paramref name="hours"/>, or <see cref="RoundTheClock"/> when null.</summary>
    /// <exception cref="CrmValidationException">The hours break a rule (unknown zone, bad or overlapping windows, too many holidays).</exception>
    public static BusinessCalendar For(BusinessHours? hours)
    {
        if (hours is null)
        {
            return RoundTheClock;
        }

        var errors = new ValidationErrorCollector();
        var zone = Validate(hours, errors, "BusinessHours");
        errors.ThrowIfAny();
        var byDay = new (TimeSpan, TimeSpan)[7][];
        for (var day = 0; day < 7; day++)
        {
            byDay[day] = [.. hours.Windows.Where(w => (int)w.Day == day).OrderBy(w => w.Opens).Select(w => (w.Opens, w.Closes))];
        }

        return new BusinessCalendar(zone!, byDay, [.. hours.Holidays], roundTheClock: false);
    }

    /// <summary>Checks <paramref name="hours"/>, reporting each problem under <paramref name="path"/>; returns the zone when it is known.</summary>
    internal static TimeZoneInfo? Validate(BusinessHours hours, ValidationErrorCollector errors, string path)
    {
        TimeZoneInfo? zone = null;
        if (string.IsNullOrWhiteSpace(hours.TimeZoneId))
        {
            errors.Add(path + ".TimeZoneId", "required", "is required and must not be blank");
        }
        else if (!TimeZoneInfo.TryFindSystemTimeZoneById(hours.TimeZoneId, out zone))
        {
            errors.Add(path + ".TimeZoneId", "known-time-zone", $"{InputText.Quote(hours.TimeZoneId)} is not a time zone known to this machine");
        }

        if (hours.Windows is null || hours.Windows.Count == 0)
        {
            errors.Add(path + ".Windows", "required", "needs at least one weekly window, or leave the business hours out for round the clock");
            return zone;
        }

        errors.MaxCount(path + ".Windows", hours.Windows, MaxWindows);
        errors.MaxCount(path + ".Holidays", hours.Holidays, MaxHolidays);
        for (var i = 0; i < hours.Windows.Count; i++)
        {
            var window = hours.Windows[i];
            var at = $"{path}.Windows[{i}]";
            if (window is null)
            {
                errors.Add(at, "required", "must not be null");
                continue;
            }

            errors.Defined(at + ".Day", window.Day);
            if (window.Opens < TimeSpan.Zero || window.Opens >= TimeSpan.FromDays(1))
            {
                errors.Add(at + ".Opens", "range", $"must be a time of day from 00:00 to before 24:00 (was {window.Opens})");
            }
            else if (window.Closes <= window.Opens || window.Closes > TimeSpan.FromDays(1))
            {
                errors.Add(at + ".Closes", "range", $"must be after Opens ({window.Opens}) and at most 24:00 (was {window.Closes})");
            }
        }

        if (!errors.HasErrorsAt(path + ".Windows"))
        {
            foreach (var day in hours.Windows.GroupBy(w => w.Day))
            {
                var ordered = day.OrderBy(w => w.Opens).ToList();
                for (var i = 1; i < ordered.Count; i++)
                {
                    if (ordered[i].Opens < ordered[i - 1].Closes)
                    {
                        errors.Add(path + ".Windows", "no-overlap", $"windows on {day.Key} overlap ({ordered[i - 1].Opens}–{ordered[i - 1].Closes} and {ordered[i].Opens}–{ordered[i].Closes})");
                    }
                }
            }
        }

        return zone;
    }

    /// <summary>
    /// The instant at which <paramref name="duration"/> of business time has passed since <paramref name="start"/>,
    /// not counting the <paramref name="stopped"/> periods; <see langword="null"/> when an open-ended stop (one
    /// with no end) is reached first, because the clock is stopped until it ends.
    /// </summary>
    /// <param name="start">When the clock starts.</param>
    /// <param name="duration">The business time to add; zero returns the first business instant at or after <paramref name="start"/>.</param>
    /// <param name="stopped">Periods the clock does not run, ordered by start and not overlapping.</param>
    public DateTimeOffset? Add(DateTimeOffset start, TimeSpan duration, IReadOnlyList<StoppedPeriod>? stopped = null)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(duration, TimeSpan.Zero);
        var remaining = duration;
        foreach (var (from, to) in Running(start, stopped ?? []))
        {
            if (to is null)
            {
                return null;
            }

            var length = to.Value - from;
            if (length >= remaining)
            {
                return from + remaining;
            }

            remaining -= length;
        }

        throw new InvalidOperationException("The calendar has no working time in reach; this cannot happen with validated business hours.");
    }

    /// <summary>The business time between <paramref name="from"/> and <paramref name="to"/>, not counting the <paramref name="stopped"/> periods (zero when <paramref name="to"/> is not later).</summary>
    public TimeSpan Measure(DateTimeOffset from, DateTimeOffset to, IReadOnlyList<StoppedPeriod>? stopped = null)
    {
        var total = TimeSpan.Zero;
        if (to <= from)
        {
            return total;
        }

        foreach (var (start, end) in Running(from, stopped ?? []))
        {
            if (start >= to || end is null)
            {
                break;
            }

            total += (end.Value < to ? end.Value : to) - start;
            if (end.Value >= to)
            {
                break;
            }
        }

        return total;
    }

    /// <summary>
    /// The periods from <paramref name="start"/> on when the clock runs, in order. A period with a null end means
    /// the clock stops for good there (an open-ended stop begins).
    /// </summary>
    private IEnumerable<(DateTimeOffset From, DateTimeOffset? To)> Running(DateTimeOffset start, IReadOnlyList<StoppedPeriod> stopped)
    {
        var next = 0;
        foreach (var (windowStart, windowEnd) in Windows(start))
        {
            var from = windowStart;
            while (from < windowEnd)
            {
                // Skip stops that ended before this point.
                while (next < stopped.Count && stopped[next].Until is { } until && until <= from)
                {
                    next++;
                }

                if (next < stopped.Count && stopped[next].From <= from)
                {
                    if (stopped[next].Until is not { } resume)
                    {
                        yield return (from, null);
                        yield break;
                    }

                    from = resume;
                    continue;
                }

                var to = next < stopped.Count && stopped[next].From < windowEnd ? stopped[next].From : windowEnd;
                yield return (from, to);
                from = to;
            }
        }
    }

    /// <summary>Business windows in UTC from <paramref name="start"/> on, clipped to begin no earlier than it.</summary>
    private IEnumerable<(DateTimeOffset Start, DateTimeOffset End)> Windows(DateTimeOffset start)
    {
        start = start.ToUniversalTime();
        if (_roundTheClock)
        {
            yield return (start, DateTimeOffset.MaxValue);
            yield break;
        }

        var localDate = DateOnly.FromDateTime(TimeZoneInfo.ConvertTime(start, _zone).DateTime);
        for (var searched = 0; searched < MaxDaysSearched; searched++, localDate = localDate.AddDays(1))
        {
            if (_holidays.Contains(localDate))
            {
                continue;
            }

            foreach (var (opens, closes) in _byDay[(int)localDate.DayOfWeek])
            {
                var windowStart = ToUtc(localDate, opens);
                var windowEnd = ToUtc(localDate, closes);
                if (windowEnd <= start)
                {
                    continue;
                }

                yield return (windowStart < start ? start : windowStart, windowEnd);
            }
        }
    }

    private DateTimeOffset ToUtc(DateOnly date, TimeSpan timeOfDay)
    {
        var local = date.ToDateTime(TimeOnly.MinValue, DateTimeKind.Unspecified) + timeOfDay;
        if (_zone.IsInvalidTime(local))
        {
            // A local time skipped by a clock change: read it with the offset in force just before the change, which
            // puts it just after the gap, where the day's working time really begins.
            var offset = _zone.GetUtcOffset(local - TimeSpan.FromHours(3));
            return new DateTimeOffset(local - offset, TimeSpan.Zero);
        }

        return new DateTimeOffset(TimeZoneInfo.ConvertTimeToUtc(local, _zone), TimeSpan.Zero);
    }
}

/// <summary>A period when an SLA clock does not run.</summary>
/// <param name="From">When it stopped.</param>
/// <param name="Until">When it started again; <see langword="null"/> while still stopped.</param>
public readonly record struct StoppedPeriod(DateTimeOffset From, DateTimeOffset? Until);
