using Crm.Kit.Customers;
using Crm.Kit.Interactions;
using Microsoft.Extensions.Options;

namespace Crm.Kit.Sales;

/// <summary>A deal was created.</summary>
public sealed record DealCreated : CrmEvent
{
    /// <summary>The deal.</summary>
    public required Deal Deal { get; init; }
}

/// <summary>A deal moved to another stage, or was won, lost or reopened.</summary>
public sealed record DealStageChanged : CrmEvent
{
    /// <summary>The deal after the change.</summary>
    public required Deal Deal { get; init; }

    /// <summary>The history entry of the change.</summary>
    public required DealStageChange Change { get; init; }
}

/// <summary>
/// Pipelines and their stages, and deals moving through them: every stage move and status change is checked,
/// recorded in the deal's history with who and when, and published.
/// </summary>
public class PipelineManager
{
    /// <summary>Most stages one pipeline may have.</summary>
    public const int MaxStages = 50;

    private const int MaxNameLength = 200;
    private const int MaxStageNameLength = 100;
    private const int MaxReasons = 50;
    private const int MaxLines = 200;
    private const int Batch = 500;

    private readonly IPipelineStore _store;
    private readonly IInteractionStore _interactions;
    private readonly ICustomerStore _customerStore;
    private readonly CustomerManager _customers;
    private readonly ICrmUnitOfWork _unitOfWork;
    private readonly ICrmTenantContext _tenant;
    private readonly TimeProvider _time;
    private readonly ICrmEventPublisher _events;
    private readonly CrmKitOptions _options;
    private readonly CrmKitInstrumentation _instrumentation;

    /// <summary>Creates the manager; resolve it from DI rather than constructing it.</summary>
    public PipelineManager(
        IPipelineStore store,
        IInteractionStore interactions,
        ICustomerStore customerStore,
        CustomerManager customers,
        ICrmUnitOfWork unitOfWork,
        ICrmTenantContext tenant,
        TimeProvider time,
        ICrmEventPublisher events,
        IOptions<CrmKitOptions> options,
        CrmKitInstrumentation instrumentation)
    {
        _store = store;
        _interactions = interactions;
        _customerStore = customerStore;
        _customers = customers;
        _unitOfWork = unitOfWork;
        _tenant = tenant;
        _time = time;
        _events = events;
        _options = options.Value;
        _instrumentation = instrumentation;
    }

    private string TenantId => _tenant.TenantId;

    // ---- Pipelines ----

    /// <summary>Creates a pipeline with its stages in order.</summary>
    /// <exception cref="CrmValidationException">The draft breaks a rule; nothing was stored.</exception>
    /// <exception cref="DuplicateValueException">The name is taken.</exception>
    public async Task<SalesPipeline> CreatePipelineAsync(PipelineDraft draft, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(draft);
        var errors = new ValidationErrorCollector();
        errors.Required(nameof(draft.Name), draft.Name);
        errors.Text(nameof(draft.Name), draft.Name, MaxNameLength);
        if (draft.Stages is null || draft.Stages.Count == 0)
        {
            errors.Add(nameof(draft.Stages), "required", "a pipeline needs at least one stage");
        }
        else
        {
            errors.MaxCount(nameof(draft.Stages), draft.Stages, MaxStages);
            for (var i = 0; i < draft.Stages.Count; i++)
            {
                CheckStage(errors, $"Stages[{i}]", draft.Stages[i]);
            }

            CheckDistinct(errors, nameof(draft.Stages), draft.Stages.Where(s => s is not null).Select(s => s.Name));
        }

        CheckReasons(errors, nameof(draft.LostReasons), draft.LostReasons);
        errors.ThrowIfAny();

        var now = _time.GetUtcNow();
        var pipeline = new SalesPipeline
        {
            Id = CrmIds.NewId(now),
            TenantId = TenantId,
            Version = 1,
            Name = draft.Name!.Trim(),
            Stages = [.. draft.Stages!.Select(s => NewStage(s, now))],
            LostReasons = [.. (draft.LostReasons ?? []).Select(r => r.Trim())],
            CreatedAt = now,
            UpdatedAt = now,
        };
        await _store.CreatePipelineAsync(pipeline, cancellationToken).ConfigureAwait(false);
        return pipeline;
    }

    /// <summary>The pipeline with this id.</summary>
    /// <exception cref="EntityNotFoundException">There is none.</exception>
    public async Task<SalesPipeline> GetPipelineAsync(Guid id, CancellationToken cancellationToken = default) =>
        await _store.FindPipelineAsync(TenantId, id, cancellationToken).ConfigureAwait(false) ?? throw new EntityNotFoundException(nameof(SalesPipeline), id);

    /// <summary>One page of the tenant's pipelines, by id.</summary>
    public async Task<Page<SalesPipeline>> ListPipelinesAsync(string? continuationToken = null, int pageSize = 100, CancellationToken cancellationToken = default)
    {
        var after = ContinuationTokens.DecodeId(continuationToken);
        ContinuationTokens.CheckPageSize(pageSize, _options);
        var items = await _store.ListPipelinesAsync(TenantId, after, pageSize + 1, cancellationToken).ConfigureAwait(false);
        return ContinuationTokens.ToPage(items, pageSize, p => ContinuationTokens.Encode(p.Id));
    }

    /// <summary>Adds a stage at <paramref name="position"/> among the active stages (0 is first; the end when null).</summary>
    public Task<SalesPipeline> AddStageAsync(Guid pipelineId, long expectedVersion, StageDraft stage, int? position = null, CancellationToken cancellationToken = default) =>
        ChangePipelineAsync(pipelineId, expectedVersion, (pipeline, errors, now) =>
        {
            CheckStage(errors, nameof(stage), stage);
            if (pipeline.Stages.Count >= MaxStages)
            {
                errors.Add(nameof(stage), "max-count", $"a pipeline holds at most {MaxStages} stages, archived ones included");
            }

            var active = pipeline.ActiveStages.ToList();
            if (position is < 0 || position > active.Count)
            {
                errors.Add(nameof(position), "range", $"must be from 0 to {active.Count} (was {position})");
            }

            if (stage is not null && pipeline.ActiveStages.Any(s => string.Equals(s.Name, stage.Name?.Trim(), StringComparison.OrdinalIgnoreCase)))
            {
                errors.Add("stage.Name", "unique", $"the pipeline already has a stage named {InputText.Quote(stage.Name)}");
            }

            errors.ThrowIfAny();
            active.Insert(position ?? active.Count, NewStage(stage!, now));
            return pipeline with { Stages = [.. active, .. pipeline.Stages.Where(s => s.IsArchived)] };
        }, cancellationToken);

