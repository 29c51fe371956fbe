using Microsoft.Extensions.Options;

namespace Crm.Kit.Service;

/// <summary>Checks <see cref="ServiceOptions"/> at start-up.</summary>
internal sealed class ServiceOptionsValidator : IValidateOptions<ServiceOptions>
{
    public ValidateOptionsResult Validate(string? name, ServiceOptions options)
    {
        var failures = new List<string>();
        if (options.CaseKinds.Count == 0)
        {
            failures.Add("ServiceOptions.CaseKinds: needs at least one case kind.");
        }

        foreach (var kind in options.CaseKinds)
        {
            if (string.IsNullOrWhiteSpace(kind) || kind.Trim().Length > 50)
            {
                failures.Add($"ServiceOptions.CaseKinds: {InputText.Quote(kind)} must be non-blank and at most 50 characters.");
            }
        }

        var duplicates = options.CaseKinds.Where(k => !string.IsNullOrWhiteSpace(k)).GroupBy(CaseManager.NormalizeKind).Where(g => g.Count() > 1).Select(g => g.Key).ToList();
        if (duplicates.Count > 0)
        {
            failures.Add($"ServiceOptions.CaseKinds: {string.Join(", ", duplicates)} listed more than once (kinds compare case-insensitively).");
        }

        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }
}
