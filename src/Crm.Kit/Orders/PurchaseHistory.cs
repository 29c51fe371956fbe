using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace Crm.Kit.Orders;

/// <summary>
/// Which orders count as purchases, and how time is cut into days, for per-customer purchase aggregates
/// (RFM, lifetime models, cohorts, spend over a window).
/// </summary>
/// <remarks>
/// An order counts when it is in <see cref="Currency"/>, was placed on a day from <see cref="FirstDay"/> to
/// <see cref="LastDay"/> (both inclusive) and is not fully refunded; its value is its net total (total less refunds). An order worth
/// nothing (a free sample, a fully discounted order) still counts as a purchase.
/// Days are calendar days at the fixed offset <see cref="DayOffset"/> from UTC. A fixed offset rather than a time
/// zone keeps the day arithmetic identical inside every database (one integer division), at the cost of ignoring
/// daylight saving: an order in the first hour of a summer day may count on the previous day.
/// </remarks>
public sealed record PurchaseWindow
{
    /// <summary>ISO 4217 currency; orders in other currencies are left out (convert them in the host if you need one figure).</summary>
    public required string Currency { get; init; }

    /// <summary>The first day counted, or <see langword="null"/> for all history.</summary>
    public DateOnly? FirstDay { get; init; }

    /// <summary>The last day counted: the end of the observation period.</summary>
    public required DateOnly LastDay { get; init; }

    /// <summary>The offset from UTC at which days start, between −14 and +14 hours in whole minutes; UTC days by default.</summary>
    public TimeSpan DayOffset { get; init; }

    /// <summary>The first UTC tick counted.</summary>
    public long StartUtcTicks => FirstDay is { } day ? day.DayNumber * TimeSpan.TicksPerDay - DayOffset.Ticks : long.MinValue;

    /// <summary>The first UTC tick after the window.</summary>
    public long EndUtcTicks => (LastDay.DayNumber + 1L) * TimeSpan.TicksPerDay - DayOffset.Ticks;

    /// <summary>The day number (days since 0001-01-01, as <see cref="DateOnly.DayNumber"/>) of a UTC instant, in this window's days.</summary>
    public int DayNumberOf(long utcTicks) => (int)((utcTicks + DayOffset.Ticks) / TimeSpan.TicksPerDay);

    /// <summary>Whether <paramref name="order"/> counts as a purchase in this window (see the remarks).</summary>
    public bool Counts(Order order)
    {
        ArgumentNullException.ThrowIfNull(order);
        var placed = order.PlacedAt.UtcTicks;
        return placed >= StartUtcTicks && placed < EndUtcTicks && !order.IsFullyRefunded && string.Equals(order.Currency, Currency, StringComparison.Ordinal);
    }

    /// <summary>Whether <paramref name="offset"/> is a valid <see cref="DayOffset"/>: whole minutes between −14 and +14 hours.</summary>
    public static bool IsValidDayOffset(TimeSpan offset) =>
        offset >= TimeSpan.FromHours(-14) && offset <= TimeSpan.FromHours(14) && offset.Ticks % TimeSpan.TicksPerMinute == 0;

    /// <summary>Throws <see cref="CrmValidationException"/> naming every problem.</summary>
    public void Validate()
    {
        var errors = new ValidationErrorCollector();
        if (!CurrencyCodes.IsValid(Currency))
        {
            errors.Add(nameof(Currency), "iso-4217", $"{InputText.Quote(Currency)} is not a three-letter ISO 4217 currency code.");
        }

        if (FirstDay is { } first && first > LastDay)
        {
            errors.Add(nameof(FirstDay), "order", $"The first day {first:yyyy-MM-dd} is after the last day {LastDay:yyyy-MM-dd}.");
        }

        if (!IsValidDayOffset(DayOffset))
        {
            errors.Add(nameof(DayOffset), "offset", $"The day offset must be whole minutes between −14 and +14 hours; it is {DayOffset}.");
        }

        if (errors.HasErrors)
        {
            throw new CrmValidationException(errors.Errors);
        }
    }
}

/// <summary>One customer's purchases in a <see cref="PurchaseWindow"/>.</summary>
/// <param name="CustomerId">The customer.</param>
/// <param name="FirstDay">The day of the first counted order.</param>
/// <param name="LastDay">The day of the last counted order.</param>
/// <param name="PurchaseDays">Distinct days with a counted order.</param>
/// <param name="Orders">Counted orders.</param>
/// <param name="Spend">The net total of the counted orders.</param>
/// <param name="FirstDaySpend">The net total of the counted orders on <paramref name="FirstDay"/>.</param>
public sealed record CustomerPurchaseSummary(Guid CustomerId, DateOnly FirstDay, DateOnly LastDay, int PurchaseDays, int Orders, decimal Spend, decimal FirstDaySpend);

