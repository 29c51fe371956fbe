using Crm.Kit.Customers;
using Crm.Kit.Orders;
using Microsoft.Extensions.DependencyInjection;
using Xunit;

namespace Crm.Kit.Testing.Specification;

/// <summary>Specification tests for orders: idempotent recording, metrics, refunds, concurrency and tenant isolation.</summary>
public abstract class OrderSpecification : CrmSpecification
{
    private static OrderDraft Draft(Guid customerId, string reference, params (string Sku, int Quantity, decimal Price)[] lines) => new()
    {
        CustomerId = customerId,
        Reference = reference,
        Currency = "USD",
        Channel = "web",
        Lines = [.. lines.Select(l => new OrderLine(l.Sku, "Product " + l.Sku, "Books", l.Quantity, l.Price))],
    };

    /// <summary>The first order updates metrics and makes a lead a customer.</summary>
    [Fact]
    public virtual async Task Recording_orders_updates_metrics_and_lifecycle()
    {
        var host = CreateHost();
        var customer = await host.Customers.CreateAsync(Faker.Person() with { InitialStage = LifecycleStage.Lead }, Cancel);
        var firstAt = Clock.GetUtcNow();
        var first = await host.Orders.RecordAsync(Draft(customer.Id, "o-1", ("A", 2, 10.25m), ("B", 1, 5m)), Cancel);
        Clock.Advance(TimeSpan.FromDays(10));
        await host.Orders.RecordAsync(Draft(customer.Id, "o-2", ("C", 1, 100m)), Cancel);

        Assert.Equal(25.50m, first.Total);
        var found = await host.Customers.GetByIdAsync(customer.Id, Cancel);
        Assert.Equal(new CustomerMetrics(2, 125.50m, 62.75m, firstAt, Clock.GetUtcNow()), found.Metrics);
        Assert.Equal(LifecycleStage.Customer, found.LifecycleStage);
        Assert.Equal("first-order", found.LifecycleHistory[^1].Reason);
        Assert.Equal(2, host.Events.Of<OrderRecorded>().Count);
        Assert.Single(host.Events.Of<LifecycleStageChanged>());
        Assert.Equal(first.Id, (await host.Orders.FindByReferenceAsync("o-1", Cancel))?.Id);
    }

    /// <summary>Recording the same reference again returns the original and changes nothing.</summary>
    [Fact]
    public virtual async Task Recording_is_idempotent_on_the_order_reference()
    {
        var host = CreateHost();
        var customer = await host.Customers.CreateAsync(Faker.Person(), Cancel);
        var original = await host.Orders.RecordAsync(Draft(customer.Id, "same", ("A", 1, 20m)), Cancel);
        var repeat = await host.Orders.RecordAsync(Draft(customer.Id, "same", ("A", 5, 99m)), Cancel);

        Assert.Equal(original.Id, repeat.Id);
        Assert.Equal(20m, repeat.Total);
        Assert.Equal(1, (await host.Customers.GetByIdAsync(customer.Id, Cancel)).Metrics.OrderCount);
        Assert.Single(host.Events.Of<OrderRecorded>());
    }

    /// <summary>Racing repeats of one reference record exactly one order.</summary>
    [Fact]
    public virtual async Task Racing_repeats_of_a_reference_record_one_order()
    {
        var host = CreateHost();
        var customer = await host.Customers.CreateAsync(Faker.Person(), Cancel);
        var results = await Task.WhenAll(Enumerable.Range(0, 8).Select(async _ =>
        {
            await using var scope = host.CreateScopeAsync();
            return await scope.ServiceProvider.GetRequiredService<OrderManager>().RecordAsync(Draft(customer.Id, "race", ("A", 1, 7m)), Cancel);
        }));

        Assert.Single(results.Select(o => o.Id).Distinct());
        var metrics = (await host.Customers.GetByIdAsync(customer.Id, Cancel)).Metrics;
        Assert.Equal((1, 7m), (metrics.OrderCount, metrics.TotalSpent));
    }

