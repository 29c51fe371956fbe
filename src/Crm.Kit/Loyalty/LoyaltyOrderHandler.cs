using Crm.Kit.Customers;

namespace Crm.Kit.Loyalty;

/// <summary>
/// Earns when an order is recorded and takes back when it is refunded. Runs after the order is committed; if it
/// fails (the process stops, a currency has no rate), calling <see cref="LoyaltyManager.EarnForOrderAsync(Guid, CancellationToken)"/> or
/// <see cref="LoyaltyManager.ReverseForRefundsAsync(Guid, CancellationToken)"/> later catches up, because both are idempotent.
/// </summary>
internal sealed class LoyaltyOrderHandler(LoyaltyManager loyalty) : ICrmEventHandler<OrderRecorded>, ICrmEventHandler<OrderRefunded>
{
    public async ValueTask HandleAsync(OrderRecorded crmEvent, CancellationToken cancellationToken) =>
        await loyalty.EarnForOrderAsync(crmEvent.Order, cancellationToken).ConfigureAwait(false);

    public async ValueTask HandleAsync(OrderRefunded crmEvent, CancellationToken cancellationToken) =>
        await loyalty.ReverseForRefundsAsync(crmEvent.Order, cancellationToken).ConfigureAwait(false);
}
