using Crm.Kit.Customers;
using Crm.Kit.Interactions;

namespace Crm.Kit.Sales;

/// <summary>A step of a sales pipeline.</summary>
public sealed record PipelineStage
{
    /// <summary>The id, stable across renames and reorders.</summary>
    public required Guid Id { get; init; }

    /// <summary>The name, unique within the pipeline.</summary>
    public required string Name { get; init; }

    /// <summary>The chance, from 0 to 1, that a deal in this stage is won; weights the forecast.</summary>
    public decimal WinProbability { get; init; }

    /// <summary>Days without a stage move or a linked interaction after which a deal here is rotting; <see langword="null"/> for never.</summary>
    public int? RottingDays { get; init; }

    /// <summary>Whether the stage was archived: it holds no deals and takes none.</summary>
    public bool IsArchived { get; init; }
}

/// <summary>A sales process: ordered stages that deals move through, and the reasons a deal can be lost.</summary>
public sealed record SalesPipeline
{
    /// <summary>The id.</summary>
    public required Guid Id { get; init; }

    /// <summary>The owning tenant.</summary>
    public required string TenantId { get; init; }

    /// <summary>The optimistic-concurrency version.</summary>
    public long Version { get; init; }

    /// <summary>The name, unique per tenant.</summary>
    public required string Name { get; init; }

    /// <summary>Every stage in order, archived ones included (they keep their place for history).</summary>
    public IReadOnlyList<PipelineStage> Stages { get; init; } = [];

    /// <summary>The reasons a deal in this pipeline may be lost with.</summary>
    public IReadOnlyList<string> LostReasons { get; init; } = [];

    /// <summary>When it was created.</summary>
    public DateTimeOffset CreatedAt { get; init; }

    /// <summary>When it last changed.</summary>
    public DateTimeOffset UpdatedAt { get; init; }

    /// <summary>The stages deals can be in, in order.</summary>
    public IEnumerable<PipelineStage> ActiveStages => Stages.Where(s => !s.IsArchived);

    /// <summary>The stage with this id, or <see langword="null"/>.</summary>
    public PipelineStage? FindStage(Guid stageId) => Stages.FirstOrDefault(s => s.Id == stageId);
}

/// <summary>A stage to create.</summary>
/// <param name="Name">The name (required, at most 100 characters, unique within the pipeline).</param>
/// <param name="WinProbability">From 0 to 1.</param>
/// <param name="RottingDays">From 1 to 3,650 days, or <see langword="null"/> for never.</param>
public sealed record StageDraft(string Name, decimal WinProbability, int? RottingDays = null);

/// <summary>A pipeline to create.</summary>
public sealed record PipelineDraft
{
    /// <summary>The name (required, at most 200 characters, unique per tenant).</summary>
    public string? Name { get; init; }

    /// <summary>The stages in order (1 to 50).</summary>
    public IReadOnlyList<StageDraft> Stages { get; init; } = [];

    /// <summary>The reasons a deal may be lost with (at most 50, each at most 200 characters).</summary>
    public IReadOnlyList<string> LostReasons { get; init; } = [];
}

/// <summary>Where a deal stands.</summary>
public enum DealStatus
{
    /// <summary>Being worked.</summary>
    Open = 0,

    /// <summary>Won.</summary>
    Won = 1,

    /// <summary>Lost.</summary>
    Lost = 2,
}

/// <summary>A product on a deal.</summary>
/// <param name="Sku">The product code.</param>
/// <param name="Name">The product name.</param>
/// <param name="Quantity">How many (at least 1).</param>
/// <param name="UnitPrice">The price of one, in the deal's currency (not negative).</param>
public sealed record DealLine(string Sku, string Name, int Quantity, decimal UnitPrice)
{
    /// <summary>Quantity × unit price.</summary>
    public decimal Total => Quantity * UnitPrice;
}

/// <summary>A sales opportunity with one customer, moving through one pipeline.</summary>
public sealed record Deal
{
    /// <summary>The id.</summary>
    public required Guid Id { get; init; }

    /// <summary>The owning tenant.</summary>
    public required string TenantId { get; init; }

    /// <summary>The optimistic-concurrency version.</summary>
    public long Version { get; init; }

    /// <summary>The pipeline it moves through (fixed).</summary>
    public Guid PipelineId { get; init; }

    /// <summary>The current stage.</summary>
    public Guid StageId { get; init; }

    /// <summary>What is being sold.</summary>
    public required string Title { get; init; }

    /// <summary>The customer (a person or a company).</summary>
    public Guid CustomerId { get; init; }

    /// <summary>The salesperson.</summary>
    public string? OwnerId { get; init; }

    /// <summary>The value, in <see cref="Currency"/>.</summary>
    public decimal Amount { get; init; }

    /// <summary>The ISO 4217 currency of <see cref="Amount"/>.</summary>
    public required string Currency { get; init; }

