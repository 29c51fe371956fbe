using Crm.Kit.Interactions;
using Crm.Kit.Service;
using Microsoft.Extensions.DependencyInjection;
using Xunit;

namespace Crm.Kit.Testing.Specification;

/// <summary>Specification tests for service cases: status flow, SLA due times, breaches, queues, concurrency and tenancy.</summary>
public abstract class ServiceCaseSpecification : CrmSpecification
{
    private static readonly TimeSpan Hour = TimeSpan.FromHours(1);

    /// <summary>Creates a host with the service module.</summary>
    protected CrmTestHost CreateServiceHost(string? tenantId = null, Action<ServiceOptions>? configure = null) =>
        CreateHost(tenantId, s => s.AddCrmKit().AddServiceCases(configure));

    /// <summary>
    /// Due times count business hours in the policy's zone and skip holidays: opened on a Sunday, an 8-hour
    /// weekday policy falls due on the next working days.
    /// </summary>
    [Fact]
    public virtual async Task Due_times_count_business_hours_and_skip_holidays()
    {
        var host = CreateServiceHost();
        var paris = BusinessHours.Weekdays("Europe/Paris", TimeSpan.FromHours(9), TimeSpan.FromHours(17));
        await host.Cases.CreatePolicyAsync(new SlaPolicyDraft { Name = "Normal", Priority = CasePriority.Normal, FirstResponseTarget = 4 * Hour, ResolutionTarget = 16 * Hour, BusinessHours = paris }, Cancel);
        await host.Cases.CreatePolicyAsync(new SlaPolicyDraft
        {
            Name = "High",
            Priority = CasePriority.High,
            FirstResponseTarget = 2 * Hour,
            ResolutionTarget = 8 * Hour,
            BusinessHours = paris with { Holidays = [new DateOnly(2026, 3, 2)] },
        }, Cancel);
        var customer = await host.Customers.CreateAsync(Faker.Person(), Cancel);

        // Sunday 2026-03-01 09:00 UTC; Paris is UTC+1 in March.
        var normal = await host.Cases.OpenAsync(Faker.Case(customer.Id), Cancel);
        Assert.Equal(At(2026, 3, 2, 12), normal.Sla.FirstResponseDueAt);
        Assert.Equal(At(2026, 3, 3, 16), normal.Sla.ResolutionDueAt);
        Assert.Equal(normal.Sla.FirstResponseDueAt, normal.NextDueAt);

        var high = await host.Cases.OpenAsync(Faker.Case(customer.Id, priority: CasePriority.High), Cancel);
        Assert.Equal(At(2026, 3, 3, 10), high.Sla.FirstResponseDueAt);
        Assert.Equal(At(2026, 3, 3, 16), high.Sla.ResolutionDueAt);

        var low = await host.Cases.OpenAsync(Faker.Case(customer.Id, priority: CasePriority.Low), Cancel);
        Assert.Equal(CaseSla.None, low.Sla);
        Assert.Null(low.NextDueAt);
    }

