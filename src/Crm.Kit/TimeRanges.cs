namespace Crm.Kit;

/// <summary>
/// The ranges the times a caller supplies must lie in. A time that records something that has happened (consent
/// given, an order placed, an interaction, a survey answer) may not lie after now by more than
/// <see cref="CrmKitOptions.AllowedClockSkew"/>: a fact from the future would outrank every real one after it.
/// A planned time (a task's due time, a deal's expected close, a promotion's window) may lie up to
/// <see cref="PlanningHorizon"/> ahead. No time may lie before <see cref="Earliest"/>.
/// </summary>
public static class TimeRanges
{
    /// <summary>The earliest time any caller-supplied time may be: 1900-01-01T00:00:00Z.</summary>
    public static readonly DateTimeOffset Earliest = new(1900, 1, 1, 0, 0, 0, TimeSpan.Zero);

    /// <summary>How far ahead of now a planned time may lie: 100 years.</summary>
    public static readonly TimeSpan PlanningHorizon = TimeSpan.FromDays(36_525);
}
