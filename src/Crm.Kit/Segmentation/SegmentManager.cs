using Crm.Kit.Customers;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Crm.Kit.Segmentation;

/// <summary>
/// Creates and evaluates segments: dynamic segments (a rule, re-evaluated whenever a customer changes) and static
/// lists. Counts and member listings of dynamic segments evaluate the rule now, where the customers are (in memory
/// or in the database); stored membership records what was last published, so that <see cref="SegmentEntered"/>
/// and <see cref="SegmentExited"/> fire exactly once per transition.
/// </summary>
public class SegmentManager
{
    /// <summary>Most customers one call to <see cref="AddToListAsync"/> or <see cref="RemoveFromListAsync"/> takes.</summary>
    public const int MaxListChange = 10_000;

    private const int MaxNameLength = 200;
    private const int MaxDescriptionLength = 2000;
    private const int Batch = 500;

    private readonly ISegmentStore _segments;
    private readonly ISegmentEvaluator _evaluator;
    private readonly ICustomerStore _customers;
    private readonly ICrmUnitOfWork _unitOfWork;
    private readonly ICrmTenantContext _tenant;
    private readonly TimeProvider _time;
    private readonly ICrmEventPublisher _events;
    private readonly SegmentRuleCompiler _compiler;
    private readonly CrmKitOptions _options;
    private readonly CrmKitInstrumentation _instrumentation;
    private readonly ILogger _logger;

    /// <summary>Creates the manager; resolve it from DI.</summary>
    public SegmentManager(
        ISegmentStore segments,
        ISegmentEvaluator evaluator,
        ICustomerStore customers,
        ICrmUnitOfWork unitOfWork,
        ICrmTenantContext tenant,
        TimeProvider time,
        ICrmEventPublisher events,
        SegmentRuleCompiler compiler,
        IOptions<CrmKitOptions> options,
        CrmKitInstrumentation instrumentation,
        ILogger<SegmentManager>? logger = null)
    {
        _logger = logger ?? Microsoft.Extensions.Logging.Abstractions.NullLogger<SegmentManager>.Instance;
        _segments = segments;
        _evaluator = evaluator;
        _customers = customers;
        _unitOfWork = unitOfWork;
        _tenant = tenant;
        _time = time;
        _events = events;
        _compiler = compiler;
        _options = (options ?? throw new ArgumentNullException(nameof(options))).Value;
        _instrumentation = instrumentation;
    }

    private string TenantId => _tenant.TenantId;

    /// <summary>The fields rules may use here (Crm.Kit's and every registered module's).</summary>
    public SegmentFieldRegistry Fields => _compiler.Registry;

    /// <summary>Reads a rule from its JSON document and validates it against <see cref="Fields"/>.</summary>
    /// <exception cref="CrmValidationException">Every problem, with its JSON path.</exception>
    public SegmentRule ParseRule(string json) => SegmentRuleJson.Parse(json, Fields);

    /// <summary>Creates a segment; a dynamic one is evaluated at once, publishing <see cref="SegmentEntered"/> for its first members.</summary>
    /// <exception cref="CrmValidationException">The name or the rule is invalid, or a referenced segment is missing or would form a cycle.</exception>
    public async Task<Segment> CreateAsync(SegmentDraft draft, CancellationToken cancellationToken = default)
    {
        // One reading of the clock, so that the id's time and the creation time agree.
        var now = _time.GetUtcNow();
        var id = CrmIds.NewId(now);
        await CheckDraftAsync(draft, id, cancellationToken).ConfigureAwait(false);
        var segment = new Segment
        {
            Id = id,
            TenantId = TenantId,
            Version = 1,
            Name = draft.Name.Trim(),
            Description = draft.Description,
            Kind = draft.Rule is null ? SegmentKind.Static : SegmentKind.Dynamic,
            Rule = draft.Rule,
            CreatedAt = now,
            UpdatedAt = now,
        };

        try
        {
            await _segments.CreateAsync(segment, cancellationToken).ConfigureAwait(false);
        }
        catch (DuplicateValueException ex)
        {
            throw new CrmValidationException(nameof(SegmentDraft.Name), "unique", ex.Message);
        }

        if (segment.Kind == SegmentKind.Dynamic)
        {
            await ReevaluateSegmentAsync(segment, cancellationToken).ConfigureAwait(false);
        }

        return segment;
    }

