using System.Text.Json;
using Crm.Kit.Customers;
using Crm.Kit.Interactions;
using Crm.Kit.Orders;

namespace Crm.Kit.EntityFrameworkCore;

// Row types are the adapter's own: queried fields are columns, nested lists are one JSON document column, and
// times are UTC ticks so that ordering and comparison translate to SQL on every provider (SQLite cannot order
// DateTimeOffset). Mapping to and from the immutable domain records happens here and nowhere else.

internal sealed class CustomerRow
{
    public Guid Id { get; set; }

    public string TenantId { get; set; } = string.Empty;

    public long Version { get; set; }

    public CustomerKind Kind { get; set; }

    public string? FirstName { get; set; }

    public string? LastName { get; set; }

    public string? CompanyName { get; set; }

    public Guid? CompanyId { get; set; }

    public string? ExternalReference { get; set; }

    public string? OwnerId { get; set; }

    public LifecycleStage LifecycleStage { get; set; }

    public int OrderCount { get; set; }

    public decimal TotalSpent { get; set; }

    public decimal AverageOrderValue { get; set; }

    public long? FirstOrderAt { get; set; }

    public long? LastOrderAt { get; set; }

    public long CreatedAt { get; set; }

    public long UpdatedAt { get; set; }

    public Guid? MergedIntoId { get; set; }

    public long? ErasedAt { get; set; }

    public string Document { get; set; } = "{}";

    public static CustomerRow From(Customer c) => new()
    {
        Id = c.Id,
        TenantId = c.TenantId,
        Version = c.Version,
        Kind = c.Kind,
        FirstName = c.FirstName,
        LastName = c.LastName,
        CompanyName = c.CompanyName,
        CompanyId = c.CompanyId,
        ExternalReference = c.ExternalReference,
        OwnerId = c.OwnerId,
        LifecycleStage = c.LifecycleStage,
        OrderCount = c.Metrics.OrderCount,
        TotalSpent = c.Metrics.TotalSpent,
        AverageOrderValue = c.Metrics.AverageOrderValue,
        FirstOrderAt = c.Metrics.FirstOrderAt?.UtcTicks,
        LastOrderAt = c.Metrics.LastOrderAt?.UtcTicks,
        CreatedAt = c.CreatedAt.UtcTicks,
        UpdatedAt = c.UpdatedAt.UtcTicks,
        MergedIntoId = c.MergedIntoId,
        ErasedAt = c.ErasedAt?.UtcTicks,
        Document = JsonSerializer.Serialize(
            new CustomerDocument(c.Emails, c.Phones, c.Addresses, c.Tags, c.Attributes, c.LifecycleHistory, c.ConsentHistory),
            RowJson.Options),
    };

    public Customer ToCustomer()
    {
        var document = JsonSerializer.Deserialize<CustomerDocument>(Document, RowJson.Options)
            ?? throw new InvalidOperationException($"Customer {Id} has an empty document.");
        return new Customer
        {
            Id = Id,
            TenantId = TenantId,
            Version = Version,
            Kind = Kind,
            FirstName = FirstName,
            LastName = LastName,
            CompanyName = CompanyName,
            CompanyId = CompanyId,
            ExternalReference = ExternalReference,
            OwnerId = OwnerId,
            LifecycleStage = LifecycleStage,
            Metrics = new CustomerMetrics(OrderCount, TotalSpent, AverageOrderValue, Ticks.ToTime(FirstOrderAt), Ticks.ToTime(LastOrderAt)),
            CreatedAt = Ticks.ToTime(CreatedAt),
            UpdatedAt = Ticks.ToTime(UpdatedAt),
            MergedIntoId = MergedIntoId,
            ErasedAt = Ticks.ToTime(ErasedAt),
            Emails = document.Emails,
            Phones = document.Phones,
            Addresses = document.Addresses,
            Tags = document.Tags,
            Attributes = document.Attributes,
            LifecycleHistory = document.LifecycleHistory,
            ConsentHistory = document.ConsentHistory,
        };
    }
}

