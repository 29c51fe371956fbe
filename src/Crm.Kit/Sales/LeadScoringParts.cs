using System.Linq.Expressions;
using System.Reflection;
using Crm.Kit.Customers;
using Crm.Kit.InMemory;
using Crm.Kit.Interactions;
using Crm.Kit.Privacy;
using Crm.Kit.Segmentation;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace Crm.Kit.Sales;

/// <summary>
/// Contributes the stored lead score as the segment field <c>lead.score</c>, so that rules such as
/// "<c>lead.score</c> at least 60" select hot leads. Registered by <c>AddLeadScoring()</c>. Customers never scored
/// have it unset. In memory it reads the in-memory score store; the EF Core adapter binds it to its scores table,
/// so rules using it run in SQL.
/// </summary>
public sealed class LeadScoreFields : ISegmentFieldProvider
{
    /// <summary>The lead score.</summary>
    public const string Score = "lead.score";

    private static readonly MethodInfo FindMethod = typeof(InMemoryLeadScoreStore).GetMethod(nameof(InMemoryLeadScoreStore.FindScore))!;

    private readonly InMemoryLeadScoreStore _inMemory;

    /// <summary>Creates the provider; in-memory rules read <paramref name="inMemory"/>.</summary>
    public LeadScoreFields(InMemoryLeadScoreStore inMemory) => _inMemory = inMemory ?? throw new ArgumentNullException(nameof(inMemory));

    /// <inheritdoc />
    public IEnumerable<SegmentField> GetFields()
    {
        yield return SegmentField.Number(Score, "The customer's lead score (fit plus decayed engagement) as last computed; unset for customers never scored.", Read<long?>(nameof(LeadScoreAccess.Score)));
    }

    private Expression<Func<Customer, T>> Read<T>(string reader) => StoreFieldReader.Read<T>(_inMemory, FindMethod, typeof(LeadScoreAccess), reader);
}

/// <summary>Readers the in-memory lead score field uses. Public only because compiled rules call them.</summary>
[System.ComponentModel.EditorBrowsable(System.ComponentModel.EditorBrowsableState.Never)]
public static class LeadScoreAccess
{
    /// <summary>The score, or null.</summary>
    public static long? Score(LeadScore? score) => score?.Score;
}

/// <summary>Rescores customers whose fields, metrics or orders changed.</summary>
/// <remarks>
/// Resolves the manager when called, not when built: the manager changes lifecycle stages through
/// <see cref="CustomerManager"/>, whose change notifier holds this observer, so a constructor dependency would be a cycle.
/// </remarks>
internal sealed class LeadScoreObserver(IServiceProvider services, ICrmTenantContext tenant) : ICustomerChangeObserver
{
    public async ValueTask CustomersChangedAsync(string tenantId, IReadOnlyList<Guid> customerIds, CancellationToken cancellationToken)
    {
        if (string.Equals(tenant.TenantId, tenantId, StringComparison.Ordinal))
        {
            await services.GetRequiredService<LeadScoringManager>().RefreshAsync(customerIds, cancellationToken).ConfigureAwait(false);
        }
    }
}

/// <summary>Rescores a customer whose timeline gained an interaction.</summary>
internal sealed class LeadScoreInteractionHandler(LeadScoringManager scoring) : ICrmEventHandler<InteractionRecorded>
{
    public ValueTask HandleAsync(InteractionRecorded crmEvent, CancellationToken cancellationToken) =>
        new(scoring.RefreshAsync([crmEvent.Interaction.CustomerId], cancellationToken));
}

/// <summary>Exports a customer's lead score; drops the merged-away customer's score (the survivor is rescored) and an erased customer's.</summary>
internal sealed class LeadScoreDataParticipant(ILeadScoreStore store) : ICustomerDataParticipant
{
    public string Name => "leadScore";

    public async ValueTask<object> ExportAsync(string tenantId, Guid customerId, CancellationToken cancellationToken) =>
        (object?)await store.FindAsync(tenantId, customerId, cancellationToken).ConfigureAwait(false) ?? new { };

    public async ValueTask ReassignAsync(string tenantId, Guid fromCustomerId, Guid toCustomerId, CancellationToken cancellationToken) =>
        await store.DeleteAsync(tenantId, fromCustomerId, cancellationToken).ConfigureAwait(false);