    /// <summary>Changes a segment's name, description or rule. A static list stays static and a dynamic segment dynamic.</summary>
    /// <exception cref="ConcurrencyConflictException">The segment changed since <paramref name="expectedVersion"/>.</exception>
    public async Task<Segment> UpdateAsync(Guid id, long expectedVersion, SegmentDraft draft, CancellationToken cancellationToken = default)
    {
        var current = await GetByIdAsync(id, cancellationToken).ConfigureAwait(false);
        await CheckDraftAsync(draft, id, cancellationToken).ConfigureAwait(false);
        if ((draft.Rule is null) != (current.Kind == SegmentKind.Static))
        {
            throw new CrmValidationException(nameof(SegmentDraft.Rule), "kind-change", current.Kind == SegmentKind.Static
                ? "a static list cannot be given a rule; create a dynamic segment instead"
                : "a dynamic segment needs a rule; create a static list instead");
        }

        var updated = current with
        {
            Version = expectedVersion + 1,
            Name = draft.Name.Trim(),
            Description = draft.Description,
            Rule = draft.Rule,
            UpdatedAt = _time.GetUtcNow(),
        };

        try
        {
            await _segments.UpdateAsync(updated, expectedVersion, cancellationToken).ConfigureAwait(false);
        }
        catch (DuplicateValueException ex)
        {
            throw new CrmValidationException(nameof(SegmentDraft.Name), "unique", ex.Message);
        }

        if (updated.Kind == SegmentKind.Dynamic && !Equals(current.Rule, updated.Rule))
        {
            // Segments that refer to this one inline its rule, so they may have changed too.
            foreach (var affected in await WithDependentsAsync(updated.Id, cancellationToken).ConfigureAwait(false))
            {
                await ReevaluateSegmentAsync(affected, cancellationToken).ConfigureAwait(false);
            }
        }

        return updated;
    }

