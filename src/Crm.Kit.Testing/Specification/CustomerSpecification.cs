using Crm.Kit.Customers;
using Crm.Kit.Segmentation;
using Xunit;

namespace Crm.Kit.Testing.Specification;

/// <summary>Specification tests for customers: CRUD, normalisation, every lookup, paging, concurrency and tenant isolation.</summary>
public abstract class CustomerSpecification : CrmSpecification
{
    /// <summary>A created customer can be read back with every field and a version of 1.</summary>
    [Fact]
    public virtual async Task Create_then_find_by_id_returns_every_field()
    {
        var host = CreateHost();
        var draft = Faker.Person() with
        {
            ExternalReference = "crm-1",
            Tags = ["vip", "newsletter"],
            Attributes = new Dictionary<string, AttributeValue>
            {
                ["shoe-size"] = AttributeValue.FromNumber(42.5m),
                ["birthday"] = AttributeValue.FromDate(new DateOnly(1990, 4, 12)),
                ["is-staff"] = AttributeValue.FromBoolean(true),
                ["topics"] = AttributeValue.FromTextList(["garden", "books"]),
                ["note"] = AttributeValue.FromText("prefers mornings"),
            },
        };

        var created = await host.Customers.CreateAsync(draft, Cancel);
        var found = await host.Customers.FindByIdAsync(created.Id, Cancel);

        Assert.NotNull(found);
        Assert.Equal(1, found.Version);
        Assert.Equal(host.TenantId, found.TenantId);
        Assert.Equal(draft.FirstName, found.FirstName);
        Assert.Equal(draft.LastName, found.LastName);
        Assert.Equal("crm-1", found.ExternalReference);
        Assert.Equal(created.Emails, found.Emails);
        Assert.Equal(created.Phones, found.Phones);
        Assert.Equal(created.Addresses, found.Addresses);
        Assert.Equal(["newsletter", "vip"], found.Tags);
        Assert.Equal(5, found.Attributes.Count);
        Assert.Equal(42.5m, found.Attributes["shoe-size"].Number);
        Assert.Equal(new DateOnly(1990, 4, 12), found.Attributes["birthday"].Date);
        Assert.True(found.Attributes["is-staff"].Boolean);
        Assert.Equal(["garden", "books"], found.Attributes["topics"].TextList);
        Assert.Equal(draft.InitialStage, found.LifecycleStage);
        Assert.Single(found.LifecycleHistory);
        Assert.Equal(draft.InitialConsent.Count, found.ConsentHistory.Count);
        Assert.Equal(Clock.GetUtcNow(), found.CreatedAt);
        Assert.Equal(CustomerMetrics.Empty, found.Metrics);
        Assert.Single(host.Events.Of<CustomerCreated>());
    }

    /// <summary>Emails are matched case-insensitively and phones in any common format.</summary>
    [Fact]
    public virtual async Task Email_and_phone_lookups_use_normalised_values()
    {
        var host = CreateHost();
        var customer = await host.Customers.CreateAsync(new CustomerDraft
        {
            FirstName = "Ada",
            LastName = "Lovelace",
            Emails = [new EmailContact("  Ada.Lovelace@Example.COM ")],
            Phones = [new PhoneContact("(415) 555-0134")],
        }, Cancel);

        Assert.Equal("ada.lovelace@example.com", customer.Emails[0].Address);
        Assert.Equal("+14155550134", customer.Phones[0].Number);
        Assert.Equal(customer.Id, Assert.Single(await host.Customers.FindByEmailAsync("ADA.LOVELACE@example.com", Cancel)).Id);
        Assert.Equal(customer.Id, Assert.Single(await host.Customers.FindByPhoneAsync("+1 415 555 0134", Cancel)).Id);
        Assert.Equal(customer.Id, Assert.Single(await host.Customers.FindByPhoneAsync("1 (415) 555-0134", Cancel)).Id);
        Assert.Equal(customer.Id, Assert.Single(await host.Customers.FindByPhoneAsync("011 1 415 555 0134", Cancel)).Id);
        Assert.Empty(await host.Customers.FindByEmailAsync("someone.else@example.com", Cancel));
    }

