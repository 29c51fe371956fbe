using System.Collections.Concurrent;
using Crm.Kit.Feedback;
using Crm.Kit.Service;

namespace Crm.Kit.InMemory;

/// <summary>One tenant's case indexes. Guarded by locking the instance.</summary>
internal sealed class CaseIndex
{
    public Dictionary<Guid, SortedSet<Guid>> ByCustomer { get; } = [];

    public Dictionary<Guid, SortedSet<Guid>> ActiveByCustomer { get; } = [];

    /// <summary>Active cases with a due time to watch, soonest first.</summary>
    public SortedSet<(long Ticks, Guid Id)> Due { get; } = new(TimeIdComparer.Instance);

    /// <summary>Active cases with a recorded breach.</summary>
    public SortedSet<Guid> Breached { get; } = [];

    /// <summary>Active cases per owner and per team, by next due time (none last).</summary>
    public Dictionary<string, SortedSet<(long Ticks, Guid Id)>> QueueByOwner { get; } = new(StringComparer.Ordinal);

    public Dictionary<string, SortedSet<(long Ticks, Guid Id)>> QueueByTeam { get; } = new(StringComparer.Ordinal);

    public void Add(ServiceCase c)
    {
        Set(ByCustomer, c.CustomerId).Add(c.Id);
        if (!c.IsActive)
        {
            return;
        }

        Set(ActiveByCustomer, c.CustomerId).Add(c.Id);
        var key = QueueKey(c);
        if (c.NextDueAt is { } due)
        {
            Due.Add((due.UtcTicks, c.Id));
        }

        if (c.Sla.IsBreached)
        {
            Breached.Add(c.Id);
        }

        if (c.OwnerId is { } owner)
        {
            Queue(QueueByOwner, owner).Add(key);
        }

        if (c.Team is { } team)
        {
            Queue(QueueByTeam, team).Add(key);
        }
    }

    public void Remove(ServiceCase c)
    {
        ByCustomer.GetValueOrDefault(c.CustomerId)?.Remove(c.Id);
        ActiveByCustomer.GetValueOrDefault(c.CustomerId)?.Remove(c.Id);
        if (c.NextDueAt is { } due)
        {
            Due.Remove((due.UtcTicks, c.Id));
        }

        Breached.Remove(c.Id);
        if (c.OwnerId is { } owner)
        {
            QueueByOwner.GetValueOrDefault(owner)?.Remove(QueueKey(c));
        }

        if (c.Team is { } team)
        {
            QueueByTeam.GetValueOrDefault(team)?.Remove(QueueKey(c));
        }
    }

    private static (long, Guid) QueueKey(ServiceCase c) => (c.NextDueAt?.UtcTicks ?? long.MaxValue, c.Id);

    private static SortedSet<Guid> Set(Dictionary<Guid, SortedSet<Guid>> sets, Guid key)
    {
        if (!sets.TryGetValue(key, out var set))
        {
            sets[key] = set = [];
        }

        return set;
    }

    private static SortedSet<(long, Guid)> Queue(Dictionary<string, SortedSet<(long Ticks, Guid Id)>> queues, string key)
    {
        if (!queues.TryGetValue(key, out var set))
        {
            queues[key] = set = new SortedSet<(long, Guid)>(TimeIdComparer.Instance);
        }

        return set;
    }
}

/// <summary>The in-memory <see cref="IServiceCaseStore"/>: every query reads an index, never a scan of the tenant's cases.</summary>
public sealed class InMemoryServiceCaseStore : IServiceCaseStore
{
    private readonly InMemoryCrmDatabase _database;
    private readonly InMemoryTable<ServiceCase, CaseIndex> _table;

    /// <summary>Creates the store over a database.</summary>
    public InMemoryServiceCaseStore(InMemoryCrmDatabase database)
    {
        _database = database ?? throw new ArgumentNullException(nameof(database));
        _table = new(database, database.Cases, nameof(ServiceCase),
            c => c.Id, c => c.TenantId, c => c.Version, (index, c) => index.Add(c), (index, c) => index.Remove(c));
    }

    /// <inheritdoc />
    public ValueTask<ServiceCase?> FindByIdAsync(string tenantId, Guid id, CancellationToken cancellationToken) => new(_table.Find(tenantId, id));