    /// <summary>A policy for the case's kind wins over one for any kind; two policies cannot cover the same priority and kind.</summary>
    [Fact]
    public virtual async Task The_most_specific_policy_applies()
    {
        var host = CreateServiceHost();
        var any = await host.Cases.CreatePolicyAsync(new SlaPolicyDraft { Name = "Normal", FirstResponseTarget = 8 * Hour, ResolutionTarget = 48 * Hour }, Cancel);
        var complaints = await host.Cases.CreatePolicyAsync(new SlaPolicyDraft { Name = "Complaints", Kind = "Complaint", FirstResponseTarget = Hour, ResolutionTarget = 24 * Hour }, Cancel);
        Assert.Equal(CaseKinds.Complaint, complaints.Kind);
        await Assert.ThrowsAsync<DuplicateValueException>(async () =>
            await host.Cases.CreatePolicyAsync(new SlaPolicyDraft { Name = "Another", Kind = CaseKinds.Complaint, FirstResponseTarget = Hour, ResolutionTarget = Hour }, Cancel));
        var nameTaken = await Assert.ThrowsAsync<DuplicateValueException>(async () =>
            await host.Cases.CreatePolicyAsync(new SlaPolicyDraft { Name = "Normal", Priority = CasePriority.High, FirstResponseTarget = Hour, ResolutionTarget = Hour }, Cancel));
        Assert.Equal("Name", nameTaken.Field);

        var customer = await host.Customers.CreateAsync(Faker.Person(), Cancel);
        var complaint = await host.Cases.OpenAsync(Faker.Case(customer.Id, CaseKinds.Complaint), Cancel);
        var question = await host.Cases.OpenAsync(Faker.Case(customer.Id, CaseKinds.Question), Cancel);
        Assert.Equal(complaints.Id, complaint.Sla.PolicyId);
        Assert.Equal(Clock.GetUtcNow() + Hour, complaint.Sla.FirstResponseDueAt);
        Assert.Equal(any.Id, question.Sla.PolicyId);
        Assert.Equal(Clock.GetUtcNow() + (8 * Hour), question.Sla.FirstResponseDueAt);

        // Raising the priority moves the case to the policy of its new priority, counted from its opening.
        await host.Cases.CreatePolicyAsync(new SlaPolicyDraft { Name = "Urgent", Priority = CasePriority.Urgent, FirstResponseTarget = 0.5 * Hour, ResolutionTarget = 4 * Hour }, Cancel);
        Clock.Advance(TimeSpan.FromMinutes(10));
        var raised = await host.Cases.ChangePriorityAsync(question.Id, question.Version, CasePriority.Urgent, "lead-1", Cancel);
        Assert.Equal(question.CreatedAt + (0.5 * Hour), raised.Sla.FirstResponseDueAt);
        Assert.Equal(CasePriority.Normal, Assert.Single(host.Events.Of<CasePriorityChanged>()).From);
    }

    /// <summary>Only the documented moves are allowed; each is recorded with its time and actor; closed is final.</summary>
    [Fact]
    public virtual async Task Status_moves_are_enforced_and_recorded()
    {
        var host = CreateServiceHost();
        var customer = await host.Customers.CreateAsync(Faker.Person(), Cancel);
        var opened = await host.Cases.OpenAsync(Faker.Case(customer.Id) with { OpenedBy = "agent-7" }, Cancel);
        Assert.Equal(CaseStatus.New, opened.Status);
        Assert.Equal(new CaseStatusChange(null, CaseStatus.New, Clock.GetUtcNow(), "agent-7"), Assert.Single(opened.History));

        var refused = await Assert.ThrowsAsync<CrmValidationException>(async () => await host.Cases.ChangeStatusAsync(opened.Id, opened.Version, CaseStatus.Closed, "agent-7", cancellationToken: Cancel));
        Assert.Equal(("status", "allowed-transition"), (refused.Errors[0].Field, refused.Errors[0].Rule));
        AssertSame(opened, await host.Cases.GetByIdAsync(opened.Id, Cancel));

        var current = opened;
        var path = new[] { CaseStatus.Open, CaseStatus.PendingCustomer, CaseStatus.Open, CaseStatus.Resolved, CaseStatus.Reopened, CaseStatus.Resolved, CaseStatus.Closed };
        foreach (var status in path)
        {
            Clock.Advance(TimeSpan.FromMinutes(5));
            current = await host.Cases.ChangeStatusAsync(current.Id, current.Version, status, "agent-7", status == CaseStatus.Reopened ? "customer called back" : null, Cancel);
            Assert.Equal(status, current.Status);
            Assert.Equal(new CaseStatusChange(current.History[^2].To, status, Clock.GetUtcNow(), "agent-7", status == CaseStatus.Reopened ? "customer called back" : null), current.History[^1]);
        }

        Assert.Equal(path.Length + 1, current.History.Count);
        Assert.Equal(Clock.GetUtcNow(), current.ClosedAt);
        Assert.Equal(Clock.GetUtcNow().AddMinutes(-5), current.ResolvedAt);
        Assert.Equal(path.Length, host.Events.Of<CaseStatusChanged>().Count);
        AssertSame(current, await host.Cases.GetByIdAsync(current.Id, Cancel));

        var final = await Assert.ThrowsAsync<CrmValidationException>(async () => await host.Cases.ChangeStatusAsync(current.Id, current.Version, CaseStatus.Reopened, "agent-7", cancellationToken: Cancel));
        Assert.Equal("allowed-transition", final.Errors[0].Rule);
        await Assert.ThrowsAsync<CrmValidationException>(async () => await host.Cases.AssignAsync(current.Id, current.Version, "agent-8", null, "lead-1", Cancel));
        await Assert.ThrowsAsync<ConcurrencyConflictException>(async () => await host.Cases.ChangeStatusAsync(current.Id, current.Version - 1, CaseStatus.Reopened, "agent-7", cancellationToken: Cancel));
    }