    /// <summary>Renames a stage and sets its win probability and rotting threshold.</summary>
    public Task<SalesPipeline> UpdateStageAsync(Guid pipelineId, long expectedVersion, Guid stageId, StageDraft stage, CancellationToken cancellationToken = default) =>
        ChangePipelineAsync(pipelineId, expectedVersion, (pipeline, errors, now) =>
        {
            CheckStage(errors, nameof(stage), stage);
            var current = ActiveStage(pipeline, stageId, errors, nameof(stageId));
            if (stage is not null && pipeline.ActiveStages.Any(s => s.Id != stageId && string.Equals(s.Name, stage.Name?.Trim(), StringComparison.OrdinalIgnoreCase)))
            {
                errors.Add("stage.Name", "unique", $"the pipeline already has a stage named {InputText.Quote(stage.Name)}");
            }

            errors.ThrowIfAny();
            var updated = current! with { Name = stage!.Name.Trim(), WinProbability = stage.WinProbability, RottingDays = stage.RottingDays };
            return pipeline with { Stages = [.. pipeline.Stages.Select(s => s.Id == stageId ? updated : s)] };
        }, cancellationToken);

    /// <summary>Puts the active stages in the given order (every active stage exactly once); archived stages keep their place at the end.</summary>
    public Task<SalesPipeline> ReorderStagesAsync(Guid pipelineId, long expectedVersion, IReadOnlyList<Guid> stageIds, CancellationToken cancellationToken = default) =>
        ChangePipelineAsync(pipelineId, expectedVersion, (pipeline, errors, _) =>
        {
            ArgumentNullException.ThrowIfNull(stageIds);
            var active = pipeline.ActiveStages.Select(s => s.Id).ToHashSet();
            if (stageIds.Count != active.Count || stageIds.Distinct().Count() != stageIds.Count || !stageIds.All(active.Contains))
            {
                errors.Add(nameof(stageIds), "permutation", "must list every active stage of the pipeline exactly once");
            }

            errors.ThrowIfAny();
            return pipeline with { Stages = [.. stageIds.Select(id => pipeline.FindStage(id)!), .. pipeline.Stages.Where(s => s.IsArchived)] };
        }, cancellationToken);

    /// <summary>Replaces the reasons deals may be lost with (deals already lost keep theirs).</summary>
    public Task<SalesPipeline> SetLostReasonsAsync(Guid pipelineId, long expectedVersion, IReadOnlyList<string> reasons, CancellationToken cancellationToken = default) =>
        ChangePipelineAsync(pipelineId, expectedVersion, (pipeline, errors, _) =>
        {
            CheckReasons(errors, nameof(reasons), reasons);
            errors.ThrowIfAny();
            return pipeline with { LostReasons = [.. reasons.Select(r => r.Trim())] };
        }, cancellationToken);

    /// <summary>
    /// Archives a stage. Its open deals move to <paramref name="moveDealsTo"/> (required when it holds any), each
    /// move recorded with <paramref name="actor"/>, in the same transaction: all move, or none and the stage stays.
    /// </summary>
    /// <returns>The pipeline after the change, and how many deals moved.</returns>
    public async Task<(SalesPipeline Pipeline, int DealsMoved)> ArchiveStageAsync(Guid pipelineId, long expectedVersion, Guid stageId, Guid? moveDealsTo, string actor, CancellationToken cancellationToken = default)
    {
        CheckActor(actor);
        var now = _time.GetUtcNow();
        var moved = new List<(Deal Deal, DealStageChange Change)>();
        SalesPipeline archived;
        var transaction = await _unitOfWork.BeginAsync(cancellationToken).ConfigureAwait(false);
        await using (transaction.ConfigureAwait(false))
        {
            var pipeline = await CurrentPipelineAsync(pipelineId, expectedVersion, cancellationToken).ConfigureAwait(false);
            var errors = new ValidationErrorCollector();
            ActiveStage(pipeline, stageId, errors, nameof(stageId));
            if (pipeline.ActiveStages.Count() == 1)
            {
                errors.Add(nameof(stageId), "last-stage", "a pipeline keeps at least one active stage");
            }

            if (moveDealsTo is { } target)
            {
                if (target == stageId)
                {
                    errors.Add(nameof(moveDealsTo), "other-stage", "deals must move to another stage than the one archived");
                }
                else
                {
                    ActiveStage(pipeline, target, errors, nameof(moveDealsTo));
                }
            }

            errors.ThrowIfAny();
            var first = await _store.ListOpenDealsInStageAsync(TenantId, pipelineId, stageId, null, null, null, 1, cancellationToken).ConfigureAwait(false);
            if (first.Count > 0 && moveDealsTo is null)
            {
                throw new CrmValidationException(nameof(moveDealsTo), "required", $"stage '{pipeline.FindStage(stageId)!.Name}' holds open deals; name the stage to move them to");
            }

            while (moveDealsTo is { } to)
            {
                var deals = await _store.ListOpenDealsInStageAsync(TenantId, pipelineId, stageId, null, null, null, Batch, cancellationToken).ConfigureAwait(false);
                foreach (var deal in deals)
                {
                    var (after, change) = Change(deal, to, DealStatus.Open, actor.Trim(), now);
                    await _store.UpdateDealAsync(after, deal.Version, change, cancellationToken).ConfigureAwait(false);
                    moved.Add((after, change));
                }

                if (deals.Count < Batch)
                {
                    break;
                }
            }

            archived = pipeline with
            {
                Stages = [.. pipeline.Stages.Where(s => s.Id != stageId), pipeline.FindStage(stageId)! with { IsArchived = true }],
                Version = pipeline.Version + 1,
                UpdatedAt = now,
            };
            await _store.UpdatePipelineAsync(archived, pipeline.Version, cancellationToken).ConfigureAwait(false);
            await transaction.CommitAsync(cancellationToken).ConfigureAwait(false);
        }

        await _events.PublishAsync([.. moved.Select(m => new DealStageChanged { Deal = m.Deal, Change = m.Change, TenantId = TenantId, OccurredAt = now })], cancellationToken).ConfigureAwait(false);
        return (archived, moved.Count);
    }

