using Crm.Kit.Interactions;

namespace Crm.Kit.EntityFrameworkCore;

internal sealed class InteractionRow : ICrmRow
{
    public Guid Id { get; set; }

    public string TenantId { get; set; } = string.Empty;

    public long Version { get; set; }

    public Guid CustomerId { get; set; }

    public InteractionKind Kind { get; set; }

    public InteractionDirection Direction { get; set; }

    public MessageChannel Channel { get; set; }

    public string? Subject { get; set; }

    public string? Body { get; set; }

    public long OccurredAt { get; set; }

    public string? OwnerId { get; set; }

    public long? DueAt { get; set; }

    public long? CompletedAt { get; set; }

    public Guid? DealId { get; set; }

    public Guid? CaseId { get; set; }

    public long CreatedAt { get; set; }

    public static InteractionRow From(Interaction i) => new()
    {
        Id = i.Id,
        TenantId = i.TenantId,
        Version = i.Version,
        CustomerId = i.CustomerId,
        Kind = i.Kind,
        Direction = i.Direction,
        Channel = i.Channel,
        Subject = i.Subject,
        Body = i.Body,
        OccurredAt = i.OccurredAt.UtcTicks,
        OwnerId = i.OwnerId,
        DueAt = i.DueAt?.UtcTicks,
        CompletedAt = i.CompletedAt?.UtcTicks,
        DealId = i.DealId,
        CaseId = i.CaseId,
        CreatedAt = i.CreatedAt.UtcTicks,
    };

    public Interaction ToInteraction() => new()
    {
        Id = Id,
        TenantId = TenantId,
        Version = Version,
        CustomerId = CustomerId,
        Kind = Kind,
        Direction = Direction,
        Channel = Channel,
        Subject = Subject,
        Body = Body,
        OccurredAt = Ticks.ToTime(OccurredAt),
        OwnerId = OwnerId,
        DueAt = Ticks.ToTime(DueAt),
        CompletedAt = Ticks.ToTime(CompletedAt),
        DealId = DealId,
        CaseId = CaseId,
        CreatedAt = Ticks.ToTime(CreatedAt),
    };
}
