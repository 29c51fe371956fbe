using Bogus;
using Crm.Kit.Customers;
using Crm.Kit.Interactions;
using Crm.Kit.Orders;

namespace Crm.Kit.Testing;

/// <summary>
/// A seeded generator of realistic, linked CRM data for tests, samples and benchmarks: people (some belonging
/// to companies), contact points in the formats people really type, consent, orders from a fixed product
/// catalogue, and timelines. The same seed always gives the same data.
/// </summary>
public sealed class CrmFaker
{
    private static readonly string[] Categories = ["Books", "Music", "Garden", "Kitchen", "Toys", "Sports", "Beauty", "Outdoor", "Electronics", "Grocery"];
    private static readonly string[] TagPool = ["vip", "newsletter", "wholesale", "b2b", "returning", "event-2026", "churn-risk", "gift-buyer", "early-adopter", "student"];
    private static readonly string[] Channels = ["web", "store", "phone", "marketplace"];

    private readonly Faker _faker;
    private readonly DateTimeOffset _now;
    private readonly List<(string Sku, string Name, string Category, decimal Price)> _catalogue;

    /// <summary>Creates a generator.</summary>
    /// <param name="seed">The seed; the same seed gives the same data.</param>
    /// <param name="locale">A Bogus locale such as <c>en</c>, <c>en_GB</c> or <c>de</c>.</param>
    /// <param name="now">
    /// The time the data is generated up to: consent and birthdays lie before it. 2026-01-01 UTC when not given,
    /// never the machine's clock, so that the same seed gives the same data on any day.
    /// </param>
    public CrmFaker(int seed = 42, string locale = "en", DateTimeOffset? now = null)
    {
        _faker = new Faker(locale) { Random = new Randomizer(seed) };
        _now = now ?? new DateTimeOffset(2026, 1, 1, 0, 0, 0, TimeSpan.Zero);
        _catalogue = Enumerable.Range(1, 200)
            .Select(i => ($"SKU-{i:D4}", _faker.Commerce.ProductName(), _faker.PickRandom(Categories), Math.Round(_faker.Random.Decimal(2m, 250m), 2)))
            .ToList();
    }

    /// <summary>The product catalogue orders are drawn from: SKU, name, category and unit price.</summary>
    public IReadOnlyList<(string Sku, string Name, string Category, decimal Price)> Catalogue => _catalogue;

    /// <summary>A person, with one or two emails, usually a phone number and an address, tags, attributes and consent.</summary>
    /// <param name="companyId">The company they belong to, if any.</param>
    public CustomerDraft Person(Guid? companyId = null)
    {
        var first = _faker.Name.FirstName();
        var last = _faker.Name.LastName();
        var emails = new List<EmailContact> { new(_faker.Internet.Email(first, last, uniqueSuffix: _faker.Random.Number(1, 99_999).ToString(System.Globalization.CultureInfo.InvariantCulture)), "personal") };
        if (_faker.Random.Bool(0.2f))
        {
            emails.Add(new EmailContact(_faker.Internet.Email(first, last, "example.com", _faker.Random.Number(1, 99_999).ToString(System.Globalization.CultureInfo.InvariantCulture)), "work"));
        }

        var consentAt = _faker.Date.PastOffset(3, _now).ToUniversalTime();
        return new CustomerDraft
        {
            Kind = CustomerKind.Person,
            FirstName = first,
            LastName = last,
            CompanyId = companyId,
            ExternalReference = _faker.Random.Bool(0.7f) ? "ext-" + _faker.Random.AlphaNumeric(12) : null,
            Emails = emails,
            Phones = _faker.Random.Bool(0.8f) ? [new PhoneContact(UsPhone(), "mobile")] : [],
            Addresses = _faker.Random.Bool(0.7f) ? [Address()] : [],
            Tags = _faker.PickRandom(TagPool, _faker.Random.Int(0, 3)).ToList(),
            Attributes = Attributes(),
            OwnerId = "user-" + _faker.Random.Int(1, 20),
            InitialStage = _faker.PickRandom(LifecycleStage.Subscriber, LifecycleStage.Lead, LifecycleStage.Lead, LifecycleStage.MarketingQualifiedLead),
            InitialConsent =
            [
                new ConsentRecord(ContactChannel.Email, ConsentPurpose.Marketing, _faker.Random.Bool(0.6f), consentAt, "signup-form"),
                new ConsentRecord(ContactChannel.Email, ConsentPurpose.Service, true, consentAt, "signup-form"),
            ],
        };
    }

