using System.Numerics;
using System.Runtime.InteropServices;
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

    /// <summary>Per pipeline, one compact row per deal that the funnel and the forecast scan.</summary>
    public Dictionary<Guid, PipelineFacts> Facts { get; } = [];

    /// <summary>Where each deal's row is in its pipeline's facts.</summary>
    public Dictionary<Guid, int> FactSlots { get; } = [];

    public void Add(Deal deal)
    {
        var facts = FactsOf(deal.PipelineId);
        if (!FactSlots.TryGetValue(deal.Id, out var slot))
        {
            FactSlots[deal.Id] = slot = facts.Rows.Count;
            facts.Rows.Add(default);
        }

        ref var fact = ref CollectionsMarshal.AsSpan(facts.Rows)[slot];
        fact = new DealFact
        {
            Live = true,
            Status = deal.Status,
            Stage = facts.BitOf(deal.StageId),
            CreatedTicks = deal.CreatedAt.UtcTicks,
            ClosedTicks = deal.ClosedAt?.UtcTicks ?? long.MinValue,
            ClosedMonth = deal.ClosedAt is { } closed ? DealMonths.Of(closed) : 0,
            ExpectedCloseMonth = deal.ExpectedCloseDate is { } date ? DealMonths.Of(date) : null,
            Amount = deal.Amount,
            Currency = facts.CurrencyOf(deal.Currency),
            OwnerId = deal.OwnerId,
            Visited = fact.Visited,
        };

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
        if (FactSlots.TryGetValue(deal.Id, out var slot))
        {
            CollectionsMarshal.AsSpan(Facts[deal.PipelineId].Rows)[slot].Live = false;
        }

        ByCustomer.GetValueOrDefault(deal.CustomerId)?.Remove(deal.Id);
        OpenByCustomer.GetValueOrDefault(deal.CustomerId)?.Remove(deal.Id);
        OpenByStage.GetValueOrDefault(deal.StageId)?.Remove((deal.LastActivityAt.UtcTicks, deal.Id));
    }

    /// <summary>Marks the stages a deal's history reached, from the whole history (after an entry was taken back).</summary>
    public void SetVisited(Guid pipelineId, Guid dealId)
    {
        if (FactSlots.TryGetValue(dealId, out var slot))
        {
            var facts = Facts[pipelineId];
            ulong visited = 0;
            foreach (var change in History.GetValueOrDefault(dealId) ?? [])
            {
                visited |= facts.MaskOf(change.ToStageId);
            }

            CollectionsMarshal.AsSpan(facts.Rows)[slot].Visited = visited;
        }
    }

    /// <summary>Marks one more stage a deal's history reached.</summary>
    public void Visit(DealStageChange change)
    {
        if (FactSlots.TryGetValue(change.DealId, out var slot))
        {
            var facts = Facts[change.PipelineId];
            CollectionsMarshal.AsSpan(facts.Rows)[slot].Visited |= facts.MaskOf(change.ToStageId);
        }
    }

    private PipelineFacts FactsOf(Guid pipelineId)
    {
        if (!Facts.TryGetValue(pipelineId, out var facts))
        {
            Facts[pipelineId] = facts = new PipelineFacts();
        }

        return facts;
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

/// <summary>
/// A pipeline's deals as compact rows, in one array: the funnel and the forecast scan it sequentially instead of
/// visiting a million deal records and five million history entries scattered over the heap. Stages are numbered
/// by bit as first seen (never by position, which changes with reorders), and each row keeps the set of stages its
/// history reached.
/// </summary>
internal sealed class PipelineFacts
{
    private readonly Dictionary<Guid, int> _bits = [];
    private readonly Dictionary<string, int> _currencies = new(StringComparer.Ordinal);

    public List<DealFact> Rows { get; } = [];

    /// <summary>Stage ids by bit.</summary>
    public List<Guid> Stages { get; } = [];

    /// <summary>Currencies by number.</summary>
    public List<string> Currencies { get; } = [];

    public int BitOf(Guid stageId)
    {
        if (!_bits.TryGetValue(stageId, out var bit))
        {
            // PipelineManager keeps a pipeline to 50 stages, archived ones included, and never deletes one.
            if (Stages.Count == 64)
            {
                throw new InvalidOperationException("The in-memory pipeline store holds deals of at most 64 distinct stages per pipeline.");
            }

            _bits[stageId] = bit = Stages.Count;
            Stages.Add(stageId);
        }

        return bit;
    }

    public ulong MaskOf(Guid stageId) => 1UL << BitOf(stageId);

    public int CurrencyOf(string currency)
    {
        if (!_currencies.TryGetValue(currency, out var number))
        {
            _currencies[currency] = number = Currencies.Count;
            Currencies.Add(currency);
        }

        return number;
    }
}

/// <summary>What the funnel and the forecast need of one deal.</summary>
internal struct DealFact
{
    public bool Live;
    public DealStatus Status;
    public int Stage;
    public int Currency;
    public int ClosedMonth;
    public int? ExpectedCloseMonth;
    public long CreatedTicks;
    public long ClosedTicks;
    public decimal Amount;
    public string? OwnerId;
    public ulong Visited;
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
        var index = _deals.Index(tenantId);
        lock (index)
        {
            if (!index.Facts.TryGetValue(pipelineId, out var facts))
            {
                return new(Array.Empty<OpenDealSum>());
            }

            var sums = new Dictionary<(int Stage, int? Month, int Currency), (decimal Amount, long Count)>();
            foreach (ref readonly var fact in CollectionsMarshal.AsSpan(facts.Rows))
            {
                if (fact.Live && fact.Status == DealStatus.Open && (ownerId is null || fact.OwnerId == ownerId))
                {
                    ref var sum = ref CollectionsMarshal.GetValueRefOrAddDefault(sums, (fact.Stage, fact.ExpectedCloseMonth, fact.Currency), out _);
                    sum = (sum.Amount + fact.Amount, sum.Count + 1);
                }
            }

            return new([.. sums.Select(s => new OpenDealSum(facts.Stages[s.Key.Stage], s.Key.Month, facts.Currencies[s.Key.Currency], s.Value.Amount, s.Value.Count))]);
        }
    }

    /// <inheritdoc />
    public ValueTask<IReadOnlyList<ClosedDealSum>> SumClosedDealsAsync(string tenantId, Guid pipelineId, string? ownerId, DateTimeOffset closedFrom, DateTimeOffset closedTo, CancellationToken cancellationToken)
    {
        var (from, to) = (closedFrom.UtcTicks, closedTo.UtcTicks);
        var index = _deals.Index(tenantId);
        lock (index)
        {
            if (!index.Facts.TryGetValue(pipelineId, out var facts))
            {
                return new(Array.Empty<ClosedDealSum>());
            }

            var sums = new Dictionary<(DealStatus Status, int Month, int Currency), (decimal Amount, long Count, long Cycle)>();
            foreach (ref readonly var fact in CollectionsMarshal.AsSpan(facts.Rows))
            {
                if (fact.Live && fact.ClosedTicks >= from && fact.ClosedTicks < to && (ownerId is null || fact.OwnerId == ownerId))
                {
                    ref var sum = ref CollectionsMarshal.GetValueRefOrAddDefault(sums, (fact.Status, fact.ClosedMonth, fact.Currency), out _);
                    sum = (sum.Amount + fact.Amount, sum.Count + 1, sum.Cycle + ((fact.ClosedTicks - fact.CreatedTicks) / TimeSpan.TicksPerSecond));
                }
            }

            return new([.. sums.Select(s => new ClosedDealSum(s.Key.Status, s.Key.Month, facts.Currencies[s.Key.Currency], s.Value.Amount, s.Value.Count, s.Value.Cycle))]);
        }
    }

    /// <inheritdoc />
    public ValueTask<IReadOnlyList<FunnelCount>> CountFunnelAsync(string tenantId, Guid pipelineId, string? ownerId, DateTimeOffset createdFrom, DateTimeOffset createdTo, IReadOnlyList<Guid> stageOrder, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(stageOrder);
        var positions = new Dictionary<Guid, int>(stageOrder.Count);
        for (var i = 0; i < stageOrder.Count; i++)
        {
            positions.TryAdd(stageOrder[i], i);
        }

        var (from, to) = (createdFrom.UtcTicks, createdTo.UtcTicks);
        var counts = new Dictionary<(int Furthest, DealStatus Status), long>();
        var index = _deals.Index(tenantId);
        lock (index)
        {
            if (!index.Facts.TryGetValue(pipelineId, out var facts))
            {
                return new(Array.Empty<FunnelCount>());
            }

            var positionOfBit = facts.Stages.Select(id => positions.GetValueOrDefault(id, -1)).ToArray();
            foreach (ref readonly var fact in CollectionsMarshal.AsSpan(facts.Rows))
            {
                if (!fact.Live || fact.CreatedTicks < from || fact.CreatedTicks >= to || (ownerId is not null && fact.OwnerId != ownerId))
                {
                    continue;
                }

                var furthest = -1;
                for (var visited = fact.Visited; visited != 0; visited &= visited - 1)
                {
                    furthest = Math.Max(furthest, positionOfBit[BitOperations.TrailingZeroCount(visited)]);
                }

                ref var count = ref CollectionsMarshal.GetValueRefOrAddDefault(counts, (furthest, fact.Status), out _);
                count++;
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
            index.Visit(change);
        }
    }

    private void RemoveHistory(string tenantId, DealStageChange change)
    {
        var index = _deals.Index(tenantId);
        lock (index)
        {
            index.History.GetValueOrDefault(change.DealId)?.Remove(change);
            index.SetVisited(change.PipelineId, change.DealId);
        }
    }
}
