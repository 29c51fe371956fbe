using Crm.Kit.Customers;
using Crm.Kit.Interactions;
using Microsoft.Extensions.Options;

namespace Crm.Kit.Service;

/// <summary>
/// Opens and moves service cases, keeps their SLA due times, records breaches, and answers the questions a
/// support team asks: what is in my queue, what is about to breach, what already has.
/// </summary>
public class CaseManager
{
    /// <summary>The actor recorded for moves Crm.Kit makes by itself (a first response opening a new case).</summary>
    public const string SystemActor = "system";

    /// <summary>The actor recorded when the customer's own reply moves a case.</summary>
    public const string CustomerActor = "customer";

    /// <summary>Most status moves one case may record.</summary>
    public const int MaxHistory = 1_000;

    internal const int MaxSubjectLength = 500;
    internal const int MaxDescriptionLength = 100_000;
    private const int MaxNameLength = 200;
    private const int BreachBatch = 200;
    private static readonly TimeSpan MaxTarget = TimeSpan.FromDays(365);

    private readonly IServiceCaseStore _store;
    private readonly CustomerManager _customers;
    private readonly ICrmTenantContext _tenant;
    private readonly TimeProvider _time;
    private readonly ICrmEventPublisher _events;
    private readonly CrmKitOptions _options;
    private readonly HashSet<string> _kinds;
    private readonly CrmKitInstrumentation _instrumentation;

    /// <summary>Creates the manager; resolve it from DI rather than constructing it.</summary>
    public CaseManager(
        IServiceCaseStore store,
        CustomerManager customers,
        ICrmTenantContext tenant,
        TimeProvider time,
        ICrmEventPublisher events,
        IOptions<CrmKitOptions> options,
        IOptions<ServiceOptions> serviceOptions,
        CrmKitInstrumentation instrumentation)
    {
        _store = store;
        _customers = customers;
        _tenant = tenant;
        _time = time;
        _events = events;
        _options = options.Value;
        _kinds = new HashSet<string>(serviceOptions.Value.CaseKinds.Select(NormalizeKind), StringComparer.Ordinal);
        _instrumentation = instrumentation;
    }

    private string TenantId => _tenant.TenantId;

    // ---- SLA policies ----

    /// <summary>Adds an SLA policy. Cases opened afterwards, and open cases at their next change, use it.</summary>
    /// <exception cref="CrmValidationException">The draft breaks a rule; nothing was stored.</exception>
    /// <exception cref="DuplicateValueException">The name is taken, or a policy already covers this priority and kind.</exception>
    public async Task<SlaPolicy> CreatePolicyAsync(SlaPolicyDraft draft, CancellationToken cancellationToken = default)
    {
        ValidatePolicy(draft);
        var now = _time.GetUtcNow();
        var policy = ApplyPolicy(new SlaPolicy { Id = CrmIds.NewId(now), TenantId = TenantId, Name = string.Empty, Version = 1, CreatedAt = now }, draft, now);
        await _store.CreatePolicyAsync(policy, cancellationToken).ConfigureAwait(false);
        return policy;
    }

    /// <summary>Replaces an SLA policy. Open cases move to the new targets at their next change.</summary>
    /// <exception cref="ConcurrencyConflictException">It changed since <paramref name="expectedVersion"/>.</exception>
    public async Task<SlaPolicy> UpdatePolicyAsync(Guid id, long expectedVersion, SlaPolicyDraft draft, CancellationToken cancellationToken = default)
    {
        ValidatePolicy(draft);
        var current = (await _store.ListPoliciesAsync(TenantId, cancellationToken).ConfigureAwait(false)).FirstOrDefault(p => p.Id == id)
            ?? throw new EntityNotFoundException(nameof(SlaPolicy), id);
        if (current.Version != expectedVersion)
        {
            throw new ConcurrencyConflictException(nameof(SlaPolicy), id, expectedVersion);
        }

        var updated = ApplyPolicy(current, draft, _time.GetUtcNow()) with { Version = expectedVersion + 1 };
        await _store.UpdatePolicyAsync(updated, expectedVersion, cancellationToken).ConfigureAwait(false);
        return updated;
    }

