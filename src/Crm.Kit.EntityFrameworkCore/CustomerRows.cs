using System.Text.Json;
using Crm.Kit.Customers;
using Crm.Kit.Segmentation;

namespace Crm.Kit.EntityFrameworkCore;

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
