using Crm.Kit.Orders;

namespace Crm.Kit.Customers;

/// <summary>Derives <see cref="CustomerMetrics"/> from orders, in the reporting currency.</summary>
internal sealed class CustomerMetricsCalculator(ICurrencyConverter converter, CrmKitOptions options)
{
    public async ValueTask<decimal> ToReportingAsync(decimal amount, string currency, DateTimeOffset asOf, string field, CancellationToken cancellationToken)
    {
        var converted = await converter.ConvertAsync(amount, currency, options.ReportingCurrency, asOf, cancellationToken).ConfigureAwait(false);
        return converted ?? throw new CrmValidationException(field, "convertible-currency",
            $"{InputText.Quote(currency)} cannot be converted to the reporting currency {options.ReportingCurrency}: register an ICurrencyConverter that knows the rate, or record orders in {options.ReportingCurrency}");
    }

    /// <summary>Adds one order, already converted to the reporting currency, to existing metrics.</summary>
    public static CustomerMetrics Add(CustomerMetrics metrics, decimal reportingAmount, DateTimeOffset placedAt)
    {
        var count = metrics.OrderCount + 1;
        var total = metrics.TotalSpent + reportingAmount;
        return new CustomerMetrics(
            count,
            total,
            Average(total, count),
            metrics.FirstOrderAt is { } first && first <= placedAt ? first : placedAt,
            metrics.LastOrderAt is { } last && last >= placedAt ? last : placedAt);
    }

    /// <summary>Recomputes metrics from every order of a customer.</summary>
    public async ValueTask<CustomerMetrics> ComputeAsync(IAsyncEnumerable<Order> orders, CancellationToken cancellationToken)
    {
        var metrics = CustomerMetrics.Empty;
        await foreach (var order in orders.WithCancellation(cancellationToken).ConfigureAwait(false))
        {
            if (!order.IsFullyRefunded)
            {
                var amount = await ToReportingAsync(order.NetTotal, order.Currency, order.PlacedAt, "Currency", cancellationToken).ConfigureAwait(false);
                metrics = Add(metrics, amount, order.PlacedAt);
            }
        }

        return metrics;
    }

    private static decimal Average(decimal total, int count) =>
        count == 0 ? 0m : Math.Round(total / count, 2, MidpointRounding.ToEven);
}