    /// <summary>The resolution clock stops while the case waits on the customer, and while it stands resolved before a reopening.</summary>
    [Fact]
    public virtual async Task Waiting_on_the_customer_stops_the_resolution_clock()
    {
        var host = CreateServiceHost();
        await host.Cases.CreatePolicyAsync(new SlaPolicyDraft { Name = "Round the clock", FirstResponseTarget = Hour, ResolutionTarget = 24 * Hour }, Cancel);
        var customer = await host.Customers.CreateAsync(Faker.Person(), Cancel);
        var t0 = Clock.GetUtcNow();
        var opened = await host.Cases.OpenAsync(Faker.Case(customer.Id), Cancel);
        Assert.Equal(t0 + (24 * Hour), opened.Sla.ResolutionDueAt);

        Clock.Advance(2 * Hour);
        var pending = await host.Cases.ChangeStatusAsync(opened.Id, opened.Version, CaseStatus.PendingCustomer, "agent-1", cancellationToken: Cancel);
        Assert.Null(pending.Sla.ResolutionDueAt);

        Clock.Advance(10 * Hour);
        var back = await host.Cases.ChangeStatusAsync(pending.Id, pending.Version, CaseStatus.Open, "agent-1", cancellationToken: Cancel);
        Assert.Equal(t0 + (34 * Hour), back.Sla.ResolutionDueAt);

        Clock.Advance(8 * Hour);
        var resolved = await host.Cases.ChangeStatusAsync(back.Id, back.Version, CaseStatus.Resolved, "agent-1", cancellationToken: Cancel);
        Assert.Equal(t0 + (34 * Hour), resolved.Sla.ResolutionDueAt);
        Assert.Null(resolved.NextDueAt);
        Assert.Null(resolved.Sla.ResolutionBreachedAt);

        Clock.Advance(10 * Hour);
        var reopened = await host.Cases.ChangeStatusAsync(resolved.Id, resolved.Version, CaseStatus.Reopened, "agent-1", cancellationToken: Cancel);
        Assert.Equal(t0 + (44 * Hour), reopened.Sla.ResolutionDueAt);
        Assert.Null(reopened.ResolvedAt);
    }

