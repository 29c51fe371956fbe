using Crm.Kit.Segmentation;

namespace Crm.Kit.EntityFrameworkCore;

internal sealed class SegmentRow : ICrmRow
{
    public Guid Id { get; set; }

    public string TenantId { get; set; } = string.Empty;

    public long Version { get; set; }

    public string Name { get; set; } = string.Empty;

    public string? Description { get; set; }

    public SegmentKind Kind { get; set; }

    public string? Rule { get; set; }

    public long CreatedAt { get; set; }

    public long UpdatedAt { get; set; }

    public string? EvaluationError { get; set; }

    public long? EvaluationFailedAt { get; set; }

    public static SegmentRow From(Segment s) => new()
    {
        Id = s.Id,
        TenantId = s.TenantId,
        Version = s.Version,
        Name = s.Name,
        Description = s.Description,
        Kind = s.Kind,
        Rule = s.Rule is null ? null : SegmentRuleJson.Serialize(s.Rule),
        CreatedAt = s.CreatedAt.UtcTicks,
        UpdatedAt = s.UpdatedAt.UtcTicks,
        EvaluationError = s.EvaluationError,
        EvaluationFailedAt = s.EvaluationFailedAt?.UtcTicks,
    };

    // Stored rules were validated when saved; they are read back against the full registry of this process so
    // that fields contributed by modules resolve.
    public Segment ToSegment() => new()
    {
        Id = Id,
        TenantId = TenantId,
        Version = Version,
        Name = Name,
        Description = Description,
        Kind = Kind,
        Rule = Rule is null ? null : SegmentRuleJson.ReadStored(Rule),
        CreatedAt = Ticks.ToTime(CreatedAt),
        UpdatedAt = Ticks.ToTime(UpdatedAt),
        EvaluationError = EvaluationError,
        EvaluationFailedAt = EvaluationFailedAt is { } failed ? Ticks.ToTime(failed) : null,
    };
}

internal sealed class SegmentMemberRow : ICrmRow
{
    public string TenantId { get; set; } = string.Empty;

    public Guid SegmentId { get; set; }

    public Guid CustomerId { get; set; }
}