    // ---- Deals ----

    /// <summary>Creates a deal in a pipeline (in its first active stage unless one is given) and records it in the history.</summary>
    /// <exception cref="CrmValidationException">The draft breaks a rule, or the customer or stage does not exist; nothing was stored.</exception>
    public async Task<Deal> CreateDealAsync(DealDraft draft, string actor, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(draft);
        CheckActor(actor);
        var errors = new ValidationErrorCollector();
        CheckDeal(errors, draft, creating: true, _time.GetUtcNow());
        errors.ThrowIfAny();
        var pipeline = await _store.FindPipelineAsync(TenantId, draft.PipelineId, cancellationToken).ConfigureAwait(false);
        if (pipeline is null)
        {
            errors.Add(nameof(draft.PipelineId), "pipeline-exists", $"{draft.PipelineId} is not a pipeline in this tenant");
        }
        else if (draft.StageId is { } stageId)
        {
            ActiveStage(pipeline, stageId, errors, nameof(draft.StageId));
        }

        var customer = await _customers.FindByIdAsync(draft.CustomerId, cancellationToken).ConfigureAwait(false);
        if (customer is null)
        {
            errors.Add(nameof(draft.CustomerId), "customer-exists", $"{draft.CustomerId} is not a customer in this tenant");
        }

        errors.ThrowIfAny();
        var now = _time.GetUtcNow();
        var deal = Apply(new Deal { Id = CrmIds.NewId(now), TenantId = TenantId, Version = 1, Title = string.Empty, Currency = string.Empty, CreatedAt = now }, draft, now) with
        {
            PipelineId = pipeline!.Id,
            StageId = draft.StageId ?? pipeline.ActiveStages.First().Id,
            CustomerId = customer!.Id,
            Status = DealStatus.Open,
            StageEnteredAt = now,
            LastActivityAt = now,
        };
        var created = new DealStageChange { Id = CrmIds.NewId(now), TenantId = TenantId, DealId = deal.Id, Sequence = deal.Version, PipelineId = deal.PipelineId, ToStageId = deal.StageId, ToStatus = DealStatus.Open, At = now, Actor = actor.Trim() };
        await _store.CreateDealAsync(deal, created, cancellationToken).ConfigureAwait(false);
        await _events.PublishAsync([new DealCreated { Deal = deal, TenantId = TenantId, OccurredAt = now }], cancellationToken).ConfigureAwait(false);
        return deal;
    }

    /// <summary>Replaces a deal's details (title, owner, amount, lines, expected close, source, attributes); its pipeline, stage and status stay.</summary>
    /// <exception cref="ConcurrencyConflictException">It changed since <paramref name="expectedVersion"/>.</exception>
    public async Task<Deal> UpdateDealAsync(Guid id, long expectedVersion, DealDraft draft, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(draft);
        var errors = new ValidationErrorCollector();
        CheckDeal(errors, draft, creating: false, _time.GetUtcNow());
        errors.ThrowIfAny();
        var current = await CurrentDealAsync(id, expectedVersion, cancellationToken).ConfigureAwait(false);
        if (draft.PipelineId != Guid.Empty && draft.PipelineId != current.PipelineId)
        {
            throw new CrmValidationException(nameof(draft.PipelineId), "same-pipeline", "a deal stays in the pipeline it was created in");
        }

        if (draft.CustomerId != current.CustomerId)
        {
            throw new CrmValidationException(nameof(draft.CustomerId), "same-customer", "a deal's customer changes only through a merge");
        }

        var now = _time.GetUtcNow();
        var updated = Apply(current, draft, now) with { Version = expectedVersion + 1 };
        await _store.UpdateDealAsync(updated, expectedVersion, null, cancellationToken).ConfigureAwait(false);
        return updated;
    }

