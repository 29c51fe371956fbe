using Crm.Kit.Customers;
using Crm.Kit.Interactions;
using Crm.Kit.Segmentation;
using Microsoft.Extensions.Options;

namespace Crm.Kit.Sales;

/// <summary>
/// Scores customers as leads with the configured <see cref="LeadScoringOptions"/>: fit rules (segment rules on
/// customer fields, evaluated where the customers are stored) plus engagement rules (recent interactions and
/// orders, fading with age). Each score is stored with its explanation, published as the <c>lead.score</c>
/// segment field, and moves a subscriber or lead to marketing- or sales-qualified when it reaches a threshold.
/// Customers are rescored whenever they, their orders or their timeline change; schedule
/// <see cref="RescoreAllAsync"/> (for example nightly) so that engagement decays while nothing happens.
/// </summary>
public class LeadScoringManager
{
    private const int Batch = 500;

    // Set while this flow is scoring: a lifecycle move or stored score it causes notifies customer changes, and
    // rescoring the same customers again from inside would only repeat the work.
    private static readonly AsyncLocal<bool> Scoring = new();

    private readonly ILeadScoreStore _store;
    private readonly ICustomerStore _customerStore;
    private readonly CustomerManager _customers;
    private readonly SegmentManager _segments;
    private readonly IInteractionStore _interactions;
    private readonly IOrderStore _orders;
    private readonly ICrmTenantContext _tenant;
    private readonly TimeProvider _time;
    private readonly ICrmEventPublisher _events;
    private readonly LeadScoringOptions _options;
    private readonly CrmKitOptions _crmOptions;

    /// <summary>Creates the manager; resolve it from DI rather than constructing it.</summary>
    public LeadScoringManager(
        ILeadScoreStore store,
        ICustomerStore customerStore,
        CustomerManager customers,
        SegmentManager segments,
        IInteractionStore interactions,
        IOrderStore orders,
        ICrmTenantContext tenant,
        TimeProvider time,
        ICrmEventPublisher events,
        IOptions<LeadScoringOptions> options,
        IOptions<CrmKitOptions> crmOptions)
    {
        _store = store;
        _customerStore = customerStore;
        _customers = customers;
        _segments = segments;
        _interactions = interactions;
        _orders = orders;
        _tenant = tenant;
        _time = time;
        _events = events;
        _options = options.Value;
        _crmOptions = crmOptions.Value;
    }

    private string TenantId => _tenant.TenantId;

    /// <summary>The customer's stored score with its explanation, or <see langword="null"/> when never scored.</summary>
    public async Task<LeadScore?> GetScoreAsync(Guid customerId, CancellationToken cancellationToken = default) =>
        await _store.FindAsync(TenantId, customerId, cancellationToken).ConfigureAwait(false);

    /// <summary>Scores one customer now, stores the score and qualifies the lead when it reached a threshold.</summary>
    /// <exception cref="EntityNotFoundException">No live customer has this id.</exception>
    public async Task<LeadScore> ScoreAsync(Guid customerId, CancellationToken cancellationToken = default)
    {
        var customer = await _customers.FindByIdAsync(customerId, cancellationToken).ConfigureAwait(false);
        if (customer is null || customer.MergedIntoId is not null || customer.ErasedAt is not null)
        {
            throw new EntityNotFoundException(nameof(Customer), customerId);
        }

        var (scores, _, _) = await ScoreManyAsync([customer], cancellationToken).ConfigureAwait(false);
        return scores[0];
    }

    /// <summary>
    /// Rescores every live customer of the tenant in batches, so that engagement decays and time-relative fit
    /// rules follow the clock. Cancelling stops between batches; what was stored stays.
    /// </summary>
    public async Task<LeadRescoring> RescoreAllAsync(CancellationToken cancellationToken = default)
    {
        long scored = 0, changed = 0, qualified = 0;
        var batch = new List<Customer>(Batch);
        async Task FlushAsync()
        {
            var (scores, c, q) = await ScoreManyAsync(batch, cancellationToken).ConfigureAwait(false);
            (scored, changed, qualified) = (scored + scores.Count, changed + c, qualified + q);
            batch.Clear();
        }

        await foreach (var customer in _customers.StreamAsync(cancellationToken).ConfigureAwait(false))
        {
            if (customer.MergedIntoId is not null || customer.ErasedAt is not null)
            {
                continue;
            }

            batch.Add(customer);
            if (batch.Count == Batch)
            {
                await FlushAsync().ConfigureAwait(false);
            }
        }

        if (batch.Count > 0)
        {
            await FlushAsync().ConfigureAwait(false);
        }

        return new LeadRescoring(scored, changed, qualified);
    }

