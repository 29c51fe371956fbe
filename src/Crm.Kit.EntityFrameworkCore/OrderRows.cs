using System.Text.Json;
using Crm.Kit.Orders;

namespace Crm.Kit.EntityFrameworkCore;

internal sealed class OrderRow : ICrmRow
{
    public Guid Id { get; set; }

    public string TenantId { get; set; } = string.Empty;

    public long Version { get; set; }

    public Guid CustomerId { get; set; }

    public string Reference { get; set; } = string.Empty;

    public string Currency { get; set; } = string.Empty;

    public string? Channel { get; set; }

    public long PlacedAt { get; set; }

    public long CreatedAt { get; set; }

    public decimal Total { get; set; }

    public decimal RefundedTotal { get; set; }

    public string Document { get; set; } = "{}";

    public static OrderRow From(Order o) => new()
    {
        Id = o.Id,
        TenantId = o.TenantId,
        Version = o.Version,
        CustomerId = o.CustomerId,
        Reference = o.Reference,
        Currency = o.Currency,
        Channel = o.Channel,
        PlacedAt = o.PlacedAt.UtcTicks,
        CreatedAt = o.CreatedAt.UtcTicks,
        Total = o.Total,
        RefundedTotal = o.RefundedTotal,
        Document = JsonSerializer.Serialize(new OrderDocument(o.Lines, o.Refunds), RowJson.Options),
    };

    public Order ToOrder()
    {
        var document = JsonSerializer.Deserialize<OrderDocument>(Document, RowJson.Options)
            ?? throw new InvalidOperationException($"Order {Id} has an empty document.");
        return new Order
        {
            Id = Id,
            TenantId = TenantId,
            Version = Version,
            CustomerId = CustomerId,
            Reference = Reference,
            Currency = Currency,
            Channel = Channel,
            PlacedAt = Ticks.ToTime(PlacedAt),
            CreatedAt = Ticks.ToTime(CreatedAt),
            Lines = document.Lines,
            Refunds = document.Refunds,
        };
    }
}

internal sealed record OrderDocument(IReadOnlyList<OrderLine> Lines, IReadOnlyList<OrderRefund> Refunds);
