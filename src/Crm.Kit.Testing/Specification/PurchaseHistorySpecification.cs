using Crm.Kit.Orders;
using Microsoft.Extensions.DependencyInjection;
using Xunit;

namespace Crm.Kit.Testing.Specification;

/// <summary>
/// <see cref="IPurchaseHistoryStore"/>: per-customer and per-day purchase aggregates must equal what a plain
/// computation over the orders gives — same currency filter, same window edges, same day cut, refunds netted and
/// fully refunded orders left out — on every adapter.
/// </summary>
public abstract class PurchaseHistorySpecification : CrmSpecification
{
    private static readonly DateTimeOffset Start = new(2025, 1, 1, 0, 0, 0, TimeSpan.Zero);

    /// <summary>Summaries and days agree with a reference computed from the orders themselves.</summary>
    [Fact]
    public virtual async Task Aggregates_equal_a_plain_computation_over_the_orders()
    {
        var host = CreateHost(configure: EuroRate);
        var orders = await SeedAsync(host);
        var window = new PurchaseWindow { Currency = "USD", FirstDay = new DateOnly(2025, 2, 1), LastDay = new DateOnly(2025, 11, 30), DayOffset = TimeSpan.FromHours(-5) };

        var expectedDays = ReferenceDays(orders, window);
        var actualDays = await Store(host).StreamDaysAsync(host.TenantId, window, Cancel).ToListAsync(Cancel);
        var actualSummaries = await Store(host).StreamSummariesAsync(host.TenantId, window, Cancel).ToListAsync(Cancel);

        Assert.Equal(expectedDays.OrderBy(d => d.CustomerId).ThenBy(d => d.Day), actualDays.OrderBy(d => d.CustomerId).ThenBy(d => d.Day));
        AssertGroupedAndOrdered(actualDays);
        var expectedSummaries = expectedDays.GroupBy(d => d.CustomerId).Select(g => new CustomerPurchaseSummary(
            g.Key, g.Min(d => d.Day), g.Max(d => d.Day), g.Count(), g.Sum(d => d.Orders), g.Sum(d => d.Spend), g.OrderBy(d => d.Day).First().Spend));
        Assert.Equal(expectedSummaries.OrderBy(s => s.CustomerId), actualSummaries.OrderBy(s => s.CustomerId));
        Assert.Equal(actualSummaries.Count, actualSummaries.Select(s => s.CustomerId).Distinct().Count());
    }

    /// <summary>An order at 23:30 UTC belongs to the next day at UTC+1 and to its own day at UTC; the window's last day is inclusive.</summary>
    [Fact]
    public virtual async Task Days_are_cut_at_the_window_offset_and_the_last_day_counts()
    {
        var host = CreateHost();
        var customer = await host.Customers.CreateAsync(Faker.Person(), Cancel);
        var late = new DateTimeOffset(2025, 6, 30, 23, 30, 0, TimeSpan.Zero);
        await host.Orders.RecordAsync(Faker.Order(customer.Id, late), Cancel);
        await host.Orders.RecordAsync(Faker.Order(customer.Id, late.AddHours(-20)), Cancel);

        var utc = await Store(host).StreamDaysAsync(host.TenantId, new PurchaseWindow { Currency = "USD", LastDay = new DateOnly(2025, 6, 30) }, Cancel).ToListAsync(Cancel);
        var plusOne = await Store(host).StreamDaysAsync(host.TenantId, new PurchaseWindow { Currency = "USD", LastDay = new DateOnly(2025, 7, 1), DayOffset = TimeSpan.FromHours(1) }, Cancel).ToListAsync(Cancel);
        var endsBefore = await Store(host).StreamDaysAsync(host.TenantId, new PurchaseWindow { Currency = "USD", LastDay = new DateOnly(2025, 6, 30), DayOffset = TimeSpan.FromHours(1) }, Cancel).ToListAsync(Cancel);

        Assert.Equal([(new DateOnly(2025, 6, 30), 2)], utc.Select(d => (d.Day, d.Orders)));
        Assert.Equal([(new DateOnly(2025, 6, 30), 1), (new DateOnly(2025, 7, 1), 1)], plusOne.Select(d => (d.Day, d.Orders)));
        Assert.Equal([(new DateOnly(2025, 6, 30), 1)], endsBefore.Select(d => (d.Day, d.Orders)));
    }

    /// <summary>Another tenant's orders never appear.</summary>
    [Fact]
    public virtual async Task Tenants_see_only_their_own_purchases()
    {
        var mine = CreateHost(configure: EuroRate);
        var theirs = CreateHost(configure: EuroRate);
        await SeedAsync(theirs);
        var window = new PurchaseWindow { Currency = "USD", LastDay = new DateOnly(2026, 1, 1) };

        Assert.Empty(await Store(mine).StreamSummariesAsync(mine.TenantId, window, Cancel).ToListAsync(Cancel));
        Assert.NotEmpty(await Store(theirs).StreamSummariesAsync(theirs.TenantId, window, Cancel).ToListAsync(Cancel));
    }

