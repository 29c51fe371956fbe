using Microsoft.Extensions.Options;

namespace Crm.Kit;

/// <summary>Options for Crm.Kit, validated when the first manager is created.</summary>
public sealed class CrmKitOptions
{
    /// <summary>
    /// The ISO 4217 currency that customer metrics (total spent, average order value) are kept in. Orders in
    /// another currency are converted by the registered <see cref="ICurrencyConverter"/>. Default <c>USD</c>.
    /// </summary>
    public string ReportingCurrency { get; set; } = "USD";

    /// <summary>
    /// The ISO 3166 region used to read phone numbers written without an international prefix, for example
    /// <c>GB</c> turns <c>020 7946 0018</c> into <c>+442079460018</c>. Default <c>US</c>.
    /// </summary>
    public string DefaultPhoneRegion { get; set; } = "US";

    /// <summary>The largest page size a caller may ask for. Default 1,000.</summary>
    public int MaxPageSize { get; set; } = 1000;

    /// <summary>
    /// How often a write that lost an optimistic-concurrency race inside Crm.Kit (metrics of concurrent orders,
    /// consent statements, task completion) is retried, with a random pause of up to 64 ms, before the
    /// <see cref="ConcurrencyConflictException"/> reaches the caller. Default 30.
    /// </summary>
    public int ConcurrencyRetryLimit { get; set; } = 30;

    /// <summary>The lowest score a pair needs to be reported as a likely duplicate, between 0 and 1. Default 0.7.</summary>
    public double DuplicateScoreThreshold { get; set; } = 0.7;

    /// <summary>
    /// How far after this machine's clock a time that records something that has happened (consent, an order, an
    /// interaction, a survey answer) may lie, for callers whose clocks run a little ahead (see
    /// <see cref="TimeRanges"/>). Between zero and one hour. Default 5 minutes.
    /// </summary>
    public TimeSpan AllowedClockSkew { get; set; } = TimeSpan.FromMinutes(5);
}

/// <summary>Checks <see cref="CrmKitOptions"/> and reports every problem at once.</summary>
internal sealed class CrmKitOptionsValidator : IValidateOptions<CrmKitOptions>
{
    public ValidateOptionsResult Validate(string? name, CrmKitOptions options)
    {
        var failures = new List<string>();
        if (!CurrencyCodes.IsValid(options.ReportingCurrency))
        {
            failures.Add($"CrmKitOptions.ReportingCurrency: {InputText.Quote(options.ReportingCurrency)} is not an ISO 4217 code in upper case.");
        }

        if (!PhoneNumbers.IsKnownRegion(options.DefaultPhoneRegion))
        {
            failures.Add($"CrmKitOptions.DefaultPhoneRegion: {InputText.Quote(options.DefaultPhoneRegion)} is not a supported ISO 3166 region code.");
        }

        if (options.MaxPageSize is < 1 or > 100_000)
        {
            failures.Add($"CrmKitOptions.MaxPageSize: must be between 1 and 100000 (was {options.MaxPageSize}).");
        }

        if (options.ConcurrencyRetryLimit is < 0 or > 1000)
        {
            failures.Add($"CrmKitOptions.ConcurrencyRetryLimit: must be between 0 and 1000 (was {options.ConcurrencyRetryLimit}).");
        }

        if (options.AllowedClockSkew < TimeSpan.Zero || options.AllowedClockSkew > TimeSpan.FromHours(1))
        {
            failures.Add($"CrmKitOptions.AllowedClockSkew: must be between zero and one hour (was {options.AllowedClockSkew}).");
        }

        if (options.DuplicateScoreThreshold is <= 0 or > 1 || double.IsNaN(options.DuplicateScoreThreshold))
        {
            failures.Add($"CrmKitOptions.DuplicateScoreThreshold: must be greater than 0 and at most 1 (was {options.DuplicateScoreThreshold}).");
        }

        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }
}