    /// <summary>Concurrent orders for one customer never lose a metric update.</summary>
    [Fact]
    public virtual async Task Concurrent_orders_for_one_customer_keep_exact_metrics()
    {
        var host = CreateHost();
        var customer = await host.Customers.CreateAsync(Faker.Person(), Cancel);
        await Task.WhenAll(Enumerable.Range(1, 12).Select(async i =>
        {
            await using var scope = host.CreateScopeAsync();
            await scope.ServiceProvider.GetRequiredService<OrderManager>().RecordAsync(Draft(customer.Id, "par-" + i, ("A", i, 1.01m)), Cancel);
        }));

        var metrics = (await host.Customers.GetByIdAsync(customer.Id, Cancel)).Metrics;
        Assert.Equal(12, metrics.OrderCount);
        Assert.Equal(Enumerable.Range(1, 12).Sum(i => i * 1.01m), metrics.TotalSpent);
    }

    /// <summary>Refunds by line and by amount reduce metrics; a full refund removes the order from the count.</summary>
    [Fact]
    public virtual async Task Refunds_adjust_metrics_and_cannot_exceed_what_was_paid()
    {
        var host = CreateHost();
        var customer = await host.Customers.CreateAsync(Faker.Person(), Cancel);
        var order = await host.Orders.RecordAsync(Draft(customer.Id, "r-1", ("A", 3, 10m), ("B", 1, 4.5m)), Cancel);
        var other = await host.Orders.RecordAsync(Draft(customer.Id, "r-2", ("C", 1, 50m)), Cancel);

        var afterLine = await host.Orders.RefundAsync(order.Id, new RefundRequest { Reference = "rf-1", Lines = [new RefundedLine("A", 2)] }, Cancel);
        Assert.Equal(14.5m, afterLine.NetTotal);
        var repeat = await host.Orders.RefundAsync(order.Id, new RefundRequest { Reference = "rf-1", Lines = [new RefundedLine("A", 2)] }, Cancel);
        Assert.Equal(afterLine.Version, repeat.Version);

        var tooMany = await Assert.ThrowsAsync<CrmValidationException>(() => host.Orders.RefundAsync(order.Id, new RefundRequest { Reference = "rf-2", Lines = [new RefundedLine("A", 2)] }, Cancel));
        Assert.Contains(tooMany.Errors, e => e is { Field: "Lines[0].Quantity", Rule: "refundable-quantity" });
        var unknown = await Assert.ThrowsAsync<CrmValidationException>(() => host.Orders.RefundAsync(order.Id, new RefundRequest { Reference = "rf-3", Lines = [new RefundedLine("Z", 1)] }, Cancel));
        Assert.Contains(unknown.Errors, e => e is { Field: "Lines[0].Sku", Rule: "on-order" });
        await Assert.ThrowsAsync<CrmValidationException>(() => host.Orders.RefundAsync(order.Id, new RefundRequest { Reference = "rf-4", Amount = 14.51m }, Cancel));

        await host.Orders.RefundAsync(order.Id, new RefundRequest { Reference = "rf-5", Amount = 4.5m }, Cancel);
        Assert.Equal((2, 60m), Metrics(await host.Customers.GetByIdAsync(customer.Id, Cancel)));

        var full = await host.Orders.RefundAsync(other.Id, new RefundRequest { Reference = "rf-6" }, Cancel);
        Assert.True(full.IsFullyRefunded);
        Assert.Equal((1, 10m), Metrics(await host.Customers.GetByIdAsync(customer.Id, Cancel)));
        Assert.Equal(3, host.Events.Of<OrderRefunded>().Count);
    }