    /// <summary>The external reference finds the customer and is unique per tenant.</summary>
    [Fact]
    public virtual async Task External_reference_is_found_and_unique_per_tenant()
    {
        var host = CreateHost();
        var first = await host.Customers.CreateAsync(Faker.Person() with { ExternalReference = "app-user-7" }, Cancel);

        Assert.Equal(first.Id, (await host.Customers.FindByExternalReferenceAsync("app-user-7", Cancel))?.Id);
        var error = await Assert.ThrowsAsync<CrmValidationException>(() => host.Customers.CreateAsync(Faker.Person() with { ExternalReference = "app-user-7" }, Cancel));
        Assert.Contains(error.Errors, e => e.Field == "ExternalReference" && e.Rule == "unique");

        var other = CreateHost();
        var sameReferenceElsewhere = await other.Customers.CreateAsync(Faker.Person() with { ExternalReference = "app-user-7" }, Cancel);
        Assert.NotEqual(first.Id, sameReferenceElsewhere.Id);
    }

    /// <summary>Name search matches prefixes of given, family, company and full names, ignoring case and accents.</summary>
    [Fact]
    public virtual async Task Name_prefix_search_ignores_case_and_accents()
    {
        var host = CreateHost();
        var zoe = await host.Customers.CreateAsync(new CustomerDraft { FirstName = "Zoë", LastName = "O'Brien" }, Cancel);
        var acme = await host.Customers.CreateAsync(new CustomerDraft { Kind = CustomerKind.Company, CompanyName = "Acme Tools" }, Cancel);
        await host.Customers.CreateAsync(new CustomerDraft { FirstName = "Zachary", LastName = "Smith" }, Cancel);

        Assert.Equal([zoe.Id], (await host.Customers.SearchByNameAsync("zoe", cancellationToken: Cancel)).Select(c => c.Id));
        Assert.Equal([zoe.Id], (await host.Customers.SearchByNameAsync("obri", cancellationToken: Cancel)).Select(c => c.Id));
        Assert.Equal([zoe.Id], (await host.Customers.SearchByNameAsync("Zoe O'B", cancellationToken: Cancel)).Select(c => c.Id));
        Assert.Equal([acme.Id], (await host.Customers.SearchByNameAsync("acme t", cancellationToken: Cancel)).Select(c => c.Id));
        Assert.Equal(2, (await host.Customers.SearchByNameAsync("Z", cancellationToken: Cancel)).Count);
    }

    /// <summary>Keyset paging returns every customer exactly once, in creation order, even when customers are added between pages.</summary>
    [Fact]
    public virtual async Task Paging_returns_every_customer_once_in_creation_order()
    {
        var host = CreateHost();
        var ids = new List<Guid>();
        for (var i = 0; i < 23; i++)
        {
            Clock.Advance(TimeSpan.FromSeconds(1));
            ids.Add((await host.Customers.CreateAsync(Faker.Person(), Cancel)).Id);
        }

        var seen = new List<Guid>();
        string? token = null;
        var pages = 0;
        do
        {
            var page = await host.Customers.ListAsync(token, 5, Cancel);
            seen.AddRange(page.Items.Select(c => c.Id));
            token = page.ContinuationToken;
            pages++;
            if (pages == 2)
            {
                Clock.Advance(TimeSpan.FromSeconds(1));
                ids.Add((await host.Customers.CreateAsync(Faker.Person(), Cancel)).Id);
            }
        }
        while (token is not null);

        Assert.Equal(ids, seen);
        var streamed = new List<Guid>();
        await foreach (var customer in host.Customers.StreamAsync(Cancel))
        {
            streamed.Add(customer.Id);
        }

        Assert.Equal(ids, streamed);
    }

    /// <summary>An update replaces the editable fields, keeps the rest and bumps the version.</summary>
    [Fact]
    public virtual async Task Update_replaces_details_and_bumps_version()
    {
        var host = CreateHost();
        var customer = await host.Customers.CreateAsync(Faker.Person(), Cancel);
        Clock.Advance(TimeSpan.FromMinutes(5));

        var updated = await host.Customers.UpdateAsync(customer.Id, customer.Version, customer.ToDraft() with
        {
            LastName = "Hopper",
            Emails = [new EmailContact("grace@navy.example")],
            Tags = ["admiral"],
        }, Cancel);

        Assert.Equal(2, updated.Version);
        var found = await host.Customers.GetByIdAsync(customer.Id, Cancel);
        Assert.Equal("Hopper", found.LastName);
        Assert.Equal(["admiral"], found.Tags);
        Assert.Equal(customer.CreatedAt, found.CreatedAt);
        Assert.Equal(Clock.GetUtcNow(), found.UpdatedAt);
        Assert.Empty(await host.Customers.FindByEmailAsync(customer.Emails[0].Address, Cancel));
        Assert.Single(await host.Customers.FindByEmailAsync("GRACE@navy.example", Cancel));
    }