    /// <summary>
    /// An outbound reply linked to the case is its first response and opens a new case; the customer's reply brings a
    /// waiting case back to work and reopens a resolved one. Links to missing or foreign cases are refused.
    /// </summary>
    [Fact]
    public virtual async Task Linked_interactions_respond_and_reopen()
    {
        var host = CreateServiceHost();
        await host.Cases.CreatePolicyAsync(new SlaPolicyDraft { Name = "Normal", FirstResponseTarget = Hour, ResolutionTarget = 8 * Hour }, Cancel);
        var customer = await host.Customers.CreateAsync(Faker.Person(), Cancel);
        var other = await host.Customers.CreateAsync(Faker.Person(), Cancel);
        var opened = await host.Cases.OpenAsync(Faker.Case(customer.Id), Cancel);

        await host.Interactions.RecordAsync(Reply(customer.Id, opened.Id, InteractionDirection.Inbound), Cancel);
        await host.Interactions.RecordAsync(new InteractionDraft { CustomerId = customer.Id, Kind = InteractionKind.Note, Subject = "internal", CaseId = opened.Id }, Cancel);
        Assert.Null((await host.Cases.GetByIdAsync(opened.Id, Cancel)).Sla.FirstRespondedAt);

        Clock.Advance(TimeSpan.FromMinutes(20));
        var reply = await host.Interactions.RecordAsync(Reply(customer.Id, opened.Id, InteractionDirection.Outbound) with { OwnerId = "agent-3" }, Cancel);
        var responded = await host.Cases.GetByIdAsync(opened.Id, Cancel);
        Assert.Equal(Clock.GetUtcNow(), responded.Sla.FirstRespondedAt);
        Assert.Equal(CaseStatus.Open, responded.Status);
        Assert.Equal("agent-3", responded.History[^1].Actor);
        Assert.Equal(reply.Id, Assert.Single(host.Events.Of<CaseFirstResponded>()).InteractionId);
        Assert.Null(responded.Sla.FirstResponseBreachedAt);
        Assert.Equal(responded.Sla.ResolutionDueAt, responded.NextDueAt);

        var pending = await host.Cases.ChangeStatusAsync(responded.Id, responded.Version, CaseStatus.PendingCustomer, "agent-3", cancellationToken: Cancel);
        await host.Interactions.RecordAsync(Reply(customer.Id, opened.Id, InteractionDirection.Inbound), Cancel);
        var working = await host.Cases.GetByIdAsync(opened.Id, Cancel);
        Assert.Equal(CaseStatus.Open, working.Status);
        Assert.Equal((CaseStatus.PendingCustomer, CaseManager.CustomerActor), (working.History[^1].From!.Value, working.History[^1].Actor));
        Assert.True(working.Version > pending.Version);

        var resolved = await host.Cases.ChangeStatusAsync(working.Id, working.Version, CaseStatus.Resolved, "agent-3", cancellationToken: Cancel);
        await host.Interactions.RecordAsync(Reply(customer.Id, opened.Id, InteractionDirection.Inbound), Cancel);
        Assert.Equal(CaseStatus.Reopened, (await host.Cases.GetByIdAsync(resolved.Id, Cancel)).Status);

        var foreign = await Assert.ThrowsAsync<CrmValidationException>(async () => await host.Interactions.RecordAsync(Reply(other.Id, opened.Id, InteractionDirection.Outbound), Cancel));
        Assert.Equal(("CaseId", "same-customer"), (foreign.Errors[0].Field, foreign.Errors[0].Rule));
        var missing = await Assert.ThrowsAsync<CrmValidationException>(async () => await host.Interactions.RecordAsync(Reply(customer.Id, Guid.NewGuid(), InteractionDirection.Outbound), Cancel));
        Assert.Equal("case-exists", missing.Errors[0].Rule);
    }