    /// <summary>Deletes an SLA policy. Cases that used it keep their due times until their next change.</summary>
    public async Task DeletePolicyAsync(Guid id, long expectedVersion, CancellationToken cancellationToken = default) =>
        await _store.DeletePolicyAsync(TenantId, id, expectedVersion, cancellationToken).ConfigureAwait(false);

    /// <summary>The tenant's SLA policies, ordered by id.</summary>
    public async Task<IReadOnlyList<SlaPolicy>> GetPoliciesAsync(CancellationToken cancellationToken = default) =>
        await _store.ListPoliciesAsync(TenantId, cancellationToken).ConfigureAwait(false);

    // ---- Cases ----

    /// <summary>Opens a case for a customer, with the SLA policy matching its priority and kind.</summary>
    /// <exception cref="CrmValidationException">The draft breaks a rule or the customer does not exist; nothing was stored.</exception>
    public async Task<ServiceCase> OpenAsync(CaseDraft draft, CancellationToken cancellationToken = default)
    {
        ValidateCase(draft);
        var customer = await _customers.FindByIdAsync(draft.CustomerId, cancellationToken).ConfigureAwait(false);
        if (customer is null || customer.MergedIntoId is not null)
        {
            throw new CrmValidationException(nameof(draft.CustomerId), "customer-exists", $"{draft.CustomerId} is not a live customer in this tenant");
        }

        var now = _time.GetUtcNow();
        var opener = draft.OpenedBy!.Trim();
        var opened = new ServiceCase
        {
            Id = CrmIds.NewId(now),
            TenantId = TenantId,
            Version = 1,
            CustomerId = customer.Id,
            Kind = NormalizeKind(draft.Kind),
            Subject = draft.Subject!.Trim(),
            Description = string.IsNullOrWhiteSpace(draft.Description) ? null : draft.Description,
            Channel = draft.Channel,
            Priority = draft.Priority,
            OwnerId = Trimmed(draft.OwnerId),
            Team = Trimmed(draft.Team),
            Status = CaseStatus.New,
            History = [new CaseStatusChange(null, CaseStatus.New, now, opener)],
            CreatedAt = now,
            UpdatedAt = now,
        };
        var policies = await _store.ListPoliciesAsync(TenantId, cancellationToken).ConfigureAwait(false);
        opened = opened with { Sla = SlaClock.Compute(opened, SlaClock.Match(policies, opened), now) };
        await _store.CreateAsync(opened, cancellationToken).ConfigureAwait(false);
        await _events.PublishAsync([new CaseOpened { Case = opened, TenantId = TenantId, OccurredAt = now }], cancellationToken).ConfigureAwait(false);
        return opened;
    }

    /// <summary>The case with this id, or <see langword="null"/>.</summary>
    public async Task<ServiceCase?> FindByIdAsync(Guid id, CancellationToken cancellationToken = default) =>
        await _store.FindByIdAsync(TenantId, id, cancellationToken).ConfigureAwait(false);

    /// <summary>The case with this id.</summary>
    /// <exception cref="EntityNotFoundException">There is none.</exception>
    public async Task<ServiceCase> GetByIdAsync(Guid id, CancellationToken cancellationToken = default) =>
        await _store.FindByIdAsync(TenantId, id, cancellationToken).ConfigureAwait(false) ?? throw new EntityNotFoundException(nameof(ServiceCase), id);

