using System.Text.Json;
using Crm.Kit.Customers;
using Crm.Kit.Interactions;
using Crm.Kit.Orders;
using Crm.Kit.Segmentation;

namespace Crm.Kit.EntityFrameworkCore;

// Row types are the adapter's own: queried fields are columns, nested lists are one JSON document column, and
// times are UTC ticks so that ordering and comparison translate to SQL on every provider (SQLite cannot order
// DateTimeOffset). Mapping to and from the immutable domain records happens here and nowhere else.

internal sealed class CustomerRow : ICrmRow
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

    // Segment fields, stored folded (SegmentText.Fold) so that rules compare them in SQL exactly as in memory.
    public string? CountryKey { get; set; }

    public string? CityKey { get; set; }

    public string? PostalCodeKey { get; set; }

    public string? OwnerKey { get; set; }

    public string? CompanyKey { get; set; }

    /// <summary>Consent in force, one bit per channel and purpose (see <see cref="ConsentBit"/>).</summary>
    public int ConsentFlags { get; set; }

    public static int ConsentBit(ContactChannel channel, ConsentPurpose purpose) => 1 << (((int)channel * 2) + (int)purpose);

    private static int Consents(Customer c)
    {
        var flags = 0;
        foreach (var channel in Enum.GetValues<ContactChannel>())
        {
            foreach (var purpose in Enum.GetValues<ConsentPurpose>())
            {
                if (c.HasConsent(channel, purpose))
                {
                    flags |= ConsentBit(channel, purpose);
                }
            }
        }

        return flags;
    }

    public static CustomerRow From(Customer c) => new()
    {
        CountryKey = c.Addresses.Count == 0 ? null : SegmentText.Fold(c.Addresses[0].CountryCode),
        CityKey = c.Addresses.Count == 0 ? null : SegmentText.Fold(c.Addresses[0].City),
        PostalCodeKey = c.Addresses.Count == 0 ? null : SegmentText.Fold(c.Addresses[0].PostalCode),
        OwnerKey = SegmentText.Fold(c.OwnerId),
        CompanyKey = SegmentText.Fold(c.CompanyName),
        ConsentFlags = Consents(c),
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
internal sealed class CustomerKeyRow : ICrmRow
{
    public const string Email = "E";
    public const string Phone = "P";
    public const string Name = "N";
    public const string Tag = "T";

    public string TenantId { get; set; } = string.Empty;

    public string Kind { get; set; } = string.Empty;

    public string Value { get; set; } = string.Empty;

    public Guid CustomerId { get; set; }

    public static IEnumerable<CustomerKeyRow> For(Customer c) =>
        CustomerSearchKeys.Emails(c).Select(v => new CustomerKeyRow { TenantId = c.TenantId, Kind = Email, Value = v, CustomerId = c.Id })
            .Concat(CustomerSearchKeys.Phones(c).Select(v => new CustomerKeyRow { TenantId = c.TenantId, Kind = Phone, Value = v, CustomerId = c.Id }))
            .Concat(CustomerSearchKeys.NameKeys(c).Select(v => new CustomerKeyRow { TenantId = c.TenantId, Kind = Name, Value = v, CustomerId = c.Id }))
            .Concat(c.Tags.Select(t => SegmentText.Fold(t)!).Distinct(StringComparer.Ordinal)
                .Select(v => new CustomerKeyRow { TenantId = c.TenantId, Kind = Tag, Value = v, CustomerId = c.Id }));
}

/// <summary>
/// One custom attribute value of a customer, for segment rules: text folded, numbers, dates as day ticks, flags;
/// a text list has one row per item. The customer's document stays the source of the attribute's exact value.
/// </summary>
internal sealed class CustomerAttributeRow : ICrmRow
{
    public string TenantId { get; set; } = string.Empty;

    public Guid CustomerId { get; set; }

    public string Key { get; set; } = string.Empty;

    public int Ordinal { get; set; }

    public AttributeKind Kind { get; set; }

    public string? Text { get; set; }

    public decimal? Number { get; set; }

    public long? Date { get; set; }

    public bool? Boolean { get; set; }

    public static IEnumerable<CustomerAttributeRow> For(Customer c)
    {
        foreach (var (key, value) in c.Attributes)
        {
            if (value.Kind == AttributeKind.TextList)
            {
                var items = value.TextList.Select(i => SegmentText.Fold(i)).Where(i => i is not null).Distinct(StringComparer.Ordinal).ToList();
                for (var i = 0; i < items.Count; i++)
                {
                    yield return new CustomerAttributeRow { TenantId = c.TenantId, CustomerId = c.Id, Key = key, Ordinal = i, Kind = value.Kind, Text = items[i] };
                }

                continue;
            }

            yield return new CustomerAttributeRow
            {
                TenantId = c.TenantId,
                CustomerId = c.Id,
                Key = key,
                Kind = value.Kind,
                Text = value.Kind == AttributeKind.Text ? SegmentText.Fold(value.Text) : null,
                Number = value.Kind == AttributeKind.Number ? value.Number : null,
                Date = value.Kind == AttributeKind.Date ? SegmentAccess.DayTicks(value.Date) : null,
                Boolean = value.Kind == AttributeKind.Boolean ? value.Boolean : null,
            };
        }
    }
}

internal sealed class SegmentRow : ICrmRow
{
    public Guid Id { get; set; }

    public string TenantId { get; set; } = string.Empty;

    public long Version { get; set; }

    public string Name { get; set; } = string.Empty;

    public string? Description { get; set; }

    public SegmentKind Kind { get; set; }

    public string? Rule { get; set; }

    public long CreatedAt { get; set; }

    public long UpdatedAt { get; set; }

    public string? EvaluationError { get; set; }

    public long? EvaluationFailedAt { get; set; }

    public static SegmentRow From(Segment s) => new()
    {
        Id = s.Id,
        TenantId = s.TenantId,
        Version = s.Version,
        Name = s.Name,
        Description = s.Description,
        Kind = s.Kind,
        Rule = s.Rule is null ? null : SegmentRuleJson.Serialize(s.Rule),
        CreatedAt = s.CreatedAt.UtcTicks,
        UpdatedAt = s.UpdatedAt.UtcTicks,
        EvaluationError = s.EvaluationError,
        EvaluationFailedAt = s.EvaluationFailedAt?.UtcTicks,
    };

    // Stored rules were validated when saved; they are read back against the full registry of this process so
    // that fields contributed by modules resolve.
    public Segment ToSegment() => new()
    {
        Id = Id,
        TenantId = TenantId,
        Version = Version,
        Name = Name,
        Description = Description,
        Kind = Kind,
        Rule = Rule is null ? null : SegmentRuleJson.ReadStored(Rule),
        CreatedAt = Ticks.ToTime(CreatedAt),
        UpdatedAt = Ticks.ToTime(UpdatedAt),
        EvaluationError = EvaluationError,
        EvaluationFailedAt = EvaluationFailedAt is { } failed ? Ticks.ToTime(failed) : null,
    };
}

internal sealed class SegmentMemberRow : ICrmRow
{
    public string TenantId { get; set; } = string.Empty;

    public Guid SegmentId { get; set; }

    public Guid CustomerId { get; set; }
}

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

internal sealed class InteractionRow : ICrmRow
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