    /// <summary>
    /// At-risk and breached queries follow the clock; the detection run records each breach once and publishes one
    /// event per case and target; a late resolution records its breach when it happens.
    /// </summary>
    [Fact]
    public virtual async Task Breaches_are_found_and_published_once()
    {
        var host = CreateServiceHost();
        await host.Cases.CreatePolicyAsync(new SlaPolicyDraft { Name = "Normal", FirstResponseTarget = Hour, ResolutionTarget = 4 * Hour }, Cancel);
        var customer = await host.Customers.CreateAsync(Faker.Person(), Cancel);
        var first = await host.Cases.OpenAsync(Faker.Case(customer.Id), Cancel);
        Clock.Advance(TimeSpan.FromMinutes(10));
        var second = await host.Cases.OpenAsync(Faker.Case(customer.Id), Cancel);
        var unrelated = await host.Cases.OpenAsync(Faker.Case(customer.Id, priority: CasePriority.Low), Cancel);

        Clock.Advance(TimeSpan.FromMinutes(30));
        Assert.Equal([first.Id, second.Id], (await host.Cases.GetCasesAtRiskAsync(TimeSpan.FromMinutes(35), cancellationToken: Cancel)).Select(c => c.Id));
        Assert.Equal([first.Id], (await host.Cases.GetCasesAtRiskAsync(TimeSpan.FromMinutes(25), cancellationToken: Cancel)).Select(c => c.Id));
        Assert.Empty((await host.Cases.GetBreachedCasesAsync(cancellationToken: Cancel)).Items);
        Assert.Equal(0, await host.Cases.DetectBreachesAsync(Cancel));

        Clock.Advance(TimeSpan.FromMinutes(25));
        Assert.Equal([first.Id], (await host.Cases.GetBreachedCasesAsync(cancellationToken: Cancel)).Items.Select(c => c.Id));
        Clock.Advance(Hour);
        Assert.Equal([first.Id, second.Id], (await host.Cases.GetBreachedCasesAsync(cancellationToken: Cancel)).Items.Select(c => c.Id).Order());
        Assert.Equal(2, await host.Cases.DetectBreachesAsync(Cancel));
        Assert.Equal(0, await host.Cases.DetectBreachesAsync(Cancel));
        var breaches = host.Events.Of<CaseSlaBreached>();
        Assert.Equal(2, breaches.Count);
        Assert.All(breaches, b => Assert.Equal(SlaTarget.FirstResponse, b.Target));
        Assert.Equal(first.Sla.FirstResponseDueAt, breaches.Single(b => b.Case.Id == first.Id).DueAt);
        Assert.Empty(await host.Cases.GetCasesAtRiskAsync(0.5 * Hour, cancellationToken: Cancel));

        // A late reply does not publish the breach again; still breached, the case stays on the breached list.
        await host.Interactions.RecordAsync(Reply(customer.Id, first.Id, InteractionDirection.Outbound), Cancel);
        Assert.Equal(2, host.Events.Of<CaseSlaBreached>().Count);
        Assert.Contains(first.Id, (await host.Cases.GetBreachedCasesAsync(cancellationToken: Cancel)).Items.Select(c => c.Id));

        // Resolving after the resolution target records that breach at once; resolved cases leave the breached list.
        Clock.Advance(3 * Hour);
        var current = await host.Cases.GetByIdAsync(first.Id, Cancel);
        var resolved = await host.Cases.ChangeStatusAsync(current.Id, current.Version, CaseStatus.Resolved, "agent-1", cancellationToken: Cancel);
        Assert.Equal(Clock.GetUtcNow(), resolved.Sla.ResolutionBreachedAt);
        Assert.Equal(SlaTarget.Resolution, host.Events.Of<CaseSlaBreached>()[^1].Target);
        Assert.DoesNotContain(first.Id, (await host.Cases.GetBreachedCasesAsync(cancellationToken: Cancel)).Items.Select(c => c.Id));
        Assert.Null((await host.Cases.GetByIdAsync(unrelated.Id, Cancel)).Sla.PolicyId);
    }

