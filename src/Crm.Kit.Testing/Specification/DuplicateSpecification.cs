using System.Text.Json;
using Crm.Kit.Customers;
using Crm.Kit.Duplicates;
using Crm.Kit.Orders;
using Xunit;

namespace Crm.Kit.Testing.Specification;

/// <summary>Specification tests for duplicate detection, merging, export and erasure.</summary>
public abstract class DuplicateAndPrivacySpecification : CrmSpecification
{
    /// <summary>Duplicates are found for one customer and in a tenant scan, each with reasons and a score.</summary>
    [Fact]
    public virtual async Task Finds_duplicates_by_email_phone_and_similar_name()
    {
        var host = CreateHost();
        var original = Faker.Person() with { Phones = [new PhoneContact("415 555 0101")], Addresses = [] };
        var a = await host.Customers.CreateAsync(original, Cancel);
        var sameEmailAndPhone = await host.Customers.CreateAsync(CrmFaker.DuplicateOf(original), Cancel);
        var address = new PostalAddress("1 Main St", null, "Springfield", null, "12345", "US");
        var jon = await host.Customers.CreateAsync(new CustomerDraft { FirstName = "Jonathan", LastName = "Whitaker", Addresses = [address] }, Cancel);
        var jonathon = await host.Customers.CreateAsync(new CustomerDraft { FirstName = "Jonathon", LastName = "Whitaker", Addresses = [address with { Line1 = "1 Main Street" }] }, Cancel);
        await host.Customers.CreateAsync(new CustomerDraft { FirstName = "Jonathan", LastName = "Whitaker", Addresses = [address with { PostalCode = "99999" }] }, Cancel);

        var forA = await host.Duplicates.FindForCustomerAsync(a.Id, Cancel);
        var match = Assert.Single(forA);
        Assert.Equal(sameEmailAndPhone.Id, match.DuplicateId);
        Assert.Equal([DuplicateReason.SameEmail, DuplicateReason.SamePhone], match.Reasons);
        Assert.Equal(0.98, match.Score);

        var forJon = Assert.Single(await host.Duplicates.FindForCustomerAsync(jon.Id, Cancel));
        Assert.Equal(jonathon.Id, forJon.DuplicateId);
        Assert.Equal([DuplicateReason.SimilarNameSamePostalCode], forJon.Reasons);

        var scan = await host.Duplicates.ScanAsync(Cancel);
        Assert.Equal(2, scan.Count);
        Assert.Contains(scan, m => new[] { m.CustomerId, m.DuplicateId }.Order().SequenceEqual(new[] { a.Id, sameEmailAndPhone.Id }.Order()));
        Assert.Contains(scan, m => new[] { m.CustomerId, m.DuplicateId }.Order().SequenceEqual(new[] { jon.Id, jonathon.Id }.Order()));
    }

