namespace Crm.Kit.Service;

/// <summary>The built-in case kinds. Kinds are plain names, so a host adds its own through <see cref="ServiceOptions.CaseKinds"/>.</summary>
public static class CaseKinds
{
    /// <summary>Something went wrong for the customer.</summary>
    public const string Complaint = "complaint";

    /// <summary>The customer wants something done.</summary>
    public const string Request = "request";

    /// <summary>The customer wants to know something.</summary>
    public const string Question = "question";
}

/// <summary>How urgent a case is; SLA policies are chosen by it.</summary>
public enum CasePriority
{
    /// <summary>Can wait.</summary>
    Low = 0,

    /// <summary>The usual.</summary>
    Normal = 1,

    /// <summary>Needs attention soon.</summary>
    High = 2,

    /// <summary>Needs attention now.</summary>
    Urgent = 3,
}

/// <summary>Where a case came from.</summary>
public enum CaseChannel
{
    /// <summary>An email.</summary>
    Email = 0,

    /// <summary>A phone call.</summary>
    Phone = 1,

    /// <summary>A web form or portal.</summary>
    Web = 2,

    /// <summary>Live chat.</summary>
    Chat = 3,

    /// <summary>A social network.</summary>
    Social = 4,

    /// <summary>In a shop.</summary>
    InStore = 5,
}

/// <summary>
/// Where a case is in its life. The allowed moves are fixed (see <see cref="CaseStatusFlow"/>): a case is worked
/// (open), may wait on the customer (pending customer), is resolved, and is then either closed for good or reopened.
/// </summary>
public enum CaseStatus
{
    /// <summary>Just opened; nobody has worked on it yet.</summary>
    New = 0,

    /// <summary>Being worked on.</summary>
    Open = 1,

    /// <summary>Waiting for the customer; the resolution clock is stopped.</summary>
    PendingCustomer = 2,

    /// <summary>Solved; the customer may still come back, which reopens it.</summary>
    Resolved = 3,

    /// <summary>Done for good. A closed case cannot change; a new request opens a new case.</summary>
    Closed = 4,

    /// <summary>Resolved once, then reopened; being worked on again.</summary>
    Reopened = 5,
}

/// <summary>The allowed status moves.</summary>
public static class CaseStatusFlow
{
    private static readonly CaseStatus[][] Allowed =
    [
        /* New */ [CaseStatus.Open, CaseStatus.PendingCustomer, CaseStatus.Resolved],
        /* Open */ [CaseStatus.PendingCustomer, CaseStatus.Resolved],
        /* PendingCustomer */ [CaseStatus.Open, CaseStatus.Resolved],
        /* Resolved */ [CaseStatus.Closed, CaseStatus.Reopened],
        /* Closed */ [],
        /* Reopened */ [CaseStatus.Open, CaseStatus.PendingCustomer, CaseStatus.Resolved],
    ];

    /// <summary>The statuses a case in <paramref name="from"/> may move to.</summary>
    public static IReadOnlyList<CaseStatus> Next(CaseStatus from) => Allowed[(int)from];

    /// <summary>Whether a case may move from <paramref name="from"/> to <paramref name="to"/>.</summary>
    public static bool CanMove(CaseStatus from, CaseStatus to) => Array.IndexOf(Allowed[(int)from], to) >= 0;

    /// <summary>Whether a case in this status is still being handled (not resolved or closed): its SLA clocks can run.</summary>
    public static bool IsActive(CaseStatus status) => status is CaseStatus.New or CaseStatus.Open or CaseStatus.PendingCustomer or CaseStatus.Reopened;
}

/// <summary>One status move of a case.</summary>
/// <param name="From">The status before; <see langword="null"/> for the opening entry.</param>
/// <param name="To">The status after.</param>
/// <param name="At">When it moved.</param>
/// <param name="Actor">Who moved it (a user id, or <c>system</c> for automatic moves).</param>
/// <param name="Note">Why, optionally.</param>
public sealed record CaseStatusChange(CaseStatus? From, CaseStatus To, DateTimeOffset At, string Actor, string? Note = null);

/// <summary>Which SLA target.</summary>
public enum SlaTarget
{
    /// <summary>The first response to the customer.</summary>
    FirstResponse = 0,

