using Crm.Kit.Interactions;
using Xunit;

namespace Crm.Kit.Testing.Specification;

/// <summary>Specification tests for the interaction timeline and tasks.</summary>
public abstract class InteractionSpecification : CrmSpecification
{
    /// <summary>The timeline pages newest first, ties broken by id, without gaps or repeats.</summary>
    [Fact]
    public virtual async Task Timeline_pages_newest_first()
    {
        var host = CreateHost();
        var customer = await host.Customers.CreateAsync(Faker.Person(), Cancel);
        var sameTime = Clock.GetUtcNow().AddHours(-1);
        var recorded = new List<Interaction>();
        for (var i = 0; i < 9; i++)
        {
            var at = i < 3 ? sameTime : Clock.GetUtcNow().AddDays(-i);
            recorded.Add(await host.Interactions.RecordAsync(Faker.Interaction(customer.Id, at), Cancel));
        }

        var expected = recorded.OrderByDescending(x => x.OccurredAt).ThenByDescending(x => x.Id).Select(x => x.Id).ToList();
        var seen = new List<Guid>();
        string? token = null;
        do
        {
            var page = await host.Interactions.GetTimelineAsync(customer.Id, token, 4, Cancel);
            seen.AddRange(page.Items.Select(x => x.Id));
            token = page.ContinuationToken;
        }
        while (token is not null);

        Assert.Equal(expected, seen);
        Assert.Equal(9, host.Events.Of<InteractionRecorded>().Count);
    }

    /// <summary>Overdue tasks of an owner come soonest-due first; completed and future tasks are left out.</summary>
    [Fact]
    public virtual async Task Overdue_tasks_of_an_owner()
    {
        var host = CreateHost();
        var customer = await host.Customers.CreateAsync(Faker.Person(), Cancel);
        var now = Clock.GetUtcNow();
        var late = await host.Interactions.RecordAsync(Faker.Task(customer.Id, "alice", now.AddDays(-2)), Cancel);
        var later = await host.Interactions.RecordAsync(Faker.Task(customer.Id, "alice", now.AddHours(-1)), Cancel);
        var done = await host.Interactions.RecordAsync(Faker.Task(customer.Id, "alice", now.AddDays(-3)), Cancel);
        await host.Interactions.RecordAsync(Faker.Task(customer.Id, "alice", now.AddDays(1)), Cancel);
        await host.Interactions.RecordAsync(Faker.Task(customer.Id, "bob", now.AddDays(-1)), Cancel);

        var completed = await host.Interactions.CompleteTaskAsync(done.Id, Cancel);
        Assert.Equal(now, completed.CompletedAt);
        Assert.Equal(completed.Version, (await host.Interactions.CompleteTaskAsync(done.Id, Cancel)).Version);

        Assert.Equal([late.Id, later.Id], (await host.Interactions.GetOverdueTasksAsync("alice", cancellationToken: Cancel)).Select(t => t.Id));
        Assert.Single(host.Events.Of<TaskCompleted>());
    }

    /// <summary>Kind-specific rules are enforced before anything is stored.</summary>
    [Fact]
    public virtual async Task Invalid_interactions_are_rejected()
    {
        var host = CreateHost();
        var customer = await host.Customers.CreateAsync(Faker.Person(), Cancel);
        var task = await Assert.ThrowsAsync<CrmValidationException>(() => host.Interactions.RecordAsync(new InteractionDraft { CustomerId = customer.Id, Kind = InteractionKind.Task }, Cancel));
        Assert.Contains(task.Errors, e => e is { Field: "DueAt", Rule: "required" });
        Assert.Contains(task.Errors, e => e is { Field: "OwnerId", Rule: "required" });
        var message = await Assert.ThrowsAsync<CrmValidationException>(() => host.Interactions.RecordAsync(new InteractionDraft { CustomerId = customer.Id, Kind = InteractionKind.Message }, Cancel));
        Assert.Contains(message.Errors, e => e is { Field: "Channel", Rule: "required" });
        var call = await host.Interactions.RecordAsync(Faker.Interaction(customer.Id, Clock.GetUtcNow()), Cancel);
        var notATask = await Assert.ThrowsAsync<CrmValidationException>(() => host.Interactions.CompleteTaskAsync(call.Id, Cancel));
        Assert.Contains(notATask.Errors, e => e.Rule == "is-task");
        Assert.Single((await host.Interactions.GetTimelineAsync(customer.Id, cancellationToken: Cancel)).Items);
    }

    /// <summary>An interaction can be edited with a version check, and links to a deal or case are kept.</summary>
    [Fact]
    public virtual async Task Update_checks_the_version_and_keeps_links()
    {
        var host = CreateHost();
        var customer = await host.Customers.CreateAsync(Faker.Person(), Cancel);
        var dealId = Guid.CreateVersion7();
        var draft = Faker.Interaction(customer.Id, Clock.GetUtcNow()) with { DealId = dealId };
        var call = await host.Interactions.RecordAsync(draft, Cancel);
        var edited = await host.Interactions.UpdateAsync(call.Id, call.Version, draft with { Subject = "Edited" }, Cancel);

        Assert.Equal("Edited", (await host.Interactions.FindByIdAsync(call.Id, Cancel))?.Subject);
        Assert.Equal(dealId, edited.DealId);
        await Assert.ThrowsAsync<ConcurrencyConflictException>(() => host.Interactions.UpdateAsync(call.Id, call.Version, draft, Cancel));
    }

    /// <summary>Another tenant sees no timeline and no tasks.</summary>
    [Fact]
    public virtual async Task Tenants_cannot_see_each_others_timelines()
    {
        var tenantA = CreateHost();
        var tenantB = CreateHost();
        var customer = await tenantA.Customers.CreateAsync(Faker.Person(), Cancel);
        var task = await tenantA.Interactions.RecordAsync(Faker.Task(customer.Id, "carol", Clock.GetUtcNow().AddDays(-1)), Cancel);

        Assert.Null(await tenantB.Interactions.FindByIdAsync(task.Id, Cancel));
        Assert.Empty((await tenantB.Interactions.GetTimelineAsync(customer.Id, cancellationToken: Cancel)).Items);
        Assert.Empty(await tenantB.Interactions.GetOverdueTasksAsync("carol", cancellationToken: Cancel));
        await Assert.ThrowsAsync<EntityNotFoundException>(() => tenantB.Interactions.CompleteTaskAsync(task.Id, Cancel));
        await Assert.ThrowsAsync<CrmValidationException>(() => tenantB.Interactions.RecordAsync(Faker.Interaction(customer.Id, Clock.GetUtcNow()), Cancel));
        Assert.Null((await tenantA.Interactions.FindByIdAsync(task.Id, Cancel))?.CompletedAt);
    }
}