    /// <summary>A company with a domain email, phone and address.</summary>
    public CustomerDraft Company()
    {
        var name = _faker.Company.CompanyName();
        return new CustomerDraft
        {
            Kind = CustomerKind.Company,
            CompanyName = name,
            ExternalReference = "org-" + _faker.Random.AlphaNumeric(12),
            Emails = [new EmailContact("info@" + _faker.Internet.DomainWord() + _faker.Random.Number(1, 9999) + ".example")],
            Phones = [new PhoneContact(UsPhone(), "office")],
            Addresses = [Address()],
            Tags = ["b2b"],
            OwnerId = "user-" + _faker.Random.Int(1, 20),
            InitialStage = LifecycleStage.Lead,
        };
    }

    /// <summary>A copy of a person as someone might enter them again: same email in other letter case, phone written differently.</summary>
    public static CustomerDraft DuplicateOf(CustomerDraft person)
    {
        ArgumentNullException.ThrowIfNull(person);
        return person with
        {
            ExternalReference = null,
            Emails = [.. person.Emails.Take(1).Select(e => new EmailContact(e.Address.ToUpperInvariant()))],
            Phones = [.. person.Phones.Select(p => new PhoneContact("+1 " + p.Number))],
            Tags = [],
        };
    }

    /// <summary>An order of one to four catalogue products.</summary>
    public OrderDraft Order(Guid customerId, DateTimeOffset placedAt, string currency = "USD") => new()
    {
        CustomerId = customerId,
        Reference = "ord-" + _faker.Random.AlphaNumeric(16),
        Currency = currency,
        Channel = _faker.PickRandom(Channels),
        PlacedAt = placedAt,
        Lines = [.. _faker.PickRandom(_catalogue, _faker.Random.Int(1, 4)).Select(p => new OrderLine(p.Sku, p.Name, p.Category, _faker.Random.Int(1, 3), p.Price))],
    };

    /// <summary>A call, email, meeting, note or message on a customer's timeline.</summary>
    public InteractionDraft Interaction(Guid customerId, DateTimeOffset occurredAt)
    {
        var kind = _faker.PickRandom(InteractionKind.Call, InteractionKind.Email, InteractionKind.Meeting, InteractionKind.Note, InteractionKind.Message);
        return new InteractionDraft
        {
            CustomerId = customerId,
            Kind = kind,
            Direction = kind == InteractionKind.Note ? InteractionDirection.None : _faker.PickRandom(InteractionDirection.Inbound, InteractionDirection.Outbound),
            Channel = kind == InteractionKind.Message ? _faker.PickRandom(MessageChannel.Web, MessageChannel.Chat, MessageChannel.Social, MessageChannel.InStore) : MessageChannel.None,
            Subject = _faker.Lorem.Sentence(4),
            Body = _faker.Lorem.Paragraph(),
            OccurredAt = occurredAt,
            OwnerId = "user-" + _faker.Random.Int(1, 20),
        };
    }

    /// <summary>A follow-up task due at <paramref name="dueAt"/>.</summary>
    public InteractionDraft Task(Guid customerId, string ownerId, DateTimeOffset dueAt) => new()
    {
        CustomerId = customerId,
        Kind = InteractionKind.Task,
        Subject = "Follow up: " + _faker.Lorem.Sentence(3),
        OwnerId = ownerId,
        DueAt = dueAt,
    };

    /// <summary>A service case of the given kind and priority for a customer, as a support agent would open it.</summary>
    public Service.CaseDraft Case(Guid customerId, string kind = Service.CaseKinds.Complaint, Service.CasePriority priority = Service.CasePriority.Normal) => new()
    {
        CustomerId = customerId,
        Kind = kind,
        Subject = _faker.PickRandom("Order arrived damaged", "Refund not received", "Cannot log in", "Wrong size delivered", "Question about my invoice", "Change delivery address"),
        Description = _faker.Lorem.Paragraph(),
        Channel = _faker.PickRandom<Service.CaseChannel>(),
        Priority = priority,
        OpenedBy = "agent-" + _faker.Random.Int(1, 9),
    };

