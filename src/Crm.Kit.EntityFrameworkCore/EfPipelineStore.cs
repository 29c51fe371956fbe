using System.Linq.Expressions;
using Crm.Kit.Sales;
using Microsoft.EntityFrameworkCore;

namespace Crm.Kit.EntityFrameworkCore;

/// <summary>The EF Core <see cref="IPipelineStore"/>.</summary>
/// <typeparam name="TContext">The host's context, with <see cref="CrmKitModelBuilderExtensions.ApplyCrmKitModel"/> applied.</typeparam>
public sealed class EfPipelineStore<TContext> : IPipelineStore
    where TContext : DbContext
{
    private readonly TContext _context;

    /// <summary>Creates the store over the host's context.</summary>
    public EfPipelineStore(TContext context) => _context = ContextCheck.EnsureModel(context);

    private IQueryable<PipelineRow> Pipelines(string tenantId) => _context.Set<PipelineRow>().AsNoTracking().Where(r => r.TenantId == tenantId);

    private IQueryable<DealRow> Deals(string tenantId) => _context.Set<DealRow>().AsNoTracking().Where(r => r.TenantId == tenantId);

    /// <inheritdoc />
    public async ValueTask<SalesPipeline?> FindPipelineAsync(string tenantId, Guid id, CancellationToken cancellationToken) =>
        (await Pipelines(tenantId).FirstOrDefaultAsync(r => r.Id == id, cancellationToken).ConfigureAwait(false))?.ToPipeline();

    /// <inheritdoc />
    public async ValueTask<IReadOnlyList<SalesPipeline>> ListPipelinesAsync(string tenantId, Guid? afterId, int limit, CancellationToken cancellationToken)
    {
        var query = Pipelines(tenantId);
        if (afterId is { } after)
        {
            query = query.Where(r => r.Id.CompareTo(after) > 0);
        }

        var rows = await query.OrderBy(r => r.Id).Take(limit).ToListAsync(cancellationToken).ConfigureAwait(false);
        return rows.ConvertAll(r => r.ToPipeline());
    }

    /// <inheritdoc />
    public async ValueTask CreatePipelineAsync(SalesPipeline pipeline, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(pipeline);
        _context.Add(PipelineRow.From(pipeline));
        await SavePipelineAsync(pipeline, 0, cancellationToken).ConfigureAwait(false);
    }

    /// <inheritdoc />
    public async ValueTask UpdatePipelineAsync(SalesPipeline pipeline, long expectedVersion, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(pipeline);
        StoreWrites.AttachUpdate(_context, PipelineRow.From(pipeline), expectedVersion);
        await SavePipelineAsync(pipeline, expectedVersion, cancellationToken).ConfigureAwait(false);
    }

    private async ValueTask SavePipelineAsync(SalesPipeline pipeline, long expectedVersion, CancellationToken cancellationToken)
    {
        try
        {
            await StoreWrites.SaveAsync(_context, nameof(SalesPipeline), pipeline.Id, expectedVersion, cancellationToken).ConfigureAwait(false);
        }
        catch (DbUpdateException ex) when (UniqueViolation.Is(ex))
        {
            throw new DuplicateValueException(nameof(SalesPipeline.Name), pipeline.Name, ex);
        }
    }

    /// <inheritdoc />
    public async ValueTask<Deal?> FindDealAsync(string tenantId, Guid id, CancellationToken cancellationToken) =>
        (await Deals(tenantId).FirstOrDefaultAsync(r => r.Id == id, cancellationToken).ConfigureAwait(false))?.ToDeal();

    /// <inheritdoc />
    public async ValueTask CreateDealAsync(Deal deal, DealStageChange created, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(deal);
        ArgumentNullException.ThrowIfNull(created);
        _context.Add(DealRow.From(deal));
        _context.Add(DealHistoryRow.From(created));
        await StoreWrites.SaveAsync(_context, nameof(Deal), deal.Id, 0, cancellationToken).ConfigureAwait(false);
    }

    /// <inheritdoc />
    public async ValueTask UpdateDealAsync(Deal deal, long expectedVersion, DealStageChange? change, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(deal);

        // One SaveChanges holds the update and the history insert in one transaction; a stale version fails the
        // update and rolls the insert back with it.
        StoreWrites.AttachUpdate(_context, DealRow.From(deal), expectedVersion);
        if (change is not null)
        {
            _context.Add(DealHistoryRow.From(change));
        }

        try
        {
            await StoreWrites.SaveUpdateAsync(_context, nameof(Deal), deal.Id, expectedVersion, () => Deals(deal.TenantId).AnyAsync(r => r.Id == deal.Id, cancellationToken), cancellationToken).ConfigureAwait(false);
        }
        catch (DbUpdateException ex) when (change is not null && UniqueViolation.Is(ex))
        {
            // The history entry of this version exists already: a concurrent change of the deal got there first.
            throw new ConcurrencyConflictException(nameof(Deal), deal.Id, expectedVersion, ex);
        }
    }

    /// <inheritdoc />
    public async ValueTask<IReadOnlyList<DealStageChange>> ListHistoryAsync(string tenantId, Guid dealId, CancellationToken cancellationToken)
    {
        var rows = await _context.Set<DealHistoryRow>().AsNoTracking().Where(r => r.TenantId == tenantId && r.DealId == dealId)
            .OrderBy(r => r.Sequence).ToListAsync(cancellationToken).ConfigureAwait(false);
        return rows.ConvertAll(r => r.ToChange());
    }

    /// <inheritdoc />
    public async ValueTask<IReadOnlyList<Deal>> ListDealsByCustomerAsync(string tenantId, Guid customerId, bool openOnly, Guid? beforeId, int limit, CancellationToken cancellationToken)
    {
        var query = Deals(tenantId).Where(r => r.CustomerId == customerId);
        if (openOnly)
        {
            query = query.Where(r => r.Status == DealStatus.Open);
        }

        if (beforeId is { } before)
        {
            query = query.Where(r => r.Id.CompareTo(before) < 0);
        }

        var rows = await query.OrderByDescending(r => r.Id).Take(limit).ToListAsync(cancellationToken).ConfigureAwait(false);
        return rows.ConvertAll(r => r.ToDeal());
    }

    /// <inheritdoc />
    public async ValueTask<IReadOnlyList<Deal>> ListOpenDealsInStageAsync(string tenantId, Guid pipelineId, Guid stageId, DateTimeOffset? idleBefore, string? ownerId, Guid? afterId, int limit, CancellationToken cancellationToken)
    {
        var query = Deals(tenantId).Where(r => r.StageId == stageId && r.Status == DealStatus.Open && r.PipelineId == pipelineId);
        if (idleBefore is { } idle)
        {
            var ticks = idle.UtcTicks;
            query = query.Where(r => r.LastActivityAt < ticks);
        }

        if (ownerId is not null)
        {
            query = query.Where(r => r.OwnerId == ownerId);
        }

        if (afterId is { } after)
        {
            query = query.Where(r => r.Id.CompareTo(after) > 0);
        }

        var rows = await query.OrderBy(r => r.Id).Take(limit).ToListAsync(cancellationToken).ConfigureAwait(false);
        return rows.ConvertAll(r => r.ToDeal());
    }

    /// <inheritdoc />
    public async ValueTask<IReadOnlyList<OpenDealSum>> SumOpenDealsAsync(string tenantId, Guid pipelineId, string? ownerId, CancellationToken cancellationToken)
    {
        var query = Deals(tenantId).Where(r => r.PipelineId == pipelineId && r.Status == DealStatus.Open);
        if (ownerId is not null)
        {
            query = query.Where(r => r.OwnerId == ownerId);
        }

        var sums = await query
            .GroupBy(r => new { r.StageId, r.ExpectedCloseMonth, r.Currency })
            .Select(g => new { g.Key.StageId, g.Key.ExpectedCloseMonth, g.Key.Currency, Amount = g.Sum(r => r.Amount), Count = g.LongCount() })
            .ToListAsync(cancellationToken).ConfigureAwait(false);
        return sums.ConvertAll(s => new OpenDealSum(s.StageId, s.ExpectedCloseMonth, s.Currency, s.Amount, s.Count));
    }

    /// <inheritdoc />
    public async ValueTask<IReadOnlyList<ClosedDealSum>> SumClosedDealsAsync(string tenantId, Guid pipelineId, string? ownerId, DateTimeOffset closedFrom, DateTimeOffset closedTo, CancellationToken cancellationToken)
    {
        var from = closedFrom.UtcTicks;
        var to = closedTo.UtcTicks;
        var query = Deals(tenantId).Where(r => r.PipelineId == pipelineId && r.ClosedAt >= from && r.ClosedAt < to);
        if (ownerId is not null)
        {
            query = query.Where(r => r.OwnerId == ownerId);
        }

        var sums = await query
            .GroupBy(r => new { r.Status, r.ClosedMonth, r.Currency })
            .Select(g => new { g.Key.Status, g.Key.ClosedMonth, g.Key.Currency, Amount = g.Sum(r => r.Amount), Count = g.LongCount(), Cycle = g.Sum(r => (r.ClosedAt!.Value - r.CreatedAt) / TimeSpan.TicksPerSecond) })
            .ToListAsync(cancellationToken).ConfigureAwait(false);
        return sums.ConvertAll(s => new ClosedDealSum(s.Status, s.ClosedMonth!.Value, s.Currency, s.Amount, s.Count, s.Cycle));
    }

    /// <inheritdoc />
    public async ValueTask<IReadOnlyList<FunnelCount>> CountFunnelAsync(string tenantId, Guid pipelineId, string? ownerId, DateTimeOffset createdFrom, DateTimeOffset createdTo, IReadOnlyList<Guid> stageOrder, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(stageOrder);
        var from = createdFrom.UtcTicks;
        var to = createdTo.UtcTicks;
        var deals = Deals(tenantId).Where(r => r.PipelineId == pipelineId && r.CreatedAt >= from && r.CreatedAt < to);
        if (ownerId is not null)
        {
            deals = deals.Where(r => r.OwnerId == ownerId);
        }

        var history = _context.Set<DealHistoryRow>().AsNoTracking();
        var position = StagePosition.Of(stageOrder);
        var counts = await deals
            .Select(d => new { d.Status, Furthest = history.Where(h => h.TenantId == d.TenantId && h.DealId == d.Id).Select(position).Max() })
            .GroupBy(x => new { x.Status, x.Furthest })
            .Select(g => new { g.Key.Status, g.Key.Furthest, Count = g.LongCount() })
            .ToListAsync(cancellationToken).ConfigureAwait(false);
        return counts.ConvertAll(c => new FunnelCount(c.Furthest ?? -1, c.Status, c.Count));
    }

    /// <inheritdoc />
    public async ValueTask<IReadOnlyList<StageTimeSum>> SummarizeStageTimesAsync(string tenantId, Guid pipelineId, DateTimeOffset from, DateTimeOffset to, CancellationToken cancellationToken)
    {
        var fromTicks = from.UtcTicks;
        var toTicks = to.UtcTicks;
        var stays = _context.Set<DealHistoryRow>().AsNoTracking()
            .Where(h => h.TenantId == tenantId && h.PipelineId == pipelineId && h.At >= fromTicks && h.At < toTicks && h.TimeInStage != null && h.FromStageId != null);
        var groups = await stays
            .GroupBy(h => h.FromStageId)
            .Select(g => new { Stage = g.Key, Count = g.LongCount(), Mean = g.Average(h => (double)h.TimeInStage!.Value) })
            .ToListAsync(cancellationToken).ConfigureAwait(false);

        var sums = new List<StageTimeSum>(groups.Count);
        foreach (var group in groups)
        {
            // SQL has no portable median: read the one or two middle stays of the stage in order.
            var middle = await stays.Where(h => h.FromStageId == group.Stage)
                .OrderBy(h => h.TimeInStage)
                .Skip(checked((int)((group.Count - 1) / 2)))
                .Take(group.Count % 2 == 0 ? 2 : 1)
                .Select(h => h.TimeInStage!.Value)
                .ToListAsync(cancellationToken).ConfigureAwait(false);
            var median = middle.Count == 2 ? (long)(((Int128)middle[0] + middle[1]) / 2) : middle[0];
            sums.Add(new StageTimeSum(group.Stage!.Value, group.Count, TimeSpan.FromTicks((long)group.Mean), TimeSpan.FromTicks(median)));
        }

        return sums;
    }

    /// <inheritdoc />
    public async ValueTask<int> ReassignCustomerAsync(string tenantId, Guid fromCustomerId, Guid toCustomerId, CancellationToken cancellationToken) =>
        await _context.Set<DealRow>().Where(r => r.TenantId == tenantId && r.CustomerId == fromCustomerId)
            .ExecuteUpdateAsync(s => s.SetProperty(r => r.CustomerId, toCustomerId).SetProperty(r => r.Version, r => r.Version + 1), cancellationToken)
            .ConfigureAwait(false);
}

