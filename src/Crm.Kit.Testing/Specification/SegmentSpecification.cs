using Crm.Kit.Customers;
using Crm.Kit.Orders;
using Crm.Kit.Segmentation;
using Microsoft.Extensions.DependencyInjection;
using Xunit;

namespace Crm.Kit.Testing.Specification;

/// <summary>
/// Specification tests for segmentation: the same members wherever rules run, real-time membership with one
/// event per transition, scheduled re-evaluation, static lists, references between segments, and tenant isolation.
/// </summary>
public abstract class SegmentSpecification : CrmSpecification
{
    /// <summary>How many random rules the agreement test checks.</summary>
    protected virtual int RandomRuleCount => 200;

    /// <summary>Builds a tenant of realistic customers, some with orders, consent changes and awkward text.</summary>
    protected async Task<IReadOnlyList<Customer>> SeedAsync(CrmTestHost host, int people = 160)
    {
        var companies = await host.Customers.CreateManyAsync([.. Enumerable.Range(0, 12).Select(_ => Faker.Company())], Cancel);
        var drafts = Enumerable.Range(0, people)
            .Select(i => Faker.Person(i % 5 == 0 ? companies[i % companies.Count].Id : null))
            .Select((d, i) => i % 4 == 0 ? d with { Attributes = new Dictionary<string, AttributeValue>(d.Attributes) { ["plan"] = AttributeValue.FromText(i % 8 == 0 ? "Gold" : "silver-Plus") } } : d)
            .Concat(AwkwardPeople())
            .ToList();
        var created = await host.Customers.CreateManyAsync(drafts, Cancel);
        for (var i = 0; i < created.Count; i += 2)
        {
            Clock.Advance(TimeSpan.FromHours(Faker.Number(1, 90)));
            await host.Orders.RecordAsync(Faker.Order(created[i].Id, Clock.GetUtcNow().AddDays(-Faker.Number(0, 300))), Cancel);
            if (i % 6 == 0)
            {
                await host.Orders.RecordAsync(Faker.Order(created[i].Id, Clock.GetUtcNow().AddDays(-Faker.Number(0, 30))), Cancel);
            }
        }

        for (var i = 1; i < created.Count; i += 7)
        {
            await host.Customers.RecordConsentAsync(created[i].Id, new ConsentRecord(ContactChannel.Sms, ConsentPurpose.Marketing, true, Clock.GetUtcNow(), "test"), Cancel);
        }

        var all = new List<Customer>();
        await foreach (var customer in host.Customers.StreamAsync(Cancel))
        {
            all.Add(customer);
        }

        return all;
    }

    /// <summary>People whose text holds quotes, SQL wildcards and non-ASCII letters.</summary>
    public static IEnumerable<CustomerDraft> AwkwardPeople()
    {
        string[] cities = ["St. John's", "100%_Pure", "Zürich", "ŁÓDŹ", "a_b", "O'Brien %"];
        return cities.Select((city, i) => new CustomerDraft
        {
            FirstName = "Awkward",
            LastName = "Person" + i,
            CompanyName = city + " Ltd",
            Addresses = [new PostalAddress("1 Main St", null, city, null, "9" + i, i % 2 == 0 ? "CH" : "PL")],
            Tags = [city.Length > 5 ? "Ünïcode" : "it's"],
            Attributes = new Dictionary<string, AttributeValue> { ["plan"] = AttributeValue.FromText(city) },
            OwnerId = "user-" + city,
        });
    }

