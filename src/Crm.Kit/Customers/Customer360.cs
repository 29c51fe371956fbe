using Crm.Kit.Feedback;
using Crm.Kit.Insights;
using Crm.Kit.Interactions;
using Crm.Kit.Loyalty;
using Crm.Kit.Segmentation;
using Crm.Kit.Service;
using Microsoft.Extensions.Options;

namespace Crm.Kit.Customers;

/// <summary>The parts of a <see cref="Customer360"/> that come from optional modules.</summary>
[Flags]
public enum Customer360Parts
{
    /// <summary>Only the core parts (profile, consent, metrics, interactions, segments, insight).</summary>
    None = 0,

    /// <summary>Open service cases (<c>AddServiceCases()</c>).</summary>
    Cases = 1,

    /// <summary>Loyalty status (<c>AddLoyalty()</c>).</summary>
    Loyalty = 2,

    /// <summary>Latest feedback (<c>AddFeedback()</c>).</summary>
    Feedback = 4,

    /// <summary>Open deals (<c>AddPipeline()</c>).</summary>
    Deals = 8,
}

/// <summary>
/// Everything a support or sales person needs about one customer, in one read. Module parts are filled only when
/// the module is registered; <see cref="Parts"/> tells which were, so "no open cases" and "cases not tracked"
/// are never confused.
/// </summary>
public sealed record Customer360
{
    /// <summary>The customer: profile, contact points, tags, attributes, lifecycle and consent history, metrics.</summary>
    public required Customer Customer { get; init; }

    /// <summary>The current consent for each channel and purpose ever recorded (the latest record of each).</summary>
    public required IReadOnlyList<ConsentRecord> Consent { get; init; }

    /// <summary>The most recent interactions, newest first.</summary>
    public required IReadOnlyList<Interaction> RecentInteractions { get; init; }

    /// <summary>The segments and lists the customer is a stored member of (as of the last membership update), by id.</summary>
    public required IReadOnlyList<Segment> Segments { get; init; }

    /// <summary>The customer's latest computed analytics (RFM, churn risk, predicted value), if a run has scored them.</summary>
    public CustomerInsight? Insight { get; init; }

    /// <summary>Which module parts were filled in.</summary>
    public Customer360Parts Parts { get; init; }

    /// <summary>Active service cases, newest first (when <see cref="Customer360Parts.Cases"/>).</summary>
    public IReadOnlyList<ServiceCase> OpenCases { get; init; } = [];

    /// <summary>The loyalty balance and tier; <see langword="null"/> when not a member (or loyalty is not registered).</summary>
    public LoyaltyBalance? Loyalty { get; init; }

    /// <summary>The latest survey answer of any kind (when <see cref="Customer360Parts.Feedback"/>).</summary>
    public SurveyResponse? LatestFeedback { get; init; }

    /// <summary>The latest NPS answer (when <see cref="Customer360Parts.Feedback"/>).</summary>
    public LatestNps? LatestNps { get; init; }

    /// <summary>Open deals, newest first (when <see cref="Customer360Parts.Deals"/>).</summary>
    public IReadOnlyList<Sales.Deal> OpenDeals { get; init; } = [];
}

/// <summary>
/// Adds one module's part to a <see cref="Customer360"/>. Modules register one each; a host can register its own.
/// A contributor must read with a fixed number of store calls whatever the customer holds (no call per case,
/// per deal or per segment).
/// </summary>
public interface ICustomer360Contributor
{
    /// <summary>Returns <paramref name="view"/> with this module's part filled in and its flag added to <see cref="Customer360.Parts"/>.</summary>
    ValueTask<Customer360> ContributeAsync(Customer360 view, CancellationToken cancellationToken);
}

/// <summary>How much a <see cref="Customer360"/> holds.</summary>
public sealed class Customer360Options
{
    /// <summary>How many recent interactions to include (1–100, default 10).</summary>
    public int RecentInteractions { get; set; } = 10;

    /// <summary>How many open cases to include, newest first (1–100, default 20).</summary>
    public int OpenCases { get; set; } = 20;

    /// <summary>How many open deals to include, newest first (1–100, default 20).</summary>
    public int OpenDeals { get; set; } = 20;
}

/// <summary>Checks <see cref="Customer360Options"/> at start-up.</summary>
internal sealed class Customer360OptionsValidator : IValidateOptions<Customer360Options>
{
    public ValidateOptionsResult Validate(string? name, Customer360Options options)
    {
        var failures = new List<string>();
        if (options.RecentInteractions is < 1 or > 100)
        {
            failures.Add($"Customer360Options.RecentInteractions: must be from 1 to 100 (was {options.RecentInteractions}).");
        }

        if (options.OpenCases is < 1 or > 100)
        {
            failures.Add($"Customer360Options.OpenCases: must be from 1 to 100 (was {options.OpenCases}).");
        }

        if (options.OpenDeals is < 1 or > 100)
        {
            failures.Add($"Customer360Options.OpenDeals: must be from 1 to 100 (was {options.OpenDeals}).");
        }

        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }
}