/// <summary>One customer's purchases on one day of a <see cref="PurchaseWindow"/>.</summary>
/// <param name="CustomerId">The customer.</param>
/// <param name="Day">The day.</param>
/// <param name="Orders">Counted orders that day.</param>
/// <param name="Spend">Their net total.</param>
public sealed record CustomerPurchaseDay(Guid CustomerId, DateOnly Day, int Orders, decimal Spend);

/// <summary>
/// <see cref="IPurchaseHistoryStore"/> for any <see cref="IOrderStore"/>: streams the tenant's orders and aggregates as
/// they pass: one accumulator per customer for summaries, one running total per customer-day for days. The
/// in-memory default; a database adapter should
/// aggregate in the database instead.
/// </summary>
public sealed class OrderScanPurchaseHistoryStore : IPurchaseHistoryStore
{
    private readonly IOrderStore _orders;

    /// <summary>Creates the store over an order store.</summary>
    public OrderScanPurchaseHistoryStore(IOrderStore orders) => _orders = orders ?? throw new ArgumentNullException(nameof(orders));

    /// <inheritdoc />
    public async IAsyncEnumerable<CustomerPurchaseSummary> StreamSummariesAsync(string tenantId, PurchaseWindow window, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        // One accumulator per customer; no global sort, since summaries only need grouping.
        var customers = new Dictionary<Guid, SummaryAccumulator>();
        await foreach (var (order, day) in CountedAsync(tenantId, window, cancellationToken).ConfigureAwait(false))
        {
            ref var accumulator = ref CollectionsMarshal.GetValueRefOrAddDefault(customers, order.CustomerId, out var exists);
            accumulator ??= new SummaryAccumulator(day);
            accumulator.Add(day, order.NetTotal);
        }

        foreach (var (customer, a) in customers)
        {
            yield return new CustomerPurchaseSummary(
                customer, DateOnly.FromDayNumber(a.FirstDay), DateOnly.FromDayNumber(a.LastDay), a.DistinctDays(), a.Orders, a.Spend, a.FirstDaySpend);
        }
    }

    /// <inheritdoc />
    public async IAsyncEnumerable<CustomerPurchaseDay> StreamDaysAsync(string tenantId, PurchaseWindow window, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        var byCustomerDay = new Dictionary<(Guid Customer, int Day), (int Orders, decimal Spend)>();
        await foreach (var (order, day) in CountedAsync(tenantId, window, cancellationToken).ConfigureAwait(false))
        {
            var key = (order.CustomerId, day);
            var (count, total) = byCustomerDay.GetValueOrDefault(key);
            byCustomerDay[key] = (count + 1, total + order.NetTotal);
        }

        foreach (var (key, value) in byCustomerDay.OrderBy(e => e.Key.Customer).ThenBy(e => e.Key.Day))
        {
            yield return new CustomerPurchaseDay(key.Customer, DateOnly.FromDayNumber(key.Day), value.Orders, value.Spend);
        }
    }

    private async IAsyncEnumerable<(Order Order, int Day)> CountedAsync(string tenantId, PurchaseWindow window, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(window);
        window.Validate();
        await foreach (var order in _orders.StreamAsync(tenantId, cancellationToken).ConfigureAwait(false))
        {
            if (window.Counts(order))
            {
                yield return (order, window.DayNumberOf(order.PlacedAt.UtcTicks));
            }
        }
    }

    private sealed class SummaryAccumulator(int day)
    {
        private readonly List<int> _days = [];

        public int FirstDay { get; private set; } = day;

        public int LastDay { get; private set; } = day;

        public int Orders { get; private set; }

        public decimal Spend { get; private set; }

        public decimal FirstDaySpend { get; private set; }

        public void Add(int day, decimal net)
        {
            if (day < FirstDay)
            {
                FirstDay = day;
                FirstDaySpend = 0;
            }

            if (day == FirstDay)
            {
                FirstDaySpend += net;
            }

            LastDay = Math.Max(LastDay, day);
            Orders++;
            Spend += net;
            _days.Add(day);
        }

        public int DistinctDays()
        {
            _days.Sort();
            var distinct = 0;
            for (var i = 0; i < _days.Count; i++)
            {
                if (i == 0 || _days[i] != _days[i - 1])
                {
                    distinct++;
                }
            }

            return distinct;
        }
    }
}