    /// <summary>A preview changes nothing; applying it combines data, moves history, recomputes metrics and redirects the old id and reference.</summary>
    [Fact]
    public virtual async Task Merge_combines_moves_history_and_redirects()
    {
        var host = CreateHost();
        // Statements and orders from the last three days: none may be dated after now.
        var t0 = Clock.GetUtcNow().AddDays(-3);
        var survivor = await host.Customers.CreateAsync(new CustomerDraft
        {
            FirstName = "Mary",
            LastName = "Major",
            ExternalReference = "keep",
            Emails = [new EmailContact("mary@one.example")],
            Tags = ["vip"],
            Attributes = new Dictionary<string, AttributeValue> { ["tier"] = AttributeValue.FromText("gold") },
            InitialConsent = [new ConsentRecord(ContactChannel.Email, ConsentPurpose.Marketing, true, t0, "form")],
        }, Cancel);
        var duplicate = await host.Customers.CreateAsync(new CustomerDraft
        {
            FirstName = "Mary",
            LastName = "Major",
            ExternalReference = "old",
            Emails = [new EmailContact("MARY@two.example")],
            Phones = [new PhoneContact("+442079460018")],
            Tags = ["newsletter"],
            Attributes = new Dictionary<string, AttributeValue> { ["tier"] = AttributeValue.FromText("silver"), ["size"] = AttributeValue.FromNumber(38) },
            InitialConsent = [new ConsentRecord(ContactChannel.Email, ConsentPurpose.Marketing, false, t0.AddDays(1), "unsubscribe")],
        }, Cancel);
        await host.Orders.RecordAsync(Faker.Order(survivor.Id, t0) with { Reference = "m-1" }, Cancel);
        var movedOrder = await host.Orders.RecordAsync(Faker.Order(duplicate.Id, t0.AddDays(2)) with { Reference = "m-2" }, Cancel);
        var movedNote = await host.Interactions.RecordAsync(Faker.Interaction(duplicate.Id, t0), Cancel);
        survivor = await host.Customers.GetByIdAsync(survivor.Id, Cancel);
        duplicate = await host.Customers.GetByIdAsync(duplicate.Id, Cancel);

        var plan = await host.Merger.PreviewAsync(survivor.Id, duplicate.Id, Cancel);
        Assert.Equal((1, 1), (plan.OrdersToMove, plan.InteractionsToMove));
        Assert.Equal(2, plan.Result.Emails.Count);
        Assert.Equal(duplicate.Version, (await host.Customers.FindByIdAsync(duplicate.Id, Cancel))?.Version);
        Assert.Empty(host.Events.Of<CustomersMerged>());

        var merged = await host.Merger.MergeAsync(plan, Cancel);

        Assert.Equal(["mary@one.example", "mary@two.example"], merged.Emails.Select(e => e.Address));
        Assert.Equal(["+442079460018"], merged.Phones.Select(p => p.Number));
        Assert.Equal(["newsletter", "vip"], merged.Tags);
        Assert.Equal("gold", merged.Attributes["tier"].Text);
        Assert.Equal(38m, merged.Attributes["size"].Number);
        Assert.False(merged.HasConsent(ContactChannel.Email, ConsentPurpose.Marketing));
        var orders = await host.Orders.ListForCustomerAsync(survivor.Id, cancellationToken: Cancel);
        Assert.Equal(2, orders.Items.Count);
        Assert.Equal(orders.Items.Sum(o => o.NetTotal), merged.Metrics.TotalSpent);
        Assert.Equal(2, merged.Metrics.OrderCount);
        Assert.Equal(survivor.Id, (await host.Orders.FindByIdAsync(movedOrder.Id, Cancel))?.CustomerId);
        Assert.Equal(survivor.Id, (await host.Interactions.FindByIdAsync(movedNote.Id, Cancel))?.CustomerId);

        Assert.Equal(survivor.Id, (await host.Customers.FindByIdAsync(duplicate.Id, Cancel))?.Id);
        Assert.Equal(survivor.Id, (await host.Customers.FindByExternalReferenceAsync("old", Cancel))?.Id);
        Assert.Equal(survivor.Id, Assert.Single(await host.Customers.FindByEmailAsync("mary@two.example", Cancel)).Id);
        Assert.DoesNotContain(duplicate.Id, (await host.Customers.ListAsync(cancellationToken: Cancel)).Items.Select(c => c.Id));
        var mergedEvent = Assert.Single(host.Events.Of<CustomersMerged>());
        Assert.Equal((survivor.Id, duplicate.Id), (mergedEvent.SurvivorId, mergedEvent.MergedId));

        // The plan is spent: the duplicate changed, so applying it again is a conflict, not a second merge.
        await Assert.ThrowsAsync<ConcurrencyConflictException>(() => host.Merger.MergeAsync(plan, Cancel));
    }

