namespace Crm.Kit.Sales;

/// <summary>
/// Persists pipelines, deals and deal stage history. Tenant-scoped like every store. It decides nothing —
/// <see cref="PipelineManager"/> validates every move — but a deal and its history entry are written together or
/// not at all, so the history never holds a move that did not happen.
/// </summary>
public interface IPipelineStore
{
    /// <summary>The pipeline with this id, or <see langword="null"/>.</summary>
    ValueTask<SalesPipeline?> FindPipelineAsync(string tenantId, Guid id, CancellationToken cancellationToken);

    /// <summary>Pipelines ordered by id, after <paramref name="afterId"/> when given, at most <paramref name="limit"/>.</summary>
    ValueTask<IReadOnlyList<SalesPipeline>> ListPipelinesAsync(string tenantId, Guid? afterId, int limit, CancellationToken cancellationToken);

    /// <summary>Adds a pipeline. Throws <see cref="DuplicateValueException"/> (field <c>Name</c>) when the name is taken.</summary>
    ValueTask CreatePipelineAsync(SalesPipeline pipeline, CancellationToken cancellationToken);

    /// <summary>Replaces a pipeline when its version matches (else <see cref="ConcurrencyConflictException"/>); the name stays unique.</summary>
    ValueTask UpdatePipelineAsync(SalesPipeline pipeline, long expectedVersion, CancellationToken cancellationToken);

    /// <summary>The deal with this id, or <see langword="null"/>.</summary>
    ValueTask<Deal?> FindDealAsync(string tenantId, Guid id, CancellationToken cancellationToken);

    /// <summary>Adds a deal with its first history entry, both or neither.</summary>
    ValueTask CreateDealAsync(Deal deal, DealStageChange created, CancellationToken cancellationToken);

    /// <summary>
    /// Replaces a deal when its stored version equals <paramref name="expectedVersion"/>, appending
    /// <paramref name="change"/> to its history when given — both or neither. Otherwise throws
    /// <see cref="ConcurrencyConflictException"/> (or <see cref="EntityNotFoundException"/>) and writes nothing.
    /// </summary>
    ValueTask UpdateDealAsync(Deal deal, long expectedVersion, DealStageChange? change, CancellationToken cancellationToken);

    /// <summary>A deal's history, oldest first (by <see cref="DealStageChange.Sequence"/>).</summary>
    ValueTask<IReadOnlyList<DealStageChange>> ListHistoryAsync(string tenantId, Guid dealId, CancellationToken cancellationToken);

    /// <summary>A customer's deals newest first (by id), only open ones when <paramref name="openOnly"/>, with an id below <paramref name="beforeId"/> when given, at most <paramref name="limit"/>.</summary>
    ValueTask<IReadOnlyList<Deal>> ListDealsByCustomerAsync(string tenantId, Guid customerId, bool openOnly, Guid? beforeId, int limit, CancellationToken cancellationToken);

    /// <summary>
    /// Open deals in a stage, ordered by id after <paramref name="afterId"/> when given; only those whose
    /// <see cref="Deal.LastActivityAt"/> is before <paramref name="idleBefore"/>, and only the owner's, when given;
    /// at most <paramref name="limit"/>.
    /// </summary>
    ValueTask<IReadOnlyList<Deal>> ListOpenDealsInStageAsync(string tenantId, Guid pipelineId, Guid stageId, DateTimeOffset? idleBefore, string? ownerId, Guid? afterId, int limit, CancellationToken cancellationToken);

    /// <summary>
    /// Sums the pipeline's open deals (only the owner's, when given) by stage, expected-close month and currency —
    /// in the store (SQL <c>GROUP BY</c> in the EF adapter), never by loading the deals.
    /// </summary>
    ValueTask<IReadOnlyList<OpenDealSum>> SumOpenDealsAsync(string tenantId, Guid pipelineId, string? ownerId, CancellationToken cancellationToken);

    /// <summary>
    /// Sums the pipeline's deals closed (won or lost) in [<paramref name="closedFrom"/>, <paramref name="closedTo"/>)
    /// (only the owner's, when given) by status, close month and currency, with their summed sales cycles — in the store.
    /// </summary>
    ValueTask<IReadOnlyList<ClosedDealSum>> SumClosedDealsAsync(string tenantId, Guid pipelineId, string? ownerId, DateTimeOffset closedFrom, DateTimeOffset closedTo, CancellationToken cancellationToken);

    /// <summary>
    /// Counts the pipeline's deals created in [<paramref name="createdFrom"/>, <paramref name="createdTo"/>) (only the
    /// owner's, when given) by status and by the furthest stage their history reaches, as a position in
    /// <paramref name="stageOrder"/> — in the store (one grouped SQL query in the EF adapter).
    /// </summary>
    ValueTask<IReadOnlyList<FunnelCount>> CountFunnelAsync(string tenantId, Guid pipelineId, string? ownerId, DateTimeOffset createdFrom, DateTimeOffset createdTo, IReadOnlyList<Guid> stageOrder, CancellationToken cancellationToken);

    /// <summary>
    /// The count, mean and median of the stays (<see cref="DealStageChange.TimeInStage"/>) that ended in
    /// [<paramref name="from"/>, <paramref name="to"/>) in the pipeline, per stage — in the store.
    /// </summary>
    ValueTask<IReadOnlyList<StageTimeSum>> SummarizeStageTimesAsync(string tenantId, Guid pipelineId, DateTimeOffset from, DateTimeOffset to, CancellationToken cancellationToken);

    /// <summary>Moves every deal of <paramref name="fromCustomerId"/> to <paramref name="toCustomerId"/> (a merge); returns how many moved.</summary>
    ValueTask<int> ReassignCustomerAsync(string tenantId, Guid fromCustomerId, Guid toCustomerId, CancellationToken cancellationToken);
}