    /// <summary>Deletes a segment and its stored membership (no exit events are published).</summary>
    /// <exception cref="CrmValidationException">Another segment's rule refers to it.</exception>
    public async Task DeleteAsync(Guid id, long expectedVersion, CancellationToken cancellationToken = default)
    {
        var users = new List<string>();
        foreach (var segment in await _segments.ListDynamicAsync(TenantId, cancellationToken).ConfigureAwait(false))
        {
            if (segment.Id != id && References(segment.Rule!).Contains(id))
            {
                users.Add(segment.Name);
            }
        }

        if (users.Count > 0)
        {
            throw new CrmValidationException("id", "in-use", $"segment {id} is used by the rules of: {string.Join(", ", users)}");
        }

        await _segments.DeleteAsync(TenantId, id, expectedVersion, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>The segment with this id, or <see langword="null"/>.</summary>
    public async Task<Segment?> FindByIdAsync(Guid id, CancellationToken cancellationToken = default) =>
        await _segments.FindByIdAsync(TenantId, id, cancellationToken).ConfigureAwait(false);

    /// <summary>The segment with this id.</summary>
    /// <exception cref="EntityNotFoundException">No such segment in this tenant.</exception>
    public async Task<Segment> GetByIdAsync(Guid id, CancellationToken cancellationToken = default) =>
        await FindByIdAsync(id, cancellationToken).ConfigureAwait(false) ?? throw new EntityNotFoundException(nameof(Segment), id);

    /// <summary>Segments in id order, a page at a time.</summary>
    public async Task<Page<Segment>> ListAsync(string? continuationToken = null, int pageSize = 100, CancellationToken cancellationToken = default)
    {
        ContinuationTokens.CheckPageSize(pageSize, _options);
        var after = ContinuationTokens.DecodeId(continuationToken);
        var items = await _segments.ListAsync(TenantId, after, pageSize + 1, cancellationToken).ConfigureAwait(false);
        return ContinuationTokens.ToPage(items, pageSize, s => ContinuationTokens.Encode(s.Id));
    }

    /// <summary>How many customers a rule matches now, and the first of them, without saving anything.</summary>
    public async Task<SegmentPreview> PreviewAsync(SegmentRule rule, int sampleSize = 20, CancellationToken cancellationToken = default)
    {
        ContinuationTokens.CheckPageSize(sampleSize, _options);
        var resolved = await ResolveAsync(rule, selfId: null, cancellationToken).ConfigureAwait(false);
        var now = _time.GetUtcNow();
        var count = await _evaluator.CountAsync(TenantId, resolved, now, cancellationToken).ConfigureAwait(false);
        var sample = await _evaluator.ListAsync(TenantId, resolved, now, null, sampleSize, cancellationToken).ConfigureAwait(false);
        return new SegmentPreview(count, sample);
    }

    /// <summary>How many live customers are members now.</summary>
    public async Task<long> CountAsync(Guid segmentId, CancellationToken cancellationToken = default)
    {
        var segment = await GetByIdAsync(segmentId, cancellationToken).ConfigureAwait(false);
        var rule = await MembershipRuleAsync(segment, cancellationToken).ConfigureAwait(false);
        return await _evaluator.CountAsync(TenantId, rule, _time.GetUtcNow(), cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Live members now, in id order, a page at a time.</summary>
    public async Task<Page<Customer>> GetMembersAsync(Guid segmentId, string? continuationToken = null, int pageSize = 100, CancellationToken cancellationToken = default)
    {
        ContinuationTokens.CheckPageSize(pageSize, _options);
        var after = ContinuationTokens.DecodeId(continuationToken);
        var segment = await GetByIdAsync(segmentId, cancellationToken).ConfigureAwait(false);
        var rule = await MembershipRuleAsync(segment, cancellationToken).ConfigureAwait(false);
        var items = await _evaluator.ListAsync(TenantId, rule, _time.GetUtcNow(), after, pageSize + 1, cancellationToken).ConfigureAwait(false);
        return ContinuationTokens.ToPage(items, pageSize, c => ContinuationTokens.Encode(c.Id));
    }

    /// <summary>
    /// Whether a customer belongs to one segment or list now: the rule is evaluated for that customer alone, so
    /// modules (loyalty promotions, for example) can aim at a segment without listing its members.
    /// </summary>
    /// <exception cref="EntityNotFoundException">No such segment in this tenant.</exception>
    public async Task<bool> IsMemberAsync(Guid segmentId, Guid customerId, CancellationToken cancellationToken = default)
    {
        var segment = await GetByIdAsync(segmentId, cancellationToken).ConfigureAwait(false);
        var rule = await MembershipRuleAsync(segment, cancellationToken).ConfigureAwait(false);
        return (await _evaluator.FilterAsync(TenantId, rule, _time.GetUtcNow(), [customerId], cancellationToken).ConfigureAwait(false)).Count > 0;
    }

    /// <summary>The segments and lists a customer belongs to now, in id order.</summary>
    public async Task<IReadOnlyList<Segment>> GetSegmentsOfCustomerAsync(Guid customerId, CancellationToken cancellationToken = default)
    {
        var result = new List<Segment>();
        var now = _time.GetUtcNow();
        foreach (var (segment, rule) in await RunnableAsync(await _segments.ListDynamicAsync(TenantId, cancellationToken).ConfigureAwait(false), cancellationToken).ConfigureAwait(false))
        {
            try
            {
                if ((await _evaluator.FilterAsync(TenantId, rule, now, [customerId], cancellationToken).ConfigureAwait(false)).Count > 0)
                {
                    result.Add(segment);
                }
            }
            catch (Exception ex) when (ex is not OperationCanceledException)
            {
                await ReportFailureAsync(segment, ex, cancellationToken).ConfigureAwait(false);
            }
        }

        foreach (var id in await _segments.ListSegmentIdsOfMemberAsync(TenantId, customerId, cancellationToken).ConfigureAwait(false))
        {
            if (await _segments.FindByIdAsync(TenantId, id, cancellationToken).ConfigureAwait(false) is { Kind: SegmentKind.Static } list)
            {
                result.Add(list);
            }
        }

        return [.. result.OrderBy(s => s.Id)];
    }

    /// <summary>Adds customers to a static list; returns how many were not on it yet. Publishes <see cref="SegmentEntered"/> for each.</summary>
    /// <exception cref="CrmValidationException">The segment is not a static list, or an id is not a live customer.</exception>
    public Task<int> AddToListAsync(Guid listId, IReadOnlyCollection<Guid> customerIds, CancellationToken cancellationToken = default) =>
        ChangeListAsync(listId, customerIds, add: true, cancellationToken);

    /// <summary>Removes customers from a static list; returns how many were on it. Publishes <see cref="SegmentExited"/> for each.</summary>
    public Task<int> RemoveFromListAsync(Guid listId, IReadOnlyCollection<Guid> customerIds, CancellationToken cancellationToken = default) =>
        ChangeListAsync(listId, customerIds, add: false, cancellationToken);

    /// <summary>
    /// Which of <paramref name="customerIds"/> are live customers matching <paramref name="rule"/> now, evaluated
    /// where the customers are (in SQL in the EF adapter); references to other segments are followed.
    /// </summary>
    /// <exception cref="CrmValidationException">The rule is invalid or names a missing segment.</exception>
    public async Task<IReadOnlyList<Guid>> FilterCustomersAsync(SegmentRule rule, IReadOnlyCollection<Guid> customerIds, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(rule);
        ArgumentNullException.ThrowIfNull(customerIds);
        SegmentRuleValidator.Validate(rule, Fields);
        if (customerIds.Count == 0)
        {
            return [];
        }

        var resolved = await ResolveAsync(rule, null, cancellationToken).ConfigureAwait(false);
        return await _evaluator.FilterAsync(TenantId, resolved, _time.GetUtcNow(), customerIds, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// Re-evaluates every dynamic segment for the given customers and publishes the transitions. Crm.Kit calls
    /// it after every customer change it makes; a module whose contributed fields changed calls it (through
    /// <see cref="CustomerChangeNotifier"/>) too.
    /// </summary>
    public async Task RefreshCustomersAsync(IReadOnlyList<Guid> customerIds, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(customerIds);
        var dynamic = await _segments.ListDynamicAsync(TenantId, cancellationToken).ConfigureAwait(false);
        if (dynamic.Count == 0 || customerIds.Count == 0)
        {
            return;
        }

        var runnable = await RunnableAsync(dynamic, cancellationToken).ConfigureAwait(false);
        foreach (var chunk in customerIds.Distinct().Chunk(Batch))
        {
            try
            {
                await SettleAsync([.. runnable.Select(r => (r.Segment.Id, r.Rule))], chunk, cancellationToken).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is not (OperationCanceledException or ConcurrencyConflictException))
            {
                // One segment's failure must not stop the others: settle each alone, and report the ones that fail.
                foreach (var (segment, rule) in runnable)
                {
                    try
                    {
                        await SettleAsync([(segment.Id, rule)], chunk, cancellationToken).ConfigureAwait(false);
                    }
                    catch (Exception one) when (one is not (OperationCanceledException or ConcurrencyConflictException))
                    {
                        await ReportFailureAsync(segment, one, cancellationToken).ConfigureAwait(false);
                    }
                }
            }
        }
    }

    /// <summary>
    /// The dynamic segments whose rules resolve and validate against the registered fields, with their resolved rules.
    /// A segment whose rule does not (it names a field whose module is gone, or a segment that no longer exists) is
    /// reported and left out, so that it stops nothing else.
    /// </summary>
    private async Task<List<(Segment Segment, SegmentRule Rule)>> RunnableAsync(IEnumerable<Segment> segments, CancellationToken cancellationToken)
    {
        var runnable = new List<(Segment, SegmentRule)>();
        foreach (var segment in segments.Where(s => s.Kind == SegmentKind.Dynamic))
        {
            try
            {
                var rule = await ResolveAsync(segment.Rule!, segment.Id, cancellationToken).ConfigureAwait(false);
                SegmentRuleValidator.Validate(rule, Fields);
                runnable.Add((segment, rule));
            }
            catch (Exception ex) when (ex is not OperationCanceledException)
            {
                await ReportFailureAsync(segment, ex, cancellationToken).ConfigureAwait(false);
            }
        }

        return runnable;
    }

    /// <summary>Logs a segment's failed evaluation, counts it, and records it on the segment.</summary>
    private async Task ReportFailureAsync(Segment segment, Exception exception, CancellationToken cancellationToken)
    {
        CrmKitLog.SegmentEvaluationFailed(_logger, exception, segment.Id, TenantId);
        _instrumentation.SegmentEvaluationFailures.Add(1);
        var error = exception.Message.Length <= 1000 ? exception.Message : exception.Message[..999] + "…";
        await RecordEvaluationAsync(segment.Id, current => current.EvaluationError == error ? null : current with { EvaluationError = error, EvaluationFailedAt = _time.GetUtcNow() }, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Clears a recorded failure once the segment has been evaluated again without one.</summary>
    private Task ClearFailureAsync(Segment segment, CancellationToken cancellationToken) =>
        segment.EvaluationError is null
            ? Task.CompletedTask
            : RecordEvaluationAsync(segment.Id, current => current.EvaluationError is null ? null : current with { EvaluationError = null, EvaluationFailedAt = null }, cancellationToken);

    private async Task RecordEvaluationAsync(Guid segmentId, Func<Segment, Segment?> change, CancellationToken cancellationToken)
    {
        try
        {
            if (await _segments.FindByIdAsync(TenantId, segmentId, cancellationToken).ConfigureAwait(false) is { } current && change(current) is { } changed)
            {
                await _segments.UpdateAsync(changed with { Version = current.Version + 1 }, current.Version, cancellationToken).ConfigureAwait(false);
            }
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            // The segment's health is a report: failing to write it must not fail the caller's change.
            CrmKitLog.SegmentFailureNotRecorded(_logger, ex, segmentId);
        }
    }

    /// <summary>
    /// Evaluates dynamic segments over the whole tenant and publishes every transition since the last
    /// evaluation. Schedule it (for example nightly, or hourly) for rules relative to the current time, such as
    /// "no order in the last 90 days", whose result changes while customers do not.
    /// </summary>
    /// <param name="segmentId">One segment, or every dynamic segment when <see langword="null"/>.</param>
    /// <param name="cancellationToken">Cancels between batches; what was committed stays.</param>
    public async Task<SegmentReevaluation> ReevaluateAsync(Guid? segmentId = null, CancellationToken cancellationToken = default)
    {
        IReadOnlyList<Segment> targets = segmentId is { } id
            ? [await GetByIdAsync(id, cancellationToken).ConfigureAwait(false)]
            : await _segments.ListDynamicAsync(TenantId, cancellationToken).ConfigureAwait(false);
        return await ReevaluateEachAsync(targets.Where(s => s.Kind == SegmentKind.Dynamic), rethrow: segmentId is not null, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// Re-evaluates each segment on its own: one that fails is reported and left as it was while the others go on
    /// (or, when <paramref name="rethrow"/>, for a caller that named the segment, its failure is thrown after being reported).
    /// </summary>
    private async Task<SegmentReevaluation> ReevaluateEachAsync(IEnumerable<Segment> segments, bool rethrow, CancellationToken cancellationToken)
    {
        long entered = 0, exited = 0;
        var evaluated = 0;
        var failed = new List<Guid>();
        foreach (var segment in segments)
        {
            try
            {
                var (e, x) = await ReevaluateSegmentAsync(segment, cancellationToken).ConfigureAwait(false);
                entered += e;
                exited += x;
                evaluated++;
                await ClearFailureAsync(segment, cancellationToken).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is not OperationCanceledException)
            {
                await ReportFailureAsync(segment, ex, cancellationToken).ConfigureAwait(false);
                failed.Add(segment.Id);
                if (rethrow)
                {
                    throw;
                }
            }
        }

        return new SegmentReevaluation(evaluated, entered, exited) { Failed = failed };
    }

    /// <summary>
    /// Evaluates, over the whole tenant, the dynamic segments whose rules use any of <paramref name="fieldNames"/>
    /// (directly or through a segment they refer to), and publishes every transition. A module calls it after
    /// changing the values behind its contributed fields in bulk, as an insight refresh does.
    /// </summary>
    public async Task<SegmentReevaluation> ReevaluateUsingFieldsAsync(IReadOnlyCollection<string> fieldNames, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(fieldNames);
        var fields = fieldNames.ToHashSet(StringComparer.Ordinal);
        var dynamic = await _segments.ListDynamicAsync(TenantId, cancellationToken).ConfigureAwait(false);
        var runnable = await RunnableAsync(dynamic, cancellationToken).ConfigureAwait(false);
        var affected = runnable.Where(r => Conditions(r.Rule).Any(c => fields.Contains(c.Field))).Select(r => r.Segment);
        var result = await ReevaluateEachAsync(affected, rethrow: false, cancellationToken).ConfigureAwait(false);
        var unresolved = dynamic.Where(s => !runnable.Exists(r => r.Segment.Id == s.Id)).Select(s => s.Id);
        return result with { Failed = [.. result.Failed, .. unresolved] };
    }

    /// <summary>Every condition of a rule, however deeply grouped.</summary>
    internal static IEnumerable<RuleCondition> Conditions(SegmentRule rule) => rule switch
    {
        RuleGroup group => group.Rules.SelectMany(Conditions),
        RuleCondition condition => [condition],
        _ => [],
    };

    private async Task<(long Entered, long Exited)> ReevaluateSegmentAsync(Segment segment, CancellationToken cancellationToken)
    {
        var rule = await ResolveAsync(segment.Rule!, segment.Id, cancellationToken).ConfigureAwait(false);
        long entered = 0, exited = 0;

        // Customers matching now but not stored: candidates to enter.
        Guid? after = null;
        while (true)
        {
            var batch = await _evaluator.ListIdsAsync(TenantId, rule, _time.GetUtcNow(), after, Batch, cancellationToken).ConfigureAwait(false);
            if (batch.Count == 0)
            {
                break;
            }

            var stored = await _segments.FindMembersAsync(TenantId, segment.Id, batch, cancellationToken).ConfigureAwait(false);
            var candidates = batch.Except(stored).ToArray();
            if (candidates.Length > 0)
            {
                var (e, _) = await SettleAsync([(segment.Id, rule)], candidates, cancellationToken).ConfigureAwait(false);
                entered += e;
            }

            after = batch[^1];
        }

        // Stored members no longer matching: candidates to exit.
        after = null;
        while (true)
        {
            var batch = await _segments.ListMemberIdsAsync(TenantId, segment.Id, after, Batch, cancellationToken).ConfigureAwait(false);
            if (batch.Count == 0)
            {
                break;
            }

            var matching = await _evaluator.FilterAsync(TenantId, rule, _time.GetUtcNow(), batch, cancellationToken).ConfigureAwait(false);
            var candidates = batch.Except(matching).ToArray();
            if (candidates.Length > 0)
            {
                var (_, x) = await SettleAsync([(segment.Id, rule)], candidates, cancellationToken).ConfigureAwait(false);
                exited += x;
            }

            after = batch[^1];
        }

        return (entered, exited);
    }

    /// <summary>
    /// Decides the candidates' membership of each segment again inside one transaction that holds them, then
    /// stores and publishes what changed.
    /// </summary>
    private async Task<(int Entered, int Exited)> SettleAsync(IReadOnlyList<(Guid SegmentId, SegmentRule Rule)> rules, Guid[] candidates, CancellationToken cancellationToken)
    {
        var events = await ConcurrencyRetry.RunAsync(_options.ConcurrencyRetryLimit, _instrumentation, async () =>
        {
            var now = _time.GetUtcNow();
            List<CrmEvent> raised = [];
            var transaction = await _unitOfWork.BeginAsync(cancellationToken).ConfigureAwait(false);
            await using var transactionScope = transaction.ConfigureAwait(false);
            await HoldAsync(candidates, cancellationToken).ConfigureAwait(false);
            foreach (var (segmentId, rule) in rules)
            {
                var matching = await _evaluator.FilterAsync(TenantId, rule, now, candidates, cancellationToken).ConfigureAwait(false);
                var stored = await _segments.FindMembersAsync(TenantId, segmentId, candidates, cancellationToken).ConfigureAwait(false);
                await ApplyAsync(segmentId, [.. matching.Except(stored)], [.. stored.Except(matching)], now, raised, cancellationToken).ConfigureAwait(false);
            }

            await transaction.CommitAsync(cancellationToken).ConfigureAwait(false);
            return raised;
        }).ConfigureAwait(false);
        await PublishAsync(events, cancellationToken).ConfigureAwait(false);
        return (events.Count(e => e is SegmentEntered), events.Count(e => e is SegmentExited));
    }

    /// <summary>
    /// Holds each existing customer at its current version for the rest of the transaction. Membership decided
    /// on one version can then never be stored after a decision on a newer one: a concurrent change either
    /// commits first (and this transaction reads it) or waits until this one has committed.
    /// </summary>
    private async Task HoldAsync(IEnumerable<Guid> customerIds, CancellationToken cancellationToken)
    {
        foreach (var id in customerIds)
        {
            if (await _customers.FindByIdAsync(TenantId, id, cancellationToken).ConfigureAwait(false) is { } customer)
            {
                await _customers.ConfirmVersionAsync(TenantId, id, customer.Version, cancellationToken).ConfigureAwait(false);
            }
        }
    }

    private async Task ApplyAsync(Guid segmentId, Guid[] enter, Guid[] exit, DateTimeOffset now, List<CrmEvent> raised, CancellationToken cancellationToken)
    {
        if (enter.Length > 0)
        {
            foreach (var id in await _segments.AddMembersAsync(TenantId, segmentId, enter, cancellationToken).ConfigureAwait(false))
            {
                raised.Add(new SegmentEntered { SegmentId = segmentId, CustomerId = id, TenantId = TenantId, OccurredAt = now });
            }
        }

        if (exit.Length > 0)
        {
            foreach (var id in await _segments.RemoveMembersAsync(TenantId, segmentId, exit, cancellationToken).ConfigureAwait(false))
            {
                raised.Add(new SegmentExited { SegmentId = segmentId, CustomerId = id, TenantId = TenantId, OccurredAt = now });
            }
        }
    }

    private async Task<int> ChangeListAsync(Guid listId, IReadOnlyCollection<Guid> customerIds, bool add, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(customerIds);
        var list = await GetByIdAsync(listId, cancellationToken).ConfigureAwait(false);
        var errors = new ValidationErrorCollector();
        if (list.Kind != SegmentKind.Static)
        {
            errors.Add(nameof(listId), "static-list", $"segment '{list.Name}' is dynamic; its members follow its rule");
        }

        errors.MaxCount(nameof(customerIds), customerIds, MaxListChange);
        errors.ThrowIfAny();
        var ids = customerIds.Distinct().ToArray();
        if (add)
        {
            foreach (var id in ids)
            {
                if (await _customers.FindByIdAsync(TenantId, id, cancellationToken).ConfigureAwait(false) is not { MergedIntoId: null, ErasedAt: null })
                {
                    errors.Add(nameof(customerIds), "customer-exists", $"{id} is not a live customer in this tenant");
                }
            }

            errors.ThrowIfAny();
        }

        var now = _time.GetUtcNow();
        var changed = await ConcurrencyRetry.RunAsync(_options.ConcurrencyRetryLimit, _instrumentation, async () => add
            ? await _segments.AddMembersAsync(TenantId, listId, ids, cancellationToken).ConfigureAwait(false)
            : await _segments.RemoveMembersAsync(TenantId, listId, ids, cancellationToken).ConfigureAwait(false)).ConfigureAwait(false);
        await PublishAsync([.. changed.Select(id => add
            ? (CrmEvent)new SegmentEntered { SegmentId = listId, CustomerId = id, TenantId = TenantId, OccurredAt = now }
            : new SegmentExited { SegmentId = listId, CustomerId = id, TenantId = TenantId, OccurredAt = now })], cancellationToken).ConfigureAwait(false);

        // Dynamic segments may test membership of this list.
        await RefreshCustomersAsync(changed, cancellationToken).ConfigureAwait(false);
        return changed.Count;
    }

    private async Task CheckDraftAsync(SegmentDraft draft, Guid selfId, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(draft);
        var errors = new ValidationErrorCollector();
        errors.Required(nameof(SegmentDraft.Name), draft.Name);
        errors.Text(nameof(SegmentDraft.Name), draft.Name?.Trim(), MaxNameLength);
        errors.Text(nameof(SegmentDraft.Description), draft.Description, MaxDescriptionLength);
        if (draft.Rule is not null)
        {
            SegmentRuleValidator.Validate(draft.Rule, Fields, errors);
        }

        errors.ThrowIfAny();
        if (draft.Rule is not null)
        {
            var resolved = await ResolveAsync(draft.Rule, selfId, cancellationToken).ConfigureAwait(false);

            // Run the rule once where the customers are before anything is written: a rule this store cannot
            // evaluate fails here, and is never stored to break membership updates later.
            await _evaluator.ListIdsAsync(TenantId, resolved, _time.GetUtcNow(), null, 1, cancellationToken).ConfigureAwait(false);
        }
    }

    private async Task<SegmentRule> MembershipRuleAsync(Segment segment, CancellationToken cancellationToken) =>
        segment.Kind == SegmentKind.Static
            ? Rule.MemberOf(segment.Id)
            : await ResolveAsync(segment.Rule!, segment.Id, cancellationToken).ConfigureAwait(false);

    /// <summary>
    /// Replaces references to dynamic segments by their rules (so evaluation is always current), keeping
    /// references to static lists. Missing segments and cycles are validation errors.
    /// </summary>
    private async Task<SegmentRule> ResolveAsync(SegmentRule rule, Guid? selfId, CancellationToken cancellationToken)
    {
        var errors = new ValidationErrorCollector();
        var visiting = new List<Guid>();
        if (selfId is { } self)
        {
            visiting.Add(self);
        }

        var expanded = 0;
        var result = await ResolveNodeAsync(rule, SegmentRuleValidator.RootPath, visiting, errors, () => ++expanded, cancellationToken).ConfigureAwait(false);
        if (expanded > SegmentRuleValidator.MaxConditions * 10)
        {
            errors.Add(SegmentRuleValidator.RootPath, "max-expanded-conditions", $"with the segments it refers to inlined, the rule holds more than {SegmentRuleValidator.MaxConditions * 10} conditions");
        }

        errors.ThrowIfAny();
        return result;
    }

    private async Task<SegmentRule> ResolveNodeAsync(SegmentRule rule, string path, List<Guid> visiting, ValidationErrorCollector errors, Func<int> count, CancellationToken cancellationToken)
    {
        if (rule is RuleGroup group)
        {
            var children = new SegmentRule[group.Rules.Count];
            for (var i = 0; i < children.Length; i++)
            {
                children[i] = await ResolveNodeAsync(group.Rules[i], $"{path}.{SegmentRuleValidator.GroupName(group.Kind)}[{i}]", visiting, errors, count, cancellationToken).ConfigureAwait(false);
            }

            return new RuleGroup(group.Kind, children);
        }

        var condition = (RuleCondition)rule;
        if (count() > SegmentRuleValidator.MaxConditions * 10 || condition.Operator is not (RuleOperator.MemberOf or RuleOperator.NotMemberOf))
        {
            return condition;
        }

        var id = Guid.Parse(condition.Values[0].Text!);
        var referenced = await _segments.FindByIdAsync(TenantId, id, cancellationToken).ConfigureAwait(false);
        if (referenced is null)
        {
            errors.Add(path + ".value", "unknown-segment", $"{id} is not a segment in this tenant");
            return condition;
        }

        if (referenced.Kind == SegmentKind.Static)
        {
            return condition;
        }

        if (visiting.Contains(id))
        {
            errors.Add(path + ".value", "segment-cycle", $"segment '{referenced.Name}' refers back to itself through this rule");
            return condition;
        }

        visiting.Add(id);
        var inner = await ResolveNodeAsync(referenced.Rule!, path, visiting, errors, count, cancellationToken).ConfigureAwait(false);
        visiting.RemoveAt(visiting.Count - 1);
        return condition.Operator == RuleOperator.MemberOf ? inner : new RuleGroup(RuleGroupKind.None, [inner]);
    }

    private async Task<IReadOnlyList<Segment>> WithDependentsAsync(Guid id, CancellationToken cancellationToken)
    {
        var dynamic = await _segments.ListDynamicAsync(TenantId, cancellationToken).ConfigureAwait(false);
        var affected = new HashSet<Guid> { id };
        bool grew;
        do
        {
            grew = false;
            foreach (var segment in dynamic)
            {
                if (!affected.Contains(segment.Id) && References(segment.Rule!).Any(affected.Contains))
                {
                    affected.Add(segment.Id);
                    grew = true;
                }
            }
        }
        while (grew);

        return [.. dynamic.Where(s => affected.Contains(s.Id))];
    }

    private static IEnumerable<Guid> References(SegmentRule rule) =>
        Conditions(rule).SelectMany(c => c.Operator is RuleOperator.MemberOf or RuleOperator.NotMemberOf && Guid.TryParse(c.Values[0].Text, out var id)
            ? new[] { id }
            : []);

    private async Task PublishAsync(IReadOnlyList<CrmEvent> events, CancellationToken cancellationToken)
    {
        if (events.Count > 0)
        {
            await _events.PublishAsync(events, cancellationToken).ConfigureAwait(false);
        }
    }
}

/// <summary>Keeps dynamic segment membership current when customers change.</summary>
internal sealed class SegmentMembershipObserver(SegmentManager segments, ICrmTenantContext tenant) : ICustomerChangeObserver
{
    public async ValueTask CustomersChangedAsync(string tenantId, IReadOnlyList<Guid> customerIds, CancellationToken cancellationToken)
    {
        if (!string.Equals(tenant.TenantId, tenantId, StringComparison.Ordinal))
        {
            throw new InvalidOperationException($"Customers of tenant '{tenantId}' changed in a scope serving tenant '{tenant.TenantId}'.");
        }

        await segments.RefreshCustomersAsync(customerIds, cancellationToken).ConfigureAwait(false);
    }
}