    /// <summary>Resolving the case.</summary>
    Resolution = 1,
}

/// <summary>
/// A case's service-level state: which policy applies, when each target falls due, when it was met, and when a
/// breach was recorded. Due times are business time from the policy's calendar; the resolution clock stops while
/// the case waits on the customer or stands resolved.
/// </summary>
public sealed record CaseSla
{
    /// <summary>No policy applies.</summary>
    public static CaseSla None { get; } = new();

    /// <summary>The policy applied, or <see langword="null"/> when none matched the case.</summary>
    public Guid? PolicyId { get; init; }

    /// <summary>When the first response is due.</summary>
    public DateTimeOffset? FirstResponseDueAt { get; init; }

    /// <summary>When the first response was made (an outbound interaction linked to the case).</summary>
    public DateTimeOffset? FirstRespondedAt { get; init; }

    /// <summary>When resolution is due; <see langword="null"/> while the clock is stopped (pending customer, resolved) or without a policy.</summary>
    public DateTimeOffset? ResolutionDueAt { get; init; }

    /// <summary>When the first-response breach was recorded (and <see cref="CaseSlaBreached"/> published), if it was.</summary>
    public DateTimeOffset? FirstResponseBreachedAt { get; init; }

    /// <summary>When the resolution breach was recorded (and <see cref="CaseSlaBreached"/> published), if it was.</summary>
    public DateTimeOffset? ResolutionBreachedAt { get; init; }

    /// <summary>Whether either target has been recorded as breached.</summary>
    public bool IsBreached => FirstResponseBreachedAt is not null || ResolutionBreachedAt is not null;
}

/// <summary>A customer service case: a complaint, request or question, from opening to closing.</summary>
public sealed record ServiceCase
{
    /// <summary>The id.</summary>
    public required Guid Id { get; init; }

    /// <summary>The owning tenant.</summary>
    public required string TenantId { get; init; }

    /// <summary>The optimistic-concurrency version.</summary>
    public long Version { get; init; }

    /// <summary>The customer the case is for.</summary>
    public Guid CustomerId { get; init; }

    /// <summary>The kind (see <see cref="CaseKinds"/>).</summary>
    public string Kind { get; init; } = CaseKinds.Request;

    /// <summary>A one-line summary; erased with the customer's personal data.</summary>
    public string? Subject { get; init; }

    /// <summary>The full description; erased with the customer's personal data.</summary>
    public string? Description { get; init; }

    /// <summary>Where it came from.</summary>
    public CaseChannel Channel { get; init; }

    /// <summary>How urgent it is.</summary>
    public CasePriority Priority { get; init; }

    /// <summary>The user handling it, if assigned.</summary>
    public string? OwnerId { get; init; }

    /// <summary>The team handling it, if assigned.</summary>
    public string? Team { get; init; }

    /// <summary>Where it is in its life.</summary>
    public CaseStatus Status { get; init; }

    /// <summary>Every status move, oldest first, starting with the opening entry.</summary>
    public IReadOnlyList<CaseStatusChange> History { get; init; } = [];

    /// <summary>The service-level state.</summary>
    public CaseSla Sla { get; init; } = CaseSla.None;

    /// <summary>When it was opened.</summary>
    public DateTimeOffset CreatedAt { get; init; }

    /// <summary>When it was last resolved; cleared when reopened.</summary>
    public DateTimeOffset? ResolvedAt { get; init; }

    /// <summary>When it was closed.</summary>
    public DateTimeOffset? ClosedAt { get; init; }

    /// <summary>When it last changed.</summary>
    public DateTimeOffset UpdatedAt { get; init; }

    /// <summary>Whether it is still being handled (not resolved or closed).</summary>
    public bool IsActive => CaseStatusFlow.IsActive(Status);

