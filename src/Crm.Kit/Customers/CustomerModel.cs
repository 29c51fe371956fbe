namespace Crm.Kit.Customers;

/// <summary>Whether a customer is a person or a company.</summary>
public enum CustomerKind
{
    /// <summary>A person, who may belong to a company customer.</summary>
    Person = 0,

    /// <summary>A company or other organisation.</summary>
    Company = 1,
}

/// <summary>Where a customer stands in the relationship, in the order relationships usually move.</summary>
public enum LifecycleStage
{
    /// <summary>Receives content, nothing more yet.</summary>
    Subscriber = 0,

    /// <summary>Showed interest.</summary>
    Lead = 1,

    /// <summary>Marketing judged the lead worth pursuing.</summary>
    MarketingQualifiedLead = 2,

    /// <summary>Sales accepted the lead.</summary>
    SalesQualifiedLead = 3,

    /// <summary>An active sales opportunity exists.</summary>
    Opportunity = 4,

    /// <summary>Has bought.</summary>
    Customer = 5,

    /// <summary>A customer who promotes you.</summary>
    Evangelist = 6,

    /// <summary>Stopped buying.</summary>
    Churned = 7,

    /// <summary>Bought again after churning.</summary>
    WonBack = 8,
}

/// <summary>A channel a customer may be contacted through.</summary>
public enum ContactChannel
{
    /// <summary>Email.</summary>
    Email = 0,

    /// <summary>Text messages.</summary>
    Sms = 1,

    /// <summary>Phone calls.</summary>
    Phone = 2,

    /// <summary>Letters.</summary>
    Post = 3,
}

/// <summary>Why a customer is contacted.</summary>
public enum ConsentPurpose
{
    /// <summary>Offers, newsletters, campaigns.</summary>
    Marketing = 0,

    /// <summary>Messages about the customer's own orders, cases and account.</summary>
    Service = 1,
}

/// <summary>An email address of a customer, kept in normalised form once saved.</summary>
/// <param name="Address">The address; the manager replaces it with its normalised form (trimmed, lower case, ASCII domain).</param>
/// <param name="Label">An optional label such as <c>work</c>.</param>
public readonly record struct EmailContact(string Address, string? Label = null);

/// <summary>A phone number of a customer, kept in E.164 form once saved.</summary>
/// <param name="Number">The number; the manager replaces it with its E.164 form.</param>
/// <param name="Label">An optional label such as <c>mobile</c>.</param>
public readonly record struct PhoneContact(string Number, string? Label = null);

/// <summary>A postal address.</summary>
/// <param name="Line1">Street and number.</param>
/// <param name="Line2">Optional second line.</param>
/// <param name="City">City or town.</param>
/// <param name="Region">State, county or province.</param>
/// <param name="PostalCode">Postcode or ZIP code.</param>
/// <param name="CountryCode">ISO 3166 alpha-2 country code in upper case.</param>
/// <param name="Label">An optional label such as <c>billing</c>.</param>
public sealed record PostalAddress(
    string Line1,
    string? Line2,
    string City,
    string? Region,
    string? PostalCode,
    string CountryCode,
    string? Label = null);

/// <summary>One change of a customer's lifecycle stage.</summary>
/// <param name="Stage">The stage entered.</param>
/// <param name="ChangedAt">When; kept in UTC.</param>
/// <param name="Reason">Why, for example <c>first-order</c> or <c>manual</c>.</param>
public readonly record struct LifecycleStageChange(LifecycleStage Stage, DateTimeOffset ChangedAt, string Reason)
{
    // Kept as UTC ticks, as every store keeps times: 8 bytes instead of a DateTimeOffset's 16, in every customer's history.
    private readonly long _changedAtUtcTicks = ChangedAt.UtcTicks;

    /// <summary>When, in UTC.</summary>
    public DateTimeOffset ChangedAt
    {
        get => new(_changedAtUtcTicks, TimeSpan.Zero);
        init => _changedAtUtcTicks = value.UtcTicks;
    }
}

/// <summary>A grant or withdrawal of consent, kept as history; the latest record per channel and purpose is in force.</summary>
/// <param name="Channel">The channel.</param>
/// <param name="Purpose">The purpose.</param>
/// <param name="Granted">Whether consent was given (<see langword="true"/>) or withdrawn.</param>
/// <param name="RecordedAt">When the customer gave or withdrew it; kept in UTC.</param>
/// <param name="Source">Where it came from, for example <c>signup-form</c> or <c>call-centre</c>.</param>
public readonly record struct ConsentRecord(ContactChannel Channel, ConsentPurpose Purpose, bool Granted, DateTimeOffset RecordedAt, string Source)
{
    // Kept as UTC ticks, as every store keeps times: a record is 32 bytes instead of 40, and a customer holds several.
    private readonly long _recordedAtUtcTicks = RecordedAt.UtcTicks;

    /// <summary>When the customer gave or withdrew it, in UTC.</summary>
    public DateTimeOffset RecordedAt
    {
        get => new(_recordedAtUtcTicks, TimeSpan.Zero);
        init => _recordedAtUtcTicks = value.UtcTicks;
    }
}

