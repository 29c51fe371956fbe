using System.Runtime.CompilerServices;
using Crm.Kit.Orders;
using Microsoft.EntityFrameworkCore;

namespace Crm.Kit.EntityFrameworkCore;

/// <summary>
/// Purchase aggregates computed by the database: orders are grouped per customer and day (day = (UTC ticks + offset)
/// integer-divided by ticks per day, which every SQL engine evaluates the same way), then per customer, and only the
/// aggregates cross the wire.
/// </summary>
/// <typeparam name="TContext">The host's context.</typeparam>
public sealed class EfPurchaseHistoryStore<TContext> : IPurchaseHistoryStore
    where TContext : DbContext
{
    private readonly TContext _context;

    /// <summary>Creates the store over the host's context.</summary>
    public EfPurchaseHistoryStore(TContext context) => _context = ContextCheck.EnsureModel(context);

    /// <inheritdoc />
    public async IAsyncEnumerable<CustomerPurchaseSummary> StreamSummariesAsync(string tenantId, PurchaseWindow window, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        var days = Days(tenantId, window);
        var perCustomer = days.GroupBy(d => d.CustomerId).Select(g => new
        {
            CustomerId = g.Key,
            FirstDay = g.Min(d => d.Day),
            LastDay = g.Max(d => d.Day),
            PurchaseDays = g.Count(),
            Orders = g.Sum(d => d.Orders),
            Spend = g.Sum(d => d.Spend),
        });
        var query =
            from s in perCustomer
            join first in days on new { s.CustomerId, Day = s.FirstDay } equals new { first.CustomerId, first.Day }
            orderby s.CustomerId
            select new { s.CustomerId, s.FirstDay, s.LastDay, s.PurchaseDays, s.Orders, s.Spend, FirstDaySpend = first.Spend };
        await foreach (var row in query.AsAsyncEnumerable().WithCancellation(cancellationToken).ConfigureAwait(false))
        {
            yield return new CustomerPurchaseSummary(
                row.CustomerId, DateOnly.FromDayNumber((int)row.FirstDay), DateOnly.FromDayNumber((int)row.LastDay), row.PurchaseDays, row.Orders, row.Spend, row.FirstDaySpend);
        }
    }

    /// <inheritdoc />
    public async IAsyncEnumerable<CustomerPurchaseDay> StreamDaysAsync(string tenantId, PurchaseWindow window, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        var query = Days(tenantId, window).OrderBy(d => d.CustomerId).ThenBy(d => d.Day);
        await foreach (var row in query.AsAsyncEnumerable().WithCancellation(cancellationToken).ConfigureAwait(false))
        {
            yield return new CustomerPurchaseDay(row.CustomerId, DateOnly.FromDayNumber((int)row.Day), row.Orders, row.Spend);
        }
    }

    private IQueryable<DayRow> Days(string tenantId, PurchaseWindow window)
    {
        ArgumentNullException.ThrowIfNull(window);
        window.Validate();
        long start = window.StartUtcTicks, end = window.EndUtcTicks, offset = window.DayOffset.Ticks;
        var currency = window.Currency;
        return _context.Set<OrderRow>().AsNoTracking()
            .Where(r => r.TenantId == tenantId && r.Currency == currency && r.PlacedAt >= start && r.PlacedAt < end && (r.RefundedTotal == 0 || r.Total > r.RefundedTotal))
            .GroupBy(r => new { r.CustomerId, Day = (r.PlacedAt + offset) / TimeSpan.TicksPerDay })
            .Select(g => new DayRow { CustomerId = g.Key.CustomerId, Day = g.Key.Day, Orders = g.Count(), Spend = g.Sum(r => r.Total - r.RefundedTotal) });
    }

    private sealed class DayRow
    {
        public Guid CustomerId { get; init; }

        public long Day { get; init; }

        public int Orders { get; init; }

        public decimal Spend { get; init; }
    }
}