    /// <inheritdoc />
    public ValueTask CreateAsync(ServiceCase serviceCase, CancellationToken cancellationToken) =>
        _table.CreateAsync(serviceCase, static (_, _) => null, cancellationToken);

    /// <inheritdoc />
    public ValueTask UpdateAsync(ServiceCase serviceCase, long expectedVersion, CancellationToken cancellationToken) =>
        _table.UpdateAsync(serviceCase, expectedVersion, static (_, _) => null, cancellationToken);

    /// <inheritdoc />
    public ValueTask<IReadOnlyList<ServiceCase>> ListByCustomerAsync(string tenantId, Guid customerId, bool activeOnly, Guid? beforeId, int limit, CancellationToken cancellationToken)
    {
        var index = _table.Index(tenantId);
        lock (index)
        {
            var set = (activeOnly ? index.ActiveByCustomer : index.ByCustomer).GetValueOrDefault(customerId);
            if (set is null)
            {
                return new(Array.Empty<ServiceCase>());
            }

            return new(_table.Resolve(tenantId, InMemoryOrderStore.Before(set, beforeId).Take(limit)));
        }
    }

    /// <inheritdoc />
    public ValueTask<IReadOnlyList<ServiceCase>> ListQueueAsync(string tenantId, string? ownerId, string? team, int limit, CancellationToken cancellationToken)
    {
        var index = _table.Index(tenantId);
        lock (index)
        {
            // Walk the smaller of the two queues when both are given, and keep the cases that are in the other too.
            var byOwner = ownerId is null ? null : index.QueueByOwner.GetValueOrDefault(ownerId) ?? [];
            var byTeam = team is null ? null : index.QueueByTeam.GetValueOrDefault(team) ?? [];
            var walk = byOwner is null ? byTeam! : byTeam is null || byOwner.Count <= byTeam.Count ? byOwner : byTeam;
            var cases = _table.Resolve(tenantId, walk.Select(k => k.Id));
            return new(cases.Where(c => (ownerId is null || c.OwnerId == ownerId) && (team is null || c.Team == team)).Take(limit).ToList());
        }
    }

    /// <inheritdoc />
    public ValueTask<IReadOnlyList<ServiceCase>> ListDueAsync(string tenantId, DateTimeOffset from, DateTimeOffset before, int limit, CancellationToken cancellationToken)
    {
        var index = _table.Index(tenantId);
        lock (index)
        {
            if (before <= from || index.Due.Count == 0)
            {
                return new(Array.Empty<ServiceCase>());
            }

            var view = index.Due.GetViewBetween((from.UtcTicks, Guid.Empty), (before.UtcTicks - 1, Guid.AllBitsSet));
            return new(_table.Resolve(tenantId, view.Take(limit).Select(k => k.Id)));
        }
    }

    /// <inheritdoc />
    public ValueTask<IReadOnlyList<ServiceCase>> ListBreachedAsync(string tenantId, DateTimeOffset asOf, Guid? afterId, int limit, CancellationToken cancellationToken)
    {
        var index = _table.Index(tenantId);
        lock (index)
        {
            var ids = new SortedSet<Guid>(index.Breached);
            if (index.Due.Count > 0)
            {
                ids.UnionWith(index.Due.GetViewBetween((long.MinValue, Guid.Empty), (asOf.UtcTicks - 1, Guid.AllBitsSet)).Select(k => k.Id));
            }

            var after = afterId is { } a ? ids.Where(id => id.CompareTo(a) > 0) : ids;
            return new(_table.Resolve(tenantId, after.Take(limit)));
        }
    }

    /// <inheritdoc />
    public ValueTask<int> ReassignCustomerAsync(string tenantId, Guid fromCustomerId, Guid toCustomerId, CancellationToken cancellationToken) =>
        _table.UpdateManyAsync(tenantId, index => OfCustomer(tenantId, index, fromCustomerId), c => c with { CustomerId = toCustomerId, Version = c.Version + 1 }, cancellationToken);

    /// <inheritdoc />
    public ValueTask<int> EraseTextAsync(string tenantId, Guid customerId, CancellationToken cancellationToken) =>
        _table.UpdateManyAsync(
            tenantId,
            index => OfCustomer(tenantId, index, customerId),
            c => c with { Subject = null, Description = null, History = [.. c.History.Select(h => h with { Note = null })], Version = c.Version + 1 },
            cancellationToken);

