using Crm.Kit.Sales;

namespace Crm.Kit.InMemory;

/// <summary>One tenant's deal indexes and history. Guarded by locking the instance.</summary>
internal sealed class DealIndex
{
    public Dictionary<Guid, SortedSet<Guid>> ByCustomer { get; } = [];

    public Dictionary<Guid, SortedSet<Guid>> OpenByCustomer { get; } = [];

    /// <summary>Open deals per stage, by last activity then id: rotting reads a prefix.</summary>
    public Dictionary<Guid, SortedSet<(long Ticks, Guid Id)>> OpenByStage { get; } = [];

    public Dictionary<Guid, List<DealStageChange>> History { get; } = [];

    public void Add(Deal deal)
    {
        Set(ByCustomer, deal.CustomerId).Add(deal.Id);
        if (deal.Status == DealStatus.Open)
        {
            Set(OpenByCustomer, deal.CustomerId).Add(deal.Id);
            if (!OpenByStage.TryGetValue(deal.StageId, out var stage))
            {
                OpenByStage[deal.StageId] = stage = new SortedSet<(long, Guid)>(TimeIdComparer.Instance);
            }

            stage.Add((deal.LastActivityAt.UtcTicks, deal.Id));
        }
    }

    public void Remove(Deal deal)
    {
        ByCustomer.GetValueOrDefault(deal.CustomerId)?.Remove(deal.Id);
        OpenByCustomer.GetValueOrDefault(deal.CustomerId)?.Remove(deal.Id);
        OpenByStage.GetValueOrDefault(deal.StageId)?.Remove((deal.LastActivityAt.UtcTicks, deal.Id));
    }

    private static SortedSet<Guid> Set(Dictionary<Guid, SortedSet<Guid>> sets, Guid key)
    {
        if (!sets.TryGetValue(key, out var set))
        {
            sets[key] = set = [];
        }

        return set;
    }
}

/// <summary>The in-memory <see cref="IPipelineStore"/>.</summary>
public sealed class InMemoryPipelineStore : IPipelineStore
{
    private readonly InMemoryCrmDatabase _database;
    private readonly InMemoryTable<Deal, DealIndex> _deals;

    /// <summary>Creates the store over a database.</summary>
    public InMemoryPipelineStore(InMemoryCrmDatabase database)
    {
        _database = database ?? throw new ArgumentNullException(nameof(database));
        _deals = new(database, database.Deals, nameof(Deal), d => d.Id, d => d.TenantId, d => d.Version, (index, d) => index.Add(d), (index, d) => index.Remove(d));
    }

    /// <inheritdoc />
    public ValueTask<SalesPipeline?> FindPipelineAsync(string tenantId, Guid id, CancellationToken cancellationToken) =>
        new(_database.Pipelines.TryGetValue(tenantId, out var pipelines) ? pipelines.GetValueOrDefault(id) : null);

    /// <inheritdoc />
    public ValueTask<IReadOnlyList<SalesPipeline>> ListPipelinesAsync(string tenantId, Guid? afterId, int limit, CancellationToken cancellationToken) =>
        new(_database.Pipelines.TryGetValue(tenantId, out var pipelines)
            ? [.. pipelines.Values.Where(p => afterId is null || p.Id.CompareTo(afterId.Value) > 0).OrderBy(p => p.Id).Take(limit)]
            : []);

    /// <inheritdoc />
    public ValueTask CreatePipelineAsync(SalesPipeline pipeline, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(pipeline);
        return _database.WriteAsync(() =>
        {
            var pipelines = _database.Pipelines.GetOrAdd(pipeline.TenantId, static _ => new());
            if (pipelines.Values.Any(p => string.Equals(p.Name, pipeline.Name, StringComparison.Ordinal)))
            {
                throw new DuplicateValueException(nameof(SalesPipeline.Name), pipeline.Name);
            }

            pipelines[pipeline.Id] = pipeline;
            return () => pipelines.TryRemove(pipeline.Id, out _);
        }, cancellationToken);
    }

    /// <inheritdoc />
    public ValueTask UpdatePipelineAsync(SalesPipeline pipeline, long expectedVersion, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(pipeline);
        return _database.WriteAsync(() =>
        {
            if (!_database.Pipelines.TryGetValue(pipeline.TenantId, out var pipelines) || !pipelines.TryGetValue(pipeline.Id, out var current))
            {
                throw new EntityNotFoundException(nameof(SalesPipeline), pipeline.Id);
            }

            if (current.Version != expectedVersion)
            {
                throw new ConcurrencyConflictException(nameof(SalesPipeline), pipeline.Id, expectedVersion);
            }

            if (pipelines.Values.Any(p => p.Id != pipeline.Id && string.Equals(p.Name, pipeline.Name, StringComparison.Ordinal)))
            {
                throw new DuplicateValueException(nameof(SalesPipeline.Name), pipeline.Name);
            }

            pipelines[pipeline.Id] = pipeline;
            return () => pipelines[pipeline.Id] = current;
        }, cancellationToken);
    }