    /// <summary>
    /// People whose values sit where stores are most likely to disagree: blank and white-space text, lists holding
    /// empty and blank items, numbers and dates at the limits of their types and of the rule language.
    /// </summary>
    public static IEnumerable<CustomerDraft> EdgePeople()
    {
        AttributeValue[] plans = [AttributeValue.FromText(" "), AttributeValue.FromText("\t"), AttributeValue.FromText("ß"), AttributeValue.FromText(new string('x', 1000))];
        string[][] topics = [[""], [" "], ["", "v1"], ["\u00a0", "ß"], []];
        decimal[] sizes = [999_999_999_999_999_999.99999999m, -999_999_999_999_999_999.99999999m, 0.00000001m, 0, -1];
        DateOnly[] birthdays = [SegmentRuleValidator.EarliestDate, SegmentRuleValidator.LatestDate, new(2000, 2, 29)];
        return Enumerable.Range(0, 10).Select(i => new CustomerDraft
        {
            FirstName = "Edge",
            LastName = "Case" + i,
            Attributes = new Dictionary<string, AttributeValue>
            {
                ["plan"] = plans[i % plans.Length],
                ["newsletter-topics"] = AttributeValue.FromTextList(topics[i % topics.Length]),
                ["shoe-size"] = AttributeValue.FromNumber(sizes[i % sizes.Length]),
                ["birthday"] = AttributeValue.FromDate(birthdays[i % birthdays.Length]),
            },
        });
    }

    private static async Task<HashSet<Guid>> AllIdsAsync(ISegmentEvaluator evaluator, string tenantId, SegmentRule rule, DateTimeOffset now)
    {
        var ids = new HashSet<Guid>();
        Guid? after = null;
        while (true)
        {
            var page = await evaluator.ListIdsAsync(tenantId, rule, now, after, 500, Cancel);
            ids.UnionWith(page);
            if (page.Count < 500)
            {
                return ids;
            }

            after = page[^1];
        }
    }

    /// <summary>
    /// For many random rules, the adapter returns exactly the customers that the compiled in-memory predicate
    /// selects from the same data: rules mean the same wherever they run.
    /// </summary>
    [Fact]
    public virtual async Task Random_rules_select_the_same_customers_as_in_memory_evaluation()
    {
        var host = CreateHost();
        var customers = await SeedAsync(host);
        var list = await host.Segments.CreateAsync(SegmentDraft.Static("hand-picked"), Cancel);
        await host.Segments.AddToListAsync(list.Id, [.. customers.Where((_, i) => i % 3 == 0).Select(c => c.Id)], Cancel);
        var members = new HashSet<Guid>(customers.Where((_, i) => i % 3 == 0).Select(c => c.Id));
        var lookup = new SetLookup(list.Id, members);

        var evaluator = host.Services.GetRequiredService<ISegmentEvaluator>();
        var compiler = host.Services.GetRequiredService<SegmentRuleCompiler>();
        var now = Clock.GetUtcNow();
        var rules = new SegmentRuleFaker(seed: 7, customers, now, [list.Id]);
        var live = customers.Where(c => c.MergedIntoId is null && c.ErasedAt is null).ToList();
        var nonEmpty = 0;
        for (var i = 0; i < RandomRuleCount; i++)
        {
            var rule = rules.Next();
            var compiled = compiler.Compile(rule);
            var arguments = compiled.Bind(now, lookup);
            var expected = live.Where(c => compiled.Predicate(c, arguments)).Select(c => c.Id).ToHashSet();
            var actual = await AllIdsAsync(evaluator, host.TenantId, rule, now);
            Assert.True(expected.SetEquals(actual), $"Rule {i} selects {actual.Count} customers here but {expected.Count} in memory: {rule}");
            Assert.Equal(expected.Count, await evaluator.CountAsync(host.TenantId, rule, now, Cancel));
            nonEmpty += expected.Count is > 0 && expected.Count < live.Count ? 1 : 0;
        }

        // The agreement means little if the rules selected nobody or everybody.
        Assert.True(nonEmpty > RandomRuleCount / 4, $"Only {nonEmpty} of {RandomRuleCount} rules selected some but not all customers.");
    }