    private List<ServiceCase> OfCustomer(string tenantId, CaseIndex index, Guid customerId) =>
        index.ByCustomer.TryGetValue(customerId, out var set) ? _table.Resolve(tenantId, set) : [];

    /// <inheritdoc />
    public ValueTask<IReadOnlyList<SlaPolicy>> ListPoliciesAsync(string tenantId, CancellationToken cancellationToken) =>
        new(_database.SlaPolicies.TryGetValue(tenantId, out var policies) ? policies : []);

    /// <inheritdoc />
    public ValueTask CreatePolicyAsync(SlaPolicy policy, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(policy);
        return ChangePolicies(policy.TenantId, list =>
        {
            CheckUnique(list, policy);
            return [.. list, policy];
        }, cancellationToken);
    }

    /// <inheritdoc />
    public ValueTask UpdatePolicyAsync(SlaPolicy policy, long expectedVersion, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(policy);
        return ChangePolicies(policy.TenantId, list =>
        {
            var current = list.FirstOrDefault(p => p.Id == policy.Id) ?? throw new EntityNotFoundException(nameof(SlaPolicy), policy.Id);
            if (current.Version != expectedVersion)
            {
                throw new ConcurrencyConflictException(nameof(SlaPolicy), policy.Id, expectedVersion);
            }

            var others = list.Where(p => p.Id != policy.Id).ToList();
            CheckUnique(others, policy);
            return [.. others, policy];
        }, cancellationToken);
    }

    /// <inheritdoc />
    public ValueTask DeletePolicyAsync(string tenantId, Guid id, long expectedVersion, CancellationToken cancellationToken) =>
        ChangePolicies(tenantId, list =>
        {
            var current = list.FirstOrDefault(p => p.Id == id) ?? throw new EntityNotFoundException(nameof(SlaPolicy), id);
            return current.Version == expectedVersion
                ? [.. list.Where(p => p.Id != id)]
                : throw new ConcurrencyConflictException(nameof(SlaPolicy), id, expectedVersion);
        }, cancellationToken);

    /// <summary>Replaces the tenant's (small, immutable) policy list in one write, so readers never see half a change.</summary>
    private ValueTask ChangePolicies(string tenantId, Func<IReadOnlyList<SlaPolicy>, List<SlaPolicy>> change, CancellationToken cancellationToken) =>
        _database.WriteAsync(() =>
        {
            var before = _database.SlaPolicies.GetValueOrDefault(tenantId) ?? [];
            var after = change(before);
            after.Sort((x, y) => x.Id.CompareTo(y.Id));
            _database.SlaPolicies[tenantId] = after;
            return () => _database.SlaPolicies[tenantId] = before;
        }, cancellationToken);

    private static void CheckUnique(IEnumerable<SlaPolicy> others, SlaPolicy policy)
    {
        foreach (var other in others)
        {
            if (string.Equals(other.Name, policy.Name, StringComparison.Ordinal))
            {
                throw new DuplicateValueException(nameof(SlaPolicy.Name), policy.Name);
            }

            if (other.Priority == policy.Priority && other.Kind == policy.Kind)
            {
                throw new DuplicateValueException(nameof(SlaPolicy.Priority), $"{policy.Priority}/{policy.Kind ?? "any kind"}");
            }
        }
    }
}

/// <summary>One tenant's surveys and answers. Guarded by locking the instance, except the lock-free latest-NPS map.</summary>
internal sealed class FeedbackTenant
{
    public Dictionary<Guid, Survey> Surveys { get; } = [];

    public Dictionary<string, Guid> SurveyNames { get; } = new(StringComparer.Ordinal);

    public Dictionary<Guid, int> AnswersOfSurvey { get; } = [];

    public Dictionary<Guid, SurveyResponse> Responses { get; } = [];

    public Dictionary<(Guid Survey, string Reference), Guid> ByReference { get; } = [];

    public Dictionary<Guid, SortedSet<(long Ticks, Guid Id)>> ByCustomer { get; } = [];

    public Dictionary<SurveyKind, SortedSet<(long Ticks, Guid Id)>> ByKind { get; } = [];

    /// <summary>Read without a lock by compiled segment rules; written under the tenant lock.</summary>
    public ConcurrentDictionary<Guid, LatestNps> LatestNps { get; } = new();