    /// <summary>A queue holds an owner's or a team's active cases, the one due soonest first and cases without a due time last.</summary>
    [Fact]
    public virtual async Task Queues_order_by_due_time()
    {
        var host = CreateServiceHost();
        await host.Cases.CreatePolicyAsync(new SlaPolicyDraft { Name = "Urgent", Priority = CasePriority.Urgent, FirstResponseTarget = Hour, ResolutionTarget = 2 * Hour }, Cancel);
        await host.Cases.CreatePolicyAsync(new SlaPolicyDraft { Name = "Normal", FirstResponseTarget = 8 * Hour, ResolutionTarget = 24 * Hour }, Cancel);
        var customer = await host.Customers.CreateAsync(Faker.Person(), Cancel);
        var normal = await host.Cases.OpenAsync(Faker.Case(customer.Id) with { OwnerId = "ann", Team = "billing" }, Cancel);
        Clock.Advance(TimeSpan.FromMinutes(1));
        var none = await host.Cases.OpenAsync(Faker.Case(customer.Id, priority: CasePriority.Low) with { OwnerId = "ann", Team = "billing" }, Cancel);
        Clock.Advance(TimeSpan.FromMinutes(1));
        var urgent = await host.Cases.OpenAsync(Faker.Case(customer.Id, priority: CasePriority.Urgent) with { OwnerId = "ann", Team = "returns" }, Cancel);
        Clock.Advance(TimeSpan.FromMinutes(1));
        var bobs = await host.Cases.OpenAsync(Faker.Case(customer.Id) with { OwnerId = "bob", Team = "billing" }, Cancel);

        Assert.Equal([urgent.Id, normal.Id, none.Id], (await host.Cases.GetQueueAsync("ann", cancellationToken: Cancel)).Select(c => c.Id));
        Assert.Equal([normal.Id, bobs.Id, none.Id], (await host.Cases.GetQueueAsync(team: "billing", cancellationToken: Cancel)).Select(c => c.Id));
        Assert.Equal([normal.Id, none.Id], (await host.Cases.GetQueueAsync("ann", "billing", cancellationToken: Cancel)).Select(c => c.Id));

        var moved = await host.Cases.AssignAsync(normal.Id, normal.Version, "bob", "billing", "lead-1", Cancel);
        var resolved = await host.Cases.ChangeStatusAsync(urgent.Id, urgent.Version, CaseStatus.Resolved, "ann", cancellationToken: Cancel);
        Assert.Equal([none.Id], (await host.Cases.GetQueueAsync("ann", cancellationToken: Cancel)).Select(c => c.Id));
        Assert.Equal([moved.Id, bobs.Id], (await host.Cases.GetQueueAsync("bob", cancellationToken: Cancel)).Select(c => c.Id));
        Assert.Equal("lead-1", Assert.Single(host.Events.Of<CaseAssigned>()).Actor);
        Assert.False(resolved.IsActive);
        await Assert.ThrowsAsync<CrmValidationException>(async () => await host.Cases.GetQueueAsync(cancellationToken: Cancel));
    }

    /// <summary>A customer's cases page newest first, all or only the active ones.</summary>
    [Fact]
    public virtual async Task Cases_of_a_customer_page_newest_first()
    {
        var host = CreateServiceHost();
        var customer = await host.Customers.CreateAsync(Faker.Person(), Cancel);
        var opened = new List<ServiceCase>();
        for (var i = 0; i < 7; i++)
        {
            Clock.Advance(TimeSpan.FromMinutes(1));
            opened.Add(await host.Cases.OpenAsync(Faker.Case(customer.Id), Cancel));
        }

        await host.Cases.ChangeStatusAsync(opened[2].Id, opened[2].Version, CaseStatus.Resolved, "agent-1", cancellationToken: Cancel);
        var seen = new List<Guid>();
        string? token = null;
        do
        {
            var page = await host.Cases.GetCasesOfCustomerAsync(customer.Id, continuationToken: token, pageSize: 3, cancellationToken: Cancel);
            seen.AddRange(page.Items.Select(c => c.Id));
            token = page.ContinuationToken;
        }
        while (token is not null);

        Assert.Equal(opened.Select(c => c.Id).Reverse(), seen);
        var active = await host.Cases.GetCasesOfCustomerAsync(customer.Id, activeOnly: true, cancellationToken: Cancel);
        Assert.Equal(opened.Where((_, i) => i != 2).Select(c => c.Id).Reverse(), active.Items.Select(c => c.Id));
    }

