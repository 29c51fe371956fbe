namespace Crm.Kit.Orders;

/// <summary>
/// Per-customer purchase aggregates, computed where the orders are: a SQL adapter aggregates in the database and
/// streams one row per customer (or per customer and day), never the orders themselves.
/// </summary>
public interface IPurchaseHistoryStore
{
    /// <summary>One summary per customer with a counted order, grouped by customer, in the store's customer order.</summary>
    IAsyncEnumerable<CustomerPurchaseSummary> StreamSummariesAsync(string tenantId, PurchaseWindow window, CancellationToken cancellationToken);

    /// <summary>One row per customer and purchase day, grouped by customer (in the store's customer order), days ascending within a customer.</summary>
    IAsyncEnumerable<CustomerPurchaseDay> StreamDaysAsync(string tenantId, PurchaseWindow window, CancellationToken cancellationToken);
}