    /// <summary>
    /// Every rule the validator accepts, those at its limits included (the widest groups, the deepest nesting, the
    /// longest lists and texts, the extreme dates, amounts and numbers), runs here without an exception and selects
    /// the same customers as the compiled in-memory predicate, over customers whose own values sit at the limits too.
    /// </summary>
    [Fact]
    public virtual async Task Rules_at_the_limits_of_the_language_run_everywhere_and_agree()
    {
        var host = CreateHost();
        await host.Customers.CreateManyAsync([.. EdgePeople()], Cancel);
        var customers = await SeedAsync(host, people: 40);
        var evaluator = host.Services.GetRequiredService<ISegmentEvaluator>();
        var compiler = host.Services.GetRequiredService<SegmentRuleCompiler>();
        var now = Clock.GetUtcNow();
        var rules = new SegmentRuleFaker(seed: 13, customers, now, edges: true);
        var live = customers.Where(c => c.MergedIntoId is null && c.ErasedAt is null).ToList();
        var lookup = new SetLookup(Guid.Empty, []);
        for (var i = 0; i < RandomRuleCount / 2; i++)
        {
            var rule = rules.Next(maxDepth: 4);
            SegmentRuleValidator.Validate(rule, host.Services.GetRequiredService<SegmentFieldRegistry>());
            var compiled = compiler.Compile(rule);
            var arguments = compiled.Bind(now, lookup);
            var expected = live.Where(c => compiled.Predicate(c, arguments)).Select(c => c.Id).ToHashSet();
            var actual = await AllIdsAsync(evaluator, host.TenantId, rule, now);
            Assert.True(expected.SetEquals(actual), $"Rule {i} selects {actual.Count} customers here but {expected.Count} in memory: {Shorten(rule)}");
        }
    }

    private static string Shorten(SegmentRule rule) => rule.ToString() is var text && text.Length > 2000 ? text[..2000] + "…" : text;

    /// <summary>
    /// A stored segment that can no longer be evaluated — here its rule names the field of a module that is no longer
    /// registered — stops nothing else: customers still enter the other segments in real time, a customer's segments
    /// are still listed, and re-evaluation goes on for the rest. The failing segment is reported, on itself and in
    /// the re-evaluation's result, and re-evaluating it by name throws.
    /// </summary>
    [Fact]
    public virtual async Task A_segment_that_cannot_be_evaluated_stops_no_other()
    {
        var host = CreateHost();
        var buyers = await host.Segments.CreateAsync(SegmentDraft.Dynamic("buyers", Rule.Field("orderCount").GreaterThan(0)), Cancel);
        var now = Clock.GetUtcNow();
        var retired = new Segment
        {
            Id = Guid.CreateVersion7(now), TenantId = host.TenantId, Version = 1, Name = "scored by a removed module",
            Kind = SegmentKind.Dynamic, Rule = Rule.Field("retired.score").GreaterThan(10), CreatedAt = now, UpdatedAt = now,
        };
        await host.Services.GetRequiredService<ISegmentStore>().CreateAsync(retired, Cancel);

        var customer = await host.Customers.CreateAsync(Faker.Person(), Cancel);
        await host.Orders.RecordAsync(Faker.Order(customer.Id, Clock.GetUtcNow()), Cancel);

        Assert.Contains(host.Events.Of<SegmentEntered>(), e => e.SegmentId == buyers.Id && e.CustomerId == customer.Id);
        Assert.Equal([buyers.Id], (await host.Segments.GetSegmentsOfCustomerAsync(customer.Id, Cancel)).Select(s => s.Id));
        var reevaluation = await host.Segments.ReevaluateAsync(cancellationToken: Cancel);
        Assert.Equal(1, reevaluation.SegmentsEvaluated);
        Assert.Equal([retired.Id], reevaluation.Failed);
        var reported = await host.Segments.GetByIdAsync(retired.Id, Cancel);
        Assert.Contains("retired.score", reported.EvaluationError, StringComparison.Ordinal);
        Assert.NotNull(reported.EvaluationFailedAt);
        Assert.Null((await host.Segments.GetByIdAsync(buyers.Id, Cancel)).EvaluationError);
        await Assert.ThrowsAsync<CrmValidationException>(() => host.Segments.ReevaluateAsync(retired.Id, Cancel));
    }

