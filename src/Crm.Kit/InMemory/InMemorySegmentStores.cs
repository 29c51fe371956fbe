using Crm.Kit.Customers;
using Crm.Kit.Segmentation;

namespace Crm.Kit.InMemory;

/// <summary>One tenant's segments and stored memberships. Guarded by locking the instance.</summary>
internal sealed class SegmentTenant
{
    public Dictionary<Guid, Segment> Segments { get; } = [];

    public Dictionary<string, Guid> Names { get; } = new(StringComparer.Ordinal);

    public Dictionary<Guid, HashSet<Guid>> Members { get; } = [];

    public Dictionary<Guid, HashSet<Guid>> SegmentsOfCustomer { get; } = [];

    public bool Add(Guid segmentId, Guid customerId)
    {
        if (!Members.TryGetValue(segmentId, out var members))
        {
            Members[segmentId] = members = [];
        }

        if (!members.Add(customerId))
        {
            return false;
        }

        if (!SegmentsOfCustomer.TryGetValue(customerId, out var segments))
        {
            SegmentsOfCustomer[customerId] = segments = [];
        }

        segments.Add(segmentId);
        return true;
    }

    public bool Remove(Guid segmentId, Guid customerId)
    {
        if (!Members.TryGetValue(segmentId, out var members) || !members.Remove(customerId))
        {
            return false;
        }

        if (SegmentsOfCustomer.TryGetValue(customerId, out var segments))
        {
            segments.Remove(segmentId);
            if (segments.Count == 0)
            {
                SegmentsOfCustomer.Remove(customerId);
            }
        }

        return true;
    }
}

/// <summary>The in-memory <see cref="ISegmentStore"/>; also answers static-list lookups for in-memory evaluation.</summary>
public sealed class InMemorySegmentStore : ISegmentStore
{
    private readonly InMemoryCrmDatabase _database;

    /// <summary>Creates the store over <paramref name="database"/>.</summary>
    public InMemorySegmentStore(InMemoryCrmDatabase database) => _database = database ?? throw new ArgumentNullException(nameof(database));

    private SegmentTenant? Tenant(string tenantId) => _database.Segments.GetValueOrDefault(tenantId);

    private SegmentTenant TenantForWrite(string tenantId) => _database.Segments.GetOrAdd(tenantId, static _ => new SegmentTenant());

    private static T Read<T>(SegmentTenant? tenant, Func<SegmentTenant, T> read, T empty)
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
    public ValueTask<Segment?> FindByIdAsync(string tenantId, Guid id, CancellationToken cancellationToken) =>
        new(Read(Tenant(tenantId), t => t.Segments.GetValueOrDefault(id), null));

    /// <inheritdoc />
    public ValueTask<IReadOnlyList<Segment>> FindManyAsync(string tenantId, IReadOnlyCollection<Guid> ids, CancellationToken cancellationToken) =>
        new(Read<IReadOnlyList<Segment>>(Tenant(tenantId), t => [.. ids.Select(id => t.Segments.GetValueOrDefault(id)).OfType<Segment>()], []));

    /// <inheritdoc />
    public ValueTask<Segment?> FindByNameAsync(string tenantId, string name, CancellationToken cancellationToken) =>
        new(Read(Tenant(tenantId), t => t.Names.TryGetValue(name, out var id) ? t.Segments[id] : null, null));

    /// <inheritdoc />
    public ValueTask<IReadOnlyList<Segment>> ListAsync(string tenantId, Guid? afterId, int limit, CancellationToken cancellationToken) =>
        new(Read<IReadOnlyList<Segment>>(Tenant(tenantId), t => [.. t.Segments.Values.Where(s => afterId is null || s.Id.CompareTo(afterId.Value) > 0).OrderBy(s => s.Id).Take(limit)], []));

    /// <inheritdoc />
    public ValueTask<IReadOnlyList<Segment>> ListDynamicAsync(string tenantId, CancellationToken cancellationToken) =>
        new(Read<IReadOnlyList<Segment>>(Tenant(tenantId), t => [.. t.Segments.Values.Where(s => s.Kind == SegmentKind.Dynamic).OrderBy(s => s.Id)], []));

    /// <inheritdoc />
    public ValueTask CreateAsync(Segment segment, CancellationToken cancellationToken) =>
        _database.WriteAsync(() =>
        {
            var tenant = TenantForWrite(segment.TenantId);
            lock (tenant)
            {
                if (tenant.Names.ContainsKey(segment.Name))
                {
                    throw new DuplicateValueException(nameof(Segment.Name), segment.Name);
                }

                tenant.Segments.Add(segment.Id, segment);
                tenant.Names.Add(segment.Name, segment.Id);
            }

            return () =>
            {
                lock (tenant)
                {
                    tenant.Segments.Remove(segment.Id);
                    tenant.Names.Remove(segment.Name);
                }
            };
        }, cancellationToken);