    /// <summary>
    /// A deal of <paramref name="customerId"/> created at <paramref name="createdAt"/> in <paramref name="pipeline"/>'s
    /// first active stage, and its whole stage history as <see cref="Sales.PipelineManager"/> would have recorded it:
    /// it moves forward a few stages (a few days to weeks in each, now and then one step back and on again), then is
    /// won, lost or still open. Deals that get further are won more often. For seeding stores and benchmarks
    /// without going through the manager; the deal's version is its history's length.
    /// </summary>
    public (Sales.Deal Deal, IReadOnlyList<Sales.DealStageChange> History) DealJourney(Sales.SalesPipeline pipeline, Guid customerId, DateTimeOffset createdAt)
    {
        ArgumentNullException.ThrowIfNull(pipeline);
        var stages = pipeline.ActiveStages.Select(s => s.Id).ToList();
        var owner = "rep-" + _faker.Random.Int(1, 25);
        var dealId = _faker.Random.Guid();
        var history = new List<Sales.DealStageChange>();
        var (stage, status, enteredAt, at) = (stages[0], Sales.DealStatus.Open, createdAt, createdAt);

        void Record(Guid to, Sales.DealStatus toStatus, bool first = false)
        {
            history.Add(new Sales.DealStageChange
            {
                Id = _faker.Random.Guid(),
                TenantId = pipeline.TenantId,
                DealId = dealId,
                Sequence = history.Count + 1,
                PipelineId = pipeline.Id,
                FromStageId = first ? null : stage,
                ToStageId = to,
                FromStatus = first ? null : status,
                ToStatus = toStatus,
                At = at,
                TimeInStage = first ? null : at - enteredAt,
                Actor = owner,
            });
            if (to != stage || first)
            {
                enteredAt = at;
            }

            (stage, status) = (to, toStatus);
        }

        void Wait() => at = at.AddMinutes(_faker.Random.Int(6 * 60, 21 * 24 * 60));

        Record(stage, Sales.DealStatus.Open, first: true);
        var furthest = _faker.Random.Int(0, stages.Count - 1);
        for (var next = 1; next <= furthest; next++)
        {
            Wait();
            Record(stages[next], Sales.DealStatus.Open);
            if (next > 1 && _faker.Random.Bool(0.25f))
            {
                Wait();
                Record(stages[next - 1], Sales.DealStatus.Open);
                Wait();
                Record(stages[next], Sales.DealStatus.Open);
            }
        }

        if (_faker.Random.Bool(0.8f))
        {
            Wait();
            Record(stage, _faker.Random.Bool(0.15f + (0.7f * furthest / Math.Max(1, stages.Count - 1))) ? Sales.DealStatus.Won : Sales.DealStatus.Lost);
        }

        var amount = Math.Round(_faker.Random.Decimal(500m, 50_000m), 2);
        var deal = new Sales.Deal
        {
            Id = dealId,
            TenantId = pipeline.TenantId,
            Version = history.Count,
            PipelineId = pipeline.Id,
            StageId = stage,
            Title = _faker.Commerce.ProductName() + " deal",
            CustomerId = customerId,
            OwnerId = owner,
            Amount = amount,
            Currency = _faker.Random.Bool(0.8f) ? "USD" : "EUR",
            ExpectedCloseDate = DateOnly.FromDateTime(createdAt.UtcDateTime.AddDays(_faker.Random.Int(14, 180))),
            Status = status,
            LostReason = status == Sales.DealStatus.Lost && pipeline.LostReasons.Count > 0 ? _faker.PickRandom(pipeline.LostReasons.ToArray()) : null,
            Source = _faker.PickRandom(Channels),
            CreatedAt = createdAt,
            StageEnteredAt = enteredAt,
            ClosedAt = status == Sales.DealStatus.Open ? null : at,
            LastActivityAt = at,
            UpdatedAt = at,
        };
        return (deal, history);
    }

    /// <summary>A random integer in [<paramref name="min"/>, <paramref name="max"/>].</summary>
    public int Number(int min, int max) => _faker.Random.Int(min, max);

    private string UsPhone() =>
        $"({_faker.PickRandom(212, 310, 415, 512, 617, 702, 808, 919)}) {_faker.Random.Int(200, 999)}-{_faker.Random.Int(0, 9999):D4}";

    private PostalAddress Address() => new(
        _faker.Address.StreetAddress(),
        _faker.Random.Bool(0.2f) ? _faker.Address.SecondaryAddress() : null,
        _faker.Address.City(),
        _faker.Address.StateAbbr(),
        _faker.Address.ZipCode("#####"),
        "US");

    private Dictionary<string, AttributeValue> Attributes()
    {
        var attributes = new Dictionary<string, AttributeValue>(StringComparer.Ordinal);
        if (_faker.Random.Bool(0.5f))
        {
            attributes["birthday"] = AttributeValue.FromDate(DateOnly.FromDateTime(_faker.Date.Past(60, _now.UtcDateTime.AddYears(-18))));
        }

        if (_faker.Random.Bool(0.3f))
        {
            attributes["shoe-size"] = AttributeValue.FromNumber(_faker.Random.Int(36, 47));
        }

        if (_faker.Random.Bool(0.3f))
        {
            attributes["newsletter-topics"] = AttributeValue.FromTextList(_faker.PickRandom(Categories, 2));
        }

        return attributes;
    }
}