    /// <summary>A merge based on a stale preview changes nothing.</summary>
    [Fact]
    public virtual async Task Merge_of_a_stale_plan_changes_nothing()
    {
        var host = CreateHost();
        var survivor = await host.Customers.CreateAsync(Faker.Person(), Cancel);
        var duplicate = await host.Customers.CreateAsync(Faker.Person(), Cancel);
        var order = await host.Orders.RecordAsync(Faker.Order(duplicate.Id, Clock.GetUtcNow()), Cancel);
        var plan = await host.Merger.PreviewAsync(survivor.Id, duplicate.Id, Cancel);
        await host.Customers.UpdateAsync(survivor.Id, survivor.Version, survivor.ToDraft() with { OwnerId = "someone" }, Cancel);

        await Assert.ThrowsAsync<ConcurrencyConflictException>(() => host.Merger.MergeAsync(plan, Cancel));

        Assert.Equal(duplicate.Id, (await host.Orders.FindByIdAsync(order.Id, Cancel))?.CustomerId);
        Assert.Equal(duplicate.Id, (await host.Customers.FindByIdAsync(duplicate.Id, Cancel))?.Id);
        await Assert.ThrowsAsync<CrmValidationException>(() => host.Merger.PreviewAsync(survivor.Id, survivor.Id, Cancel));
    }

    /// <summary>Orders and interactions addressed to a merged-away id land on the survivor, and count in its metrics.</summary>
    [Fact]
    public virtual async Task Writes_to_a_merged_away_id_reach_the_survivor()
    {
        var host = CreateHost();
        var survivor = await host.Customers.CreateAsync(Faker.Person(), Cancel);
        var duplicate = await host.Customers.CreateAsync(Faker.Person(), Cancel);
        await host.Merger.MergeAsync(survivor.Id, duplicate.Id, Cancel);

        var order = await host.Orders.RecordAsync(Faker.Order(duplicate.Id, Clock.GetUtcNow()), Cancel);
        var note = await host.Interactions.RecordAsync(Faker.Interaction(duplicate.Id, Clock.GetUtcNow()), Cancel);

        Assert.Equal(survivor.Id, order.CustomerId);
        Assert.Equal(survivor.Id, note.CustomerId);
        var found = await host.Customers.GetByIdAsync(survivor.Id, Cancel);
        Assert.Equal((1, order.Total), (found.Metrics.OrderCount, found.Metrics.TotalSpent));
    }

    /// <summary>The export holds the profile, orders and timeline as JSON.</summary>
    [Fact]
    public virtual async Task Export_contains_everything_held()
    {
        var host = CreateHost();
        var customer = await host.Customers.CreateAsync(Faker.Person() with { Emails = [new EmailContact("export.me@example.com")] }, Cancel);
        await host.Orders.RecordAsync(Faker.Order(customer.Id, Clock.GetUtcNow()) with { Reference = "exp-1" }, Cancel);
        await host.Interactions.RecordAsync(Faker.Interaction(customer.Id, Clock.GetUtcNow()) with { Subject = "Export subject" }, Cancel);

        using var json = JsonDocument.Parse(await host.Privacy.ExportAsJsonAsync(customer.Id, Cancel));
        var root = json.RootElement;
        Assert.Equal(customer.Id, root.GetProperty("customer").GetProperty("id").GetGuid());
        Assert.Equal("export.me@example.com", root.GetProperty("customer").GetProperty("emails")[0].GetProperty("address").GetString());
        Assert.Equal("exp-1", root.GetProperty("orders")[0].GetProperty("reference").GetString());
        Assert.Equal("Export subject", root.GetProperty("interactions")[0].GetProperty("subject").GetString());
    }