    /// <summary>An invalid order is rejected with every problem named, and nothing is written.</summary>
    [Fact]
    public virtual async Task Invalid_order_is_rejected_before_anything_is_written()
    {
        var host = CreateHost();
        var customer = await host.Customers.CreateAsync(Faker.Person(), Cancel);
        var error = await Assert.ThrowsAsync<CrmValidationException>(() => host.Orders.RecordAsync(new OrderDraft
        {
            CustomerId = customer.Id,
            Reference = "bad",
            Currency = "usd",
            Lines = [new OrderLine("A", "A", null, 0, -1m), new OrderLine("A", "", null, 1, 1m)],
        }, Cancel));

        Assert.Contains(error.Errors, e => e is { Field: "Currency", Rule: "iso-4217" });
        Assert.Contains(error.Errors, e => e is { Field: "Lines[0].Quantity", Rule: "range" });
        Assert.Contains(error.Errors, e => e is { Field: "Lines[0].UnitPrice", Rule: "range" });
        Assert.Contains(error.Errors, e => e is { Field: "Lines[1].ProductName", Rule: "required" });
        Assert.Contains(error.Errors, e => e is { Field: "Lines[1].Sku", Rule: "unique-sku" });
        var wrongCurrency = await Assert.ThrowsAsync<CrmValidationException>(() => host.Orders.RecordAsync(Draft(customer.Id, "eur", ("A", 1, 1m)) with { Currency = "EUR" }, Cancel));
        Assert.Contains(wrongCurrency.Errors, e => e is { Field: "Currency", Rule: "convertible-currency" });
        var noCustomer = await Assert.ThrowsAsync<CrmValidationException>(() => host.Orders.RecordAsync(Draft(Guid.CreateVersion7(), "ghost", ("A", 1, 1m)), Cancel));
        Assert.Contains(noCustomer.Errors, e => e is { Field: "CustomerId", Rule: "customer-exists" });

        Assert.Null(await host.Orders.FindByReferenceAsync("bad", Cancel));
        Assert.Null(await host.Orders.FindByReferenceAsync("eur", Cancel));
        Assert.Equal(CustomerMetrics.Empty, (await host.Customers.GetByIdAsync(customer.Id, Cancel)).Metrics);
        Assert.Empty(host.Events.Of<OrderRecorded>());
    }

    /// <summary>A customer's orders page newest first without gaps or repeats.</summary>
    [Fact]
    public virtual async Task Orders_page_newest_first()
    {
        var host = CreateHost();
        var customer = await host.Customers.CreateAsync(Faker.Person(), Cancel);
        var expected = new List<Guid>();
        for (var i = 0; i < 7; i++)
        {
            expected.Add((await host.Orders.RecordAsync(Faker.Order(customer.Id, Clock.GetUtcNow().AddDays(-i)), Cancel)).Id);
        }

        var seen = new List<Guid>();
        string? token = null;
        do
        {
            var page = await host.Orders.ListForCustomerAsync(customer.Id, token, 3, Cancel);
            seen.AddRange(page.Items.Select(o => o.Id));
            token = page.ContinuationToken;
        }
        while (token is not null);

        Assert.Equal(expected, seen);
    }

    /// <summary>Another tenant can neither see nor refund an order, nor record one for a foreign customer.</summary>
    [Fact]
    public virtual async Task Tenants_cannot_see_or_touch_each_others_orders()
    {
        var tenantA = CreateHost();
        var tenantB = CreateHost();
        var customer = await tenantA.Customers.CreateAsync(Faker.Person(), Cancel);
        var order = await tenantA.Orders.RecordAsync(Draft(customer.Id, "iso-1", ("A", 1, 10m)), Cancel);

        Assert.Null(await tenantB.Orders.FindByIdAsync(order.Id, Cancel));
        Assert.Null(await tenantB.Orders.FindByReferenceAsync("iso-1", Cancel));
        Assert.Empty((await tenantB.Orders.ListForCustomerAsync(customer.Id, cancellationToken: Cancel)).Items);
        await Assert.ThrowsAsync<EntityNotFoundException>(() => tenantB.Orders.RefundAsync(order.Id, new RefundRequest { Reference = "steal" }, Cancel));
        await Assert.ThrowsAsync<CrmValidationException>(() => tenantB.Orders.RecordAsync(Draft(customer.Id, "iso-2", ("A", 1, 10m)), Cancel));

        // The same reference is free in another tenant.
        var customerB = await tenantB.Customers.CreateAsync(Faker.Person(), Cancel);
        Assert.NotEqual(order.Id, (await tenantB.Orders.RecordAsync(Draft(customerB.Id, "iso-1", ("A", 1, 10m)), Cancel)).Id);
        Assert.Equal(10m, (await tenantA.Orders.FindByIdAsync(order.Id, Cancel))?.NetTotal);
    }

    private static (int Count, decimal Total) Metrics(Customer customer) => (customer.Metrics.OrderCount, customer.Metrics.TotalSpent);
}