    /// <summary>An impossible window is rejected by field before anything is read.</summary>
    [Fact]
    public virtual async Task Invalid_windows_are_rejected_by_field()
    {
        var host = CreateHost();
        var badCurrency = new PurchaseWindow { Currency = "usd", LastDay = new DateOnly(2025, 1, 1) };
        var backwards = new PurchaseWindow { Currency = "USD", FirstDay = new DateOnly(2025, 2, 1), LastDay = new DateOnly(2025, 1, 1) };
        var offset = new PurchaseWindow { Currency = "USD", LastDay = new DateOnly(2025, 1, 1), DayOffset = TimeSpan.FromHours(15) };

        foreach (var (window, field) in new[] { (badCurrency, "Currency"), (backwards, "FirstDay"), (offset, "DayOffset") })
        {
            var error = await Assert.ThrowsAsync<CrmValidationException>(async () => await Store(host).StreamSummariesAsync(host.TenantId, window, Cancel).ToListAsync(Cancel));
            Assert.Equal(field, error.Errors[0].Field);
            error = await Assert.ThrowsAsync<CrmValidationException>(async () => await Store(host).StreamDaysAsync(host.TenantId, window, Cancel).ToListAsync(Cancel));
            Assert.Equal(field, error.Errors[0].Field);
        }
    }

    // Orders in euros need a rate for the customer metrics; purchase history itself never converts.
    private static void EuroRate(IServiceCollection services) => services.AddSingleton<ICurrencyConverter>(new FixedEuroRate());

    private static IPurchaseHistoryStore Store(CrmTestHost host) => host.Services.GetRequiredService<IPurchaseHistoryStore>();

    private async Task<List<Order>> SeedAsync(CrmTestHost host)
    {
        var customers = await host.Customers.CreateManyAsync([.. Enumerable.Range(0, 25).Select(_ => Faker.Person())], Cancel);
        var orders = new List<Order>();
        foreach (var customer in customers)
        {
            var count = Faker.Number(0, 6);
            for (var i = 0; i < count; i++)
            {
                // Times spread over a year, many near midnight so that the day cut matters.
                var placed = Start.AddDays(Faker.Number(0, 364)).AddHours(Faker.Number(0, 1) == 0 ? Faker.Number(0, 23) : 23).AddMinutes(Faker.Number(0, 59));
                var currency = Faker.Number(0, 9) == 0 ? "EUR" : "USD";
                var order = await host.Orders.RecordAsync(Faker.Order(customer.Id, placed, currency), Cancel);
                switch (Faker.Number(0, 9))
                {
                    case 0:
                        order = await host.Orders.RefundAsync(order.Id, new RefundRequest { Reference = "all" }, Cancel);
                        break;
                    case 1:
                        order = await host.Orders.RefundAsync(order.Id, new RefundRequest { Reference = "part", Amount = 1.25m }, Cancel);
                        break;
                }

                orders.Add(order);
            }
        }

        return orders;
    }

    private static List<CustomerPurchaseDay> ReferenceDays(IEnumerable<Order> orders, PurchaseWindow window) =>
    [
        .. orders
            .Where(o => o.Currency == window.Currency && !o.IsFullyRefunded)
            .Select(o => (Order: o, Local: o.PlacedAt.ToOffset(window.DayOffset)))
            .Where(x => DateOnly.FromDateTime(x.Local.DateTime) >= (window.FirstDay ?? DateOnly.MinValue) && DateOnly.FromDateTime(x.Local.DateTime) <= window.LastDay)
            .GroupBy(x => (x.Order.CustomerId, Day: DateOnly.FromDateTime(x.Local.DateTime)))
            .Select(g => new CustomerPurchaseDay(g.Key.CustomerId, g.Key.Day, g.Count(), g.Sum(x => x.Order.NetTotal))),
    ];

    private static void AssertGroupedAndOrdered(List<CustomerPurchaseDay> days)
    {
        var finished = new HashSet<Guid>();
        for (var i = 1; i < days.Count; i++)
        {
            if (days[i].CustomerId == days[i - 1].CustomerId)
            {
                Assert.True(days[i].Day > days[i - 1].Day, "Days must ascend within a customer.");
            }
            else
            {
                Assert.True(finished.Add(days[i - 1].CustomerId), "A customer's days must be contiguous.");
                Assert.DoesNotContain(days[i].CustomerId, finished);
            }
        }
    }

    private sealed class FixedEuroRate : ICurrencyConverter
    {
        public ValueTask<decimal?> ConvertAsync(decimal amount, string fromCurrency, string toCurrency, DateTimeOffset asOf, CancellationToken cancellationToken) =>
            ValueTask.FromResult<decimal?>(fromCurrency == toCurrency ? amount : fromCurrency == "EUR" && toCurrency == "USD" ? amount * 1.1m : null);
    }
}
