using Crm.Kit.Orders;
using Microsoft.Extensions.Options;

namespace Crm.Kit.Analytics;

/// <summary>How customer analytics reads orders and what it assumes. Validated when the service is first resolved.</summary>
public sealed class AnalyticsOptions
{
    /// <summary>The currency analysed; orders in other currencies are left out. Defaults to <see cref="CrmKitOptions.ReportingCurrency"/>.</summary>
    public string? Currency { get; set; }

    /// <summary>The offset from UTC at which analysis days start (see <see cref="PurchaseWindow.DayOffset"/>); UTC by default.</summary>
    public TimeSpan DayOffset { get; set; }

    /// <summary>The time unit of the lifetime models (frequency / recency / T and their parameters): 7 days (weeks) by default.</summary>
    public TimeSpan ModelTimeUnit { get; set; } = TimeSpan.FromDays(7);

    /// <summary>How RFM cells are named; <see cref="RfmSegmentMap.Default"/> unless set.</summary>
    public RfmSegmentMap RfmSegments { get; set; } = RfmSegmentMap.Default;

    /// <summary>The share of revenue that is margin, for historic and predicted value; 1 (value = revenue) by default.</summary>
    public decimal MarginRate { get; set; } = 1m;

    /// <summary>Margin rates by product category, overriding <see cref="MarginRate"/> for lines of that category (historic value).</summary>
    public IDictionary<string, decimal> CategoryMarginRates { get; } = new Dictionary<string, decimal>(StringComparer.Ordinal);

    /// <summary>Predicted value is summed over this many discount periods (12 by default).</summary>
    public int LifetimeValuePeriods { get; set; } = 12;

    /// <summary>The length of one discount period (30 days by default: months).</summary>
    public TimeSpan LifetimeValuePeriodLength { get; set; } = TimeSpan.FromDays(30);

    /// <summary>The discount rate per period (0.01 per month by default).</summary>
    public double DiscountRatePerPeriod { get; set; } = 0.01;

    /// <summary>A customer is flagged at risk when their churn risk reaches this (0.5 by default).</summary>
    public double AtRiskThreshold { get; set; } = 0.5;
}

internal sealed class AnalyticsOptionsValidator : IValidateOptions<AnalyticsOptions>
{
    public ValidateOptionsResult Validate(string? name, AnalyticsOptions options)
    {
        var errors = new List<string>();
        if (options.Currency is not null && !CurrencyCodes.IsValid(options.Currency))
        {
            errors.Add($"{nameof(AnalyticsOptions.Currency)}: '{options.Currency}' is not an ISO 4217 currency code.");
        }

        if (!PurchaseWindow.IsValidDayOffset(options.DayOffset))
        {
            errors.Add($"{nameof(AnalyticsOptions.DayOffset)}: must be whole minutes between -14 and +14 hours.");
        }

        if (!RepeatPurchaseSummary.IsWholeDays(options.ModelTimeUnit))
        {
            errors.Add($"{nameof(AnalyticsOptions.ModelTimeUnit)}: must be a positive whole number of days.");
        }

        if (options.RfmSegments is null)
        {
            errors.Add($"{nameof(AnalyticsOptions.RfmSegments)}: is required.");
        }

        if (options.MarginRate is < 0 or > 1 || options.CategoryMarginRates.Values.Any(r => r is < 0 or > 1))
        {
            errors.Add($"{nameof(AnalyticsOptions.MarginRate)}: margin rates lie between 0 and 1.");
        }

        if (options.LifetimeValuePeriods is < 1 or > 1200)
        {
            errors.Add($"{nameof(AnalyticsOptions.LifetimeValuePeriods)}: must lie between 1 and 1200.");
        }

        if (!RepeatPurchaseSummary.IsWholeDays(options.LifetimeValuePeriodLength))
        {
            errors.Add($"{nameof(AnalyticsOptions.LifetimeValuePeriodLength)}: must be a positive whole number of days.");
        }

        if (!(options.DiscountRatePerPeriod >= 0 && options.DiscountRatePerPeriod < 1))
        {
            errors.Add($"{nameof(AnalyticsOptions.DiscountRatePerPeriod)}: must lie in [0, 1).");
        }

        if (!(options.AtRiskThreshold > 0 && options.AtRiskThreshold <= 1))
        {
            errors.Add($"{nameof(AnalyticsOptions.AtRiskThreshold)}: must lie in (0, 1].");
        }

        return errors.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(errors);
    }
}