    /// <summary>A stale update fails with a concurrency error and changes nothing.</summary>
    [Fact]
    public virtual async Task Stale_update_fails_and_changes_nothing()
    {
        var host = CreateHost();
        var customer = await host.Customers.CreateAsync(Faker.Person(), Cancel);
        await host.Customers.UpdateAsync(customer.Id, customer.Version, customer.ToDraft() with { FirstName = "First" }, Cancel);

        var conflict = await Assert.ThrowsAsync<ConcurrencyConflictException>(() =>
            host.Customers.UpdateAsync(customer.Id, customer.Version, customer.ToDraft() with { FirstName = "Second" }, Cancel));

        Assert.Equal(customer.Id, conflict.Id);
        var found = await host.Customers.GetByIdAsync(customer.Id, Cancel);
        Assert.Equal("First", found.FirstName);
        Assert.Equal(2, found.Version);
    }

    /// <summary>Two hosts updating the same customer at once: one wins, the other gets a concurrency error.</summary>
    [Fact]
    public virtual async Task Concurrent_updates_from_separate_scopes_do_not_both_win()
    {
        var host = CreateHost();
        var customer = await host.Customers.CreateAsync(Faker.Person(), Cancel);
        var names = Enumerable.Range(0, 8).Select(i => "Name" + i).ToList();

        var outcomes = await Task.WhenAll(names.Select(async name =>
        {
            await using var scope = host.CreateScopeAsync();
            var manager = Microsoft.Extensions.DependencyInjection.ServiceProviderServiceExtensions.GetRequiredService<CustomerManager>(scope.ServiceProvider);
            try
            {
                await manager.UpdateAsync(customer.Id, customer.Version, customer.ToDraft() with { FirstName = name }, Cancel);
                return name;
            }
            catch (ConcurrencyConflictException)
            {
                return null;
            }
        }));

        var winner = Assert.Single(outcomes, o => o is not null);
        var found = await host.Customers.GetByIdAsync(customer.Id, Cancel);
        Assert.Equal(winner, found.FirstName);
        Assert.Equal(2, found.Version);
    }

    /// <summary>Invalid input is rejected with every problem named, and nothing is stored.</summary>
    [Fact]
    public virtual async Task Invalid_draft_names_every_problem_and_stores_nothing()
    {
        var host = CreateHost();
        var error = await Assert.ThrowsAsync<CrmValidationException>(() => host.Customers.CreateAsync(new CustomerDraft
        {
            FirstName = "Valid",
            Emails = [new EmailContact("not-an-email"), default],
            Phones = [new PhoneContact("call me maybe"), default],
            Tags = ["   "],
            Addresses = [new PostalAddress("", null, "Paris", null, "75001", "France")],
            Attributes = new Dictionary<string, AttributeValue> { ["1bad key"] = AttributeValue.FromText("x") },
        }, Cancel));

        Assert.Contains(error.Errors, e => e is { Field: "Emails[0]", Rule: "email-format" });
        Assert.Contains(error.Errors, e => e is { Field: "Phones[0]", Rule: "phone-format" });
        Assert.Contains(error.Errors, e => e is { Field: "Emails[1]", Rule: "email-format" });
        Assert.Contains(error.Errors, e => e is { Field: "Phones[1]", Rule: "phone-format" });
        Assert.Contains(error.Errors, e => e is { Field: "Tags[0]", Rule: "required" });
        Assert.Contains(error.Errors, e => e is { Field: "Addresses[0].Line1", Rule: "required" });
        Assert.Contains(error.Errors, e => e is { Field: "Addresses[0].CountryCode", Rule: "country-code" });
        Assert.Contains(error.Errors, e => e is { Field: "Attributes[1bad key]", Rule: "attribute-key" });
        Assert.Empty((await host.Customers.ListAsync(cancellationToken: Cancel)).Items);
        Assert.Empty(host.Events.All);

        var company = await Assert.ThrowsAsync<CrmValidationException>(() => host.Customers.CreateAsync(new CustomerDraft { Kind = CustomerKind.Company }, Cancel));
        Assert.Contains(company.Errors, e => e is { Field: "CompanyName", Rule: "required" });
    }