    public async ValueTask EraseAsync(string tenantId, Guid customerId, CancellationToken cancellationToken) =>
        await store.DeleteAsync(tenantId, customerId, cancellationToken).ConfigureAwait(false);
}

/// <summary>Checks the scoring model at start-up: names, points, windows, thresholds and every fit rule against the field registry.</summary>
internal sealed class LeadScoringOptionsValidator(SegmentFieldRegistry fields) : IValidateOptions<LeadScoringOptions>
{
    public ValidateOptionsResult Validate(string? name, LeadScoringOptions options)
    {
        var failures = new List<string>();
        var names = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
        void CheckName(string path, string? ruleName)
        {
            if (string.IsNullOrWhiteSpace(ruleName) || ruleName.Trim().Length > 100)
            {
                failures.Add($"{path}.Name: must be non-blank and at most 100 characters.");
            }
            else if (!names.Add(ruleName.Trim()))
            {
                failures.Add($"{path}.Name: {InputText.Quote(ruleName)} is used by another rule; names must be unique (case-insensitively).");
            }
        }

        void CheckPoints(string path, int points)
        {
            if (points is < -1000 or > 1000)
            {
                failures.Add($"{path}.Points: must be from -1000 to 1000 (was {points}).");
            }
        }

        for (var i = 0; i < options.FitRules.Count; i++)
        {
            var path = $"LeadScoringOptions.FitRules[{i}]";
            var rule = options.FitRules[i];
            if (rule is null)
            {
                failures.Add($"{path}: must not be null.");
                continue;
            }

            CheckName(path, rule.Name);
            CheckPoints(path, rule.Points);
            if (rule.Rule is null)
            {
                failures.Add($"{path}.Rule: is required.");
                continue;
            }

            try
            {
                SegmentRuleValidator.Validate(rule.Rule, fields);
                if (SegmentManager.Conditions(rule.Rule).FirstOrDefault(c => c.Field.StartsWith("lead.", StringComparison.Ordinal)) is { } own)
                {
                    failures.Add($"{path}.Rule: cannot use {InputText.Quote(own.Field)}: a score cannot depend on itself.");
                }
            }
            catch (CrmValidationException ex)
            {
                failures.AddRange(ex.Errors.Select(e => $"{path}.Rule {e.Field}: {e.Message} ({e.Rule})."));
            }
        }

        for (var i = 0; i < options.EngagementRules.Count; i++)
        {
            var path = $"LeadScoringOptions.EngagementRules[{i}]";
            var rule = options.EngagementRules[i];
            if (rule is null)
            {
                failures.Add($"{path}: must not be null.");
                continue;
            }

            CheckName(path, rule.Name);
            CheckPoints(path, rule.Points);
            if (!Enum.IsDefined(rule.Source))
            {
                failures.Add($"{path}.Source: {rule.Source} is not an engagement source.");
            }

            if (rule.Source == EngagementSource.Order && (rule.Kind is not null || rule.Direction is not null))
            {
                failures.Add($"{path}: Kind and Direction only apply to interaction rules.");
            }

            if (rule.Kind == InteractionKind.Task)
            {
                failures.Add($"{path}.Kind: tasks are plans, not engagement; score completed work with the interactions it produced.");
            }

            if (rule.HalfLifeDays is < 1 or > 3650)
            {
                failures.Add($"{path}.HalfLifeDays: must be from 1 to 3650, or null for no decay (was {rule.HalfLifeDays}).");
            }

            if (rule.MaxPoints is < 1 or > 100_000)
            {
                failures.Add($"{path}.MaxPoints: must be from 1 to 100000, or null for no cap (was {rule.MaxPoints}).");
            }
        }

        if (options.EngagementWindowDays is < 1 or > 730)
        {
            failures.Add($"LeadScoringOptions.EngagementWindowDays: must be from 1 to 730 (was {options.EngagementWindowDays}).");
        }

        if (options.MarketingQualifiedAt >= options.SalesQualifiedAt)
        {
            failures.Add($"LeadScoringOptions.MarketingQualifiedAt: must be below SalesQualifiedAt ({options.MarketingQualifiedAt} is not below {options.SalesQualifiedAt}).");
        }

        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }
}
