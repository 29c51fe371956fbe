using Crm.Kit.Customers;
using Crm.Kit.Feedback;
using Crm.Kit.Interactions;
using Crm.Kit.Loyalty;
using Crm.Kit.Segmentation;
using Crm.Kit.Service;
using Microsoft.Extensions.DependencyInjection;
using Xunit;

namespace Crm.Kit.Testing.Specification;

/// <summary>Specification tests for the customer 360 view.</summary>
public abstract class Customer360Specification : CrmSpecification
{
    /// <summary>With every module registered, one call returns each part, and says which parts it filled in.</summary>
    [Fact]
    public virtual async Task Every_registered_part_is_present()
    {
        var host = CreateHost(configure: s => s.AddCrmKit().AddServiceCases().AddFeedback().AddLoyalty());
        await host.Loyalty.CreateProgrammeAsync(new LoyaltyProgrammeDefinition { Name = "Club", PointName = "stars", Currency = "USD" }, Cancel);
        var vip = await host.Segments.CreateAsync(SegmentDraft.Static("VIP"), Cancel);
        var customers = await host.Segments.CreateAsync(SegmentDraft.Dynamic("Customers", Rule.Field(SegmentFieldNames.OrderCount).AtLeast(1)), Cancel);
        var survey = await host.Feedback.CreateSurveyAsync(new SurveyDraft { Name = "NPS", Kind = SurveyKind.Nps }, Cancel);
        var customer = await host.Customers.CreateAsync(Faker.Person() with
        {
            InitialConsent = [new ConsentRecord(ContactChannel.Email, ConsentPurpose.Marketing, true, Clock.GetUtcNow(), "signup")],
        }, Cancel);
        await host.Customers.RecordConsentAsync(customer.Id, new ConsentRecord(ContactChannel.Email, ConsentPurpose.Marketing, false, Clock.GetUtcNow().AddMinutes(1), "unsubscribe link"), Cancel);
        await host.Loyalty.EnrolAsync(customer.Id, cancellationToken: Cancel);
        await host.Orders.RecordAsync(Faker.Order(customer.Id, Clock.GetUtcNow().AddDays(-2)), Cancel);
        await host.Segments.AddToListAsync(vip.Id, [customer.Id], Cancel);
        for (var i = 0; i < 12; i++)
        {
            await host.Interactions.RecordAsync(Faker.Interaction(customer.Id, Clock.GetUtcNow().AddHours(-i)), Cancel);
        }

        var open = await host.Cases.OpenAsync(Faker.Case(customer.Id), Cancel);
        var done = await host.Cases.OpenAsync(Faker.Case(customer.Id), Cancel);
        await host.Cases.ChangeStatusAsync(done.Id, done.Version, CaseStatus.Resolved, "agent-1", cancellationToken: Cancel);
        Clock.Advance(TimeSpan.FromMinutes(5));
        var answer = await host.Feedback.RecordResponseAsync(new SurveyResponseDraft { SurveyId = survey.Id, CustomerId = customer.Id, Score = 6 }, Cancel);

        var view = await host.Customer360.GetAsync(customer.Id, Cancel);
        Assert.Equal(Customer360Parts.Cases | Customer360Parts.Loyalty | Customer360Parts.Feedback, view.Parts);
        Assert.Equal(customer.Id, view.Customer.Id);
        Assert.Equal(1, view.Customer.Metrics.OrderCount);
        var consent = Assert.Single(view.Consent);
        Assert.False(consent.Granted);
        Assert.Equal("unsubscribe link", consent.Source);
        Assert.Equal(10, view.RecentInteractions.Count);
        Assert.Equal(view.RecentInteractions.OrderByDescending(i => i.OccurredAt).ThenByDescending(i => i.Id), view.RecentInteractions);
        Assert.Equal([open.Id], view.OpenCases.Select(c => c.Id));
        Assert.NotNull(view.Loyalty);
        Assert.Equal(LoyaltyAccountStatus.Active, view.Loyalty.Status);
        Assert.Equal(new[] { vip.Id, customers.Id }.Order(), view.Segments.Select(s => s.Id));
        Assert.Equal(answer.Id, view.LatestFeedback?.Id);
        Assert.Equal(NpsCategory.Detractor, view.LatestNps?.Category);
    }

    /// <summary>Without the modules the view holds the core parts only, and says so.</summary>
    [Fact]
    public virtual async Task Parts_of_unregistered_modules_are_absent()
    {
        var host = CreateHost();
        var customer = await host.Customers.CreateAsync(Faker.Person(), Cancel);
        await host.Interactions.RecordAsync(Faker.Interaction(customer.Id, Clock.GetUtcNow()), Cancel);

        var view = await host.Customer360.GetAsync(customer.Id, Cancel);
        Assert.Equal(Customer360Parts.None, view.Parts);
        Assert.Single(view.RecentInteractions);
        Assert.Empty(view.OpenCases);
        Assert.Null(view.Loyalty);
        Assert.Null(view.LatestFeedback);
        Assert.Empty(view.Segments);
        await Assert.ThrowsAsync<EntityNotFoundException>(async () => await host.Customer360.GetAsync(Guid.NewGuid(), Cancel));
    }

    /// <summary>An id merged away shows the survivor, with the cases moved to it; another tenant sees nothing.</summary>
    [Fact]
    public virtual async Task Merged_ids_resolve_and_tenants_are_isolated()
    {
        var host = CreateHost(configure: s => s.AddCrmKit().AddServiceCases());
        var other = CreateHost(configure: s => s.AddCrmKit().AddServiceCases());
        var survivor = await host.Customers.CreateAsync(Faker.Person(), Cancel);
        var duplicate = await host.Customers.CreateAsync(Faker.Person(), Cancel);
        var opened = await host.Cases.OpenAsync(Faker.Case(duplicate.Id), Cancel);
        await host.Merger.MergeAsync(survivor.Id, duplicate.Id, Cancel);

        var view = await host.Customer360.GetAsync(duplicate.Id, Cancel);
        Assert.Equal(survivor.Id, view.Customer.Id);
        Assert.Equal([opened.Id], view.OpenCases.Select(c => c.Id));
        await Assert.ThrowsAsync<EntityNotFoundException>(async () => await other.Customer360.GetAsync(survivor.Id, Cancel));
    }

    /// <summary>The sizes of the view's lists follow <see cref="Customer360Options"/>, which are checked at start-up.</summary>
    [Fact]
    public virtual async Task Options_limit_the_lists_and_are_validated()
    {
        var host = CreateHost(configure: s => s.AddCrmKit().AddServiceCases().Services.Configure<Customer360Options>(o => { o.RecentInteractions = 2; o.OpenCases = 1; }));
        var customer = await host.Customers.CreateAsync(Faker.Person(), Cancel);
        for (var i = 0; i < 3; i++)
        {
            await host.Interactions.RecordAsync(Faker.Interaction(customer.Id, Clock.GetUtcNow().AddMinutes(-i)), Cancel);
            await host.Cases.OpenAsync(Faker.Case(customer.Id), Cancel);
        }

        var view = await host.Customer360.GetAsync(customer.Id, Cancel);
        Assert.Equal(2, view.RecentInteractions.Count);
        Assert.Single(view.OpenCases);

        var bad = CreateHost(configure: s => s.Configure<Customer360Options>(o => o.RecentInteractions = 0));
        var error = Assert.Throws<Microsoft.Extensions.Options.OptionsValidationException>(() => bad.Customer360);
        Assert.Contains("RecentInteractions", error.Message, StringComparison.Ordinal);
    }
}