    public void Add(SurveyResponse r)
    {
        Responses[r.Id] = r;
        AnswersOfSurvey[r.SurveyId] = AnswersOfSurvey.GetValueOrDefault(r.SurveyId) + 1;
        if (r.Reference is { } reference)
        {
            ByReference[(r.SurveyId, reference)] = r.Id;
        }

        Timeline(ByCustomer, r.CustomerId).Add((r.RespondedAt.UtcTicks, r.Id));
        Timeline(ByKind, r.Kind).Add((r.RespondedAt.UtcTicks, r.Id));
    }

    public void Remove(SurveyResponse r)
    {
        Responses.Remove(r.Id);
        AnswersOfSurvey[r.SurveyId] = AnswersOfSurvey.GetValueOrDefault(r.SurveyId) - 1;
        if (r.Reference is { } reference)
        {
            ByReference.Remove((r.SurveyId, reference));
        }

        ByCustomer.GetValueOrDefault(r.CustomerId)?.Remove((r.RespondedAt.UtcTicks, r.Id));
        ByKind.GetValueOrDefault(r.Kind)?.Remove((r.RespondedAt.UtcTicks, r.Id));
    }

    /// <summary>The customer's latest NPS answer, worked out from the customer's answers.</summary>
    public LatestNps? ComputeLatestNps(Guid customerId)
    {
        if (!ByCustomer.TryGetValue(customerId, out var answers))
        {
            return null;
        }

        foreach (var (_, id) in answers.Reverse())
        {
            var answer = Responses[id];
            if (answer.Kind == SurveyKind.Nps)
            {
                return new LatestNps(customerId, answer.Score, answer.RespondedAt, answer.Id);
            }
        }

        return null;
    }

    public void SetLatestNps(Guid customerId, LatestNps? latest)
    {
        if (latest is null)
        {
            LatestNps.TryRemove(customerId, out _);
        }
        else
        {
            LatestNps[customerId] = latest;
        }
    }

    private static SortedSet<(long, Guid)> Timeline<TKey>(Dictionary<TKey, SortedSet<(long Ticks, Guid Id)>> sets, TKey key)
        where TKey : notnull
    {
        if (!sets.TryGetValue(key, out var set))
        {
            sets[key] = set = new SortedSet<(long, Guid)>(TimeIdComparer.Instance);
        }

        return set;
    }
}

/// <summary>The in-memory <see cref="IFeedbackStore"/>.</summary>
public sealed class InMemoryFeedbackStore : IFeedbackStore
{
    private readonly InMemoryCrmDatabase _database;

    /// <summary>Creates the store over a database.</summary>
    public InMemoryFeedbackStore(InMemoryCrmDatabase database) => _database = database ?? throw new ArgumentNullException(nameof(database));

    /// <summary>The customer's latest NPS answer, or <see langword="null"/>; synchronous and lock-free, for compiled segment rules.</summary>
    public LatestNps? FindLatestNps(string tenantId, Guid customerId) =>
        _database.Feedback.TryGetValue(tenantId, out var tenant) && tenant.LatestNps.TryGetValue(customerId, out var latest) ? latest : null;

    private FeedbackTenant? Existing(string tenantId) => _database.Feedback.GetValueOrDefault(tenantId);

    private FeedbackTenant Tenant(string tenantId) => _database.Feedback.GetOrAdd(tenantId, static _ => new FeedbackTenant());

    private static T Read<T>(FeedbackTenant? tenant, Func<FeedbackTenant, T> read, T empty)
    {
        if (tenant is null)
        {
            return empty;
        }

        lock (tenant)
        {
            return read(tenant);
        }
    }

    /// <inheritdoc />
    public ValueTask<Survey?> FindSurveyAsync(string tenantId, Guid id, CancellationToken cancellationToken) =>
        new(Read(Existing(tenantId), t => t.Surveys.GetValueOrDefault(id), null));

    /// <inheritdoc />
    public ValueTask<IReadOnlyList<Survey>> ListSurveysAsync(string tenantId, Guid? afterId, int limit, CancellationToken cancellationToken) =>
        new(Read<IReadOnlyList<Survey>>(Existing(tenantId), t => [.. t.Surveys.Values.Where(s => afterId is null || s.Id.CompareTo(afterId.Value) > 0).OrderBy(s => s.Id).Take(limit)], []));