    /// <summary>
    /// The earliest SLA due time still to watch: a target not yet met and not yet recorded as breached, while the
    /// case is active. Stores index it: breach detection and the at-risk query read it.
    /// </summary>
    public DateTimeOffset? NextDueAt
    {
        get
        {
            if (!IsActive)
            {
                return null;
            }

            DateTimeOffset? next = null;
            if (Sla is { FirstRespondedAt: null, FirstResponseBreachedAt: null, FirstResponseDueAt: { } response })
            {
                next = response;
            }

            if (Sla is { ResolutionBreachedAt: null, ResolutionDueAt: { } resolution } && (next is null || resolution < next))
            {
                next = resolution;
            }

            return next;
        }
    }
}

/// <summary>What a caller gives to open a case.</summary>
public sealed record CaseDraft
{
    /// <summary>The customer.</summary>
    public Guid CustomerId { get; init; }

    /// <summary>The kind: one of <see cref="ServiceOptions.CaseKinds"/> (by default complaint, request, question).</summary>
    public string Kind { get; init; } = CaseKinds.Request;

    /// <summary>A one-line summary (required, at most 500 characters).</summary>
    public string? Subject { get; init; }

    /// <summary>The full description (at most 100,000 characters).</summary>
    public string? Description { get; init; }

    /// <summary>Where it came from.</summary>
    public CaseChannel Channel { get; init; }

    /// <summary>How urgent it is.</summary>
    public CasePriority Priority { get; init; } = CasePriority.Normal;

    /// <summary>The user to handle it.</summary>
    public string? OwnerId { get; init; }

    /// <summary>The team to handle it.</summary>
    public string? Team { get; init; }

    /// <summary>Who opened it (a user id, or the customer's own id for self-service); recorded in the history. Required.</summary>
    public string? OpenedBy { get; init; }
}

/// <summary>
/// Service-level targets for cases of one priority (and optionally one kind), with the business hours they are
/// counted in. The most specific policy wins: one naming the case's kind over one for any kind.
/// </summary>
public sealed record SlaPolicy
{
    /// <summary>The id.</summary>
    public required Guid Id { get; init; }

    /// <summary>The owning tenant.</summary>
    public required string TenantId { get; init; }

    /// <summary>The optimistic-concurrency version.</summary>
    public long Version { get; init; }

    /// <summary>A name for people, unique per tenant.</summary>
    public required string Name { get; init; }

    /// <summary>The priority the policy covers.</summary>
    public CasePriority Priority { get; init; }

    /// <summary>The kind the policy covers; <see langword="null"/> for every kind without a policy of its own.</summary>
    public string? Kind { get; init; }

    /// <summary>Business time allowed until the first response.</summary>
    public TimeSpan FirstResponseTarget { get; init; }

    /// <summary>Business time allowed until resolution, not counting time waiting on the customer.</summary>
    public TimeSpan ResolutionTarget { get; init; }

    /// <summary>The business hours targets are counted in; <see langword="null"/> for round the clock.</summary>
    public BusinessHours? BusinessHours { get; init; }

    /// <summary>When it was created.</summary>
    public DateTimeOffset CreatedAt { get; init; }

    /// <summary>When it last changed.</summary>
    public DateTimeOffset UpdatedAt { get; init; }
}

/// <summary>What a caller sets on an SLA policy.</summary>
public sealed record SlaPolicyDraft
{
    /// <summary>A name for people, unique per tenant (required, at most 200 characters).</summary>
    public string? Name { get; init; }

    /// <summary>The priority covered.</summary>
    public CasePriority Priority { get; init; } = CasePriority.Normal;

    /// <summary>The kind covered; <see langword="null"/> for every kind.</summary>
    public string? Kind { get; init; }

    /// <summary>Business time until the first response (more than zero, at most 365 days).</summary>
    public TimeSpan FirstResponseTarget { get; init; }

    /// <summary>Business time until resolution (at least the first-response target, at most 365 days).</summary>
    public TimeSpan ResolutionTarget { get; init; }

    /// <summary>The business hours; leave <see langword="null"/> for round the clock.</summary>
    public BusinessHours? BusinessHours { get; init; }
}

/// <summary>Options of the service module.</summary>
public sealed class ServiceOptions
{
    /// <summary>The case kinds allowed; by default complaint, request and question. Compared case-insensitively, stored lower-case.</summary>
    public IList<string> CaseKinds { get; } = [Service.CaseKinds.Complaint, Service.CaseKinds.Request, Service.CaseKinds.Question];
}
