namespace Crm.Kit.Service;

/// <summary>A case was opened.</summary>
public sealed record CaseOpened : CrmEvent
{
    /// <summary>The case.</summary>
    public required ServiceCase Case { get; init; }
}

/// <summary>A case moved to another status.</summary>
public sealed record CaseStatusChanged : CrmEvent
{
    /// <summary>The case after the move.</summary>
    public required ServiceCase Case { get; init; }

    /// <summary>The move.</summary>
    public required CaseStatusChange Change { get; init; }
}

/// <summary>A case got another owner or team.</summary>
public sealed record CaseAssigned : CrmEvent
{
    /// <summary>The case after the change.</summary>
    public required ServiceCase Case { get; init; }

    /// <summary>Who assigned it.</summary>
    public required string Actor { get; init; }
}

/// <summary>A case's priority changed (and with it, possibly, its SLA policy and due times).</summary>
public sealed record CasePriorityChanged : CrmEvent
{
    /// <summary>The case after the change.</summary>
    public required ServiceCase Case { get; init; }

    /// <summary>The priority before.</summary>
    public required CasePriority From { get; init; }

    /// <summary>Who changed it.</summary>
    public required string Actor { get; init; }
}

/// <summary>A case received its first response.</summary>
public sealed record CaseFirstResponded : CrmEvent
{
    /// <summary>The case after the response.</summary>
    public required ServiceCase Case { get; init; }

    /// <summary>The interaction that was the response.</summary>
    public required Guid InteractionId { get; init; }
}

/// <summary>
/// A case missed an SLA target. Published once per case and target: when the breach detection run finds it
/// overdue, or when the response or resolution comes late, whichever is first.
/// </summary>
public sealed record CaseSlaBreached : CrmEvent
{
    /// <summary>The case.</summary>
    public required ServiceCase Case { get; init; }

    /// <summary>Which target was missed.</summary>
    public required SlaTarget Target { get; init; }

    /// <summary>When it was due.</summary>
    public required DateTimeOffset DueAt { get; init; }
}