    /// <summary>Quotes, wildcards and non-ASCII letters in values are matched literally and case-insensitively.</summary>
    [Theory]
    [InlineData("city", "equals", "st. john's", "St. John's")]
    [InlineData("city", "contains", "%_", "100%_Pure")]
    [InlineData("city", "contains", "_", "100%_Pure|a_b")]
    [InlineData("city", "startsWith", "o'brien %", "O'Brien %")]
    [InlineData("city", "endsWith", "RICH", "Zürich")]
    [InlineData("city", "equals", "łódź", "ŁÓDŹ")]
    [InlineData("companyName", "contains", "% ltd", "O'Brien %")]
    public virtual async Task Text_values_are_matched_literally(string field, string op, string value, string expectedCities)
    {
        var host = CreateHost();
        await host.Customers.CreateManyAsync([.. AwkwardPeople(), Faker.Person(), Faker.Person()], Cancel);
        var json = "{\"version\":1,\"rule\":{\"field\":\"" + field + "\",\"op\":\"" + op + "\",\"value\":" + System.Text.Json.JsonSerializer.Serialize(value) + "}}";
        var rule = host.Segments.ParseRule(json);

        var preview = await host.Segments.PreviewAsync(rule, 50, Cancel);

        Assert.Equal(expectedCities.Split('|').Order(StringComparer.Ordinal), preview.Sample.Select(c => c.Addresses[0].City).Order(StringComparer.Ordinal));
        Assert.Equal(preview.Sample.Count, preview.Count);
    }

    /// <summary>An order that moves a customer into a segment publishes one entered event; a refund that moves them out, one exited event.</summary>
    [Fact]
    public virtual async Task Orders_move_customers_in_and_out_with_one_event_per_transition()
    {
        var host = CreateHost();
        var customer = await host.Customers.CreateAsync(Faker.Person(), Cancel);
        var segment = await host.Segments.CreateAsync(SegmentDraft.Dynamic("big spenders", Rule.Field(SegmentFieldNames.TotalSpent).GreaterThan(100m)), Cancel);
        Assert.Empty(host.Events.Of<SegmentEntered>());

        var order = await host.Orders.RecordAsync(new OrderDraft { CustomerId = customer.Id, Reference = "o-1", Currency = "USD", Lines = [new OrderLine("A", "A", "Books", 1, 150m)] }, Cancel);
        await host.Orders.RecordAsync(new OrderDraft { CustomerId = customer.Id, Reference = "o-2", Currency = "USD", Lines = [new OrderLine("B", "B", "Books", 1, 10m)] }, Cancel);

        var entered = Assert.Single(host.Events.Of<SegmentEntered>());
        Assert.Equal((segment.Id, customer.Id), (entered.SegmentId, entered.CustomerId));
        Assert.Equal(1, await host.Segments.CountAsync(segment.Id, Cancel));
        Assert.Equal([segment.Id], (await host.Segments.GetSegmentsOfCustomerAsync(customer.Id, Cancel)).Select(s => s.Id));

        await host.Orders.RefundAsync(order.Id, new RefundRequest { Reference = "r-1", Amount = 150m }, Cancel);

        var exited = Assert.Single(host.Events.Of<SegmentExited>());
        Assert.Equal(customer.Id, exited.CustomerId);
        Assert.Equal(0, await host.Segments.CountAsync(segment.Id, Cancel));
    }

