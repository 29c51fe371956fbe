using System.Runtime.CompilerServices;
using Crm.Kit.Segmentation;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Metadata;

namespace Crm.Kit.EntityFrameworkCore;

/// <summary>The EF Core <see cref="ISegmentStore"/>.</summary>
/// <typeparam name="TContext">The host's context.</typeparam>
public sealed class EfSegmentStore<TContext> : ISegmentStore
    where TContext : DbContext
{
    // Every change to a customer lists the dynamic segments to re-evaluate, so that one query is compiled, kept per
    // model as in EfCustomerStore.
    private static readonly ConditionalWeakTable<IModel, Func<TContext, string, IAsyncEnumerable<SegmentRow>>> DynamicByModel = new();

    private readonly TContext _context;
    private readonly Func<TContext, string, IAsyncEnumerable<SegmentRow>> _dynamic;

    /// <summary>
    /// Creates the store. Stored rules are read without checking their fields (<see cref="SegmentRuleJson.ReadStored"/>):
    /// the manager checks them per segment when it evaluates them.
    /// </summary>
    public EfSegmentStore(TContext context)
    {
        _context = ContextCheck.EnsureModel(context);
        _dynamic = DynamicByModel.GetValue(context.Model, static _ => EF.CompileAsyncQuery<TContext, string, SegmentRow>((c, tenantId) =>
            c.Set<SegmentRow>().AsNoTracking().Where(r => r.TenantId == tenantId && r.Kind == SegmentKind.Dynamic).OrderBy(r => r.Id)));
    }

    private IQueryable<SegmentRow> Rows(string tenantId) => _context.Set<SegmentRow>().AsNoTracking().Where(r => r.TenantId == tenantId);

    private IQueryable<SegmentMemberRow> Members(string tenantId, Guid segmentId) =>
        _context.Set<SegmentMemberRow>().AsNoTracking().Where(m => m.TenantId == tenantId && m.SegmentId == segmentId);

    /// <inheritdoc />
    public async ValueTask<Segment?> FindByIdAsync(string tenantId, Guid id, CancellationToken cancellationToken) =>
        (await Rows(tenantId).FirstOrDefaultAsync(r => r.Id == id, cancellationToken).ConfigureAwait(false))?.ToSegment();

    /// <inheritdoc />
    public async ValueTask<Segment?> FindByNameAsync(string tenantId, string name, CancellationToken cancellationToken) =>
        (await Rows(tenantId).FirstOrDefaultAsync(r => r.Name == name, cancellationToken).ConfigureAwait(false))?.ToSegment();

    /// <inheritdoc />
    public async ValueTask<IReadOnlyList<Segment>> FindManyAsync(string tenantId, IReadOnlyCollection<Guid> ids, CancellationToken cancellationToken)
    {
        var wanted = ids.ToList();
        var rows = await Rows(tenantId).Where(r => wanted.Contains(r.Id)).ToListAsync(cancellationToken).ConfigureAwait(false);
        return rows.ConvertAll(r => r.ToSegment());
    }

    /// <inheritdoc />
    public async ValueTask<IReadOnlyList<Segment>> ListAsync(string tenantId, Guid? afterId, int limit, CancellationToken cancellationToken)
    {
        var query = Rows(tenantId);
        if (afterId is { } after)
        {
            query = query.Where(r => r.Id.CompareTo(after) > 0);
        }

        var rows = await query.OrderBy(r => r.Id).Take(limit).ToListAsync(cancellationToken).ConfigureAwait(false);
        return rows.ConvertAll(r => r.ToSegment());
    }

    /// <inheritdoc />
    public async ValueTask<IReadOnlyList<Segment>> ListDynamicAsync(string tenantId, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(tenantId);
        var segments = new List<Segment>();
        await foreach (var row in _dynamic(_context, tenantId).WithCancellation(cancellationToken).ConfigureAwait(false))
        {
            segments.Add(row.ToSegment());
        }

        return segments;
    }

    /// <inheritdoc />
    public ValueTask CreateAsync(Segment segment, CancellationToken cancellationToken) =>
        new(StoreWrites.InTransactionAsync(_context, async () =>
        {
            _context.Add(SegmentRow.From(segment));
            try
            {
                await StoreWrites.SaveAsync(_context, nameof(Segment), segment.Id, 0, cancellationToken).ConfigureAwait(false);
            }
            catch (DbUpdateException ex) when (UniqueViolation.Is(ex))
            {
                throw new DuplicateValueException(nameof(Segment.Name), segment.Name, ex);
            }

            return true;
        }, cancellationToken).AsTask());

    /// <inheritdoc />
    public ValueTask UpdateAsync(Segment segment, long expectedVersion, CancellationToken cancellationToken) =>
        new(StoreWrites.InTransactionAsync(_context, async () =>
        {
            StoreWrites.AttachUpdate(_context, SegmentRow.From(segment), expectedVersion);
            try
            {
                await StoreWrites.SaveUpdateAsync(_context, nameof(Segment), segment.Id, expectedVersion, () => Rows(segment.TenantId).AnyAsync(r => r.Id == segment.Id, cancellationToken), cancellationToken).ConfigureAwait(false);
            }
            catch (DbUpdateException ex) when (UniqueViolation.Is(ex))
            {
                throw new DuplicateValueException(nameof(Segment.Name), segment.Name, ex);
            }

            return true;
        }, cancellationToken).AsTask());

    /// <inheritdoc />
    public ValueTask DeleteAsync(string tenantId, Guid id, long expectedVersion, CancellationToken cancellationToken) =>
        new(StoreWrites.InTransactionAsync(_context, async () =>
        {
            var deleted = await _context.Set<SegmentRow>().Where(r => r.TenantId == tenantId && r.Id == id && r.Version == expectedVersion)
                .ExecuteDeleteAsync(cancellationToken).ConfigureAwait(false);
            if (deleted == 0)
            {
                throw await Rows(tenantId).AnyAsync(r => r.Id == id, cancellationToken).ConfigureAwait(false)
                    ? new ConcurrencyConflictException(nameof(Segment), id, expectedVersion)
                    : new EntityNotFoundException(nameof(Segment), id);
            }

            await _context.Set<SegmentMemberRow>().Where(m => m.TenantId == tenantId && m.SegmentId == id).ExecuteDeleteAsync(cancellationToken).ConfigureAwait(false);
            return true;
        }, cancellationToken).AsTask());

    /// <inheritdoc />
    public async ValueTask<IReadOnlyList<Guid>> AddMembersAsync(string tenantId, Guid segmentId, IReadOnlyCollection<Guid> customerIds, CancellationToken cancellationToken) =>
        await StoreWrites.InTransactionAsync<IReadOnlyList<Guid>>(_context, async () =>
        {
            // Inside the transaction, the rows found here cannot vanish or appear under us: membership is only
            // written while the customers are held (ICustomerStore.ConfirmVersionAsync) or the list is changed by id.
            var existing = await FindMembersAsync(tenantId, segmentId, customerIds, cancellationToken).ConfigureAwait(false);
            var added = customerIds.Distinct().Except(existing).ToList();
            try
            {
                await RowBulkInserter.InsertAsync(_context, added.ConvertAll(id => new SegmentMemberRow { TenantId = tenantId, SegmentId = segmentId, CustomerId = id }), cancellationToken).ConfigureAwait(false);
            }
            catch (System.Data.Common.DbException ex) when (UniqueViolation.Is(ex))
            {
                // Someone else added one of them meanwhile: the caller retries and sees it.
                throw new ConcurrencyConflictException(nameof(Segment), segmentId, 0, ex);
            }

            return added;
        }, cancellationToken).ConfigureAwait(false);

    /// <inheritdoc />
    public async ValueTask<IReadOnlyList<Guid>> RemoveMembersAsync(string tenantId, Guid segmentId, IReadOnlyCollection<Guid> customerIds, CancellationToken cancellationToken) =>
        await StoreWrites.InTransactionAsync<IReadOnlyList<Guid>>(_context, async () =>
        {
            var existing = await FindMembersAsync(tenantId, segmentId, customerIds, cancellationToken).ConfigureAwait(false);
            var ids = existing.ToArray();
            await _context.Set<SegmentMemberRow>().Where(m => m.TenantId == tenantId && m.SegmentId == segmentId && ids.Contains(m.CustomerId))
                .ExecuteDeleteAsync(cancellationToken).ConfigureAwait(false);
            return existing;
        }, cancellationToken).ConfigureAwait(false);

    /// <inheritdoc />
    public async ValueTask<IReadOnlyList<Guid>> FindMembersAsync(string tenantId, Guid segmentId, IReadOnlyCollection<Guid> customerIds, CancellationToken cancellationToken)
    {
        var ids = customerIds.ToArray();
        return await Members(tenantId, segmentId).Where(m => ids.Contains(m.CustomerId)).Select(m => m.CustomerId).ToListAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <inheritdoc />
    public async ValueTask<IReadOnlyList<Guid>> ListMemberIdsAsync(string tenantId, Guid segmentId, Guid? afterId, int limit, CancellationToken cancellationToken)
    {
        var query = Members(tenantId, segmentId);
        if (afterId is { } after)
        {
            query = query.Where(m => m.CustomerId.CompareTo(after) > 0);
        }

        return await query.OrderBy(m => m.CustomerId).Select(m => m.CustomerId).Take(limit).ToListAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <inheritdoc />
    public async ValueTask<IReadOnlyList<Guid>> ListSegmentIdsOfMemberAsync(string tenantId, Guid customerId, CancellationToken cancellationToken) =>
        await _context.Set<SegmentMemberRow>().AsNoTracking().Where(m => m.TenantId == tenantId && m.CustomerId == customerId)
            .OrderBy(m => m.SegmentId).Select(m => m.SegmentId).ToListAsync(cancellationToken).ConfigureAwait(false);
}