    /// <inheritdoc />
    public ValueTask<Deal?> FindDealAsync(string tenantId, Guid id, CancellationToken cancellationToken) => new(_deals.Find(tenantId, id));

    /// <inheritdoc />
    public async ValueTask CreateDealAsync(Deal deal, DealStageChange created, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(deal);
        ArgumentNullException.ThrowIfNull(created);
        await _database.WriteAsync(() =>
        {
            // Both writes in one step of the write gate: the deal and its first entry appear together.
            var undo = _deals.CreateMany([deal], static (_, _) => null);
            AppendHistory(deal.TenantId, created);
            return () =>
            {
                RemoveHistory(deal.TenantId, created);
                undo();
            };
        }, cancellationToken).ConfigureAwait(false);
    }

    /// <inheritdoc />
    public async ValueTask UpdateDealAsync(Deal deal, long expectedVersion, DealStageChange? change, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(deal);
        await _database.WriteAsync(() =>
        {
            var undo = _deals.Update(deal, expectedVersion, static (_, _) => null);
            if (change is not null)
            {
                AppendHistory(deal.TenantId, change);
            }

            return () =>
            {
                if (change is not null)
                {
                    RemoveHistory(deal.TenantId, change);
                }

                undo();
            };
        }, cancellationToken).ConfigureAwait(false);
    }

    /// <inheritdoc />
    public ValueTask<IReadOnlyList<DealStageChange>> ListHistoryAsync(string tenantId, Guid dealId, CancellationToken cancellationToken)
    {
        var index = _deals.Index(tenantId);
        lock (index)
        {
            return new(index.History.TryGetValue(dealId, out var history) ? [.. history] : []);
        }
    }

    /// <inheritdoc />
    public ValueTask<IReadOnlyList<Deal>> ListDealsByCustomerAsync(string tenantId, Guid customerId, bool openOnly, Guid? beforeId, int limit, CancellationToken cancellationToken)
    {
        var index = _deals.Index(tenantId);
        lock (index)
        {
            var set = (openOnly ? index.OpenByCustomer : index.ByCustomer).GetValueOrDefault(customerId);
            if (set is null)
            {
                return new(Array.Empty<Deal>());
            }

            return new(_deals.Resolve(tenantId, InMemoryOrderStore.Before(set, beforeId).Take(limit)));
        }
    }

    /// <inheritdoc />
    public ValueTask<IReadOnlyList<Deal>> ListOpenDealsInStageAsync(string tenantId, Guid pipelineId, Guid stageId, DateTimeOffset? idleBefore, string? ownerId, Guid? afterId, int limit, CancellationToken cancellationToken)
    {
        var index = _deals.Index(tenantId);
        lock (index)
        {
            if (!index.OpenByStage.TryGetValue(stageId, out var stage))
            {
                return new(Array.Empty<Deal>());
            }

            var keys = idleBefore is { } idle ? stage.TakeWhile(k => k.Ticks < idle.UtcTicks) : stage;
            var deals = _deals.Resolve(tenantId, keys.Select(k => k.Id))
                .Where(d => d.PipelineId == pipelineId && (ownerId is null || d.OwnerId == ownerId) && (afterId is null || d.Id.CompareTo(afterId.Value) > 0))
                .OrderBy(d => d.Id)
                .Take(limit)
                .ToList();
            return new(deals);
        }
    }

    /// <inheritdoc />
    public ValueTask<IReadOnlyList<OpenDealSum>> SumOpenDealsAsync(string tenantId, Guid pipelineId, string? ownerId, CancellationToken cancellationToken)
    {
        var deals = Deals(tenantId, d => d.PipelineId == pipelineId && d.Status == DealStatus.Open && (ownerId is null || d.OwnerId == ownerId));
        return new([.. deals
            .GroupBy(d => (d.StageId, Month: d.ExpectedCloseDate is { } date ? DealMonths.Of(date) : (int?)null, d.Currency))
            .Select(g => new OpenDealSum(g.Key.StageId, g.Key.Month, g.Key.Currency, g.Sum(d => d.Amount), g.LongCount()))]);
    }

    /// <inheritdoc />
    public ValueTask<IReadOnlyList<ClosedDealSum>> SumClosedDealsAsync(string tenantId, Guid pipelineId, string? ownerId, DateTimeOffset closedFrom, DateTimeOffset closedTo, CancellationToken cancellationToken)
    {
        var deals = Deals(tenantId, d => d.PipelineId == pipelineId && d.ClosedAt is { } closed && closed >= closedFrom && closed < closedTo && (ownerId is null || d.OwnerId == ownerId));
        return new([.. deals
            .GroupBy(d => (d.Status, Month: DealMonths.Of(d.ClosedAt!.Value), d.Currency))
            .Select(g => new ClosedDealSum(g.Key.Status, g.Key.Month, g.Key.Currency, g.Sum(d => d.Amount), g.LongCount(), g.Sum(d => (d.ClosedAt!.Value - d.CreatedAt).Ticks / TimeSpan.TicksPerSecond)))]);
    }

