using Crm.Kit.Customers;
using Crm.Kit.Orders;
using CsCheck;
using Microsoft.Extensions.DependencyInjection;

namespace Crm.Kit.Tests.Orders;

/// <summary>
/// Whatever sequence of orders, repeats and refunds a customer sees, the metrics Crm.Kit keeps equal what the
/// orders themselves say, to the cent.
/// </summary>
public sealed class MetricsPropertyTests
{
    private sealed record Step(int OrderIndex, int Cents, int Quantity, bool Refund, bool RefundFull);

    private static readonly Gen<Step> StepGen =
        Gen.Select(Gen.Int[0, 5], Gen.Int[0, 100_000], Gen.Int[1, 5], Gen.Bool, Gen.Bool)
            .Select((i, c, q, r, f) => new Step(i, c, q, r, f));

    [Fact]
    public void Metrics_always_equal_the_orders()
    {
        StepGen.Array[1, 25].Sample(steps => RunAsync(steps).GetAwaiter().GetResult(), iter: 60);
    }

    private static async Task RunAsync(Step[] steps)
    {
        var services = new ServiceCollection();
        services.AddCrmKit();
        await using var provider = services.BuildServiceProvider();
        await using var scope = provider.CreateAsyncScope();
        var customers = scope.ServiceProvider.GetRequiredService<CustomerManager>();
        var orders = scope.ServiceProvider.GetRequiredService<OrderManager>();
        var customer = await customers.CreateAsync(new CustomerDraft { FirstName = "Prop", LastName = "Erty" });

        var refundNumber = 0;
        foreach (var step in steps)
        {
            var reference = "o-" + step.OrderIndex;
            var existing = await orders.FindByReferenceAsync(reference);
            if (step.Refund && existing is not null)
            {
                var request = step.RefundFull
                    ? new RefundRequest { Reference = "r-" + refundNumber++ }
                    : new RefundRequest { Reference = "r-" + refundNumber++, Amount = Math.Min(existing.NetTotal, step.Cents / 100m) };
                if (existing.NetTotal > 0 && request.Amount is null or > 0)
                {
                    await orders.RefundAsync(existing.Id, request);
                }

                continue;
            }

            // Repeating a reference is a no-op by design; the property must hold either way.
            await orders.RecordAsync(new OrderDraft
            {
                CustomerId = customer.Id,
                Reference = reference,
                Currency = "USD",
                Lines = [new OrderLine("SKU", "Thing", null, step.Quantity, step.Cents / 100m)],
            });
        }

        var all = new List<Order>();
        for (var i = 0; i <= 5; i++)
        {
            if (await orders.FindByReferenceAsync("o-" + i) is { } order)
            {
                all.Add(order);
            }
        }

        var counted = all.Where(o => !o.IsFullyRefunded).ToList();
        var metrics = (await customers.GetByIdAsync(customer.Id)).Metrics;
        Assert.Equal(counted.Count, metrics.OrderCount);
        Assert.Equal(counted.Sum(o => o.NetTotal), metrics.TotalSpent);
        Assert.Equal(counted.Count == 0 ? 0m : Math.Round(counted.Sum(o => o.NetTotal) / counted.Count, 2, MidpointRounding.ToEven), metrics.AverageOrderValue);
        Assert.All(all, o => Assert.InRange(o.NetTotal, 0m, o.Total));
    }
}