    /// <summary>Rules relative to now change with time alone; the scheduled re-evaluation publishes each change once.</summary>
    [Fact]
    public virtual async Task Reevaluation_publishes_time_driven_transitions_once()
    {
        var host = CreateHost();
        var customer = await host.Customers.CreateAsync(Faker.Person(), Cancel);
        await host.Orders.RecordAsync(Faker.Order(customer.Id, Clock.GetUtcNow()), Cancel);
        var active = await host.Segments.CreateAsync(SegmentDraft.Dynamic("active", Rule.Field(SegmentFieldNames.LastOrderAt).WithinLast(30, RelativeDateUnit.Days)), Cancel);
        var lapsed = await host.Segments.CreateAsync(SegmentDraft.Dynamic("lapsed", Rule.Field(SegmentFieldNames.DaysSinceLastOrder).GreaterThan(30)), Cancel);
        Assert.Single(host.Events.Of<SegmentEntered>());

        Clock.Advance(TimeSpan.FromDays(31));
        var first = await host.Segments.ReevaluateAsync(cancellationToken: Cancel);
        var second = await host.Segments.ReevaluateAsync(cancellationToken: Cancel);

        Assert.Equal(new SegmentReevaluation(2, 1, 1), first);
        Assert.Equal(new SegmentReevaluation(2, 0, 0), second);
        Assert.Equal(active.Id, Assert.Single(host.Events.Of<SegmentExited>()).SegmentId);
        Assert.Equal([active.Id, lapsed.Id], host.Events.Of<SegmentEntered>().Select(e => e.SegmentId));
    }

    /// <summary>Racing re-evaluations of the same customer publish the transition exactly once.</summary>
    [Fact]
    public virtual async Task Racing_refreshes_publish_a_transition_once()
    {
        var host = CreateHost();
        var customer = await host.Customers.CreateAsync(Faker.Person(), Cancel);
        await host.Orders.RecordAsync(Faker.Order(customer.Id, Clock.GetUtcNow()), Cancel);
        await host.Segments.CreateAsync(SegmentDraft.Dynamic("recent", Rule.Field(SegmentFieldNames.LastOrderAt).WithinLast(7, RelativeDateUnit.Days)), Cancel);
        Clock.Advance(TimeSpan.FromDays(8));

        await Task.WhenAll(Enumerable.Range(0, 6).Select(async _ =>
        {
            await using var scope = host.CreateScopeAsync();
            await scope.ServiceProvider.GetRequiredService<SegmentManager>().RefreshCustomersAsync([customer.Id], Cancel);
        }));

        Assert.Single(host.Events.Of<SegmentExited>());
        Assert.Equal(new SegmentReevaluation(1, 0, 0), await host.Segments.ReevaluateAsync(cancellationToken: Cancel));
    }

    /// <summary>Static lists take explicit members; dynamic segments can test membership of lists and of other segments.</summary>
    [Fact]
    public virtual async Task Static_lists_and_segment_references_work_together()
    {
        var host = CreateHost();
        var ann = await host.Customers.CreateAsync(Faker.Person() with { Tags = ["vip"] }, Cancel);
        var bob = await host.Customers.CreateAsync(Faker.Person() with { Tags = [] }, Cancel);
        var list = await host.Segments.CreateAsync(SegmentDraft.Static("event guests"), Cancel);
        var vips = await host.Segments.CreateAsync(SegmentDraft.Dynamic("vips", Rule.Field(SegmentFieldNames.Tags).HasAny("VIP")), Cancel);
        var guestsNotVip = await host.Segments.CreateAsync(SegmentDraft.Dynamic("guests, not vip", Rule.All(Rule.MemberOf(list.Id), Rule.NotMemberOf(vips.Id))), Cancel);

        Assert.Equal(2, await host.Segments.AddToListAsync(list.Id, [ann.Id, bob.Id, bob.Id], Cancel));
        Assert.Equal(0, await host.Segments.AddToListAsync(list.Id, [ann.Id], Cancel));

        Assert.Equal(2, await host.Segments.CountAsync(list.Id, Cancel));
        var page = await host.Segments.GetMembersAsync(guestsNotVip.Id, pageSize: 10, cancellationToken: Cancel);
        Assert.Equal([bob.Id], page.Items.Select(c => c.Id));
        Assert.Contains(host.Events.Of<SegmentEntered>(), e => e.SegmentId == guestsNotVip.Id && e.CustomerId == bob.Id);

        Assert.Equal(1, await host.Segments.RemoveFromListAsync(list.Id, [bob.Id], Cancel));
        Assert.Contains(host.Events.Of<SegmentExited>(), e => e.SegmentId == guestsNotVip.Id && e.CustomerId == bob.Id);
        Assert.Contains(host.Events.Of<SegmentExited>(), e => e.SegmentId == list.Id && e.CustomerId == bob.Id);
        Assert.Equal(new[] { list.Id, vips.Id }.Order(), (await host.Segments.GetSegmentsOfCustomerAsync(ann.Id, Cancel)).Select(s => s.Id).Order());
    }

