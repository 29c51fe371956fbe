using Crm.Kit.Customers;
using Microsoft.Extensions.Options;

namespace Crm.Kit.Interactions;

/// <summary>An interaction was recorded on a customer's timeline.</summary>
public sealed record InteractionRecorded : CrmEvent
{
    /// <summary>The interaction.</summary>
    public required Interaction Interaction { get; init; }
}

/// <summary>A task was marked done.</summary>
public sealed record TaskCompleted : CrmEvent
{
    /// <summary>The task after completion.</summary>
    public required Interaction Task { get; init; }
}

/// <summary>
/// Checks what an interaction links to (a service case, a deal) when the module that owns it is registered, so
/// that a link to a missing record, or to another customer's, is refused before anything is stored.
/// </summary>
public interface IInteractionLinkValidator
{
    /// <summary>The broken rule, or <see langword="null"/> when the draft's links are fine for <paramref name="customerId"/>.</summary>
    ValueTask<ValidationError?> ValidateAsync(Guid customerId, InteractionDraft draft, CancellationToken cancellationToken);
}

/// <summary>Records interactions and tasks, and reads a customer's timeline.</summary>
public class InteractionManager
{
    private const int MaxSubjectLength = 500;
    private const int MaxBodyLength = 100_000;

    private readonly IInteractionStore _store;
    private readonly CustomerManager _customers;
    private readonly ICrmTenantContext _tenant;
    private readonly TimeProvider _time;
    private readonly ICrmEventPublisher _events;
    private readonly CrmKitOptions _options;
    private readonly CrmKitInstrumentation _instrumentation;
    private readonly IInteractionLinkValidator[] _linkValidators;

    /// <summary>Creates the manager; resolve it from DI rather than constructing it.</summary>
    public InteractionManager(
        IInteractionStore store,
        CustomerManager customers,
        ICrmTenantContext tenant,
        TimeProvider time,
        ICrmEventPublisher events,
        IOptions<CrmKitOptions> options,
        CrmKitInstrumentation instrumentation,
        IEnumerable<IInteractionLinkValidator> linkValidators)
    {
        _linkValidators = [.. linkValidators];
        _store = store;
        _customers = customers;
        _tenant = tenant;
        _time = time;
        _events = events;
        _options = options.Value;
        _instrumentation = instrumentation;
    }

    private string TenantId => _tenant.TenantId;

    /// <summary>Records an interaction or task on a customer's timeline.</summary>
    /// <exception cref="CrmValidationException">The draft breaks a rule; nothing was stored.</exception>
    public async Task<Interaction> RecordAsync(InteractionDraft draft, CancellationToken cancellationToken = default)
    {
        Validate(draft, _time.GetUtcNow(), _options.AllowedClockSkew);
        var customer = await _customers.FindByIdAsync(draft.CustomerId, cancellationToken).ConfigureAwait(false)
            ?? throw new CrmValidationException(nameof(draft.CustomerId), "customer-exists", $"{draft.CustomerId} is not a customer in this tenant");
        await ValidateLinksAsync(customer.Id, draft, cancellationToken).ConfigureAwait(false);
        var now = _time.GetUtcNow();
        var interaction = Apply(new Interaction { Id = CrmIds.NewId(now), TenantId = TenantId, Version = 1, CreatedAt = now }, draft, now) with { CustomerId = customer.Id };
        await _store.CreateAsync(interaction, cancellationToken).ConfigureAwait(false);
        await _events.PublishAsync([new InteractionRecorded { Interaction = interaction, TenantId = TenantId, OccurredAt = now }], cancellationToken).ConfigureAwait(false);
        return interaction;
    }

    /// <summary>Replaces the details of an interaction (its customer stays).</summary>
    /// <exception cref="ConcurrencyConflictException">It changed since <paramref name="expectedVersion"/>.</exception>
    public async Task<Interaction> UpdateAsync(Guid id, long expectedVersion, InteractionDraft draft, CancellationToken cancellationToken = default)
    {
        Validate(draft, _time.GetUtcNow(), _options.AllowedClockSkew);
        var current = await GetAsync(id, cancellationToken).ConfigureAwait(false);
        if (current.Version != expectedVersion)
        {
            throw new ConcurrencyConflictException(nameof(Interaction), id, expectedVersion);
        }

        await ValidateLinksAsync(current.CustomerId, draft, cancellationToken).ConfigureAwait(false);
        var updated = Apply(current, draft, current.OccurredAt) with { CustomerId = current.CustomerId, Version = expectedVersion + 1 };
        await _store.UpdateAsync(updated, expectedVersion, cancellationToken).ConfigureAwait(false);
        return updated;
    }

    /// <summary>Marks a task done. Completing a completed task changes nothing.</summary>
    public async Task<Interaction> CompleteTaskAsync(Guid id, CancellationToken cancellationToken = default)
    {
        var completed = await ConcurrencyRetry.RunAsync(_options.ConcurrencyRetryLimit, _instrumentation, async () =>
        {
            var task = await GetAsync(id, cancellationToken).ConfigureAwait(false);
            if (task.Kind != InteractionKind.Task)
            {
                throw new CrmValidationException("id", "is-task", $"interaction {id} is a {task.Kind}, not a task");
            }

            if (task.CompletedAt is not null)
            {
                return (Task: task, Changed: false);
            }

            var done = task with { CompletedAt = _time.GetUtcNow(), Version = task.Version + 1 };
            await _store.UpdateAsync(done, task.Version, cancellationToken).ConfigureAwait(false);
            return (Task: done, Changed: true);
        }).ConfigureAwait(false);

        if (completed.Changed)
        {
            await _events.PublishAsync([new TaskCompleted { Task = completed.Task, TenantId = TenantId, OccurredAt = completed.Task.CompletedAt!.Value }], cancellationToken).ConfigureAwait(false);
        }

        return completed.Task;
    }

