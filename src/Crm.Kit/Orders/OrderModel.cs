namespace Crm.Kit.Orders;

/// <summary>One line of an order.</summary>
/// <param name="Sku">The product's stock-keeping unit.</param>
/// <param name="ProductName">The product's name.</param>
/// <param name="Category">The product category, if known.</param>
/// <param name="Quantity">How many were bought; at least 1.</param>
/// <param name="UnitPrice">The price of one, in the order's currency; not negative.</param>
public sealed record OrderLine(string Sku, string ProductName, string? Category, int Quantity, decimal UnitPrice)
{
    /// <summary><see cref="Quantity"/> × <see cref="UnitPrice"/>.</summary>
    public decimal LineTotal => Quantity * UnitPrice;
}

/// <summary>A quantity of one SKU given back.</summary>
/// <param name="Sku">The SKU, as on the order line.</param>
/// <param name="Quantity">How many; at least 1.</param>
public sealed record RefundedLine(string Sku, int Quantity);

/// <summary>A refund applied to an order.</summary>
/// <param name="Reference">The host's refund reference, unique per order; repeating it changes nothing.</param>
/// <param name="Amount">The amount refunded, in the order's currency.</param>
/// <param name="RefundedAt">When.</param>
/// <param name="Reason">Why, if given.</param>
/// <param name="Lines">The lines given back, when the refund was by line; empty for an amount refund.</param>
public sealed record OrderRefund(string Reference, decimal Amount, DateTimeOffset RefundedAt, string? Reason, IReadOnlyList<RefundedLine> Lines);

/// <summary>A purchase by a customer. Amounts are exact decimals in <see cref="Currency"/>.</summary>
public sealed record Order
{
    /// <summary>The id.</summary>
    public required Guid Id { get; init; }

    /// <summary>The owning tenant.</summary>
    public required string TenantId { get; init; }

    /// <summary>The optimistic-concurrency version.</summary>
    public long Version { get; init; }

    /// <summary>The customer who bought.</summary>
    public Guid CustomerId { get; init; }

    /// <summary>The host's order reference, unique per tenant; recording the same reference twice records one order.</summary>
    public required string Reference { get; init; }

    /// <summary>ISO 4217 currency of every amount on the order.</summary>
    public required string Currency { get; init; }

    /// <summary>Where the order was placed, for example <c>web</c>, <c>store</c> or <c>phone</c>.</summary>
    public string? Channel { get; init; }

    /// <summary>When the order was placed.</summary>
    public DateTimeOffset PlacedAt { get; init; }

    /// <summary>The lines.</summary>
    public IReadOnlyList<OrderLine> Lines { get; init; } = [];

    /// <summary>Refunds applied, oldest first.</summary>
    public IReadOnlyList<OrderRefund> Refunds { get; init; } = [];

    /// <summary>When the order was recorded in Crm.Kit.</summary>
    public DateTimeOffset CreatedAt { get; init; }

    /// <summary>The sum of the line totals.</summary>
    public decimal Total => Lines.Sum(l => l.LineTotal);

    /// <summary>The sum of the refunds.</summary>
    public decimal RefundedTotal => Refunds.Sum(r => r.Amount);

    /// <summary><see cref="Total"/> less <see cref="RefundedTotal"/>.</summary>
    public decimal NetTotal => Total - RefundedTotal;

    /// <summary>Whether everything paid was refunded.</summary>
    public bool IsFullyRefunded => Refunds.Count > 0 && NetTotal == 0m;
}

/// <summary>An order to record.</summary>
public sealed record OrderDraft
{
    /// <summary>The customer who bought.</summary>
    public Guid CustomerId { get; init; }

    /// <summary>The host's order reference (idempotency key), unique per tenant.</summary>
    public required string Reference { get; init; }

    /// <summary>ISO 4217 currency.</summary>
    public required string Currency { get; init; }

    /// <summary>Where the order was placed.</summary>
    public string? Channel { get; init; }

    /// <summary>When the order was placed; defaults to now.</summary>
    public DateTimeOffset? PlacedAt { get; init; }

    /// <summary>The lines; at least one.</summary>
    public IReadOnlyList<OrderLine> Lines { get; init; } = [];
}

/// <summary>A refund to apply. With neither lines nor amount, everything not yet refunded is refunded.</summary>
public sealed record RefundRequest
{
    /// <summary>The host's refund reference, unique per order; repeating it returns the order unchanged.</summary>
    public required string Reference { get; init; }

    /// <summary>Lines given back; their value is refunded at the price paid.</summary>
    public IReadOnlyList<RefundedLine> Lines { get; init; } = [];

    /// <summary>An amount to refund instead of lines (a goodwill or partial refund).</summary>
    public decimal? Amount { get; init; }

    /// <summary>Why.</summary>
    public string? Reason { get; init; }
}