    /// <summary>Missing references, cycles, deleting a segment in use and changing a segment's kind are refused.</summary>
    [Fact]
    public virtual async Task Invalid_segment_changes_are_refused_with_the_rule_named()
    {
        var host = CreateHost();
        var a = await host.Segments.CreateAsync(SegmentDraft.Dynamic("a", Rule.Field(SegmentFieldNames.OrderCount).GreaterThan(1)), Cancel);
        var b = await host.Segments.CreateAsync(SegmentDraft.Dynamic("b", Rule.Any(Rule.MemberOf(a.Id), Rule.Field(SegmentFieldNames.Tags).IsSet())), Cancel);

        var missing = await Assert.ThrowsAsync<CrmValidationException>(() => host.Segments.CreateAsync(SegmentDraft.Dynamic("c", Rule.MemberOf(Guid.NewGuid())), Cancel));
        Assert.Equal(("$.rule.value", "unknown-segment"), (missing.Errors[0].Field, missing.Errors[0].Rule));

        var cycle = await Assert.ThrowsAsync<CrmValidationException>(() => host.Segments.UpdateAsync(a.Id, a.Version, SegmentDraft.Dynamic("a", Rule.MemberOf(b.Id)), Cancel));
        Assert.Contains(cycle.Errors, e => e.Rule == "segment-cycle");

        var inUse = await Assert.ThrowsAsync<CrmValidationException>(() => host.Segments.DeleteAsync(a.Id, a.Version, Cancel));
        Assert.Equal("in-use", inUse.Errors[0].Rule);

        var kind = await Assert.ThrowsAsync<CrmValidationException>(() => host.Segments.UpdateAsync(a.Id, a.Version, SegmentDraft.Static("a"), Cancel));
        Assert.Equal("kind-change", kind.Errors[0].Rule);

        var name = await Assert.ThrowsAsync<CrmValidationException>(() => host.Segments.CreateAsync(SegmentDraft.Static("b"), Cancel));
        Assert.Equal("unique", name.Errors[0].Rule);

        await Assert.ThrowsAsync<ConcurrencyConflictException>(() => host.Segments.UpdateAsync(b.Id, b.Version + 5, SegmentDraft.Dynamic("b2", Rule.Field(SegmentFieldNames.Tags).IsSet()), Cancel));
        await host.Segments.DeleteAsync(b.Id, b.Version, Cancel);
        await host.Segments.DeleteAsync(a.Id, a.Version, Cancel);
        Assert.Empty((await host.Segments.ListAsync(cancellationToken: Cancel)).Items);
    }