    /// <inheritdoc />
    public ValueTask CreateSurveyAsync(Survey survey, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(survey);
        return _database.WriteAsync(() =>
        {
            var tenant = Tenant(survey.TenantId);
            lock (tenant)
            {
                if (tenant.SurveyNames.ContainsKey(survey.Name))
                {
                    throw new DuplicateValueException(nameof(Survey.Name), survey.Name);
                }

                tenant.Surveys[survey.Id] = survey;
                tenant.SurveyNames[survey.Name] = survey.Id;
            }

            return () =>
            {
                lock (tenant)
                {
                    tenant.Surveys.Remove(survey.Id);
                    tenant.SurveyNames.Remove(survey.Name);
                }
            };
        }, cancellationToken);
    }

    /// <inheritdoc />
    public ValueTask UpdateSurveyAsync(Survey survey, long expectedVersion, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(survey);
        return _database.WriteAsync(() =>
        {
            var tenant = Tenant(survey.TenantId);
            lock (tenant)
            {
                var current = tenant.Surveys.GetValueOrDefault(survey.Id) ?? throw new EntityNotFoundException(nameof(Survey), survey.Id);
                if (current.Version != expectedVersion)
                {
                    throw new ConcurrencyConflictException(nameof(Survey), survey.Id, expectedVersion);
                }

                if (tenant.SurveyNames.TryGetValue(survey.Name, out var holder) && holder != survey.Id)
                {
                    throw new DuplicateValueException(nameof(Survey.Name), survey.Name);
                }

                Replace(tenant, current, survey);
                return () =>
                {
                    lock (tenant)
                    {
                        Replace(tenant, survey, current);
                    }
                };
            }
        }, cancellationToken);

        static void Replace(FeedbackTenant tenant, Survey before, Survey after)
        {
            tenant.SurveyNames.Remove(before.Name);
            tenant.Surveys[after.Id] = after;
            tenant.SurveyNames[after.Name] = after.Id;
        }
    }

    /// <inheritdoc />
    public ValueTask<bool> HasResponsesAsync(string tenantId, Guid surveyId, CancellationToken cancellationToken) =>
        new(Read(Existing(tenantId), t => t.AnswersOfSurvey.GetValueOrDefault(surveyId) > 0, false));

    /// <inheritdoc />
    public ValueTask CreateResponseAsync(SurveyResponse response, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(response);
        return _database.WriteAsync(() =>
        {
            var tenant = Tenant(response.TenantId);
            lock (tenant)
            {
                if (tenant.Responses.ContainsKey(response.Id))
                {
                    throw new DuplicateValueException("Id", response.Id.ToString());
                }

                if (response.Reference is { } reference && tenant.ByReference.ContainsKey((response.SurveyId, reference)))
                {
                    throw new DuplicateValueException(nameof(SurveyResponse.Reference), reference);
                }

                var latestBefore = tenant.LatestNps.GetValueOrDefault(response.CustomerId);
                tenant.Add(response);
                if (response.Kind == SurveyKind.Nps)
                {
                    tenant.SetLatestNps(response.CustomerId, tenant.ComputeLatestNps(response.CustomerId));
                }

                return () =>
                {
                    lock (tenant)
                    {
                        tenant.Remove(response);
                        tenant.SetLatestNps(response.CustomerId, latestBefore);
                    }
                };
            }
        }, cancellationToken);
    }

    /// <inheritdoc />
    public ValueTask<SurveyResponse?> FindResponseAsync(string tenantId, Guid id, CancellationToken cancellationToken) =>
        new(Read(Existing(tenantId), t => t.Responses.GetValueOrDefault(id), null));

    /// <inheritdoc />
    public ValueTask<SurveyResponse?> FindResponseByReferenceAsync(string tenantId, Guid surveyId, string reference, CancellationToken cancellationToken) =>
        new(Read(Existing(tenantId), t => t.ByReference.TryGetValue((surveyId, reference), out var id) ? t.Responses[id] : null, null));

