namespace Crm.Kit.Interactions;

/// <summary>What kind of contact an interaction is.</summary>
public enum InteractionKind
{
    /// <summary>A phone call.</summary>
    Call = 0,

    /// <summary>An email.</summary>
    Email = 1,

    /// <summary>A meeting.</summary>
    Meeting = 2,

    /// <summary>An internal note.</summary>
    Note = 3,

    /// <summary>A message on another channel (web, chat, social, in store).</summary>
    Message = 4,

    /// <summary>A task to do, with a due date.</summary>
    Task = 5,
}

/// <summary>Who started the contact.</summary>
public enum InteractionDirection
{
    /// <summary>Not applicable (notes, tasks).</summary>
    None = 0,

    /// <summary>The customer contacted us.</summary>
    Inbound = 1,

    /// <summary>We contacted the customer.</summary>
    Outbound = 2,
}

/// <summary>The channel of a <see cref="InteractionKind.Message"/>.</summary>
public enum MessageChannel
{
    /// <summary>Not a message.</summary>
    None = 0,

    /// <summary>A web form or portal.</summary>
    Web = 1,

    /// <summary>Live chat.</summary>
    Chat = 2,

    /// <summary>A social network.</summary>
    Social = 3,

    /// <summary>In a shop.</summary>
    InStore = 4,
}

/// <summary>One entry on a customer's timeline.</summary>
public sealed record Interaction
{
    /// <summary>The id.</summary>
    public required Guid Id { get; init; }

    /// <summary>The owning tenant.</summary>
    public required string TenantId { get; init; }

    /// <summary>The optimistic-concurrency version.</summary>
    public long Version { get; init; }

    /// <summary>The customer whose timeline this is on.</summary>
    public Guid CustomerId { get; init; }

    /// <summary>The kind of contact.</summary>
    public InteractionKind Kind { get; init; }

    /// <summary>Who started it.</summary>
    public InteractionDirection Direction { get; init; }

    /// <summary>The channel, for messages.</summary>
    public MessageChannel Channel { get; init; }

    /// <summary>A subject line; erased with the customer's personal data.</summary>
    public string? Subject { get; init; }

    /// <summary>Free text; erased with the customer's personal data.</summary>
    public string? Body { get; init; }

    /// <summary>When it happened (for tasks: when it was set).</summary>
    public DateTimeOffset OccurredAt { get; init; }

    /// <summary>The user responsible.</summary>
    public string? OwnerId { get; init; }

    /// <summary>For tasks: when it is due.</summary>
    public DateTimeOffset? DueAt { get; init; }

    /// <summary>For tasks: when it was done.</summary>
    public DateTimeOffset? CompletedAt { get; init; }

    /// <summary>The deal this relates to, if any.</summary>
    public Guid? DealId { get; init; }

    /// <summary>The service case this relates to, if any.</summary>
    public Guid? CaseId { get; init; }

    /// <summary>When it was recorded.</summary>
    public DateTimeOffset CreatedAt { get; init; }

    /// <summary>Whether this is a task not yet completed.</summary>
    public bool IsOpenTask => Kind == InteractionKind.Task && CompletedAt is null;
}

/// <summary>An interaction to record.</summary>
public sealed record InteractionDraft
{
    /// <summary>The customer.</summary>
    public Guid CustomerId { get; init; }

    /// <summary>The kind of contact.</summary>
    public InteractionKind Kind { get; init; }

    /// <summary>Who started it.</summary>
    public InteractionDirection Direction { get; init; }

    /// <summary>The channel; required for messages, must be <see cref="MessageChannel.None"/> otherwise.</summary>
    public MessageChannel Channel { get; init; }

    /// <summary>A subject line.</summary>
    public string? Subject { get; init; }

    /// <summary>Free text.</summary>
    public string? Body { get; init; }

    /// <summary>When it happened; defaults to now.</summary>
    public DateTimeOffset? OccurredAt { get; init; }

    /// <summary>The user responsible.</summary>
    public string? OwnerId { get; init; }

    /// <summary>For tasks (required there): when it is due.</summary>
    public DateTimeOffset? DueAt { get; init; }

    /// <summary>The deal this relates to.</summary>
    public Guid? DealId { get; init; }

    /// <summary>The service case this relates to.</summary>
    public Guid? CaseId { get; init; }
}