    /// <summary>Two agents moving the same case at once: one wins, the other gets the concurrency error, and the history has no phantom move.</summary>
    [Fact]
    public virtual async Task Concurrent_status_changes_have_one_winner()
    {
        var host = CreateServiceHost();
        var customer = await host.Customers.CreateAsync(Faker.Person(), Cancel);
        for (var round = 0; round < 5; round++)
        {
            var opened = await host.Cases.OpenAsync(Faker.Case(customer.Id), Cancel);
            var targets = new[] { CaseStatus.Open, CaseStatus.PendingCustomer, CaseStatus.Resolved, CaseStatus.Open };
            var attempts = targets.Select(async (status, i) =>
            {
                await using var scope = host.CreateScopeAsync();
                try
                {
                    await scope.ServiceProvider.GetRequiredService<CaseManager>().ChangeStatusAsync(opened.Id, opened.Version, status, "agent-" + i, cancellationToken: Cancel);
                    return true;
                }
                catch (ConcurrencyConflictException)
                {
                    return false;
                }
            });
            var outcomes = await Task.WhenAll(attempts);
            Assert.Equal(1, outcomes.Count(won => won));
            var stored = await host.Cases.GetByIdAsync(opened.Id, Cancel);
            Assert.Equal(2, stored.History.Count);
            Assert.Equal(opened.Version + 1, stored.Version);
            Assert.Equal(stored.History[^1].To, stored.Status);
        }
    }

    /// <summary>Bad input is refused with every broken rule named, before anything is stored; hosts can add kinds.</summary>
    [Fact]
    public virtual async Task Bad_input_is_refused_with_named_fields()
    {
        var host = CreateServiceHost(configure: o => o.CaseKinds.Add("Billing"));
        var customer = await host.Customers.CreateAsync(Faker.Person(), Cancel);
        var bad = await Assert.ThrowsAsync<CrmValidationException>(async () =>
            await host.Cases.OpenAsync(new CaseDraft { CustomerId = customer.Id, Kind = "praise", Subject = " ", Priority = (CasePriority)9 }, Cancel));
        Assert.Equal(
            [("Kind", "known-kind"), ("Subject", "required"), ("Priority", "defined-value"), ("OpenedBy", "required")],
            bad.Errors.Select(e => (e.Field, e.Rule)));
        var noCustomer = await Assert.ThrowsAsync<CrmValidationException>(async () => await host.Cases.OpenAsync(Faker.Case(Guid.NewGuid()), Cancel));
        Assert.Equal("customer-exists", noCustomer.Errors[0].Rule);
        Assert.Empty((await host.Cases.GetCasesOfCustomerAsync(customer.Id, cancellationToken: Cancel)).Items);

        var billing = await host.Cases.OpenAsync(Faker.Case(customer.Id, "BILLING"), Cancel);
        Assert.Equal("billing", billing.Kind);

        var policy = await Assert.ThrowsAsync<CrmValidationException>(async () => await host.Cases.CreatePolicyAsync(new SlaPolicyDraft
        {
            Name = "Broken",
            FirstResponseTarget = TimeSpan.Zero,
            ResolutionTarget = Hour,
            BusinessHours = new BusinessHours
            {
                TimeZoneId = "Mars/Olympus_Mons",
                Windows = [new BusinessWindow(DayOfWeek.Monday, TimeSpan.FromHours(9), TimeSpan.FromHours(12)), new BusinessWindow(DayOfWeek.Monday, TimeSpan.FromHours(11), TimeSpan.FromHours(15))],
            },
        }, Cancel));
        Assert.Equal(
            [("FirstResponseTarget", "range"), ("BusinessHours.TimeZoneId", "known-time-zone"), ("BusinessHours.Windows", "no-overlap")],
            policy.Errors.Select(e => (e.Field, e.Rule)));
        Assert.Empty(await host.Cases.GetPoliciesAsync(Cancel));
    }