    /// <summary>A rule read from JSON is stored and read back unchanged, and changing it re-evaluates membership.</summary>
    [Fact]
    public virtual async Task Rules_from_json_are_stored_and_updated()
    {
        var host = CreateHost();
        var ann = await host.Customers.CreateAsync(Faker.Person() with { InitialStage = LifecycleStage.Lead }, Cancel);
        var rule = host.Segments.ParseRule("""{"version":1,"rule":{"all":[{"field":"lifecycleStage","op":"in","values":["lead","customer"]},{"none":[{"field":"tags","op":"hasAny","values":["blocked"]}]}]}}""");
        var segment = await host.Segments.CreateAsync(SegmentDraft.Dynamic("leads", rule, "Leads and customers"), Cancel);

        var stored = await host.Segments.GetByIdAsync(segment.Id, Cancel);
        Assert.Equal(SegmentRuleJson.Serialize(rule), SegmentRuleJson.Serialize(stored.Rule!));
        Assert.Equal(1, await host.Segments.CountAsync(segment.Id, Cancel));

        await host.Segments.UpdateAsync(segment.Id, stored.Version, SegmentDraft.Dynamic("leads", Rule.Field(SegmentFieldNames.LifecycleStage).EqualTo("customer")), Cancel);

        Assert.Equal(ann.Id, Assert.Single(host.Events.Of<SegmentExited>()).CustomerId);
        Assert.Equal(0, await host.Segments.CountAsync(segment.Id, Cancel));
    }

    /// <summary>Segments and their members belong to one tenant.</summary>
    [Fact]
    public virtual async Task Segments_are_isolated_by_tenant()
    {
        var first = CreateHost();
        var second = CreateHost();
        await first.Customers.CreateAsync(Faker.Person() with { Tags = ["vip"] }, Cancel);
        var theirs = await second.Customers.CreateAsync(Faker.Person() with { Tags = ["vip"] }, Cancel);
        var segment = await first.Segments.CreateAsync(SegmentDraft.Dynamic("vips", Rule.Field(SegmentFieldNames.Tags).HasAny("vip")), Cancel);

        Assert.Equal(1, await first.Segments.CountAsync(segment.Id, Cancel));
        Assert.Null(await second.Segments.FindByIdAsync(segment.Id, Cancel));
        Assert.Empty(await second.Segments.GetSegmentsOfCustomerAsync(theirs.Id, Cancel));
        await Assert.ThrowsAsync<CrmValidationException>(() => second.Segments.CreateAsync(SegmentDraft.Dynamic("x", Rule.MemberOf(segment.Id)), Cancel));
        Assert.DoesNotContain(first.Events.Of<SegmentEntered>(), e => e.CustomerId == theirs.Id);
    }

    /// <summary>Merged-away and erased customers leave every segment.</summary>
    [Fact]
    public virtual async Task Merged_and_erased_customers_leave_segments()
    {
        var host = CreateHost();
        var ann = await host.Customers.CreateAsync(Faker.Person() with { Tags = ["vip"] }, Cancel);
        var copy = await host.Customers.CreateAsync(Faker.Person() with { Tags = ["vip"] }, Cancel);
        var segment = await host.Segments.CreateAsync(SegmentDraft.Dynamic("vips", Rule.Field(SegmentFieldNames.Tags).HasAny("vip")), Cancel);
        Assert.Equal(2, await host.Segments.CountAsync(segment.Id, Cancel));

        var plan = await host.Merger.PreviewAsync(ann.Id, copy.Id, Cancel);
        await host.Merger.MergeAsync(plan, Cancel);
        Assert.Equal(copy.Id, Assert.Single(host.Events.Of<SegmentExited>()).CustomerId);

        await host.Privacy.EraseAsync(ann.Id, Cancel);
        Assert.Equal(2, host.Events.Of<SegmentExited>().Count);
        Assert.Equal(0, await host.Segments.CountAsync(segment.Id, Cancel));
    }

    private sealed class SetLookup(Guid listId, HashSet<Guid> members) : ISegmentMembershipLookup
    {
        public bool Contains(Guid segmentId, Guid customerId) => segmentId == listId && members.Contains(customerId);
    }
}