    /// <summary>Rescores customers after they changed; skipped while this flow is itself scoring.</summary>
    internal async Task RefreshAsync(IReadOnlyList<Guid> customerIds, CancellationToken cancellationToken)
    {
        if (Scoring.Value)
        {
            return;
        }

        foreach (var chunk in customerIds.Distinct().Chunk(Batch))
        {
            var customers = new List<Customer>(chunk.Length);
            foreach (var id in chunk)
            {
                if (await _customerStore.FindByIdAsync(TenantId, id, cancellationToken).ConfigureAwait(false) is { MergedIntoId: null, ErasedAt: null } customer)
                {
                    customers.Add(customer);
                }
            }

            await ScoreManyAsync(customers, cancellationToken).ConfigureAwait(false);
        }
    }

    private async Task<(IReadOnlyList<LeadScore> Scores, long Changed, long Qualified)> ScoreManyAsync(List<Customer> customers, CancellationToken cancellationToken)
    {
        if (customers.Count == 0)
        {
            return ([], 0, 0);
        }

        var outer = Scoring.Value;
        Scoring.Value = true;
        try
        {
            var now = _time.GetUtcNow();
            var ids = customers.Select(c => c.Id).ToList();
            var fits = new List<HashSet<Guid>>(_options.FitRules.Count);
            foreach (var rule in _options.FitRules)
            {
                fits.Add([.. await _segments.FilterCustomersAsync(rule.Rule, ids, cancellationToken).ConfigureAwait(false)]);
            }

            var scores = new List<LeadScore>(customers.Count);
            var changed = new List<Guid>();
            long qualified = 0;
            foreach (var customer in customers)
            {
                var contributions = new List<ScoreContribution>();
                for (var i = 0; i < _options.FitRules.Count; i++)
                {
                    if (fits[i].Contains(customer.Id))
                    {
                        contributions.Add(new ScoreContribution(_options.FitRules[i].Name, ScoreRuleKind.Fit, _options.FitRules[i].Points, 1));
                    }
                }

                contributions.AddRange(await EngagementAsync(customer.Id, now, cancellationToken).ConfigureAwait(false));
                var fit = contributions.Where(c => c.Kind == ScoreRuleKind.Fit).Sum(c => c.Points);
                var engagement = contributions.Where(c => c.Kind == ScoreRuleKind.Engagement).Sum(c => c.Points);
                var score = new LeadScore { CustomerId = customer.Id, TenantId = TenantId, Score = fit + engagement, Fit = fit, Engagement = engagement, Contributions = contributions, ScoredAt = now };
                var previous = await _store.FindAsync(TenantId, customer.Id, cancellationToken).ConfigureAwait(false);
                if (previous is null || previous.Score != score.Score || !previous.Contributions.SequenceEqual(score.Contributions))
                {
                    await _store.SaveAsync(score, cancellationToken).ConfigureAwait(false);
                    if (previous?.Score != score.Score)
                    {
                        changed.Add(customer.Id);
                    }
                }

                if (await QualifyAsync(customer, score, cancellationToken).ConfigureAwait(false))
                {
                    qualified++;
                }

                scores.Add(score);
            }

            // The lead.score segment field changed for these customers: let segments follow.
            await _customers.NotifyChangedAsync(TenantId, changed, cancellationToken).ConfigureAwait(false);
            return (scores, changed.Count, qualified);
        }
        finally
        {
            Scoring.Value = outer;
        }
    }