/// <summary>
/// Figures Crm.Kit keeps up to date from orders and refunds, in the reporting currency, so that lists and
/// segments can filter on them without reading orders.
/// </summary>
/// <param name="OrderCount">Orders recorded and not fully refunded.</param>
/// <param name="TotalSpent">Order totals less refunds.</param>
/// <param name="AverageOrderValue"><paramref name="TotalSpent"/> divided by <paramref name="OrderCount"/>, rounded to 2 decimals (half to even); 0 with no orders.</param>
/// <param name="FirstOrderAt">When the first counted order was placed.</param>
/// <param name="LastOrderAt">When the latest counted order was placed.</param>
public sealed record CustomerMetrics(int OrderCount, decimal TotalSpent, decimal AverageOrderValue, DateTimeOffset? FirstOrderAt, DateTimeOffset? LastOrderAt)
{
    /// <summary>Metrics of a customer with no orders.</summary>
    public static CustomerMetrics Empty { get; } = new(0, 0m, 0m, null, null);
}

/// <summary>
/// A customer: a person or a company, with contact points, consent, lifecycle and metrics. Instances are
/// immutable snapshots; change a customer through <see cref="CustomerManager"/>, which validates, normalises,
/// bumps <see cref="Version"/> and publishes events.
/// </summary>
public sealed record Customer
{
    /// <summary>The id (a version 7 GUID, so ids sort by creation time).</summary>
    public required Guid Id { get; init; }

    /// <summary>The owning tenant.</summary>
    public required string TenantId { get; init; }

    /// <summary>The optimistic-concurrency version, 1 on creation and one more on every change.</summary>
    public long Version { get; init; }

    /// <summary>Person or company.</summary>
    public CustomerKind Kind { get; init; }

    /// <summary>A person's given name.</summary>
    public string? FirstName { get; init; }

    /// <summary>A person's family name.</summary>
    public string? LastName { get; init; }

    /// <summary>A company's name, or the name of the company a person works for when no <see cref="CompanyId"/> is known.</summary>
    public string? CompanyName { get; init; }

    /// <summary>For a person, the company customer they belong to.</summary>
    public Guid? CompanyId { get; init; }

    /// <summary>The host application's own id for this customer, unique per tenant.</summary>
    public string? ExternalReference { get; init; }

    /// <summary>Email addresses, the first being the primary one.</summary>
    public IReadOnlyList<EmailContact> Emails { get; init; } = [];

    /// <summary>Phone numbers in E.164 form, the first being the primary one.</summary>
    public IReadOnlyList<PhoneContact> Phones { get; init; } = [];

    /// <summary>Postal addresses.</summary>
    public IReadOnlyList<PostalAddress> Addresses { get; init; } = [];

    /// <summary>Tags, distinct and sorted, compared case-insensitively.</summary>
    public IReadOnlyList<string> Tags { get; init; } = [];

    /// <summary>Typed custom attributes by key.</summary>
    public IReadOnlyDictionary<string, AttributeValue> Attributes { get; init; } = AttributeDictionary.Empty;

    /// <summary>The current lifecycle stage.</summary>
    public LifecycleStage LifecycleStage { get; init; }

    /// <summary>Every stage the customer entered, oldest first.</summary>
    public IReadOnlyList<LifecycleStageChange> LifecycleHistory { get; init; } = [];

    /// <summary>The id of the user who owns the relationship.</summary>
    public string? OwnerId { get; init; }

    /// <summary>Every consent grant and withdrawal, oldest first.</summary>
    public IReadOnlyList<ConsentRecord> ConsentHistory { get; init; } = [];

    /// <summary>Order metrics, kept by Crm.Kit.</summary>
    public CustomerMetrics Metrics { get; init; } = CustomerMetrics.Empty;

    /// <summary>When the customer was created, in UTC.</summary>
    public DateTimeOffset CreatedAt
    {
        get => new(_createdAtUtcTicks, TimeSpan.Zero);
        init => _createdAtUtcTicks = value.UtcTicks;
    }

    /// <summary>When the customer last changed, in UTC.</summary>
    public DateTimeOffset UpdatedAt
    {
        get => new(_updatedAtUtcTicks, TimeSpan.Zero);
        init => _updatedAtUtcTicks = value.UtcTicks;
    }

