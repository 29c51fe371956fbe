using System.Runtime.CompilerServices;
using Crm.Kit.Orders;
using Microsoft.EntityFrameworkCore;

namespace Crm.Kit.EntityFrameworkCore;

/// <summary>The EF Core <see cref="IOrderStore"/>.</summary>
/// <typeparam name="TContext">The host's context.</typeparam>
public sealed class EfOrderStore<TContext> : IOrderStore
    where TContext : DbContext
{
    private readonly TContext _context;

    /// <summary>Creates the store over the host's context.</summary>
    public EfOrderStore(TContext context) => _context = ContextCheck.EnsureModel(context);

    private IQueryable<OrderRow> Rows(string tenantId) => _context.Set<OrderRow>().AsNoTracking().Where(r => r.TenantId == tenantId);

    /// <inheritdoc />
    public async ValueTask<Order?> FindByIdAsync(string tenantId, Guid id, CancellationToken cancellationToken) =>
        (await Rows(tenantId).FirstOrDefaultAsync(r => r.Id == id, cancellationToken).ConfigureAwait(false))?.ToOrder();

    /// <inheritdoc />
    public async ValueTask<Order?> FindByReferenceAsync(string tenantId, string reference, CancellationToken cancellationToken) =>
        (await Rows(tenantId).FirstOrDefaultAsync(r => r.Reference == reference, cancellationToken).ConfigureAwait(false))?.ToOrder();

    /// <inheritdoc />
    public async ValueTask<IReadOnlyList<Order>> ListByCustomerAsync(string tenantId, Guid customerId, KeysetPosition? before, int limit, CancellationToken cancellationToken)
    {
        var rows = await NewestFirst.PageAsync(Rows(tenantId).Where(r => r.CustomerId == customerId), r => r.PlacedAt, r => r.Id, before, limit, cancellationToken).ConfigureAwait(false);
        return rows.ConvertAll(r => r.ToOrder());
    }

    /// <inheritdoc />
    public async IAsyncEnumerable<Order> StreamByCustomerAsync(string tenantId, Guid customerId, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        var rows = await Rows(tenantId).Where(r => r.CustomerId == customerId).OrderBy(r => r.PlacedAt).ThenBy(r => r.Id)
            .ToListAsync(cancellationToken).ConfigureAwait(false);
        foreach (var row in rows)
        {
            yield return row.ToOrder();
        }
    }

    /// <inheritdoc />
    public IAsyncEnumerable<Order> StreamAsync(string tenantId, CancellationToken cancellationToken) =>
        KeysetStream.ByIdAsync(
            async (after, limit, ct) =>
            {
                var query = Rows(tenantId);
                if (after is { } a)
                {
                    query = query.Where(r => r.Id.CompareTo(a) > 0);
                }

                var rows = await query.OrderBy(r => r.Id).Take(limit).ToListAsync(ct).ConfigureAwait(false);
                return (IReadOnlyList<Order>)rows.ConvertAll(r => r.ToOrder());
            },
            o => o.Id,
            cancellationToken);

    /// <inheritdoc />
    public async ValueTask CreateAsync(Order order, CancellationToken cancellationToken)
    {
        _context.Add(OrderRow.From(order));
        try
        {
            await StoreWrites.SaveAsync(_context, nameof(Order), order.Id, 0, cancellationToken).ConfigureAwait(false);
        }
        catch (DbUpdateException ex) when (UniqueViolation.Is(ex))
        {
            throw new DuplicateValueException(nameof(Order.Reference), order.Reference, ex);
        }
    }

    /// <inheritdoc />
    public async ValueTask UpdateAsync(Order order, long expectedVersion, CancellationToken cancellationToken)
    {
        StoreWrites.AttachUpdate(_context, OrderRow.From(order), expectedVersion);
        await StoreWrites.SaveUpdateAsync(_context, nameof(Order), order.Id, expectedVersion, () => Rows(order.TenantId).AnyAsync(r => r.Id == order.Id, cancellationToken), cancellationToken).ConfigureAwait(false);
    }

    /// <inheritdoc />
    public async ValueTask<int> ReassignCustomerAsync(string tenantId, Guid fromCustomerId, Guid toCustomerId, CancellationToken cancellationToken) =>
        await _context.Set<OrderRow>().Where(r => r.TenantId == tenantId && r.CustomerId == fromCustomerId)
            .ExecuteUpdateAsync(s => s.SetProperty(r => r.CustomerId, toCustomerId).SetProperty(r => r.Version, r => r.Version + 1), cancellationToken)
            .ConfigureAwait(false);
}
