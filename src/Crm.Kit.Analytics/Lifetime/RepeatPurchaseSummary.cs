using Crm.Kit.Orders;

namespace Crm.Kit.Analytics;

/// <summary>
/// What the lifetime models know about one customer, in model time units (for example weeks):
/// the standard frequency / recency / T summary of Fader, Hardie &amp; Lee (2005).
/// </summary>
/// <param name="Frequency">x: the number of <em>repeat</em> purchase days (distinct purchase days − 1) in the observation period.</param>
/// <param name="Recency">tₓ: the time from the first purchase to the last; 0 when <paramref name="Frequency"/> is 0.</param>
/// <param name="Age">T: the time from the first purchase to the end of the observation period.</param>
/// <param name="AverageRepeatValue">z̄: the mean spend of the repeat purchase days (the first day excluded); 0 when <paramref name="Frequency"/> is 0.</param>
public readonly record struct RepeatPurchaseSummary(int Frequency, double Recency, double Age, double AverageRepeatValue = 0)
{
    /// <summary>
    /// The standard summary of a customer's purchases: x = purchase days − 1, tₓ = last − first purchase day,
    /// T = <paramref name="observationEnd"/> − first purchase day (the end day itself counts as observed, so a first
    /// purchase on the last day gives T = 0), all divided by <paramref name="timeUnit"/>; z̄ = spend on the repeat days
    /// (the first day's spend removed) / x.
    /// </summary>
    /// <exception cref="CrmValidationException">The unit is not a positive whole number of days, or a purchase lies after the observation end.</exception>
    public static RepeatPurchaseSummary FromPurchases(CustomerPurchaseSummary purchases, DateOnly observationEnd, TimeSpan timeUnit)
    {
        ArgumentNullException.ThrowIfNull(purchases);
        var unitDays = DaysIn(timeUnit);
        if (purchases.LastDay > observationEnd)
        {
            throw new CrmValidationException(nameof(observationEnd), "after-purchases", $"The observation ends on {observationEnd:yyyy-MM-dd}, before the purchase on {purchases.LastDay:yyyy-MM-dd}.");
        }

        var x = purchases.PurchaseDays - 1;
        var recency = (purchases.LastDay.DayNumber - purchases.FirstDay.DayNumber) / unitDays;
        var age = (observationEnd.DayNumber - purchases.FirstDay.DayNumber) / unitDays;
        var value = x == 0 ? 0 : (double)((purchases.Spend - purchases.FirstDaySpend) / x);
        return new RepeatPurchaseSummary(x, x == 0 ? 0 : recency, age, value);
    }

    /// <summary>The length of a time unit in days; it must be a positive whole number of days.</summary>
    internal static double DaysIn(TimeSpan timeUnit)
    {
        if (!IsWholeDays(timeUnit))
        {
            throw new CrmValidationException(nameof(timeUnit), "whole-days", $"The time unit must be a positive whole number of days (7 for weeks); it is {timeUnit}.");
        }

        return timeUnit.TotalDays;
    }

    /// <summary>Whether <paramref name="length"/> is a positive whole number of days, as model time units and periods must be.</summary>
    internal static bool IsWholeDays(TimeSpan length) => length > TimeSpan.Zero && length.Ticks % TimeSpan.TicksPerDay == 0;

    /// <summary>Throws <see cref="CrmValidationException"/> naming <paramref name="field"/> when the summary is impossible.</summary>
    public void Validate(string field = "summary")
    {
        if (Frequency < 0)
        {
            throw new CrmValidationException($"{field}.{nameof(Frequency)}", "range", $"Frequency must be 0 or more; it is {Frequency}.");
        }

        if (!double.IsFinite(Age) || Age < 0)
        {
            throw new CrmValidationException($"{field}.{nameof(Age)}", "range", $"Age (T) must be a finite number of 0 or more; it is {Age}.");
        }

        if (!double.IsFinite(Recency) || Recency < 0 || Recency > Age)
        {
            throw new CrmValidationException($"{field}.{nameof(Recency)}", "range", $"Recency (tₓ) must lie between 0 and the age {Age}; it is {Recency}.");
        }

        if (Frequency == 0 && Recency != 0)
        {
            throw new CrmValidationException($"{field}.{nameof(Recency)}", "no-repeat", "Recency must be 0 when there are no repeat purchases.");
        }

        if (!double.IsFinite(AverageRepeatValue) || AverageRepeatValue < 0)
        {
            throw new CrmValidationException($"{field}.{nameof(AverageRepeatValue)}", "range", $"The average repeat value must be a finite amount of 0 or more; it is {AverageRepeatValue}.");
        }
    }
}