    /// <summary>Erasure removes personal data and every way to find it, and keeps order facts.</summary>
    [Fact]
    public virtual async Task Erase_removes_personal_data_and_keeps_order_facts()
    {
        var host = CreateHost();
        var customer = await host.Customers.CreateAsync(new CustomerDraft
        {
            FirstName = "Erin",
            LastName = "Erasure",
            ExternalReference = "erase-me",
            Emails = [new EmailContact("erin@example.com")],
            Phones = [new PhoneContact("+14155550177")],
            Addresses = [new PostalAddress("2 Side St", null, "Town", null, "54321", "US")],
        }, Cancel);
        var twin = await host.Customers.CreateAsync(new CustomerDraft { FirstName = "Erin", LastName = "Erasure", ExternalReference = "erase-me-too" }, Cancel);
        await host.Merger.MergeAsync(customer.Id, twin.Id, Cancel);
        var order = await host.Orders.RecordAsync(Faker.Order(customer.Id, Clock.GetUtcNow()) with { Reference = "kept" }, Cancel);
        var note = await host.Interactions.RecordAsync(Faker.Interaction(customer.Id, Clock.GetUtcNow()), Cancel);

        var erased = await host.Privacy.EraseAsync(customer.Id, Cancel);

        Assert.NotNull(erased.ErasedAt);
        var found = await host.Customers.GetByIdAsync(customer.Id, Cancel);
        Assert.Null(found.FirstName);
        Assert.Null(found.LastName);
        Assert.Empty(found.Emails);
        Assert.Empty(found.Phones);
        Assert.Empty(found.Addresses);
        Assert.Empty(await host.Customers.FindByEmailAsync("erin@example.com", Cancel));
        Assert.Empty(await host.Customers.FindByPhoneAsync("+14155550177", Cancel));
        Assert.Null(await host.Customers.FindByExternalReferenceAsync("erase-me", Cancel));
        Assert.Null(await host.Customers.FindByExternalReferenceAsync("erase-me-too", Cancel));
        Assert.Empty(await host.Customers.SearchByNameAsync("Erin", cancellationToken: Cancel));
        Assert.Equal(order.NetTotal, (await host.Orders.FindByIdAsync(order.Id, Cancel))?.NetTotal);
        Assert.Equal(1, found.Metrics.OrderCount);
        var erasedNote = await host.Interactions.FindByIdAsync(note.Id, Cancel);
        Assert.Null(erasedNote?.Subject);
        Assert.Null(erasedNote?.Body);
        Assert.Equal(note.OccurredAt, erasedNote?.OccurredAt);
        Assert.Single(host.Events.Of<CustomerErased>());
    }

    /// <summary>Another tenant can neither merge, export nor erase a customer.</summary>
    [Fact]
    public virtual async Task Tenants_cannot_merge_export_or_erase_each_others_customers()
    {
        var tenantA = CreateHost();
        var tenantB = CreateHost();
        var shared = new[] { new EmailContact("same.person@example.com") };
        var a1 = await tenantA.Customers.CreateAsync(Faker.Person() with { Emails = shared }, Cancel);
        var a2 = await tenantA.Customers.CreateAsync(Faker.Person() with { Emails = shared }, Cancel);
        var b1 = await tenantB.Customers.CreateAsync(Faker.Person() with { Emails = shared }, Cancel);

        // The same email in two tenants is not a duplicate: each tenant sees only its own pair.
        Assert.Empty(await tenantB.Duplicates.FindForCustomerAsync(b1.Id, Cancel));
        Assert.Empty(await tenantB.Duplicates.ScanAsync(Cancel));
        Assert.Single(await tenantA.Duplicates.ScanAsync(Cancel));
        await Assert.ThrowsAsync<EntityNotFoundException>(() => tenantB.Merger.PreviewAsync(b1.Id, a1.Id, Cancel));
        await Assert.ThrowsAsync<EntityNotFoundException>(() => tenantB.Merger.PreviewAsync(a1.Id, a2.Id, Cancel));
        await Assert.ThrowsAsync<EntityNotFoundException>(() => tenantB.Privacy.ExportAsync(a1.Id, Cancel));
        await Assert.ThrowsAsync<EntityNotFoundException>(() => tenantB.Privacy.EraseAsync(a1.Id, Cancel));
        Assert.Null((await tenantA.Customers.GetByIdAsync(a1.Id, Cancel)).ErasedAt);
    }
}
