using System.Text.Json;
using Crm.Kit.Service;

namespace Crm.Kit.EntityFrameworkCore;

internal sealed class ServiceCaseRow : ICrmRow
{
    public Guid Id { get; set; }

    public string TenantId { get; set; } = string.Empty;

    public long Version { get; set; }

    public Guid CustomerId { get; set; }

    public string Kind { get; set; } = string.Empty;

    public string? Subject { get; set; }

    public string? Description { get; set; }

    public CaseChannel Channel { get; set; }

    public CasePriority Priority { get; set; }

    public string? OwnerId { get; set; }

    public string? Team { get; set; }

    public CaseStatus Status { get; set; }

    /// <summary>Not resolved or closed: what every queue and SLA query filters on.</summary>
    public bool Active { get; set; }

    public long? NextDueAt { get; set; }

    /// <summary>The next due time, or the largest value when there is none, so that a queue sorts undue cases last with a plain index.</summary>
    public long QueueKey { get; set; }

    /// <summary>While the case is active, when its first breach was recorded; null otherwise. Indexed for the breached list.</summary>
    public long? BreachedAt { get; set; }

    public Guid? PolicyId { get; set; }

    public long? FirstResponseDueAt { get; set; }

    public long? FirstRespondedAt { get; set; }

    public long? ResolutionDueAt { get; set; }

    public long? FirstResponseBreachedAt { get; set; }

    public long? ResolutionBreachedAt { get; set; }

    public string History { get; set; } = "[]";

    public long CreatedAt { get; set; }

    public long? ResolvedAt { get; set; }

    public long? ClosedAt { get; set; }

    public long UpdatedAt { get; set; }

    public static ServiceCaseRow From(ServiceCase c) => new()
    {
        Id = c.Id,
        TenantId = c.TenantId,
        Version = c.Version,
        CustomerId = c.CustomerId,
        Kind = c.Kind,
        Subject = c.Subject,
        Description = c.Description,
        Channel = c.Channel,
        Priority = c.Priority,
        OwnerId = c.OwnerId,
        Team = c.Team,
        Status = c.Status,
        Active = c.IsActive,
        NextDueAt = c.NextDueAt?.UtcTicks,
        QueueKey = c.NextDueAt?.UtcTicks ?? long.MaxValue,
        BreachedAt = c.IsActive ? Earliest(c.Sla.FirstResponseBreachedAt, c.Sla.ResolutionBreachedAt)?.UtcTicks : null,
        PolicyId = c.Sla.PolicyId,
        FirstResponseDueAt = c.Sla.FirstResponseDueAt?.UtcTicks,
        FirstRespondedAt = c.Sla.FirstRespondedAt?.UtcTicks,
        ResolutionDueAt = c.Sla.ResolutionDueAt?.UtcTicks,
        FirstResponseBreachedAt = c.Sla.FirstResponseBreachedAt?.UtcTicks,
        ResolutionBreachedAt = c.Sla.ResolutionBreachedAt?.UtcTicks,
        History = JsonSerializer.Serialize(c.History, RowJson.Options),
        CreatedAt = c.CreatedAt.UtcTicks,
        ResolvedAt = c.ResolvedAt?.UtcTicks,
        ClosedAt = c.ClosedAt?.UtcTicks,
        UpdatedAt = c.UpdatedAt.UtcTicks,
    };

    private static DateTimeOffset? Earliest(DateTimeOffset? a, DateTimeOffset? b) => a is null ? b : b is null || a < b ? a : b;

    public ServiceCase ToCase() => new()
    {
        Id = Id,
        TenantId = TenantId,
        Version = Version,
        CustomerId = CustomerId,
        Kind = Kind,
        Subject = Subject,
        Description = Description,
        Channel = Channel,
        Priority = Priority,
        OwnerId = OwnerId,
        Team = Team,
        Status = Status,
        History = JsonSerializer.Deserialize<List<CaseStatusChange>>(History, RowJson.Options) ?? [],
        Sla = new CaseSla
        {
            PolicyId = PolicyId,
            FirstResponseDueAt = Ticks.ToTime(FirstResponseDueAt),
            FirstRespondedAt = Ticks.ToTime(FirstRespondedAt),
            ResolutionDueAt = Ticks.ToTime(ResolutionDueAt),
            FirstResponseBreachedAt = Ticks.ToTime(FirstResponseBreachedAt),
            ResolutionBreachedAt = Ticks.ToTime(ResolutionBreachedAt),
        },
        CreatedAt = Ticks.ToTime(CreatedAt),
        ResolvedAt = Ticks.ToTime(ResolvedAt),
        ClosedAt = Ticks.ToTime(ClosedAt),
        UpdatedAt = Ticks.ToTime(UpdatedAt),
    };
}

internal sealed class SlaPolicyRow : ICrmRow
{
    public Guid Id { get; set; }

    public string TenantId { get; set; } = string.Empty;

    public long Version { get; set; }

    public string Name { get; set; } = string.Empty;

    public CasePriority Priority { get; set; }

    public string? Kind { get; set; }

    /// <summary>The kind, or an empty string for "any kind": a unique index treats NULLs as distinct, so it needs a value.</summary>
    public string KindKey { get; set; } = string.Empty;

    public long FirstResponseTarget { get; set; }

    public long ResolutionTarget { get; set; }

    public string? BusinessHours { get; set; }

    public long CreatedAt { get; set; }

    public long UpdatedAt { get; set; }

    public static SlaPolicyRow From(SlaPolicy p) => new()
    {
        Id = p.Id,
        TenantId = p.TenantId,
        Version = p.Version,
        Name = p.Name,
        Priority = p.Priority,
        Kind = p.Kind,
        KindKey = p.Kind ?? string.Empty,
        FirstResponseTarget = p.FirstResponseTarget.Ticks,
        ResolutionTarget = p.ResolutionTarget.Ticks,
        BusinessHours = p.BusinessHours is null ? null : JsonSerializer.Serialize(p.BusinessHours, RowJson.Options),
        CreatedAt = p.CreatedAt.UtcTicks,
        UpdatedAt = p.UpdatedAt.UtcTicks,
    };

    public SlaPolicy ToPolicy() => new()
    {
        Id = Id,
        TenantId = TenantId,
        Version = Version,
        Name = Name,
        Priority = Priority,
        Kind = Kind,
        FirstResponseTarget = TimeSpan.FromTicks(FirstResponseTarget),
        ResolutionTarget = TimeSpan.FromTicks(ResolutionTarget),
        BusinessHours = BusinessHours is null ? null : JsonSerializer.Deserialize<BusinessHours>(BusinessHours, RowJson.Options),
        CreatedAt = Ticks.ToTime(CreatedAt),
        UpdatedAt = Ticks.ToTime(UpdatedAt),
    };
}