    /// <inheritdoc />
    public ValueTask UpdateAsync(Segment segment, long expectedVersion, CancellationToken cancellationToken) =>
        _database.WriteAsync(() =>
        {
            var tenant = TenantForWrite(segment.TenantId);
            Segment current;
            lock (tenant)
            {
                current = Current(tenant, segment.Id, expectedVersion);
                if (tenant.Names.TryGetValue(segment.Name, out var holder) && holder != segment.Id)
                {
                    throw new DuplicateValueException(nameof(Segment.Name), segment.Name);
                }

                Put(tenant, current, segment);
            }

            return () =>
            {
                lock (tenant)
                {
                    Put(tenant, segment, current);
                }
            };
        }, cancellationToken);

    /// <inheritdoc />
    public ValueTask DeleteAsync(string tenantId, Guid id, long expectedVersion, CancellationToken cancellationToken) =>
        _database.WriteAsync(() =>
        {
            var tenant = TenantForWrite(tenantId);
            Segment current;
            Guid[] members;
            lock (tenant)
            {
                current = Current(tenant, id, expectedVersion);
                members = tenant.Members.TryGetValue(id, out var set) ? [.. set] : [];
                foreach (var member in members)
                {
                    tenant.Remove(id, member);
                }

                tenant.Members.Remove(id);
                Put(tenant, current, null);
            }

            return () =>
            {
                lock (tenant)
                {
                    Put(tenant, null, current);
                    foreach (var member in members)
                    {
                        tenant.Add(id, member);
                    }
                }
            };
        }, cancellationToken);

    /// <inheritdoc />
    public ValueTask<IReadOnlyList<Guid>> AddMembersAsync(string tenantId, Guid segmentId, IReadOnlyCollection<Guid> customerIds, CancellationToken cancellationToken) =>
        ChangeMembersAsync(tenantId, segmentId, customerIds, add: true, cancellationToken);

    /// <inheritdoc />
    public ValueTask<IReadOnlyList<Guid>> RemoveMembersAsync(string tenantId, Guid segmentId, IReadOnlyCollection<Guid> customerIds, CancellationToken cancellationToken) =>
        ChangeMembersAsync(tenantId, segmentId, customerIds, add: false, cancellationToken);

    /// <summary>Adds or removes members; returns those that changed, and undoes exactly those on rollback.</summary>
    private async ValueTask<IReadOnlyList<Guid>> ChangeMembersAsync(string tenantId, Guid segmentId, IReadOnlyCollection<Guid> customerIds, bool add, CancellationToken cancellationToken)
    {
        List<Guid> changed = [];
        await _database.WriteAsync(() =>
        {
            var tenant = TenantForWrite(tenantId);
            lock (tenant)
            {
                changed.AddRange(customerIds.Where(id => add ? tenant.Add(segmentId, id) : tenant.Remove(segmentId, id)));
            }

            return () =>
            {
                lock (tenant)
                {
                    changed.ForEach(id => _ = add ? tenant.Remove(segmentId, id) : tenant.Add(segmentId, id));
                }
            };
        }, cancellationToken).ConfigureAwait(false);
        return changed;
    }

    /// <inheritdoc />
    public ValueTask<IReadOnlyList<Guid>> FindMembersAsync(string tenantId, Guid segmentId, IReadOnlyCollection<Guid> customerIds, CancellationToken cancellationToken) =>
        new(Read<IReadOnlyList<Guid>>(Tenant(tenantId), t => t.Members.TryGetValue(segmentId, out var members) ? [.. customerIds.Where(members.Contains)] : [], []));

    /// <inheritdoc />
    public ValueTask<IReadOnlyList<Guid>> ListMemberIdsAsync(string tenantId, Guid segmentId, Guid? afterId, int limit, CancellationToken cancellationToken) =>
        new(Read<IReadOnlyList<Guid>>(Tenant(tenantId), t => t.Members.TryGetValue(segmentId, out var members)
            ? [.. members.Where(id => afterId is null || id.CompareTo(afterId.Value) > 0).Order().Take(limit)]
            : [], []));

    /// <inheritdoc />
    public ValueTask<IReadOnlyList<Guid>> ListSegmentIdsOfMemberAsync(string tenantId, Guid customerId, CancellationToken cancellationToken) =>
        new(Read<IReadOnlyList<Guid>>(Tenant(tenantId), t => t.SegmentsOfCustomer.TryGetValue(customerId, out var segments) ? [.. segments.Order()] : [], []));

    /// <summary>A synchronous view of one tenant's stored membership, for rules evaluated in memory.</summary>
    internal ISegmentMembershipLookup Lookup(string tenantId) => new MembershipLookup(this, tenantId);

    private static Segment Current(SegmentTenant tenant, Guid id, long expectedVersion)
    {
        var current = tenant.Segments.GetValueOrDefault(id) ?? throw new EntityNotFoundException(nameof(Segment), id);
        return current.Version == expectedVersion ? current : throw new ConcurrencyConflictException(nameof(Segment), id, expectedVersion);
    }

    private static void Put(SegmentTenant tenant, Segment? before, Segment? after)
    {
        if (before is not null)
        {
            tenant.Segments.Remove(before.Id);
            tenant.Names.Remove(before.Name);
        }

        if (after is not null)
        {
            tenant.Segments[after.Id] = after;
            tenant.Names[after.Name] = after.Id;
        }
    }