/// <summary>Builds the SQL <c>CASE</c> that turns a history entry's stage into its position in the pipeline.</summary>
internal sealed class StagePosition
{
    // A field of an object the query captures: EF sends each stage id as a parameter rather than a literal.
    private readonly Guid[] _stages;

    private StagePosition(Guid[] stages) => _stages = stages;

    /// <summary><c>h => h.ToStageId == stages[0] ? 0 : h.ToStageId == stages[1] ? 1 : … : -1</c>, as a nullable so <c>MAX</c> over no rows is null.</summary>
    public static Expression<Func<DealHistoryRow, int?>> Of(IReadOnlyList<Guid> stageOrder)
    {
        var holder = new StagePosition([.. stageOrder]);
        var entry = Expression.Parameter(typeof(DealHistoryRow), "h");
        var stageId = Expression.Property(entry, nameof(DealHistoryRow.ToStageId));
        var stages = Expression.Field(Expression.Constant(holder), nameof(_stages));
        Expression body = Expression.Constant(-1, typeof(int?));
        for (var i = holder._stages.Length - 1; i >= 0; i--)
        {
            var stage = Expression.ArrayIndex(stages, Expression.Constant(i));
            body = Expression.Condition(
                Expression.Equal(stageId, stage),
                Expression.Constant(i, typeof(int?)),
                body);
        }

        return Expression.Lambda<Func<DealHistoryRow, int?>>(body, entry);
    }
}