    /// <summary>A person can belong to a company customer, and only to one that exists.</summary>
    [Fact]
    public virtual async Task Person_belongs_to_an_existing_company()
    {
        var host = CreateHost();
        var company = await host.Customers.CreateAsync(Faker.Company(), Cancel);
        var person = await host.Customers.CreateAsync(Faker.Person(company.Id), Cancel);
        Assert.Equal(company.Id, person.CompanyId);

        var error = await Assert.ThrowsAsync<CrmValidationException>(() => host.Customers.CreateAsync(Faker.Person(Guid.CreateVersion7()), Cancel));
        Assert.Contains(error.Errors, e => e is { Field: "CompanyId", Rule: "company-exists" });
        var notACompany = await Assert.ThrowsAsync<CrmValidationException>(() => host.Customers.CreateAsync(Faker.Person(person.Id), Cancel));
        Assert.Contains(notACompany.Errors, e => e.Field == "CompanyId");
    }

    /// <summary>Lifecycle changes are recorded with time and reason, and publish an event.</summary>
    [Fact]
    public virtual async Task Lifecycle_changes_keep_dated_history()
    {
        var host = CreateHost();
        var customer = await host.Customers.CreateAsync(Faker.Person() with { InitialStage = LifecycleStage.Subscriber }, Cancel);
        Clock.Advance(TimeSpan.FromDays(3));
        var changed = await host.Customers.ChangeLifecycleStageAsync(customer.Id, customer.Version, LifecycleStage.MarketingQualifiedLead, "webinar", Cancel);

        Assert.Equal(LifecycleStage.MarketingQualifiedLead, changed.LifecycleStage);
        Assert.Equal([LifecycleStage.Subscriber, LifecycleStage.MarketingQualifiedLead], (await host.Customers.GetByIdAsync(customer.Id, Cancel)).LifecycleHistory.Select(h => h.Stage));
        Assert.Equal(Clock.GetUtcNow(), changed.LifecycleHistory[^1].ChangedAt);
        var stageEvent = Assert.Single(host.Events.Of<LifecycleStageChanged>());
        Assert.Equal((LifecycleStage.Subscriber, LifecycleStage.MarketingQualifiedLead, "webinar"), (stageEvent.From, stageEvent.To, stageEvent.Reason));
    }

    /// <summary>
    /// A blank text attribute, and a list holding only blank items (what splitting an empty multi-select gives), are
    /// no value: they are not kept, and "is set" reads the same here as in memory. Blank items beside real ones are
    /// dropped; text that is not valid Unicode or holds U+0000 is refused with the attribute named.
    /// </summary>
    [Fact]
    public virtual async Task Blank_attribute_values_are_no_value()
    {
        var host = CreateHost();
        var customer = await host.Customers.CreateAsync(new CustomerDraft
        {
            FirstName = "Bea",
            Attributes = new Dictionary<string, AttributeValue>
            {
                ["plan"] = AttributeValue.FromText(" \t"),
                ["topics"] = AttributeValue.FromTextList([""]),
                ["colours"] = AttributeValue.FromTextList(["", "red", " "]),
                ["size"] = AttributeValue.FromNumber(0),
            },
        }, Cancel);

        var found = await host.Customers.GetByIdAsync(customer.Id, Cancel);
        Assert.Equal(["colours", "size"], found.Attributes.Keys.Order(StringComparer.Ordinal));
        Assert.Equal(["red"], found.Attributes["colours"].TextList);
        var topicsSet = await host.Segments.FilterCustomersAsync(Rule.Attribute("topics", SegmentValueType.TextList).IsSet(), [customer.Id], Cancel);
        var planSet = await host.Segments.FilterCustomersAsync(Rule.Attribute("plan", SegmentValueType.Text).IsSet(), [customer.Id], Cancel);
        Assert.Empty(topicsSet);
        Assert.Empty(planSet);

        var bad = await Assert.ThrowsAsync<CrmValidationException>(() => host.Customers.CreateAsync(new CustomerDraft
        {
            FirstName = "Nul",
            Attributes = new Dictionary<string, AttributeValue> { ["plan"] = AttributeValue.FromText("a\0b"), ["topics"] = AttributeValue.FromTextList(["\ud800"]) },
        }, Cancel));
        Assert.Equal([("Attributes[plan]", "text-encoding"), ("Attributes[topics]", "list-item")], bad.Errors.Select(e => (e.Field, e.Rule)));
    }