    // The two times are kept as UTC ticks, as every store keeps them: 8 bytes each instead of a DateTimeOffset's 16.
    private readonly long _createdAtUtcTicks;
    private readonly long _updatedAtUtcTicks;

    /// <summary>Set when this customer was merged into another; lookups then resolve to that survivor.</summary>
    public Guid? MergedIntoId
    {
        get => _endOfLife?.MergedIntoId;
        init => _endOfLife = EndOfLife.Of(value, ErasedAt);
    }

    /// <summary>Set when personal data was erased.</summary>
    public DateTimeOffset? ErasedAt
    {
        get => _endOfLife?.ErasedAt;
        init => _endOfLife = EndOfLife.Of(MergedIntoId, value);
    }

    // Few customers are ever merged away or erased, so the two fields that say so live in a side object that most
    // customers never allocate: one reference instead of 44 bytes of nullable fields in every customer.
    private readonly EndOfLife? _endOfLife;

    /// <summary>The name to show: the company name for companies, given and family name for people.</summary>
    public string DisplayName => Kind == CustomerKind.Company
        ? CompanyName ?? string.Empty
        : string.Join(' ', new[] { FirstName, LastName }.Where(n => !string.IsNullOrWhiteSpace(n)));

    /// <summary>The consent in force for a channel and purpose: the latest record, or <see langword="null"/> if none was ever recorded.</summary>
    public ConsentRecord? GetConsent(ContactChannel channel, ConsentPurpose purpose)
    {
        for (var i = ConsentHistory.Count - 1; i >= 0; i--)
        {
            var record = ConsentHistory[i];
            if (record.Channel == channel && record.Purpose == purpose)
            {
                return record;
            }
        }

        return null;
    }

    /// <summary>Whether the customer may be contacted on <paramref name="channel"/> for <paramref name="purpose"/> now.</summary>
    public bool HasConsent(ContactChannel channel, ConsentPurpose purpose) => GetConsent(channel, purpose)?.Granted == true;

    /// <summary>The editable part of this customer, to change and pass to <see cref="CustomerManager.UpdateAsync"/>.</summary>
    public CustomerDraft ToDraft() => new()
    {
        Kind = Kind,
        FirstName = FirstName,
        LastName = LastName,
        CompanyName = CompanyName,
        CompanyId = CompanyId,
        ExternalReference = ExternalReference,
        Emails = Emails,
        Phones = Phones,
        Addresses = Addresses,
        Tags = Tags,
        Attributes = Attributes,
        OwnerId = OwnerId,
    };

    private sealed record EndOfLife(Guid? MergedIntoId, DateTimeOffset? ErasedAt)
    {
        public static EndOfLife? Of(Guid? mergedIntoId, DateTimeOffset? erasedAt) =>
            mergedIntoId is null && erasedAt is null ? null : new(mergedIntoId, erasedAt);
    }
}

/// <summary>
/// What a caller may set on a customer: used to create one, and (from <see cref="Customer.ToDraft"/>) to change
/// one. Lifecycle stage, consent and metrics have their own manager methods, because they keep history.
/// </summary>
public sealed record CustomerDraft
{
    /// <summary>Person or company.</summary>
    public CustomerKind Kind { get; init; }

    /// <summary>A person's given name.</summary>
    public string? FirstName { get; init; }

    /// <summary>A person's family name.</summary>
    public string? LastName { get; init; }

    /// <summary>The company's name (required for companies).</summary>
    public string? CompanyName { get; init; }

    /// <summary>For a person, the company customer they belong to.</summary>
    public Guid? CompanyId { get; init; }

    /// <summary>The host application's id for the customer, unique per tenant.</summary>
    public string? ExternalReference { get; init; }

    /// <summary>Email addresses.</summary>
    public IReadOnlyList<EmailContact> Emails { get; init; } = [];

    /// <summary>Phone numbers, in any common format.</summary>
    public IReadOnlyList<PhoneContact> Phones { get; init; } = [];

    /// <summary>Postal addresses.</summary>
    public IReadOnlyList<PostalAddress> Addresses { get; init; } = [];

    /// <summary>Tags.</summary>
    public IReadOnlyList<string> Tags { get; init; } = [];

    /// <summary>Typed custom attributes.</summary>
    public IReadOnlyDictionary<string, AttributeValue> Attributes { get; init; } = AttributeDictionary.Empty;

    /// <summary>The owner's user id.</summary>
    public string? OwnerId { get; init; }

    /// <summary>The stage to start in (creation only). Default <see cref="LifecycleStage.Lead"/>.</summary>
    public LifecycleStage InitialStage { get; init; } = LifecycleStage.Lead;

    /// <summary>Consent given at creation (creation only).</summary>
    public IReadOnlyList<ConsentRecord> InitialConsent { get; init; } = [];
}