    /// <summary>
    /// Moves a case to another status, recording the move with its time and actor. Only the moves of
    /// <see cref="CaseStatusFlow"/> are allowed. Due times follow: the resolution clock stops while the case is
    /// pending customer or resolved; resolving late records the breach.
    /// </summary>
    /// <param name="id">The case.</param>
    /// <param name="expectedVersion">The version the caller saw; the move fails if the case changed since.</param>
    /// <param name="status">The status to move to.</param>
    /// <param name="actor">Who moves it (required, at most 200 characters).</param>
    /// <param name="note">Why (at most 2,000 characters).</param>
    /// <param name="cancellationToken">Cancels the operation.</param>
    /// <exception cref="CrmValidationException">The move is not allowed, or an argument breaks a rule; nothing changed.</exception>
    /// <exception cref="ConcurrencyConflictException">The case changed since <paramref name="expectedVersion"/>; nothing changed.</exception>
    public async Task<ServiceCase> ChangeStatusAsync(Guid id, long expectedVersion, CaseStatus status, string actor, string? note = null, CancellationToken cancellationToken = default)
    {
        var errors = new ValidationErrorCollector();
        errors.Defined(nameof(status), status);
        errors.Required(nameof(actor), actor);
        errors.Text(nameof(actor), actor, MaxNameLength);
        errors.Text(nameof(note), note, 2_000);
        errors.ThrowIfAny();

        var current = await CurrentAsync(id, expectedVersion, cancellationToken).ConfigureAwait(false);
        var now = _time.GetUtcNow();
        var (moved, change) = Move(current, status, actor.Trim(), string.IsNullOrWhiteSpace(note) ? null : note.Trim(), now);
        var (updated, breaches) = await SaveAsync(current, moved, now, cancellationToken).ConfigureAwait(false);
        await _events.PublishAsync([new CaseStatusChanged { Case = updated, Change = change, TenantId = TenantId, OccurredAt = now }, .. breaches], cancellationToken).ConfigureAwait(false);
        return updated;
    }

    /// <summary>Gives a case to another owner and/or team (null clears either).</summary>
    /// <exception cref="ConcurrencyConflictException">The case changed since <paramref name="expectedVersion"/>.</exception>
    public async Task<ServiceCase> AssignAsync(Guid id, long expectedVersion, string? ownerId, string? team, string actor, CancellationToken cancellationToken = default)
    {
        var errors = new ValidationErrorCollector();
        errors.Text(nameof(ownerId), ownerId, MaxNameLength);
        errors.Text(nameof(team), team, MaxNameLength);
        errors.Required(nameof(actor), actor);
        errors.Text(nameof(actor), actor, MaxNameLength);
        errors.ThrowIfAny();

        var current = await CurrentAsync(id, expectedVersion, cancellationToken).ConfigureAwait(false);
        RequireNotClosed(current);
        var now = _time.GetUtcNow();
        var assigned = current with { OwnerId = Trimmed(ownerId), Team = Trimmed(team) };
        var (updated, breaches) = await SaveAsync(current, assigned, now, cancellationToken).ConfigureAwait(false);
        await _events.PublishAsync([new CaseAssigned { Case = updated, Actor = actor.Trim(), TenantId = TenantId, OccurredAt = now }, .. breaches], cancellationToken).ConfigureAwait(false);
        return updated;
    }

    /// <summary>Changes a case's priority; the SLA policy and due times are worked out again from the case's opening.</summary>
    /// <exception cref="ConcurrencyConflictException">The case changed since <paramref name="expectedVersion"/>.</exception>
    public async Task<ServiceCase> ChangePriorityAsync(Guid id, long expectedVersion, CasePriority priority, string actor, CancellationToken cancellationToken = default)
    {
        var errors = new ValidationErrorCollector();
        errors.Defined(nameof(priority), priority);
        errors.Required(nameof(actor), actor);
        errors.Text(nameof(actor), actor, MaxNameLength);
        errors.ThrowIfAny();

        var current = await CurrentAsync(id, expectedVersion, cancellationToken).ConfigureAwait(false);
        RequireNotClosed(current);
        var now = _time.GetUtcNow();
        var (updated, breaches) = await SaveAsync(current, current with { Priority = priority }, now, cancellationToken).ConfigureAwait(false);
        await _events.PublishAsync([new CasePriorityChanged { Case = updated, From = current.Priority, Actor = actor.Trim(), TenantId = TenantId, OccurredAt = now }, .. breaches], cancellationToken).ConfigureAwait(false);
        return updated;
    }