    private sealed class MembershipLookup(InMemorySegmentStore store, string tenantId) : ISegmentMembershipLookup
    {
        private readonly SegmentTenant? _tenant = store.Tenant(tenantId);

        public bool Contains(Guid segmentId, Guid customerId) =>
            (_tenant ?? store.Tenant(tenantId)) is { } tenant && Read(tenant, t => t.Members.TryGetValue(segmentId, out var members) && members.Contains(customerId), false);
    }
}

/// <summary>Evaluates rules over the in-memory customers with compiled delegates.</summary>
public sealed class InMemorySegmentEvaluator : ISegmentEvaluator
{
    private const int ScanBatch = 1024;
    private readonly InMemoryCrmDatabase _database;
    private readonly InMemorySegmentStore _segments;
    private readonly SegmentRuleCompiler _compiler;

    /// <summary>Creates the evaluator.</summary>
    public InMemorySegmentEvaluator(InMemoryCrmDatabase database, ISegmentStore segments, SegmentRuleCompiler compiler)
    {
        _database = database ?? throw new ArgumentNullException(nameof(database));
        _segments = segments as InMemorySegmentStore ?? new InMemorySegmentStore(database);
        _compiler = compiler ?? throw new ArgumentNullException(nameof(compiler));
    }

    /// <inheritdoc />
    public ValueTask<long> CountAsync(string tenantId, SegmentRule rule, DateTimeOffset now, CancellationToken cancellationToken)
    {
        var counter = _compiler.ScanCounter(_compiler.Compile(rule));
        if (!_database.Customers.TryGetValue(tenantId, out var rows))
        {
            return new(0L);
        }

        // The tenant's scan rows hold its live customers with the fields rules test most laid out inline, so the
        // count reads them in order instead of following each customer's objects around the heap.
        return new(rows.Index.ScanRows.Count(counter.Count, counter.Bind(now, _segments.Lookup(tenantId))));
    }

    /// <inheritdoc />
    public ValueTask<IReadOnlyList<Customer>> ListAsync(string tenantId, SegmentRule rule, DateTimeOffset now, Guid? afterId, int limit, CancellationToken cancellationToken) =>
        new(Scan(tenantId, rule, now, afterId, limit));

    /// <inheritdoc />
    public ValueTask<IReadOnlyList<Guid>> ListIdsAsync(string tenantId, SegmentRule rule, DateTimeOffset now, Guid? afterId, int limit, CancellationToken cancellationToken) =>
        new(Scan(tenantId, rule, now, afterId, limit).ConvertAll(c => c.Id));

    /// <inheritdoc />
    public ValueTask<IReadOnlyList<Guid>> FilterAsync(string tenantId, SegmentRule rule, DateTimeOffset now, IReadOnlyCollection<Guid> customerIds, CancellationToken cancellationToken)
    {
        var (predicate, arguments) = Prepare(tenantId, rule, now);
        if (!_database.Customers.TryGetValue(tenantId, out var rows))
        {
            return new([]);
        }

        List<Guid> result = [];
        foreach (var id in customerIds)
        {
            if (rows.Rows.TryGetValue(id, out var customer) && IsLiveMatch(customer, predicate, arguments))
            {
                result.Add(id);
            }
        }

        return new(result);
    }

    private List<Customer> Scan(string tenantId, SegmentRule rule, DateTimeOffset now, Guid? afterId, int limit)
    {
        var (predicate, arguments) = Prepare(tenantId, rule, now);
        List<Customer> result = [];
        if (!_database.Customers.TryGetValue(tenantId, out var rows))
        {
            return result;
        }

        // Ids are copied a batch at a time so that the index lock is never held while rules run.
        var after = afterId;
        while (result.Count < limit)
        {
            Guid[] batch;
            lock (rows.Index)
            {
                var ids = after is { } a ? rows.Index.Live.After(a) : rows.Index.Live.All();
                batch = [.. ids.Take(ScanBatch)];
            }

            foreach (var id in batch)
            {
                if (rows.Rows.TryGetValue(id, out var customer) && IsLiveMatch(customer, predicate, arguments))
                {
                    result.Add(customer);
                    if (result.Count == limit)
                    {
                        break;
                    }
                }
            }

            if (batch.Length < ScanBatch)
            {
                break;
            }

            after = batch[^1];
        }

        return result;
    }

    /// <summary>Segments hold live customers only: not merged away, not erased.</summary>
    private static bool IsLiveMatch(Customer customer, Func<Customer, RuleArguments, bool> predicate, RuleArguments arguments) =>
        customer.MergedIntoId is null && customer.ErasedAt is null && predicate(customer, arguments);

    private (Func<Customer, RuleArguments, bool> Predicate, RuleArguments Arguments) Prepare(string tenantId, SegmentRule rule, DateTimeOffset now)
    {
        var compiled = _compiler.Compile(rule);
        return (compiled.Predicate, compiled.Bind(now, _segments.Lookup(tenantId)));
    }
}