    private async Task<List<ScoreContribution>> EngagementAsync(Guid customerId, DateTimeOffset now, CancellationToken cancellationToken)
    {
        var contributions = new List<ScoreContribution>();
        if (_options.EngagementRules.Count == 0)
        {
            return contributions;
        }

        var since = now.AddDays(-_options.EngagementWindowDays);
        var interactions = _options.EngagementRules.Any(r => r.Source == EngagementSource.Interaction)
            ? await ReadSinceAsync((before, limit) => _interactions.ListByCustomerAsync(TenantId, customerId, before, limit, cancellationToken), i => i.OccurredAt, i => i.Id, since, cancellationToken).ConfigureAwait(false)
            : [];
        var orders = _options.EngagementRules.Any(r => r.Source == EngagementSource.Order)
            ? await ReadSinceAsync((before, limit) => _orders.ListByCustomerAsync(TenantId, customerId, before, limit, cancellationToken), o => o.PlacedAt, o => o.Id, since, cancellationToken).ConfigureAwait(false)
            : [];

        foreach (var rule in _options.EngagementRules)
        {
            var times = rule.Source == EngagementSource.Order
                ? orders.Where(o => o.PlacedAt <= now).Select(o => o.PlacedAt)
                : interactions.Where(i => !i.IsOpenTask && i.OccurredAt <= now && (rule.Kind is null || i.Kind == rule.Kind) && (rule.Direction is null || i.Direction == rule.Direction)).Select(i => i.OccurredAt);
            var events = 0;
            var total = 0d;
            foreach (var at in times)
            {
                events++;
                total += rule.HalfLifeDays is { } halfLife ? rule.Points * Math.Pow(0.5, (now - at).TotalDays / halfLife) : rule.Points;
            }

            if (events == 0)
            {
                continue;
            }

            if (rule.MaxPoints is { } max)
            {
                total = rule.Points >= 0 ? Math.Min(total, max) : Math.Max(total, -max);
            }

            contributions.Add(new ScoreContribution(rule.Name, ScoreRuleKind.Engagement, (int)Math.Round(total, MidpointRounding.AwayFromZero), events));
        }

        return contributions;
    }

    /// <summary>Reads a newest-first listing until it goes past <paramref name="since"/>.</summary>
    private static async Task<List<T>> ReadSinceAsync<T>(Func<KeysetPosition?, int, ValueTask<IReadOnlyList<T>>> page, Func<T, DateTimeOffset> at, Func<T, Guid> id, DateTimeOffset since, CancellationToken cancellationToken)
    {
        var items = new List<T>();
        await foreach (var item in KeysetStream.InOrderAsync(page, i => new KeysetPosition(at(i), id(i)), cancellationToken).ConfigureAwait(false))
        {
            if (at(item) < since)
            {
                break;
            }

            items.Add(item);
        }

        return items;
    }

    /// <summary>Moves the customer up to the stage its score reached, never down; retries when the customer changed meanwhile.</summary>
    private async Task<bool> QualifyAsync(Customer customer, LeadScore score, CancellationToken cancellationToken)
    {
        LifecycleStage? target = score.Score >= _options.SalesQualifiedAt ? LifecycleStage.SalesQualifiedLead
            : score.Score >= _options.MarketingQualifiedAt ? LifecycleStage.MarketingQualifiedLead
            : null;
        if (!_options.QualifyLifecycle || target is not { } to)
        {
            return false;
        }

        for (var tries = 0; ; tries++)
        {
            if (customer.LifecycleStage >= to || customer.MergedIntoId is not null || customer.ErasedAt is not null)
            {
                return false;
            }

            try
            {
                await _customers.ChangeLifecycleStageAsync(customer.Id, customer.Version, to, $"lead score {score.Score}", cancellationToken).ConfigureAwait(false);
                await _events.PublishAsync([new LeadQualified { CustomerId = customer.Id, From = customer.LifecycleStage, To = to, Score = score, TenantId = TenantId, OccurredAt = _time.GetUtcNow() }], cancellationToken).ConfigureAwait(false);
                return true;
            }
            catch (ConcurrencyConflictException) when (tries < _crmOptions.ConcurrencyRetryLimit)
            {
                customer = await _customers.GetByIdAsync(customer.Id, cancellationToken).ConfigureAwait(false);
            }
        }
    }
}