    /// <summary>One page of a customer's cases, newest first; only active ones (not resolved or closed) when <paramref name="activeOnly"/>.</summary>
    public async Task<Page<ServiceCase>> GetCasesOfCustomerAsync(Guid customerId, bool activeOnly = false, string? continuationToken = null, int pageSize = 50, CancellationToken cancellationToken = default)
    {
        var before = ContinuationTokens.DecodeId(continuationToken);
        ContinuationTokens.CheckPageSize(pageSize, _options);
        var items = await _store.ListByCustomerAsync(TenantId, customerId, activeOnly, before, pageSize + 1, cancellationToken).ConfigureAwait(false);
        return ContinuationTokens.ToPage(items, pageSize, c => ContinuationTokens.Encode(c.Id));
    }

    /// <summary>
    /// A work queue: the active cases of an owner, a team, or both (at least one is required), the one due
    /// soonest first and cases without a due time last.
    /// </summary>
    public async Task<IReadOnlyList<ServiceCase>> GetQueueAsync(string? ownerId = null, string? team = null, int limit = 100, CancellationToken cancellationToken = default)
    {
        if (string.IsNullOrWhiteSpace(ownerId) && string.IsNullOrWhiteSpace(team))
        {
            throw new CrmValidationException(nameof(ownerId), "required", "give an owner, a team, or both");
        }

        ContinuationTokens.CheckPageSize(limit, _options);
        return await _store.ListQueueAsync(TenantId, Trimmed(ownerId), Trimmed(team), limit, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Active cases with a target falling due within <paramref name="within"/> from now (not yet breached), soonest first.</summary>
    public async Task<IReadOnlyList<ServiceCase>> GetCasesAtRiskAsync(TimeSpan within, int limit = 100, CancellationToken cancellationToken = default)
    {
        if (within <= TimeSpan.Zero || within > MaxTarget)
        {
            throw new CrmValidationException(nameof(within), "range", $"must be more than zero and at most {MaxTarget.TotalDays} days (was {within})");
        }

        ContinuationTokens.CheckPageSize(limit, _options);
        var now = _time.GetUtcNow();
        return await _store.ListDueAsync(TenantId, now, now + within, limit, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>One page (by id) of active cases that missed a target: recorded breaches, and targets past due the detection run has not seen yet.</summary>
    public async Task<Page<ServiceCase>> GetBreachedCasesAsync(string? continuationToken = null, int pageSize = 100, CancellationToken cancellationToken = default)
    {
        var after = ContinuationTokens.DecodeId(continuationToken);
        ContinuationTokens.CheckPageSize(pageSize, _options);
        var items = await _store.ListBreachedAsync(TenantId, _time.GetUtcNow(), after, pageSize + 1, cancellationToken).ConfigureAwait(false);
        return ContinuationTokens.ToPage(items, pageSize, c => ContinuationTokens.Encode(c.Id));
    }

    /// <summary>
    /// Records every breach that has happened by now and publishes <see cref="CaseSlaBreached"/> for each, once
    /// per case and target. Schedule it (every minute, say); running it again finds nothing new. Returns the
    /// number of breaches recorded.
    /// </summary>
    public async Task<int> DetectBreachesAsync(CancellationToken cancellationToken = default)
    {
        var recorded = 0;
        var now = _time.GetUtcNow();

        // One read of the (few) policies serves the whole run; each case is read by the due query, and again only
        // when its write lost a race.
        var policies = await _store.ListPoliciesAsync(TenantId, cancellationToken).ConfigureAwait(false);
        while (true)
        {
            var due = await _store.ListDueAsync(TenantId, DateTimeOffset.MinValue, now, BreachBatch, cancellationToken).ConfigureAwait(false);
            var progressed = false;
            foreach (var item in due)
            {
                ServiceCase? listed = item;
                var (saved, breaches) = await ConcurrencyRetry.RunAsync(_options.ConcurrencyRetryLimit, _instrumentation, async () =>
                {
                    var current = listed ?? await _store.FindByIdAsync(TenantId, item.Id, cancellationToken).ConfigureAwait(false);
                    listed = null;
                    if (current is null)
                    {
                        return (false, new List<CrmEvent>());
                    }

                    var (updated, found) = await SaveAsync(current, current, now, cancellationToken, onlyIfChanged: true, policies).ConfigureAwait(false);
                    return (!ReferenceEquals(updated, current), found);
                }).ConfigureAwait(false);
                progressed |= saved;
                if (breaches.Count > 0)
                {
                    recorded += breaches.Count;
                    await _events.PublishAsync(breaches, cancellationToken).ConfigureAwait(false);
                }
            }

            if (due.Count < BreachBatch || !progressed)
            {
                return recorded;
            }
        }
    }

    /// <summary>
    /// Applies an interaction linked to a case: an outbound response is the first response (and opens a new
    /// case); the customer's inbound reply brings a case waiting on them, or a resolved one, back to work.
    /// </summary>
    internal async Task ApplyInteractionAsync(Interaction interaction, CancellationToken cancellationToken)
    {
        if (interaction.CaseId is not { } caseId)
        {
            return;
        }

        var events = await ConcurrencyRetry.RunAsync(_options.ConcurrencyRetryLimit, _instrumentation, async () =>
        {
            var current = await _store.FindByIdAsync(TenantId, caseId, cancellationToken).ConfigureAwait(false);
            if (current is null || current.CustomerId != interaction.CustomerId || current.Status == CaseStatus.Closed)
            {
                return new List<CrmEvent>();
            }

            var now = _time.GetUtcNow();
            var changed = current;
            var result = new List<CrmEvent>();
            CaseStatusChange? move = null;
            if (IsResponse(interaction) && current.Sla.FirstRespondedAt is null)
            {
                var at = interaction.OccurredAt < current.CreatedAt ? current.CreatedAt : interaction.OccurredAt;
                changed = changed with { Sla = changed.Sla with { FirstRespondedAt = at } };
                if (changed.Status == CaseStatus.New)
                {
                    (changed, move) = Move(changed, CaseStatus.Open, interaction.OwnerId ?? SystemActor, "first response", now);
                }
            }
            else if (interaction.Direction == InteractionDirection.Inbound && current.Status is CaseStatus.PendingCustomer or CaseStatus.Resolved)
            {
                var to = current.Status == CaseStatus.PendingCustomer ? CaseStatus.Open : CaseStatus.Reopened;
                (changed, move) = Move(changed, to, CustomerActor, "customer replied", now);
            }

            if (ReferenceEquals(changed, current))
            {
                return result;
            }

            var (updated, breaches) = await SaveAsync(current, changed, now, cancellationToken).ConfigureAwait(false);
            if (current.Sla.FirstRespondedAt is null && updated.Sla.FirstRespondedAt is not null)
            {
                result.Add(new CaseFirstResponded { Case = updated, InteractionId = interaction.Id, TenantId = TenantId, OccurredAt = now });
            }

            if (move is not null)
            {
                result.Add(new CaseStatusChanged { Case = updated, Change = move, TenantId = TenantId, OccurredAt = now });
            }

            result.AddRange(breaches);
            return result;
        }).ConfigureAwait(false);

        await _events.PublishAsync(events, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Checks that an interaction may link to <paramref name="caseId"/>: the case exists and is the customer's.</summary>
    internal async ValueTask<ValidationError?> CheckLinkAsync(Guid customerId, Guid caseId, CancellationToken cancellationToken)
    {
        var linked = await _store.FindByIdAsync(TenantId, caseId, cancellationToken).ConfigureAwait(false);
        return linked is null
            ? new ValidationError(nameof(InteractionDraft.CaseId), "case-exists", $"{caseId} is not a service case in this tenant")
            : linked.CustomerId != customerId
                ? new ValidationError(nameof(InteractionDraft.CaseId), "same-customer", $"case {caseId} belongs to another customer")
                : null;
    }

    /// <summary>Outbound contact through a channel the customer sees: a reply, a call, a message or a meeting (not a note or task).</summary>
    private static bool IsResponse(Interaction interaction) =>
        interaction.Direction == InteractionDirection.Outbound &&
        interaction.Kind is InteractionKind.Email or InteractionKind.Call or InteractionKind.Message or InteractionKind.Meeting;

    private async Task<ServiceCase> CurrentAsync(Guid id, long expectedVersion, CancellationToken cancellationToken)
    {
        var current = await GetByIdAsync(id, cancellationToken).ConfigureAwait(false);
        return current.Version == expectedVersion ? current : throw new ConcurrencyConflictException(nameof(ServiceCase), id, expectedVersion);
    }

    private static void RequireNotClosed(ServiceCase serviceCase)
    {
        if (serviceCase.Status == CaseStatus.Closed)
        {
            throw new CrmValidationException("id", "not-closed", $"case {serviceCase.Id} is closed and cannot change");
        }
    }

    private static (ServiceCase Case, CaseStatusChange Change) Move(ServiceCase current, CaseStatus to, string actor, string? note, DateTimeOffset now)
    {
        if (!CaseStatusFlow.CanMove(current.Status, to))
        {
            var allowed = CaseStatusFlow.Next(current.Status);
            throw new CrmValidationException("status", "allowed-transition",
                $"a case cannot move from {current.Status} to {to}; from {current.Status} it may move to {(allowed.Count == 0 ? "nothing (it is final)" : string.Join(", ", allowed))}");
        }

        if (current.History.Count >= MaxHistory)
        {
            throw new CrmValidationException("status", "max-history", $"case {current.Id} already holds {MaxHistory} status moves; open a new case");
        }

        var change = new CaseStatusChange(current.Status, to, now, actor, note);
        var moved = current with
        {
            Status = to,
            History = [.. current.History, change],
            ResolvedAt = to == CaseStatus.Resolved ? now : to == CaseStatus.Reopened ? null : current.ResolvedAt,
            ClosedAt = to == CaseStatus.Closed ? now : current.ClosedAt,
        };
        return (moved, change);
    }

    /// <summary>
    /// Works out the SLA of <paramref name="changed"/> with the current policies, records any breach that has now
    /// happened, and stores the result over <paramref name="current"/>. With <paramref name="onlyIfChanged"/> it
    /// stores nothing (and returns <paramref name="current"/>) when the SLA came out the same (the detection run).
    /// <paramref name="policies"/> are read from the store unless the caller already has them.
    /// </summary>
    private async Task<(ServiceCase Case, List<CrmEvent> Breaches)> SaveAsync(ServiceCase current, ServiceCase changed, DateTimeOffset now, CancellationToken cancellationToken, bool onlyIfChanged = false, IReadOnlyList<SlaPolicy>? policies = null)
    {
        policies ??= await _store.ListPoliciesAsync(TenantId, cancellationToken).ConfigureAwait(false);
        var sla = SlaClock.Compute(changed, SlaClock.Match(policies, changed), now);
        var breaches = new List<CrmEvent>();
        if (sla.FirstResponseBreachedAt is null && sla.FirstResponseDueAt is { } responseDue &&
            (sla.FirstRespondedAt is { } responded ? responded > responseDue : changed.IsActive && now > responseDue))
        {
            sla = sla with { FirstResponseBreachedAt = now };
            breaches.Add(new CaseSlaBreached { Case = changed, Target = SlaTarget.FirstResponse, DueAt = responseDue, TenantId = TenantId, OccurredAt = now });
        }

        if (sla.ResolutionBreachedAt is null && sla.ResolutionDueAt is { } resolutionDue && (changed.ResolvedAt ?? now) > resolutionDue &&
            (changed.IsActive || changed.ResolvedAt is not null))
        {
            sla = sla with { ResolutionBreachedAt = now };
            breaches.Add(new CaseSlaBreached { Case = changed, Target = SlaTarget.Resolution, DueAt = resolutionDue, TenantId = TenantId, OccurredAt = now });
        }

        if (onlyIfChanged && sla == changed.Sla)
        {
            return (current, breaches);
        }

        var updated = changed with { Sla = sla, Version = current.Version + 1, UpdatedAt = now };
        await _store.UpdateAsync(updated, current.Version, cancellationToken).ConfigureAwait(false);
        for (var i = 0; i < breaches.Count; i++)
        {
            breaches[i] = ((CaseSlaBreached)breaches[i]) with { Case = updated };
        }

        return (updated, breaches);
    }

    private void ValidateCase(CaseDraft draft)
    {
        ArgumentNullException.ThrowIfNull(draft);
        var errors = new ValidationErrorCollector();
        if (draft.CustomerId == Guid.Empty)
        {
            errors.Add(nameof(draft.CustomerId), "required", "is required");
        }

        CheckKind(errors, nameof(draft.Kind), draft.Kind, required: true);
        errors.Required(nameof(draft.Subject), draft.Subject);
        errors.Text(nameof(draft.Subject), draft.Subject, MaxSubjectLength);
        errors.Text(nameof(draft.Description), draft.Description, MaxDescriptionLength);
        errors.Defined(nameof(draft.Channel), draft.Channel);
        errors.Defined(nameof(draft.Priority), draft.Priority);
        errors.Text(nameof(draft.OwnerId), draft.OwnerId, MaxNameLength);
        errors.Text(nameof(draft.Team), draft.Team, MaxNameLength);
        errors.Required(nameof(draft.OpenedBy), draft.OpenedBy);
        errors.Text(nameof(draft.OpenedBy), draft.OpenedBy, MaxNameLength);
        errors.ThrowIfAny();
    }

    private void ValidatePolicy(SlaPolicyDraft draft)
    {
        ArgumentNullException.ThrowIfNull(draft);
        var errors = new ValidationErrorCollector();
        errors.Required(nameof(draft.Name), draft.Name);
        errors.Text(nameof(draft.Name), draft.Name, MaxNameLength);
        errors.Defined(nameof(draft.Priority), draft.Priority);
        CheckKind(errors, nameof(draft.Kind), draft.Kind, required: false);
        if (draft.FirstResponseTarget <= TimeSpan.Zero || draft.FirstResponseTarget > MaxTarget)
        {
            errors.Add(nameof(draft.FirstResponseTarget), "range", $"must be more than zero and at most {MaxTarget.TotalDays} days (was {draft.FirstResponseTarget})");
        }

        if (draft.ResolutionTarget > MaxTarget || draft.ResolutionTarget < draft.FirstResponseTarget || draft.ResolutionTarget <= TimeSpan.Zero)
        {
            errors.Add(nameof(draft.ResolutionTarget), "range", $"must be at least the first-response target ({draft.FirstResponseTarget}) and at most {MaxTarget.TotalDays} days (was {draft.ResolutionTarget})");
        }

        if (draft.BusinessHours is not null)
        {
            BusinessCalendar.Validate(draft.BusinessHours, errors, nameof(draft.BusinessHours));
        }

        errors.ThrowIfAny();
    }

    private void CheckKind(ValidationErrorCollector errors, string field, string? kind, bool required)
    {
        if (string.IsNullOrWhiteSpace(kind))
        {
            if (required)
            {
                errors.Add(field, "required", "is required and must not be blank");
            }

            return;
        }

        if (!_kinds.Contains(NormalizeKind(kind)))
        {
            errors.Add(field, "known-kind", $"{InputText.Quote(kind)} is not a case kind of this application; known kinds: {string.Join(", ", _kinds.Order(StringComparer.Ordinal))} (add kinds with ServiceOptions.CaseKinds)");
        }
    }

    private static SlaPolicy ApplyPolicy(SlaPolicy policy, SlaPolicyDraft draft, DateTimeOffset now) => policy with
    {
        Name = draft.Name!.Trim(),
        Priority = draft.Priority,
        Kind = string.IsNullOrWhiteSpace(draft.Kind) ? null : NormalizeKind(draft.Kind),
        FirstResponseTarget = draft.FirstResponseTarget,
        ResolutionTarget = draft.ResolutionTarget,
        BusinessHours = draft.BusinessHours is { } hours ? hours with { TimeZoneId = hours.TimeZoneId.Trim(), Windows = [.. hours.Windows], Holidays = [.. hours.Holidays.Distinct().Order()] } : null,
        UpdatedAt = now,
    };

    internal static string NormalizeKind(string kind) => kind.Trim().ToLowerInvariant();

    private static string? Trimmed(string? value) => string.IsNullOrWhiteSpace(value) ? null : value.Trim();
}

/// <summary>Works out a case's SLA due times from its policy and its status history.</summary>
internal static class SlaClock
{
    /// <summary>The policy for a case: one naming its priority and kind, else one naming its priority for any kind.</summary>
    public static SlaPolicy? Match(IReadOnlyList<SlaPolicy> policies, ServiceCase serviceCase) =>
        policies.FirstOrDefault(p => p.Priority == serviceCase.Priority && p.Kind == serviceCase.Kind)
        ?? policies.FirstOrDefault(p => p.Priority == serviceCase.Priority && p.Kind is null);

    /// <summary>
    /// The SLA of a case under <paramref name="policy"/>: the first response is due its target after opening; the
    /// resolution clock stops while the case is pending customer or resolved (and, once it is resolved or closed,
    /// the due time in force then is kept). Met and breach times carry over.
    /// </summary>
    public static CaseSla Compute(ServiceCase serviceCase, SlaPolicy? policy, DateTimeOffset now)
    {
        var sla = serviceCase.Sla;
        if (policy is null)
        {
            return sla with { PolicyId = null, FirstResponseDueAt = null, ResolutionDueAt = null };
        }

        var calendar = BusinessCalendar.For(policy.BusinessHours);
        var stopped = Stopped(serviceCase.History, keepFinalStop: serviceCase.Status == CaseStatus.PendingCustomer);
        return sla with
        {
            PolicyId = policy.Id,
            FirstResponseDueAt = calendar.Add(serviceCase.CreatedAt, policy.FirstResponseTarget),
            ResolutionDueAt = calendar.Add(serviceCase.CreatedAt, policy.ResolutionTarget, stopped),
        };
    }

    /// <summary>
    /// The periods the resolution clock stood still: each stay in pending customer or resolved. The last stay is
    /// open-ended while the case is pending (the due time is unknown until the customer answers); a final stay in
    /// resolved or closed is left out, so the due time in force at resolution is kept for reporting.
    /// </summary>
    private static List<StoppedPeriod> Stopped(IReadOnlyList<CaseStatusChange> history, bool keepFinalStop)
    {
        var periods = new List<StoppedPeriod>();
        DateTimeOffset? stoppedSince = null;
        foreach (var change in history)
        {
            var stops = change.To is CaseStatus.PendingCustomer or CaseStatus.Resolved or CaseStatus.Closed;
            if (stops && stoppedSince is null)
            {
                stoppedSince = change.At;
            }
            else if (!stops && stoppedSince is { } since)
            {
                if (change.At > since)
                {
                    periods.Add(new StoppedPeriod(since, change.At));
                }

                stoppedSince = null;
            }
        }

        if (stoppedSince is { } open && keepFinalStop)
        {
            periods.Add(new StoppedPeriod(open, null));
        }

        return periods;
    }
}