    /// <summary>Consent is kept as history; the latest statement per channel and purpose is in force.</summary>
    [Fact]
    public virtual async Task Consent_history_latest_statement_wins()
    {
        var host = CreateHost();
        var customer = await host.Customers.CreateAsync(new CustomerDraft { FirstName = "Con", LastName = "Sent" }, Cancel);
        // Statements from the last three days, arriving out of order: none may be dated after now.
        var t0 = Clock.GetUtcNow().AddDays(-3);
        await host.Customers.RecordConsentAsync(customer.Id, new ConsentRecord(ContactChannel.Email, ConsentPurpose.Marketing, true, t0, "form"), Cancel);
        await host.Customers.RecordConsentAsync(customer.Id, new ConsentRecord(ContactChannel.Email, ConsentPurpose.Marketing, false, t0.AddDays(2), "unsubscribe-link"), Cancel);
        // A late-arriving older statement does not override the newer withdrawal.
        await host.Customers.RecordConsentAsync(customer.Id, new ConsentRecord(ContactChannel.Email, ConsentPurpose.Marketing, true, t0.AddDays(1), "call-centre"), Cancel);
        // Given with an offset, kept as the same instant in UTC.
        await host.Customers.RecordConsentAsync(customer.Id, new ConsentRecord(ContactChannel.Sms, ConsentPurpose.Service, true, t0.ToOffset(TimeSpan.FromHours(2)), "checkout"), Cancel);
        var blank = await Assert.ThrowsAsync<CrmValidationException>(() => host.Customers.RecordConsentAsync(customer.Id, default, Cancel));
        Assert.Contains(blank.Errors, e => e.Field.EndsWith(".Source", StringComparison.Ordinal) && e.Rule == "required");
        Assert.Contains(blank.Errors, e => e.Field.EndsWith(".RecordedAt", StringComparison.Ordinal) && e.Rule == "required");

        var found = await host.Customers.GetByIdAsync(customer.Id, Cancel);
        Assert.Equal(4, found.ConsentHistory.Count);
        Assert.False(found.HasConsent(ContactChannel.Email, ConsentPurpose.Marketing));
        Assert.Equal("unsubscribe-link", found.GetConsent(ContactChannel.Email, ConsentPurpose.Marketing)?.Source);
        Assert.True(found.HasConsent(ContactChannel.Sms, ConsentPurpose.Service));
        var checkout = found.GetConsent(ContactChannel.Sms, ConsentPurpose.Service)!.Value.RecordedAt;
        Assert.Equal((t0.UtcTicks, TimeSpan.Zero), (checkout.UtcTicks, checkout.Offset));
        Assert.False(found.HasConsent(ContactChannel.Post, ConsentPurpose.Marketing));
        Assert.Equal(4, host.Events.Of<ConsentChanged>().Count);
    }

    /// <summary>A batch import stores every customer with every lookup working, and publishes an event for each.</summary>
    [Fact]
    public virtual async Task Batch_import_stores_every_customer_findably()
    {
        var host = CreateHost();
        var drafts = Enumerable.Range(0, 250).Select(i => Faker.Person() with { ExternalReference = "imp-" + i, Emails = [new EmailContact($"Import.{i}@Example.com")] }).ToList();

        var created = await host.Customers.CreateManyAsync(drafts, Cancel);

        Assert.Equal(250, created.Count);
        var sample = created[123];
        Assert.Equal(sample.Id, (await host.Customers.FindByExternalReferenceAsync("imp-123", Cancel))?.Id);
        Assert.Equal(sample.Id, Assert.Single(await host.Customers.FindByEmailAsync("import.123@example.com", Cancel)).Id);
        if (sample.Phones.Count > 0)
        {
            Assert.Contains(await host.Customers.FindByPhoneAsync(sample.Phones[0].Number, Cancel), c => c.Id == sample.Id);
        }

        Assert.Contains(await host.Customers.SearchByNameAsync(sample.LastName!, 100, Cancel), c => c.Id == sample.Id);
        var found = await host.Customers.GetByIdAsync(sample.Id, Cancel);
        Assert.Equal(sample.Attributes.Count, found.Attributes.Count);
        Assert.Equal(sample.ConsentHistory, found.ConsentHistory);
        Assert.Equal(sample.Metrics, found.Metrics);
        Assert.Equal(250, host.Events.Of<CustomerCreated>().Count);
    }