    /// <summary>No call can read or change another tenant's cases or policies.</summary>
    [Fact]
    public virtual async Task Tenants_are_isolated()
    {
        var a = CreateServiceHost();
        var b = CreateServiceHost();
        await a.Cases.CreatePolicyAsync(new SlaPolicyDraft { Name = "Normal", FirstResponseTarget = Hour, ResolutionTarget = 2 * Hour }, Cancel);
        var customer = await a.Customers.CreateAsync(Faker.Person(), Cancel);
        var opened = await a.Cases.OpenAsync(Faker.Case(customer.Id) with { OwnerId = "ann" }, Cancel);
        Clock.Advance(3 * Hour);

        Assert.Null(await b.Cases.FindByIdAsync(opened.Id, Cancel));
        Assert.Empty(await b.Cases.GetPoliciesAsync(Cancel));
        Assert.Empty(await b.Cases.GetQueueAsync("ann", cancellationToken: Cancel));
        Assert.Empty((await b.Cases.GetBreachedCasesAsync(cancellationToken: Cancel)).Items);
        Assert.Empty((await b.Cases.GetCasesOfCustomerAsync(customer.Id, cancellationToken: Cancel)).Items);
        Assert.Equal(0, await b.Cases.DetectBreachesAsync(Cancel));
        await Assert.ThrowsAsync<EntityNotFoundException>(async () => await b.Cases.ChangeStatusAsync(opened.Id, opened.Version, CaseStatus.Open, "intruder", cancellationToken: Cancel));
        await Assert.ThrowsAsync<CrmValidationException>(async () => await b.Cases.OpenAsync(Faker.Case(customer.Id), Cancel));
        AssertSame(opened, await a.Cases.GetByIdAsync(opened.Id, Cancel));
        Assert.Equal(2, await a.Cases.DetectBreachesAsync(Cancel));
    }

    /// <summary>Cases move with a merge, lose their free text on erasure, and appear in the customer's export.</summary>
    [Fact]
    public virtual async Task Cases_follow_merge_erasure_and_export()
    {
        var host = CreateServiceHost();
        var survivor = await host.Customers.CreateAsync(Faker.Person(), Cancel);
        var duplicate = await host.Customers.CreateAsync(Faker.Person(), Cancel);
        var opened = await host.Cases.OpenAsync(Faker.Case(duplicate.Id), Cancel);
        var noted = await host.Cases.ChangeStatusAsync(opened.Id, opened.Version, CaseStatus.PendingCustomer, "agent-1", "asked for the order number", Cancel);

        await host.Merger.MergeAsync(survivor.Id, duplicate.Id, Cancel);
        var moved = await host.Cases.GetByIdAsync(noted.Id, Cancel);
        Assert.Equal(survivor.Id, moved.CustomerId);
        Assert.Equal([moved.Id], (await host.Cases.GetCasesOfCustomerAsync(survivor.Id, cancellationToken: Cancel)).Items.Select(c => c.Id));

        var export = await host.Privacy.ExportAsync(survivor.Id, Cancel);
        Assert.Equal(moved.Id, Assert.Single(Assert.IsAssignableFrom<IEnumerable<ServiceCase>>(export.Modules["cases"])).Id);

        await host.Privacy.EraseAsync(survivor.Id, Cancel);
        var erased = await host.Cases.GetByIdAsync(moved.Id, Cancel);
        Assert.Null(erased.Subject);
        Assert.Null(erased.Description);
        Assert.All(erased.History, h => Assert.Null(h.Note));
        Assert.Equal(moved.Status, erased.Status);
        Assert.Equal(moved.History.Select(h => (h.To, h.At, h.Actor)), erased.History.Select(h => (h.To, h.At, h.Actor)));
    }

    /// <summary>Asserts two cases hold the same values, history included (records compare lists by reference).</summary>
    protected static void AssertSame(ServiceCase expected, ServiceCase actual)
    {
        Assert.Equal(expected with { History = [] }, actual with { History = [] });
        Assert.Equal(expected.History, actual.History);
    }

    private static InteractionDraft Reply(Guid customerId, Guid caseId, InteractionDirection direction) => new()
    {
        CustomerId = customerId,
        Kind = InteractionKind.Email,
        Direction = direction,
        Subject = direction == InteractionDirection.Outbound ? "Re: your case" : "Still waiting",
        CaseId = caseId,
        OwnerId = direction == InteractionDirection.Outbound ? "agent-1" : null,
    };

    private static DateTimeOffset At(int year, int month, int day, int hour) => new(year, month, day, hour, 0, 0, TimeSpan.Zero);
}