    /// <summary>The interaction with this id, or <see langword="null"/>.</summary>
    public ValueTask<Interaction?> FindByIdAsync(Guid id, CancellationToken cancellationToken = default) => _store.FindByIdAsync(TenantId, id, cancellationToken);

    /// <summary>One page of a customer's timeline, newest first.</summary>
    public async ValueTask<Page<Interaction>> GetTimelineAsync(Guid customerId, string? continuationToken = null, int pageSize = 50, CancellationToken cancellationToken = default)
    {
        var before = ContinuationTokens.DecodePosition(continuationToken);
        ContinuationTokens.CheckPageSize(pageSize, _options);
        var customer = await _customers.FindByIdAsync(customerId, cancellationToken).ConfigureAwait(false);
        if (customer is null)
        {
            return new Page<Interaction>([], null);
        }

        var items = await _store.ListByCustomerAsync(TenantId, customer.Id, before, pageSize + 1, cancellationToken).ConfigureAwait(false);
        return ContinuationTokens.ToPage(items, pageSize, i => ContinuationTokens.Encode(new KeysetPosition(i.OccurredAt, i.Id)));
    }

    /// <summary>An owner's open tasks that are past due now, soonest due first.</summary>
    public ValueTask<IReadOnlyList<Interaction>> GetOverdueTasksAsync(string ownerId, int limit = 100, CancellationToken cancellationToken = default)
    {
        if (string.IsNullOrWhiteSpace(ownerId))
        {
            throw new CrmValidationException(nameof(ownerId), "required", "is required and must not be blank");
        }

        ContinuationTokens.CheckPageSize(limit, _options);
        return _store.ListOverdueTasksAsync(TenantId, ownerId.Trim(), _time.GetUtcNow(), limit, cancellationToken);
    }

    private async ValueTask ValidateLinksAsync(Guid customerId, InteractionDraft draft, CancellationToken cancellationToken)
    {
        var errors = new List<ValidationError>();
        foreach (var validator in _linkValidators)
        {
            if (await validator.ValidateAsync(customerId, draft, cancellationToken).ConfigureAwait(false) is { } error)
            {
                errors.Add(error);
            }
        }

        if (errors.Count > 0)
        {
            throw new CrmValidationException(errors);
        }
    }

    private async ValueTask<Interaction> GetAsync(Guid id, CancellationToken cancellationToken) =>
        await _store.FindByIdAsync(TenantId, id, cancellationToken).ConfigureAwait(false) ?? throw new EntityNotFoundException(nameof(Interaction), id);

    private static Interaction Apply(Interaction interaction, InteractionDraft draft, DateTimeOffset defaultTime) => interaction with
    {
        Kind = draft.Kind,
        Direction = draft.Direction,
        Channel = draft.Channel,
        Subject = string.IsNullOrWhiteSpace(draft.Subject) ? null : draft.Subject.Trim(),
        Body = string.IsNullOrWhiteSpace(draft.Body) ? null : draft.Body,
        OccurredAt = (draft.OccurredAt ?? defaultTime).ToUniversalTime(),
        OwnerId = string.IsNullOrWhiteSpace(draft.OwnerId) ? null : draft.OwnerId.Trim(),
        DueAt = draft.DueAt?.ToUniversalTime(),
        DealId = draft.DealId,
        CaseId = draft.CaseId,
    };

    private static void Validate(InteractionDraft draft, DateTimeOffset now, TimeSpan allowedSkew)
    {
        ArgumentNullException.ThrowIfNull(draft);
        var errors = new ValidationErrorCollector();
        if (draft.CustomerId == Guid.Empty)
        {
            errors.Add(nameof(draft.CustomerId), "required", "is required");
        }

        if (draft.OccurredAt is { } occurredAt)
        {
            errors.Happened(nameof(draft.OccurredAt), occurredAt, now, allowedSkew);
        }

        if (draft.DueAt is { } dueAt)
        {
            errors.Planned(nameof(draft.DueAt), dueAt, now);
        }

        errors.Defined(nameof(draft.Kind), draft.Kind);
        errors.Defined(nameof(draft.Direction), draft.Direction);
        errors.Defined(nameof(draft.Channel), draft.Channel);
        if (draft.Kind == InteractionKind.Message && draft.Channel == MessageChannel.None)
        {
            errors.Add(nameof(draft.Channel), "required", "a message needs its channel (web, chat, social or in store)");
        }
        else if (draft.Kind != InteractionKind.Message && draft.Channel != MessageChannel.None)
        {
            errors.Add(nameof(draft.Channel), "message-only", "only messages have a channel");
        }

        if (draft.Kind == InteractionKind.Task && draft.DueAt is null)
        {
            errors.Add(nameof(draft.DueAt), "required", "a task needs a due date");
        }
        else if (draft.Kind != InteractionKind.Task && draft.DueAt is not null)
        {
            errors.Add(nameof(draft.DueAt), "task-only", "only tasks have a due date");
        }

        errors.Text(nameof(draft.Subject), draft.Subject, MaxSubjectLength);
        errors.Text(nameof(draft.Body), draft.Body, MaxBodyLength);
        errors.Text(nameof(draft.OwnerId), draft.OwnerId, 200);
        if (draft.Kind == InteractionKind.Task && string.IsNullOrWhiteSpace(draft.OwnerId))
        {
            errors.Add(nameof(draft.OwnerId), "required", "a task needs an owner to do it");
        }

        errors.ThrowIfAny();
    }
}