    /// <summary>A batch with one bad draft, or one taken reference, stores nothing and names the draft.</summary>
    [Fact]
    public virtual async Task Batch_import_is_all_or_nothing()
    {
        var host = CreateHost();
        await host.Customers.CreateAsync(Faker.Person() with { ExternalReference = "taken" }, Cancel);
        var drafts = Enumerable.Range(0, 20).Select(i => Faker.Person() with { ExternalReference = "batch-" + i }).ToList();

        var invalid = await Assert.ThrowsAsync<CrmValidationException>(() =>
            host.Customers.CreateManyAsync([.. drafts.Take(5), drafts[5] with { Emails = [new EmailContact("nope")] }, .. drafts.Skip(6)], Cancel));
        Assert.Contains(invalid.Errors, e => e is { Field: "[5].Emails[0]", Rule: "email-format" });

        var repeated = await Assert.ThrowsAsync<CrmValidationException>(() =>
            host.Customers.CreateManyAsync([.. drafts, drafts[3]], Cancel));
        Assert.Contains(repeated.Errors, e => e is { Field: "[20].ExternalReference", Rule: "unique" });

        var taken = await Assert.ThrowsAsync<CrmValidationException>(() =>
            host.Customers.CreateManyAsync([.. drafts.Take(10), drafts[10] with { ExternalReference = "taken" }, .. drafts.Skip(11)], Cancel));
        Assert.Contains(taken.Errors, e => e is { Field: "[10].ExternalReference", Rule: "unique" });

        Assert.Single((await host.Customers.ListAsync(cancellationToken: Cancel)).Items);
        Assert.Null(await host.Customers.FindByExternalReferenceAsync("batch-0", Cancel));
        Assert.Single(host.Events.Of<CustomerCreated>());
    }

    /// <summary>No lookup of one tenant finds another tenant's customer, and no change can reach it.</summary>
    [Fact]
    public virtual async Task Tenants_cannot_read_or_change_each_other()
    {
        var tenantA = CreateHost();
        var tenantB = CreateHost();
        var customer = await tenantA.Customers.CreateAsync(new CustomerDraft
        {
            FirstName = "Only",
            LastName = "InA",
            ExternalReference = "shared-ref",
            Emails = [new EmailContact("only@a.example")],
            Phones = [new PhoneContact("+14155550199")],
        }, Cancel);

        Assert.Null(await tenantB.Customers.FindByIdAsync(customer.Id, Cancel));
        Assert.Null(await tenantB.Customers.FindByExternalReferenceAsync("shared-ref", Cancel));
        Assert.Empty(await tenantB.Customers.FindByEmailAsync("only@a.example", Cancel));
        Assert.Empty(await tenantB.Customers.FindByPhoneAsync("+14155550199", Cancel));
        Assert.Empty(await tenantB.Customers.SearchByNameAsync("Only", cancellationToken: Cancel));
        Assert.Empty((await tenantB.Customers.ListAsync(cancellationToken: Cancel)).Items);
        await Assert.ThrowsAsync<EntityNotFoundException>(() => tenantB.Customers.UpdateAsync(customer.Id, 1, customer.ToDraft() with { FirstName = "Hijacked" }, Cancel));
        await Assert.ThrowsAsync<EntityNotFoundException>(() => tenantB.Customers.RecordConsentAsync(customer.Id, new ConsentRecord(ContactChannel.Email, ConsentPurpose.Marketing, true, Clock.GetUtcNow(), "x"), Cancel));

        var found = await tenantA.Customers.GetByIdAsync(customer.Id, Cancel);
        Assert.Equal("Only", found.FirstName);
        Assert.Equal(1, found.Version);
    }
}