    /// <summary>When it is expected to close.</summary>
    public DateOnly? ExpectedCloseDate { get; init; }

    /// <summary>Products on the deal; when present, <see cref="Amount"/> is their total.</summary>
    public IReadOnlyList<DealLine> Lines { get; init; } = [];

    /// <summary>Open, won or lost.</summary>
    public DealStatus Status { get; init; }

    /// <summary>Why it was lost (one of the pipeline's reasons).</summary>
    public string? LostReason { get; init; }

    /// <summary>Where it came from (web, referral, event…).</summary>
    public string? Source { get; init; }

    /// <summary>Typed custom attributes.</summary>
    public AttributeDictionary Attributes { get; init; } = AttributeDictionary.Empty;

    /// <summary>When it was created.</summary>
    public DateTimeOffset CreatedAt { get; init; }

    /// <summary>When it entered its current stage, or was reopened in it: what its time in the stage is measured from.</summary>
    public DateTimeOffset StageEnteredAt { get; init; }

    /// <summary>When it was won or lost; cleared when reopened.</summary>
    public DateTimeOffset? ClosedAt { get; init; }

    /// <summary>The last stage move or linked interaction: what rotting is measured from.</summary>
    public DateTimeOffset LastActivityAt { get; init; }

    /// <summary>When it last changed.</summary>
    public DateTimeOffset UpdatedAt { get; init; }
}

/// <summary>What a caller sets on a deal.</summary>
public sealed record DealDraft
{
    /// <summary>The pipeline (required; cannot change later).</summary>
    public Guid PipelineId { get; init; }

    /// <summary>The stage; defaults to the pipeline's first active stage.</summary>
    public Guid? StageId { get; init; }

    /// <summary>What is being sold (required, at most 300 characters).</summary>
    public string? Title { get; init; }

    /// <summary>The customer (required).</summary>
    public Guid CustomerId { get; init; }

    /// <summary>The salesperson.</summary>
    public string? OwnerId { get; init; }

    /// <summary>The value (not negative, at most 4 decimals); leave 0 when <see cref="Lines"/> are given, which set it.</summary>
    public decimal Amount { get; init; }

    /// <summary>The ISO 4217 currency (required).</summary>
    public string? Currency { get; init; }

    /// <summary>When it is expected to close.</summary>
    public DateOnly? ExpectedCloseDate { get; init; }

    /// <summary>Products on the deal (at most 200).</summary>
    public IReadOnlyList<DealLine> Lines { get; init; } = [];

    /// <summary>Where it came from (at most 100 characters).</summary>
    public string? Source { get; init; }

    /// <summary>Typed custom attributes.</summary>
    public IReadOnlyDictionary<string, AttributeValue> Attributes { get; init; } = AttributeDictionary.Empty;
}

/// <summary>One stage move or status change of a deal.</summary>
public sealed record DealStageChange
{
    /// <summary>The id.</summary>
    public required Guid Id { get; init; }

    /// <summary>The owning tenant.</summary>
    public required string TenantId { get; init; }

    /// <summary>The deal.</summary>
    public Guid DealId { get; init; }

    /// <summary>The deal's version this change produced (1 for the creation entry): orders a deal's history, and no two entries share it.</summary>
    public long Sequence { get; init; }

    /// <summary>The deal's pipeline.</summary>
    public Guid PipelineId { get; init; }

    /// <summary>The stage before; <see langword="null"/> for the creation entry.</summary>
    public Guid? FromStageId { get; init; }

    /// <summary>The stage after.</summary>
    public Guid ToStageId { get; init; }

    /// <summary>The status before; <see langword="null"/> for the creation entry.</summary>
    public DealStatus? FromStatus { get; init; }

    /// <summary>The status after.</summary>
    public DealStatus ToStatus { get; init; }

    /// <summary>When.</summary>
    public DateTimeOffset At { get; init; }

    /// <summary>
    /// How long the deal had been open in <see cref="FromStageId"/> when this change ended that stay (a move to
    /// another stage, a win or a loss); <see langword="null"/> when the change ended no stay (the creation entry, a reopening).
    /// </summary>
    public TimeSpan? TimeInStage { get; init; }

    /// <summary>Who.</summary>
    public required string Actor { get; init; }
}

/// <summary>A deal's activity, from the interactions linked to it.</summary>
/// <param name="LastActivityAt">The last stage move or linked interaction: what rotting is measured from.</param>
/// <param name="LastInteraction">The latest linked interaction that is not an open task; <see langword="null"/> without any.</param>
/// <param name="NextTask">The open linked task due soonest (tasks without a due time after those with one); <see langword="null"/> when nothing is planned.</param>
public sealed record DealActivity(DateTimeOffset LastActivityAt, Interaction? LastInteraction, Interaction? NextTask);