    /// <inheritdoc />
    public ValueTask<IReadOnlyList<SurveyResponse>> ListResponsesByCustomerAsync(string tenantId, Guid customerId, KeysetPosition? before, int limit, CancellationToken cancellationToken) =>
        new(Read<IReadOnlyList<SurveyResponse>>(Existing(tenantId), t =>
            t.ByCustomer.TryGetValue(customerId, out var set)
                ? [.. InMemoryOrderStore.Before(set, before).Take(limit).Select(k => t.Responses[k.Id])]
                : [], []));

    /// <inheritdoc />
    public ValueTask<LatestNps?> FindLatestNpsAsync(string tenantId, Guid customerId, CancellationToken cancellationToken) =>
        new(FindLatestNps(tenantId, customerId));

    /// <inheritdoc />
    public ValueTask<IReadOnlyDictionary<int, long>> CountScoresAsync(string tenantId, FeedbackQuery query, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(query);
        var members = query.SegmentId is { } segmentId ? StoredMembers(tenantId, segmentId) : null;
        return new(Read<IReadOnlyDictionary<int, long>>(Existing(tenantId), t =>
        {
            var counts = new Dictionary<int, long>();
            if (!t.ByKind.TryGetValue(query.Kind, out var set) || query.To <= query.From || set.Count == 0)
            {
                return counts;
            }

            foreach (var (_, id) in set.GetViewBetween((query.From.UtcTicks, Guid.Empty), (query.To.UtcTicks - 1, Guid.AllBitsSet)))
            {
                var answer = t.Responses[id];
                if ((query.SurveyId is null || answer.SurveyId == query.SurveyId) && (members is null || members.Contains(answer.CustomerId)))
                {
                    counts[answer.Score] = counts.GetValueOrDefault(answer.Score) + 1;
                }
            }

            return counts;
        }, new Dictionary<int, long>()));
    }

    /// <summary>A snapshot of a segment's stored members (empty when it has none).</summary>
    private HashSet<Guid> StoredMembers(string tenantId, Guid segmentId)
    {
        if (!_database.Segments.TryGetValue(tenantId, out var segments))
        {
            return [];
        }

        lock (segments)
        {
            return segments.Members.TryGetValue(segmentId, out var members) ? [.. members] : [];
        }
    }

    /// <inheritdoc />
    public async ValueTask<int> ReassignCustomerAsync(string tenantId, Guid fromCustomerId, Guid toCustomerId, CancellationToken cancellationToken)
    {
        var moved = 0;
        await Rewrite(tenantId, fromCustomerId, r => r with { CustomerId = toCustomerId }, [fromCustomerId, toCustomerId], n => moved = n, cancellationToken).ConfigureAwait(false);
        return moved;
    }

    /// <inheritdoc />
    public async ValueTask<int> EraseTextAsync(string tenantId, Guid customerId, CancellationToken cancellationToken)
    {
        var erased = 0;
        await Rewrite(tenantId, customerId, r => r with { Comment = null }, [], n => erased = n, cancellationToken).ConfigureAwait(false);
        return erased;
    }

    /// <summary>Rewrites every answer of a customer in one write, keeping the latest-NPS entries of <paramref name="recompute"/> right.</summary>
    private ValueTask Rewrite(string tenantId, Guid customerId, Func<SurveyResponse, SurveyResponse> change, Guid[] recompute, Action<int> count, CancellationToken cancellationToken) =>
        _database.WriteAsync(() =>
        {
            if (Existing(tenantId) is not { } tenant)
            {
                return static () => { };
            }

            lock (tenant)
            {
                var before = tenant.ByCustomer.TryGetValue(customerId, out var set) ? set.Select(k => tenant.Responses[k.Id]).ToList() : [];
                var latestBefore = recompute.Select(id => (id, tenant.LatestNps.GetValueOrDefault(id))).ToList();
                foreach (var answer in before)
                {
                    tenant.Remove(answer);
                    tenant.Add(change(answer));
                }

                foreach (var id in recompute)
                {
                    tenant.SetLatestNps(id, tenant.ComputeLatestNps(id));
                }

                count(before.Count);
                return () =>
                {
                    lock (tenant)
                    {
                        foreach (var answer in before)
                        {
                            tenant.Remove(change(answer));
                            tenant.Add(answer);
                        }

                        foreach (var (id, latest) in latestBefore)
                        {
                            tenant.SetLatestNps(id, latest);
                        }
                    }
                };
            }
        }, cancellationToken);
}