internal sealed record CustomerDocument(
    IReadOnlyList<EmailContact> Emails,
    IReadOnlyList<PhoneContact> Phones,
    IReadOnlyList<PostalAddress> Addresses,
    IReadOnlyList<string> Tags,
    IReadOnlyDictionary<string, AttributeValue> Attributes,
    IReadOnlyList<LifecycleStageChange> LifecycleHistory,
    IReadOnlyList<ConsentRecord> ConsentHistory);

/// <summary>One lookup key of a customer: a normalised email, an E.164 phone or a folded name.</summary>
internal sealed class CustomerKeyRow
{
    public const string Email = "E";
    public const string Phone = "P";
    public const string Name = "N";

    public string TenantId { get; set; } = string.Empty;

    public string Kind { get; set; } = string.Empty;

    public string Value { get; set; } = string.Empty;

    public Guid CustomerId { get; set; }

    public static IEnumerable<CustomerKeyRow> For(Customer c) =>
        CustomerSearchKeys.Emails(c).Select(v => new CustomerKeyRow { TenantId = c.TenantId, Kind = Email, Value = v, CustomerId = c.Id })
            .Concat(CustomerSearchKeys.Phones(c).Select(v => new CustomerKeyRow { TenantId = c.TenantId, Kind = Phone, Value = v, CustomerId = c.Id }))
            .Concat(CustomerSearchKeys.NameKeys(c).Select(v => new CustomerKeyRow { TenantId = c.TenantId, Kind = Name, Value = v, CustomerId = c.Id }));
}

internal sealed class OrderRow
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

internal sealed class InteractionRow
{
    public Guid Id { get; set; }

    public string TenantId { get; set; } = string.Empty;

    public long Version { get; set; }

    public Guid CustomerId { get; set; }

    public InteractionKind Kind { get; set; }

    public InteractionDirection Direction { get; set; }

    public MessageChannel Channel { get; set; }

    public string? Subject { get; set; }

    public string? Body { get; set; }

    public long OccurredAt { get; set; }

    public string? OwnerId { get; set; }

    public long? DueAt { get; set; }

    public long? CompletedAt { get; set; }

    public Guid? DealId { get; set; }

    public Guid? CaseId { get; set; }

    public long CreatedAt { get; set; }

    public static InteractionRow From(Interaction i) => new()
    {
        Id = i.Id,
        TenantId = i.TenantId,
        Version = i.Version,
        CustomerId = i.CustomerId,
        Kind = i.Kind,
        Direction = i.Direction,
        Channel = i.Channel,
        Subject = i.Subject,
        Body = i.Body,
        OccurredAt = i.OccurredAt.UtcTicks,
        OwnerId = i.OwnerId,
        DueAt = i.DueAt?.UtcTicks,
        CompletedAt = i.CompletedAt?.UtcTicks,
        DealId = i.DealId,
        CaseId = i.CaseId,
        CreatedAt = i.CreatedAt.UtcTicks,
    };

    public Interaction ToInteraction() => new()
    {
        Id = Id,
        TenantId = TenantId,
        Version = Version,
        CustomerId = CustomerId,
        Kind = Kind,
        Direction = Direction,
        Channel = Channel,
        Subject = Subject,
        Body = Body,
        OccurredAt = Ticks.ToTime(OccurredAt),
        OwnerId = OwnerId,
        DueAt = Ticks.ToTime(DueAt),
        CompletedAt = Ticks.ToTime(CompletedAt),
        DealId = DealId,
        CaseId = CaseId,
        CreatedAt = Ticks.ToTime(CreatedAt),
    };
}

internal static class Ticks
{
    public static DateTimeOffset ToTime(long ticks) => new(ticks, TimeSpan.Zero);

    public static DateTimeOffset? ToTime(long? ticks) => ticks is { } t ? new DateTimeOffset(t, TimeSpan.Zero) : null;
}

internal static class RowJson
{
    public static readonly JsonSerializerOptions Options = new(JsonSerializerDefaults.Web);
}
