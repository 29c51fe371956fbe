using System.Text.Json;
using Crm.Kit.Customers;
using Crm.Kit.Sales;

namespace Crm.Kit.EntityFrameworkCore;

internal sealed class PipelineRow : ICrmRow
{
    public Guid Id { get; set; }

    public string TenantId { get; set; } = string.Empty;

    public long Version { get; set; }

    public string Name { get; set; } = string.Empty;

    /// <summary>The stages and lost reasons: always read and written with the pipeline, never queried apart.</summary>
    public string Document { get; set; } = "{}";

    public long CreatedAt { get; set; }

    public long UpdatedAt { get; set; }

    public static PipelineRow From(SalesPipeline p) => new()
    {
        Id = p.Id,
        TenantId = p.TenantId,
        Version = p.Version,
        Name = p.Name,
        Document = JsonSerializer.Serialize(new PipelineDocument(p.Stages, p.LostReasons), RowJson.Options),
        CreatedAt = p.CreatedAt.UtcTicks,
        UpdatedAt = p.UpdatedAt.UtcTicks,
    };

    public SalesPipeline ToPipeline()
    {
        var document = JsonSerializer.Deserialize<PipelineDocument>(Document, RowJson.Options)
            ?? throw new InvalidOperationException($"Pipeline {Id} has an empty document.");
        return new SalesPipeline
        {
            Id = Id,
            TenantId = TenantId,
            Version = Version,
            Name = Name,
            Stages = document.Stages,
            LostReasons = document.LostReasons,
            CreatedAt = Ticks.ToTime(CreatedAt),
            UpdatedAt = Ticks.ToTime(UpdatedAt),
        };
    }
}

internal sealed record PipelineDocument(IReadOnlyList<PipelineStage> Stages, IReadOnlyList<string> LostReasons);

internal sealed class DealRow : ICrmRow
{
    public Guid Id { get; set; }

    public string TenantId { get; set; } = string.Empty;

    public long Version { get; set; }

    public Guid PipelineId { get; set; }

    public Guid StageId { get; set; }

    public string Title { get; set; } = string.Empty;

    public Guid CustomerId { get; set; }

    public string? OwnerId { get; set; }

    public decimal Amount { get; set; }

    public string Currency { get; set; } = string.Empty;

    public DateOnly? ExpectedCloseDate { get; set; }

    /// <summary>The expected close month as year × 12 + month − 1, so that a forecast groups by a plain integer on every provider.</summary>
    public int? ExpectedCloseMonth { get; set; }

    public DealStatus Status { get; set; }

    public string? LostReason { get; set; }

    public string? Source { get; set; }

    /// <summary>Product lines and custom attributes.</summary>
    public string Document { get; set; } = "{}";

    public long CreatedAt { get; set; }

    public long StageEnteredAt { get; set; }

    public long? ClosedAt { get; set; }

    /// <summary>The UTC month of <see cref="ClosedAt"/> as year × 12 + month − 1, for grouping closed deals by month in SQL.</summary>
    public int? ClosedMonth { get; set; }

    public long LastActivityAt { get; set; }

    public long UpdatedAt { get; set; }

    public static DealRow From(Deal d) => new()
    {
        Id = d.Id,
        TenantId = d.TenantId,
        Version = d.Version,
        PipelineId = d.PipelineId,
        StageId = d.StageId,
        Title = d.Title,
        CustomerId = d.CustomerId,
        OwnerId = d.OwnerId,
        Amount = d.Amount,
        Currency = d.Currency,
        ExpectedCloseDate = d.ExpectedCloseDate,
        ExpectedCloseMonth = d.ExpectedCloseDate is { } date ? DealMonths.Of(date) : null,
        Status = d.Status,
        LostReason = d.LostReason,
        Source = d.Source,
        Document = JsonSerializer.Serialize(new DealDocument(d.Lines, d.Attributes), RowJson.Options),
        CreatedAt = d.CreatedAt.UtcTicks,
        StageEnteredAt = d.StageEnteredAt.UtcTicks,
        ClosedAt = d.ClosedAt?.UtcTicks,
        ClosedMonth = d.ClosedAt is { } closed ? DealMonths.Of(closed) : null,
        LastActivityAt = d.LastActivityAt.UtcTicks,
        UpdatedAt = d.UpdatedAt.UtcTicks,
    };

    public Deal ToDeal()
    {
        var document = JsonSerializer.Deserialize<DealDocument>(Document, RowJson.Options)
            ?? throw new InvalidOperationException($"Deal {Id} has an empty document.");
        return new Deal
        {
            Id = Id,
            TenantId = TenantId,
            Version = Version,
            PipelineId = PipelineId,
            StageId = StageId,
            Title = Title,
            CustomerId = CustomerId,
            OwnerId = OwnerId,
            Amount = Amount,
            Currency = Currency,
            ExpectedCloseDate = ExpectedCloseDate,
            Status = Status,
            LostReason = LostReason,
            Source = Source,
            Lines = document.Lines,
            Attributes = AttributeDictionary.From(document.Attributes),
            CreatedAt = Ticks.ToTime(CreatedAt),
            StageEnteredAt = Ticks.ToTime(StageEnteredAt),
            ClosedAt = Ticks.ToTime(ClosedAt),
            LastActivityAt = Ticks.ToTime(LastActivityAt),
            UpdatedAt = Ticks.ToTime(UpdatedAt),
        };
    }
}

internal sealed record DealDocument(IReadOnlyList<DealLine> Lines, IReadOnlyDictionary<string, AttributeValue> Attributes);

internal sealed class DealHistoryRow : ICrmRow
{
    public Guid Id { get; set; }

    public string TenantId { get; set; } = string.Empty;

    public Guid DealId { get; set; }

    public long Sequence { get; set; }

    public Guid PipelineId { get; set; }

    public Guid? FromStageId { get; set; }

    public Guid ToStageId { get; set; }

    public DealStatus? FromStatus { get; set; }

    public DealStatus ToStatus { get; set; }

    public long At { get; set; }

    /// <summary>Ticks the deal spent open in the from-stage, when this change ended a stay: summarised per stage in SQL.</summary>
    public long? TimeInStage { get; set; }

    public string Actor { get; set; } = string.Empty;

    public static DealHistoryRow From(DealStageChange c) => new()
    {
        Id = c.Id,
        TenantId = c.TenantId,
        DealId = c.DealId,
        Sequence = c.Sequence,
        PipelineId = c.PipelineId,
        FromStageId = c.FromStageId,
        ToStageId = c.ToStageId,
        FromStatus = c.FromStatus,
        ToStatus = c.ToStatus,
        At = c.At.UtcTicks,
        TimeInStage = c.TimeInStage?.Ticks,
        Actor = c.Actor,
    };

    public DealStageChange ToChange() => new()
    {
        Id = Id,
        TenantId = TenantId,
        DealId = DealId,
        Sequence = Sequence,
        PipelineId = PipelineId,
        FromStageId = FromStageId,
        ToStageId = ToStageId,
        FromStatus = FromStatus,
        ToStatus = ToStatus,
        At = Ticks.ToTime(At),
        TimeInStage = TimeInStage is { } ticks ? TimeSpan.FromTicks(ticks) : null,
        Actor = Actor,
    };
}