    /// <summary>Moves an open deal to another active stage of its own pipeline.</summary>
    /// <exception cref="CrmValidationException">The deal is closed, or the stage is not an active stage of its pipeline; nothing changed.</exception>
    /// <exception cref="ConcurrencyConflictException">It changed since <paramref name="expectedVersion"/>; nothing changed, and the history has no entry.</exception>
    public async Task<Deal> MoveDealAsync(Guid id, long expectedVersion, Guid stageId, string actor, CancellationToken cancellationToken = default)
    {
        CheckActor(actor);
        var current = await CurrentDealAsync(id, expectedVersion, cancellationToken).ConfigureAwait(false);
        if (current.Status != DealStatus.Open)
        {
            throw new CrmValidationException("status", "open", $"deal {id} is {current.Status}; reopen it before moving it");
        }

        if (stageId == current.StageId)
        {
            throw new CrmValidationException(nameof(stageId), "other-stage", "the deal is already in this stage");
        }

        var pipeline = await GetPipelineAsync(current.PipelineId, cancellationToken).ConfigureAwait(false);
        if (pipeline.FindStage(stageId) is null)
        {
            throw new CrmValidationException(nameof(stageId), "same-pipeline", $"{stageId} is not a stage of the deal's pipeline '{pipeline.Name}'; a deal moves only within its own pipeline");
        }

        var errors = new ValidationErrorCollector();
        ActiveStage(pipeline, stageId, errors, nameof(stageId));
        errors.ThrowIfAny();
        return await SaveChangeAsync(current, stageId, DealStatus.Open, actor.Trim(), null, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Marks an open deal won. Its customer's lifecycle moves up to customer, in the same transaction.</summary>
    public async Task<Deal> WinDealAsync(Guid id, long expectedVersion, string actor, CancellationToken cancellationToken = default)
    {
        CheckActor(actor);
        var current = await CurrentDealAsync(id, expectedVersion, cancellationToken).ConfigureAwait(false);
        RequireStatus(current, DealStatus.Open, "win");
        return await SaveChangeAsync(current, current.StageId, DealStatus.Won, actor.Trim(), null, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Marks an open deal lost, with one of its pipeline's lost reasons.</summary>
    public async Task<Deal> LoseDealAsync(Guid id, long expectedVersion, string reason, string actor, CancellationToken cancellationToken = default)
    {
        CheckActor(actor);
        var current = await CurrentDealAsync(id, expectedVersion, cancellationToken).ConfigureAwait(false);
        RequireStatus(current, DealStatus.Open, "lose");
        var pipeline = await GetPipelineAsync(current.PipelineId, cancellationToken).ConfigureAwait(false);
        var known = pipeline.LostReasons.FirstOrDefault(r => string.Equals(r, reason?.Trim(), StringComparison.OrdinalIgnoreCase));
        if (known is null)
        {
            throw new CrmValidationException(nameof(reason), "known-reason",
                pipeline.LostReasons.Count == 0
                    ? $"pipeline '{pipeline.Name}' has no lost reasons; add them with SetLostReasonsAsync"
                    : $"{InputText.Quote(reason)} is not a lost reason of pipeline '{pipeline.Name}'; use one of: {string.Join(", ", pipeline.LostReasons)}");
        }

        return await SaveChangeAsync(current, current.StageId, DealStatus.Lost, actor.Trim(), known, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Reopens a won or lost deal in its stage (or, when that stage was archived since, the pipeline's first).</summary>
    public async Task<Deal> ReopenDealAsync(Guid id, long expectedVersion, string actor, CancellationToken cancellationToken = default)
    {
        CheckActor(actor);
        var current = await CurrentDealAsync(id, expectedVersion, cancellationToken).ConfigureAwait(false);
        if (current.Status == DealStatus.Open)
        {
            throw new CrmValidationException("status", "closed", $"deal {id} is open already");
        }

        var pipeline = await GetPipelineAsync(current.PipelineId, cancellationToken).ConfigureAwait(false);
        var stage = pipeline.FindStage(current.StageId) is { IsArchived: false } ? current.StageId : pipeline.ActiveStages.First().Id;
        return await SaveChangeAsync(current, stage, DealStatus.Open, actor.Trim(), null, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>The deal with this id, or <see langword="null"/>.</summary>
    public async Task<Deal?> FindDealAsync(Guid id, CancellationToken cancellationToken = default) =>
        await _store.FindDealAsync(TenantId, id, cancellationToken).ConfigureAwait(false);

    /// <summary>The deal with this id.</summary>
    /// <exception cref="EntityNotFoundException">There is none.</exception>
    public async Task<Deal> GetDealAsync(Guid id, CancellationToken cancellationToken = default) =>
        await _store.FindDealAsync(TenantId, id, cancellationToken).ConfigureAwait(false) ?? throw new EntityNotFoundException(nameof(Deal), id);

    /// <summary>A deal's stage history, oldest first.</summary>
    public async Task<IReadOnlyList<DealStageChange>> GetHistoryAsync(Guid dealId, CancellationToken cancellationToken = default) =>
        await _store.ListHistoryAsync(TenantId, dealId, cancellationToken).ConfigureAwait(false);

    /// <summary>
    /// Where a deal stands on activity: when it last had any (a stage move or a linked interaction), the latest
    /// linked interaction that is not an open task, and the next thing to do — the open linked task due soonest.
    /// </summary>
    public async Task<DealActivity> GetActivityAsync(Guid dealId, CancellationToken cancellationToken = default)
    {
        var deal = await GetDealAsync(dealId, cancellationToken).ConfigureAwait(false);
        var next = await _interactions.ListOpenTasksByDealAsync(TenantId, deal.Id, 1, cancellationToken).ConfigureAwait(false);
        Interaction? last = null;
        await foreach (var linked in KeysetStream.InOrderAsync<Interaction, KeysetPosition>((before, limit) => _interactions.ListByDealAsync(TenantId, deal.Id, before, limit, cancellationToken), i => new(i.OccurredAt, i.Id), cancellationToken).ConfigureAwait(false))
        {
            if (!linked.IsOpenTask)
            {
                last = linked;
                break;
            }
        }

        return new DealActivity(deal.LastActivityAt, last, next.Count > 0 ? next[0] : null);
    }

    /// <summary>One page of the interactions linked to a deal, newest first.</summary>
    public async Task<Page<Interaction>> GetDealTimelineAsync(Guid dealId, string? continuationToken = null, int pageSize = 50, CancellationToken cancellationToken = default)
    {
        var before = ContinuationTokens.DecodePosition(continuationToken);
        ContinuationTokens.CheckPageSize(pageSize, _options);
        var items = await _interactions.ListByDealAsync(TenantId, dealId, before, pageSize + 1, cancellationToken).ConfigureAwait(false);
        return ContinuationTokens.ToPage(items, pageSize, i => ContinuationTokens.Encode(new KeysetPosition(i.OccurredAt, i.Id)));
    }

    /// <summary>One page of a customer's deals, newest first; only open ones when <paramref name="openOnly"/>.</summary>
    public async Task<Page<Deal>> GetDealsOfCustomerAsync(Guid customerId, bool openOnly = false, string? continuationToken = null, int pageSize = 50, CancellationToken cancellationToken = default)
    {
        var before = ContinuationTokens.DecodeId(continuationToken);
        ContinuationTokens.CheckPageSize(pageSize, _options);
        var items = await _store.ListDealsByCustomerAsync(TenantId, customerId, openOnly, before, pageSize + 1, cancellationToken).ConfigureAwait(false);
        return ContinuationTokens.ToPage(items, pageSize, d => ContinuationTokens.Encode(d.Id));
    }

    /// <summary>
    /// Open deals of a pipeline idle longer than their stage's rotting threshold (no stage move and no linked
    /// interaction), stage by stage in pipeline order; only the owner's when given; at most <paramref name="limit"/>.
    /// </summary>
    public async Task<IReadOnlyList<Deal>> GetRottingDealsAsync(Guid pipelineId, string? ownerId = null, int limit = 100, CancellationToken cancellationToken = default)
    {
        ContinuationTokens.CheckPageSize(limit, _options);
        var pipeline = await GetPipelineAsync(pipelineId, cancellationToken).ConfigureAwait(false);
        var now = _time.GetUtcNow();
        var rotting = new List<Deal>();
        foreach (var stage in pipeline.ActiveStages.Where(s => s.RottingDays is not null))
        {
            var idleBefore = now.AddDays(-stage.RottingDays!.Value);
            rotting.AddRange(await _store.ListOpenDealsInStageAsync(TenantId, pipelineId, stage.Id, idleBefore, OwnerFilter(ownerId), null, limit - rotting.Count, cancellationToken).ConfigureAwait(false));
            if (rotting.Count >= limit)
            {
                break;
            }
        }

        return rotting;
    }

    /// <summary>
    /// The weighted forecast of a pipeline by expected-close month and currency: Σ amount × stage probability of
    /// the open deals, the best case (every open deal won) and what was committed (won) in each month, for months
    /// from <paramref name="fromMonth"/> to <paramref name="toMonth"/> (both included; only their year and month
    /// count). Open deals without an expected close date come in a row of their own (month null). Summed in the store.
    /// </summary>
    public async Task<IReadOnlyList<ForecastMonth>> GetForecastAsync(Guid pipelineId, DateOnly fromMonth, DateOnly toMonth, string? ownerId = null, CancellationToken cancellationToken = default)
    {
        var first = DealMonths.Of(fromMonth);
        var last = DealMonths.Of(toMonth);
        if (last < first || last - first > 120)
        {
            throw new CrmValidationException(nameof(toMonth), "range", $"must be from fromMonth ({fromMonth:yyyy-MM}) up to 120 months after it (was {toMonth:yyyy-MM})");
        }

        var pipeline = await GetPipelineAsync(pipelineId, cancellationToken).ConfigureAwait(false);
        var owner = OwnerFilter(ownerId);
        var open = await _store.SumOpenDealsAsync(TenantId, pipelineId, owner, cancellationToken).ConfigureAwait(false);
        var closedFrom = new DateTimeOffset(DealMonths.FirstDay(first).ToDateTime(TimeOnly.MinValue), TimeSpan.Zero);
        var closedTo = new DateTimeOffset(DealMonths.FirstDay(last + 1).ToDateTime(TimeOnly.MinValue), TimeSpan.Zero);
        var closed = await _store.SumClosedDealsAsync(TenantId, pipelineId, owner, closedFrom, closedTo, cancellationToken).ConfigureAwait(false);

        var rows = new Dictionary<(int? Month, string Currency), ForecastMonth>();
        ForecastMonth Row(int? month, string currency) =>
            rows.TryGetValue((month, currency), out var row) ? row : new ForecastMonth(month is { } m ? DealMonths.FirstDay(m) : null, currency, 0, 0, 0, 0, 0);

        foreach (var sum in open.Where(o => o.ExpectedCloseMonth is null || (o.ExpectedCloseMonth >= first && o.ExpectedCloseMonth <= last)))
        {
            var probability = pipeline.FindStage(sum.StageId)?.WinProbability ?? 0m;
            var row = Row(sum.ExpectedCloseMonth, sum.Currency);
            rows[(sum.ExpectedCloseMonth, sum.Currency)] = row with
            {
                Weighted = row.Weighted + Math.Round(sum.Amount * probability, 4, MidpointRounding.AwayFromZero),
                BestCase = row.BestCase + sum.Amount,
                OpenDeals = row.OpenDeals + sum.Count,
            };
        }

        foreach (var sum in closed.Where(c => c.Status == DealStatus.Won))
        {
            var row = Row(sum.ClosedMonth, sum.Currency);
            rows[(sum.ClosedMonth, sum.Currency)] = row with { Committed = row.Committed + sum.Amount, WonDeals = row.WonDeals + sum.Count };
        }

        return [.. rows.Values.OrderBy(r => r.Month is null).ThenBy(r => r.Month).ThenBy(r => r.Currency, StringComparer.Ordinal)];
    }

    /// <summary>Win rate, won amounts per currency and the average sales cycle of the deals closed in [<paramref name="from"/>, <paramref name="to"/>). Summed in the store.</summary>
    public async Task<DealOutcomes> GetOutcomesAsync(Guid pipelineId, DateTimeOffset from, DateTimeOffset to, string? ownerId = null, CancellationToken cancellationToken = default)
    {
        CheckPeriod(from, to);
        await GetPipelineAsync(pipelineId, cancellationToken).ConfigureAwait(false);
        var closed = await _store.SumClosedDealsAsync(TenantId, pipelineId, OwnerFilter(ownerId), from, to, cancellationToken).ConfigureAwait(false);
        var won = closed.Where(c => c.Status == DealStatus.Won).ToList();
        var wonCount = won.Sum(c => c.Count);
        return new DealOutcomes(
            wonCount,
            closed.Where(c => c.Status == DealStatus.Lost).Sum(c => c.Count),
            wonCount == 0 ? null : TimeSpan.FromSeconds((double)won.Sum(c => c.CycleSeconds) / wonCount),
            [.. won.GroupBy(c => c.Currency, StringComparer.Ordinal).OrderBy(g => g.Key, StringComparer.Ordinal).Select(g => new WonAmounts(g.Key, g.Sum(c => c.Count), g.Sum(c => c.Amount)))]);
    }

    /// <summary>
    /// Pipeline velocity per currency: open deals × win rate × average won deal size ÷ average sales cycle in days,
    /// with the rate, size and cycle measured over deals closed in [<paramref name="from"/>, <paramref name="to"/>).
    /// Currencies without a won deal in the period are left out (their velocity is unknown, not zero).
    /// </summary>
    public async Task<IReadOnlyList<PipelineVelocity>> GetVelocityAsync(Guid pipelineId, DateTimeOffset from, DateTimeOffset to, string? ownerId = null, CancellationToken cancellationToken = default)
    {
        var outcomes = await GetOutcomesAsync(pipelineId, from, to, ownerId, cancellationToken).ConfigureAwait(false);
        if (outcomes.WinRate is not { } winRate || outcomes.AverageSalesCycle is not { } cycle)
        {
            return [];
        }

        var open = await _store.SumOpenDealsAsync(TenantId, pipelineId, OwnerFilter(ownerId), cancellationToken).ConfigureAwait(false);
        var cycleDays = Math.Max((decimal)cycle.TotalDays, 1m / 24);
        return
        [
            .. outcomes.ByCurrency.Select(won =>
            {
                var openDeals = open.Where(o => o.Currency == won.Currency).Sum(o => o.Count);
                return new PipelineVelocity(won.Currency, openDeals, winRate, won.AverageDealSize, cycle, Math.Round(openDeals * winRate * won.AverageDealSize / cycleDays, 2, MidpointRounding.AwayFromZero));
            }),
        ];
    }

    /// <summary>
    /// The funnel of the deals created in [<paramref name="from"/>, <paramref name="to"/>) (only the owner's, when
    /// given): for each active stage in order, how many reached it and how many of those reached the next one (the
    /// last stage's next step is winning). A deal reached a stage when its history got to that stage or a later
    /// one — so a deal that skipped a stage still counts there — and a won deal reached every stage. Counted in the store.
    /// </summary>
    public async Task<PipelineFunnel> GetFunnelAsync(Guid pipelineId, DateTimeOffset from, DateTimeOffset to, string? ownerId = null, CancellationToken cancellationToken = default)
    {
        CheckPeriod(from, to);
        var pipeline = await GetPipelineAsync(pipelineId, cancellationToken).ConfigureAwait(false);
        var order = pipeline.Stages.Select(s => s.Id).ToList();
        var counts = await _store.CountFunnelAsync(TenantId, pipelineId, OwnerFilter(ownerId), from, to, order, cancellationToken).ConfigureAwait(false);
        var won = counts.Where(c => c.Status == DealStatus.Won).Sum(c => c.Count);
        long Reached(int position) => won + counts.Where(c => c.Status != DealStatus.Won && c.FurthestPosition >= position).Sum(c => c.Count);

        var active = pipeline.Stages.Select((stage, position) => (stage, position)).Where(s => !s.stage.IsArchived).ToList();
        var steps = active.Select((s, i) => new FunnelStep(s.stage.Id, s.stage.Name, Reached(s.position), i + 1 < active.Count ? Reached(active[i + 1].position) : won)).ToList();
        return new PipelineFunnel(
            counts.Sum(c => c.Count),
            steps,
            counts.Where(c => c.Status == DealStatus.Open).Sum(c => c.Count),
            won,
            counts.Where(c => c.Status == DealStatus.Lost).Sum(c => c.Count));
    }

    /// <summary>
    /// How long deals stay in each stage: the count, mean and median of the stays that ended in
    /// [<paramref name="from"/>, <paramref name="to"/>) — a deal moving on, being won or being lost ends its stay;
    /// time spent closed before a reopening does not count. Stages in pipeline order, archived ones included when
    /// stays in them ended in the period. Computed in the store.
    /// </summary>
    public async Task<IReadOnlyList<StageTime>> GetStageTimesAsync(Guid pipelineId, DateTimeOffset from, DateTimeOffset to, CancellationToken cancellationToken = default)
    {
        CheckPeriod(from, to);
        var pipeline = await GetPipelineAsync(pipelineId, cancellationToken).ConfigureAwait(false);
        var sums = (await _store.SummarizeStageTimesAsync(TenantId, pipelineId, from, to, cancellationToken).ConfigureAwait(false)).ToDictionary(s => s.StageId);
        return
        [
            .. pipeline.Stages
                .Where(s => !s.IsArchived || sums.ContainsKey(s.Id))
                .Select(s => sums.TryGetValue(s.Id, out var sum)
                    ? new StageTime(s.Id, s.Name, sum.Stays, sum.Mean, sum.Median)
                    : new StageTime(s.Id, s.Name, 0, TimeSpan.Zero, TimeSpan.Zero)),
        ];
    }

    /// <summary>An interaction linked to a deal is activity: the deal stops rotting from its time.</summary>
    internal async Task ApplyInteractionAsync(Interaction interaction, CancellationToken cancellationToken)
    {
        if (interaction.DealId is not { } dealId)
        {
            return;
        }

        await ConcurrencyRetry.RunAsync(_options.ConcurrencyRetryLimit, _instrumentation, async () =>
        {
            var deal = await _store.FindDealAsync(TenantId, dealId, cancellationToken).ConfigureAwait(false);
            var at = interaction.OccurredAt;
            if (deal is null || deal.CustomerId != interaction.CustomerId || at <= deal.LastActivityAt)
            {
                return false;
            }

            await _store.UpdateDealAsync(deal with { LastActivityAt = at, Version = deal.Version + 1, UpdatedAt = _time.GetUtcNow() }, deal.Version, null, cancellationToken).ConfigureAwait(false);
            return true;
        }).ConfigureAwait(false);
    }

    /// <summary>Checks that an interaction may link to <paramref name="dealId"/>: the deal exists and is the customer's.</summary>
    internal async ValueTask<ValidationError?> CheckLinkAsync(Guid customerId, Guid dealId, CancellationToken cancellationToken)
    {
        var deal = await _store.FindDealAsync(TenantId, dealId, cancellationToken).ConfigureAwait(false);
        return deal is null
            ? new ValidationError(nameof(InteractionDraft.DealId), "deal-exists", $"{dealId} is not a deal in this tenant")
            : deal.CustomerId != customerId
                ? new ValidationError(nameof(InteractionDraft.DealId), "same-customer", $"deal {dealId} belongs to another customer")
                : null;
    }

    private async Task<Deal> SaveChangeAsync(Deal current, Guid stageId, DealStatus status, string actor, string? lostReason, CancellationToken cancellationToken)
    {
        var now = _time.GetUtcNow();
        var (updated, change) = Change(current, stageId, status, actor, now);
        updated = updated with { LostReason = status == DealStatus.Lost ? lostReason : null };
        LifecycleStageChanged? lifecycle = null;
        for (var tries = 0; ; tries++)
        {
            try
            {
                var transaction = await _unitOfWork.BeginAsync(cancellationToken).ConfigureAwait(false);
                await using (transaction.ConfigureAwait(false))
                {
                    await _store.UpdateDealAsync(updated, current.Version, change, cancellationToken).ConfigureAwait(false);
                    lifecycle = status == DealStatus.Won ? await PromoteCustomerAsync(updated.CustomerId, now, cancellationToken).ConfigureAwait(false) : null;
                    await transaction.CommitAsync(cancellationToken).ConfigureAwait(false);
                }

                break;
            }
            catch (ConcurrencyConflictException conflict) when (conflict.EntityType == nameof(Customer) && tries < _options.ConcurrencyRetryLimit)
            {
                // The customer changed under the win: the deal write was rolled back with it, so try both again.
                _instrumentation.ConcurrencyConflicts.Add(1);
            }
        }

        List<CrmEvent> events = [new DealStageChanged { Deal = updated, Change = change, TenantId = TenantId, OccurredAt = now }];
        if (lifecycle is not null)
        {
            events.Add(lifecycle);
        }

        await _events.PublishAsync(events, cancellationToken).ConfigureAwait(false);
        if (lifecycle is not null)
        {
            await _customers.NotifyChangedAsync(TenantId, [updated.CustomerId], cancellationToken).ConfigureAwait(false);
        }

        return updated;
    }

    /// <summary>Moves the customer's lifecycle up to customer (never down); returns the event to publish, if it moved.</summary>
    private async Task<LifecycleStageChanged?> PromoteCustomerAsync(Guid customerId, DateTimeOffset now, CancellationToken cancellationToken)
    {
        var customer = await _customerStore.FindByIdAsync(TenantId, customerId, cancellationToken).ConfigureAwait(false);
        if (customer is null || customer.MergedIntoId is not null || customer.LifecycleStage >= LifecycleStage.Customer)
        {
            return null;
        }

        var promoted = CustomerManager.WithStage(customer, LifecycleStage.Customer, "deal won", now) with { Version = customer.Version + 1, UpdatedAt = now };
        await _customerStore.UpdateAsync(promoted, customer.Version, cancellationToken).ConfigureAwait(false);
        return new LifecycleStageChanged { CustomerId = customerId, From = customer.LifecycleStage, To = LifecycleStage.Customer, Reason = "deal won", TenantId = TenantId, OccurredAt = now };
    }

    private (Deal Deal, DealStageChange Change) Change(Deal current, Guid stageId, DealStatus status, string actor, DateTimeOffset now)
    {
        var change = new DealStageChange
        {
            Id = CrmIds.NewId(now),
            TenantId = TenantId,
            DealId = current.Id,
            Sequence = current.Version + 1,
            PipelineId = current.PipelineId,
            FromStageId = current.StageId,
            ToStageId = stageId,
            FromStatus = current.Status,
            ToStatus = status,
            At = now,
            TimeInStage = current.Status == DealStatus.Open && (stageId != current.StageId || status != DealStatus.Open) ? now - current.StageEnteredAt : null,
            Actor = actor,
        };
        var updated = current with
        {
            StageId = stageId,
            Status = status,

            // A reopened deal starts a new stay in its stage: the time it spent closed is not time in the stage.
            StageEnteredAt = stageId != current.StageId || (current.Status != DealStatus.Open && status == DealStatus.Open) ? now : current.StageEnteredAt,
            ClosedAt = status == DealStatus.Open ? null : now,
            LastActivityAt = now,
            Version = current.Version + 1,
            UpdatedAt = now,
        };
        return (updated, change);
    }

    private async Task<SalesPipeline> ChangePipelineAsync(Guid pipelineId, long expectedVersion, Func<SalesPipeline, ValidationErrorCollector, DateTimeOffset, SalesPipeline> change, CancellationToken cancellationToken)
    {
        var current = await CurrentPipelineAsync(pipelineId, expectedVersion, cancellationToken).ConfigureAwait(false);
        var now = _time.GetUtcNow();
        var updated = change(current, new ValidationErrorCollector(), now) with { Version = expectedVersion + 1, UpdatedAt = now };
        await _store.UpdatePipelineAsync(updated, expectedVersion, cancellationToken).ConfigureAwait(false);
        return updated;
    }

    private async Task<SalesPipeline> CurrentPipelineAsync(Guid id, long expectedVersion, CancellationToken cancellationToken)
    {
        var current = await GetPipelineAsync(id, cancellationToken).ConfigureAwait(false);
        return current.Version == expectedVersion ? current : throw new ConcurrencyConflictException(nameof(SalesPipeline), id, expectedVersion);
    }

    private async Task<Deal> CurrentDealAsync(Guid id, long expectedVersion, CancellationToken cancellationToken)
    {
        var current = await GetDealAsync(id, cancellationToken).ConfigureAwait(false);
        return current.Version == expectedVersion ? current : throw new ConcurrencyConflictException(nameof(Deal), id, expectedVersion);
    }

    private static PipelineStage? ActiveStage(SalesPipeline pipeline, Guid stageId, ValidationErrorCollector errors, string field)
    {
        var stage = pipeline.FindStage(stageId);
        if (stage is null)
        {
            errors.Add(field, "stage-exists", $"{stageId} is not a stage of pipeline '{pipeline.Name}'");
        }
        else if (stage.IsArchived)
        {
            errors.Add(field, "active-stage", $"stage '{stage.Name}' is archived");
        }

        return stage;
    }

    private static void RequireStatus(Deal deal, DealStatus status, string action)
    {
        if (deal.Status != status)
        {
            throw new CrmValidationException("status", "open", $"cannot {action} deal {deal.Id}: it is {deal.Status}");
        }
    }

    /// <summary>The owner a query narrows to: blank means every owner.</summary>
    private static string? OwnerFilter(string? ownerId) => string.IsNullOrWhiteSpace(ownerId) ? null : ownerId.Trim();

    private static void CheckPeriod(DateTimeOffset from, DateTimeOffset to)
    {
        if (to <= from)
        {
            throw new CrmValidationException(nameof(to), "after-from", $"must be after from ({from:O}); was {to:O}");
        }
    }

    private static void CheckActor(string actor)
    {
        var errors = new ValidationErrorCollector();
        errors.Required(nameof(actor), actor);
        errors.Text(nameof(actor), actor, MaxNameLength);
        errors.ThrowIfAny();
    }

    private static void CheckStage(ValidationErrorCollector errors, string path, StageDraft? stage)
    {
        if (stage is null)
        {
            errors.Add(path, "required", "must not be null");
            return;
        }

        errors.Required(path + ".Name", stage.Name);
        errors.Text(path + ".Name", stage.Name, MaxStageNameLength);
        if (stage.WinProbability is < 0 or > 1)
        {
            errors.Add(path + ".WinProbability", "range", $"must be from 0 to 1 (was {stage.WinProbability})");
        }

        if (stage.RottingDays is < 1 or > 3650)
        {
            errors.Add(path + ".RottingDays", "range", $"must be from 1 to 3650 days, or null for never (was {stage.RottingDays})");
        }
    }

    private static void CheckReasons(ValidationErrorCollector errors, string path, IReadOnlyList<string>? reasons)
    {
        if (reasons is null)
        {
            return;
        }

        errors.MaxCount(path, reasons, MaxReasons);
        for (var i = 0; i < reasons.Count; i++)
        {
            errors.Required($"{path}[{i}]", reasons[i]);
            errors.Text($"{path}[{i}]", reasons[i], MaxNameLength);
        }

        CheckDistinct(errors, path, reasons);
    }

    private static void CheckDistinct(ValidationErrorCollector errors, string path, IEnumerable<string?> names)
    {
        var repeated = names.Where(n => !string.IsNullOrWhiteSpace(n)).GroupBy(n => n!.Trim(), StringComparer.OrdinalIgnoreCase).Where(g => g.Count() > 1).Select(g => g.Key).ToList();
        if (repeated.Count > 0)
        {
            errors.Add(path, "unique", $"names must be unique (case-insensitively): {string.Join(", ", repeated)} repeated");
        }
    }

    /// <param name="errors">Collects the broken rules.</param>
    /// <param name="draft">The draft.</param>
    /// <param name="creating">Whether the deal is being created: only then is the pipeline required (an update keeps it).</param>
    /// <param name="now">The time, which a planned close date is measured from.</param>
    private static void CheckDeal(ValidationErrorCollector errors, DealDraft draft, bool creating, DateTimeOffset now)
    {
        if (draft.ExpectedCloseDate is { } close)
        {
            errors.Planned(nameof(draft.ExpectedCloseDate), close, now);
        }

        if (creating && draft.PipelineId == Guid.Empty)
        {
            errors.Add(nameof(draft.PipelineId), "required", "is required");
        }

        if (draft.CustomerId == Guid.Empty)
        {
            errors.Add(nameof(draft.CustomerId), "required", "is required");
        }

        errors.Required(nameof(draft.Title), draft.Title);
        errors.Text(nameof(draft.Title), draft.Title, 300);
        errors.Text(nameof(draft.OwnerId), draft.OwnerId, MaxNameLength);
        errors.Text(nameof(draft.Source), draft.Source, 100);
        if (!CurrencyCodes.IsValid(draft.Currency?.ToUpperInvariant()))
        {
            errors.Add(nameof(draft.Currency), "iso-4217", $"must be a three-letter ISO 4217 code such as USD or EUR (was {InputText.Quote(draft.Currency)})");
        }

        if (draft.Amount < 0 || decimal.Round(draft.Amount, 4) != draft.Amount || draft.Amount > 1_000_000_000_000m)
        {
            errors.Add(nameof(draft.Amount), "range", $"must be from 0 to 1,000,000,000,000 with at most 4 decimals (was {draft.Amount})");
        }

        errors.MaxCount(nameof(draft.Lines), draft.Lines, MaxLines);
        for (var i = 0; i < (draft.Lines?.Count ?? 0); i++)
        {
            var line = draft.Lines![i];
            errors.Required($"Lines[{i}].Sku", line?.Sku);
            errors.Required($"Lines[{i}].Name", line?.Name);
            if (line is { Quantity: < 1 })
            {
                errors.Add($"Lines[{i}].Quantity", "range", $"must be at least 1 (was {line.Quantity})");
            }

            if (line is { UnitPrice: < 0 } || (line is not null && decimal.Round(line.UnitPrice, 4) != line.UnitPrice))
            {
                errors.Add($"Lines[{i}].UnitPrice", "range", $"must not be negative and have at most 4 decimals (was {line!.UnitPrice})");
            }
        }

        if (draft.Lines is { Count: > 0 } && draft.Amount != 0 && draft.Amount != draft.Lines.Sum(l => l?.Total ?? 0))
        {
            errors.Add(nameof(draft.Amount), "lines-total", $"must be 0 or the lines' total ({draft.Lines.Sum(l => l?.Total ?? 0)}) when lines are given (was {draft.Amount})");
        }

        CustomerDraftValidator.ValidateAttributes(draft.Attributes ?? AttributeDictionary.Empty, errors);
    }

    private Deal Apply(Deal deal, DealDraft draft, DateTimeOffset now) => deal with
    {
        Title = draft.Title!.Trim(),
        OwnerId = string.IsNullOrWhiteSpace(draft.OwnerId) ? null : draft.OwnerId.Trim(),
        Amount = draft.Lines is { Count: > 0 } ? draft.Lines.Sum(l => l.Total) : draft.Amount,
        Currency = draft.Currency!.ToUpperInvariant(),
        ExpectedCloseDate = draft.ExpectedCloseDate,
        Lines = [.. draft.Lines ?? []],
        Source = string.IsNullOrWhiteSpace(draft.Source) ? null : draft.Source.Trim(),
        Attributes = CustomerDraftValidator.NormalizeAttributes(draft.Attributes ?? AttributeDictionary.Empty),
        UpdatedAt = now,
        TenantId = TenantId,
    };

    private static PipelineStage NewStage(StageDraft stage, DateTimeOffset now) => new()
    {
        Id = CrmIds.NewId(now),
        Name = stage.Name.Trim(),
        WinProbability = stage.WinProbability,
        RottingDays = stage.RottingDays,
    };
}