/// <summary>Composes the <see cref="Customer360"/> view from the core stores and every registered module.</summary>
public class Customer360Service
{
    private readonly CustomerManager _customers;
    private readonly IInteractionStore _interactions;
    private readonly ISegmentStore _segments;
    private readonly ICustomerInsightStore _insights;
    private readonly ICustomer360Contributor[] _contributors;
    private readonly ICrmTenantContext _tenant;
    private readonly Customer360Options _options;

    /// <summary>Creates the service; resolve it from DI.</summary>
    public Customer360Service(
        CustomerManager customers,
        IInteractionStore interactions,
        ISegmentStore segments,
        ICustomerInsightStore insights,
        IEnumerable<ICustomer360Contributor> contributors,
        ICrmTenantContext tenant,
        IOptions<Customer360Options> options)
    {
        _customers = customers;
        _interactions = interactions;
        _segments = segments;
        _insights = insights;
        _contributors = [.. contributors];
        _tenant = tenant;
        _options = options.Value;
    }

    /// <summary>
    /// The 360° view of a customer (an id merged away resolves to the survivor). Each part is one or two store
    /// reads, one after the other, so the cost does not grow with how many cases, interactions or segments the
    /// customer has.
    /// </summary>
    /// <exception cref="EntityNotFoundException">There is no such customer.</exception>
    public async Task<Customer360> GetAsync(Guid customerId, CancellationToken cancellationToken = default)
    {
        var tenantId = _tenant.TenantId;
        var customer = await _customers.GetByIdAsync(customerId, cancellationToken).ConfigureAwait(false);
        var interactions = await _interactions.ListByCustomerAsync(tenantId, customer.Id, null, _options.RecentInteractions, cancellationToken).ConfigureAwait(false);
        var segmentIds = await _segments.ListSegmentIdsOfMemberAsync(tenantId, customer.Id, cancellationToken).ConfigureAwait(false);
        var segments = segmentIds.Count == 0 ? [] : await _segments.FindManyAsync(tenantId, segmentIds, cancellationToken).ConfigureAwait(false);
        var insight = await _insights.FindAsync(tenantId, customer.Id, cancellationToken).ConfigureAwait(false);
        var view = new Customer360
        {
            Customer = customer,
            Consent = [.. customer.ConsentHistory.GroupBy(c => (c.Channel, c.Purpose)).Select(g => g.Last()).OrderBy(c => c.Channel).ThenBy(c => c.Purpose)],
            RecentInteractions = interactions,
            Segments = [.. segments.OrderBy(s => s.Id)],
            Insight = insight,
        };
        foreach (var contributor in _contributors)
        {
            view = await contributor.ContributeAsync(view, cancellationToken).ConfigureAwait(false);
        }

        return view;
    }
}

/// <summary>Adds the active cases.</summary>
internal sealed class CasesContributor(IServiceCaseStore store, ICrmTenantContext tenant, IOptions<Customer360Options> options) : ICustomer360Contributor
{
    public async ValueTask<Customer360> ContributeAsync(Customer360 view, CancellationToken cancellationToken) => view with
    {
        OpenCases = await store.ListByCustomerAsync(tenant.TenantId, view.Customer.Id, activeOnly: true, null, options.Value.OpenCases, cancellationToken).ConfigureAwait(false),
        Parts = view.Parts | Customer360Parts.Cases,
    };
}

/// <summary>Adds the loyalty balance.</summary>
internal sealed class LoyaltyContributor(LoyaltyManager loyalty) : ICustomer360Contributor
{
    public async ValueTask<Customer360> ContributeAsync(Customer360 view, CancellationToken cancellationToken) => view with
    {
        Loyalty = await loyalty.GetBalanceAsync(view.Customer.Id, cancellationToken).ConfigureAwait(false),
        Parts = view.Parts | Customer360Parts.Loyalty,
    };
}

/// <summary>Adds the latest answers.</summary>
internal sealed class FeedbackContributor(IFeedbackStore store, ICrmTenantContext tenant) : ICustomer360Contributor
{
    public async ValueTask<Customer360> ContributeAsync(Customer360 view, CancellationToken cancellationToken)
    {
        var latest = await store.ListResponsesByCustomerAsync(tenant.TenantId, view.Customer.Id, null, 1, cancellationToken).ConfigureAwait(false);
        var nps = await store.FindLatestNpsAsync(tenant.TenantId, view.Customer.Id, cancellationToken).ConfigureAwait(false);
        return view with { LatestFeedback = latest.Count > 0 ? latest[0] : null, LatestNps = nps, Parts = view.Parts | Customer360Parts.Feedback };
    }
}