    /// <inheritdoc />
    public ValueTask<IReadOnlyList<FunnelCount>> CountFunnelAsync(string tenantId, Guid pipelineId, string? ownerId, DateTimeOffset createdFrom, DateTimeOffset createdTo, IReadOnlyList<Guid> stageOrder, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(stageOrder);
        if (_deals.Rows(tenantId) is not { } rows)
        {
            return new(Array.Empty<FunnelCount>());
        }

        var positions = new Dictionary<Guid, int>(stageOrder.Count);
        for (var i = 0; i < stageOrder.Count; i++)
        {
            positions.TryAdd(stageOrder[i], i);
        }

        var counts = new Dictionary<(int Furthest, DealStatus Status), long>();
        lock (rows.Index)
        {
            foreach (var deal in rows.Rows.Values)
            {
                if (deal.PipelineId != pipelineId || deal.CreatedAt < createdFrom || deal.CreatedAt >= createdTo || (ownerId is not null && deal.OwnerId != ownerId))
                {
                    continue;
                }

                var furthest = -1;
                if (rows.Index.History.TryGetValue(deal.Id, out var history))
                {
                    foreach (var change in history)
                    {
                        if (positions.TryGetValue(change.ToStageId, out var position) && position > furthest)
                        {
                            furthest = position;
                        }
                    }
                }

                counts[(furthest, deal.Status)] = counts.GetValueOrDefault((furthest, deal.Status)) + 1;
            }
        }

        return new([.. counts.Select(c => new FunnelCount(c.Key.Furthest, c.Key.Status, c.Value))]);
    }

    /// <inheritdoc />
    public ValueTask<IReadOnlyList<StageTimeSum>> SummarizeStageTimesAsync(string tenantId, Guid pipelineId, DateTimeOffset from, DateTimeOffset to, CancellationToken cancellationToken)
    {
        var stays = new Dictionary<Guid, List<long>>();
        var index = _deals.Index(tenantId);
        lock (index)
        {
            foreach (var history in index.History.Values)
            {
                foreach (var change in history)
                {
                    if (change.TimeInStage is { } time && change.FromStageId is { } stage && change.PipelineId == pipelineId && change.At >= from && change.At < to)
                    {
                        if (!stays.TryGetValue(stage, out var times))
                        {
                            stays[stage] = times = [];
                        }

                        times.Add(time.Ticks);
                    }
                }
            }
        }

        return new([.. stays.Select(s => Summarize(s.Key, s.Value))]);
    }

    private static StageTimeSum Summarize(Guid stageId, List<long> times)
    {
        times.Sort();
        Int128 total = 0;
        foreach (var time in times)
        {
            total += time;
        }

        var middle = times.Count / 2;
        var median = times.Count % 2 == 1 ? times[middle] : (long)(((Int128)times[middle - 1] + times[middle]) / 2);
        return new StageTimeSum(stageId, times.Count, TimeSpan.FromTicks((long)(total / times.Count)), TimeSpan.FromTicks(median));
    }

    /// <summary>A snapshot of the tenant's deals that match, read under the index lock.</summary>
    private List<Deal> Deals(string tenantId, Func<Deal, bool> match)
    {
        if (_deals.Rows(tenantId) is not { } rows)
        {
            return [];
        }

        lock (rows.Index)
        {
            return [.. rows.Rows.Values.Where(match)];
        }
    }

    /// <inheritdoc />
    public ValueTask<int> ReassignCustomerAsync(string tenantId, Guid fromCustomerId, Guid toCustomerId, CancellationToken cancellationToken) =>
        _deals.UpdateManyAsync(
            tenantId,
            index => index.ByCustomer.TryGetValue(fromCustomerId, out var set) ? _deals.Resolve(tenantId, set) : [],
            d => d with { CustomerId = toCustomerId, Version = d.Version + 1 },
            cancellationToken);

    private void AppendHistory(string tenantId, DealStageChange change)
    {
        var index = _deals.Index(tenantId);
        lock (index)
        {
            if (!index.History.TryGetValue(change.DealId, out var history))
            {
                index.History[change.DealId] = history = [];
            }

            history.Add(change);
        }
    }

    private void RemoveHistory(string tenantId, DealStageChange change)
    {
        var index = _deals.Index(tenantId);
        lock (index)
        {
            index.History.GetValueOrDefault(change.DealId)?.Remove(change);
        }
    }
}
