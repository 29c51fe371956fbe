using Crm.Kit.Customers;
using Crm.Kit.Interactions;
using Crm.Kit.Sales;
using Microsoft.Extensions.DependencyInjection;
using Xunit;

namespace Crm.Kit.Testing.Specification;

/// <summary>Specification tests for pipelines, deals and their stage history.</summary>
public abstract class PipelineSpecification : CrmSpecification
{
    /// <summary>Creates a host with the pipeline module.</summary>
    protected CrmTestHost CreatePipelineHost(string? tenantId = null) => CreateHost(tenantId, s => s.AddCrmKit().AddPipeline());

    /// <summary>A three-stage pipeline with two lost reasons.</summary>
    protected static Task<SalesPipeline> CreateSalesPipelineAsync(CrmTestHost host, string name = "New business", int? rottingDays = null) =>
        host.Pipelines.CreatePipelineAsync(new PipelineDraft
        {
            Name = name,
            Stages = [new StageDraft("Qualified", 0.2m, rottingDays), new StageDraft("Proposal", 0.5m, rottingDays), new StageDraft("Negotiation", 0.8m, rottingDays)],
            LostReasons = ["Price", "Went with a competitor"],
        }, Cancel);

    /// <summary>A deal for a new customer.</summary>
    protected async Task<Deal> CreateDealAsync(CrmTestHost host, SalesPipeline pipeline, decimal amount = 1000m, string? owner = "ann", Guid? customerId = null)
    {
        customerId ??= (await host.Customers.CreateAsync(Faker.Person(), Cancel)).Id;
        return await host.Pipelines.CreateDealAsync(new DealDraft { PipelineId = pipeline.Id, CustomerId = customerId.Value, Title = "Annual plan", Amount = amount, Currency = "USD", OwnerId = owner }, "ann", Cancel);
    }

    /// <summary>Stages are added, renamed, reordered and checked; names are unique.</summary>
    [Fact]
    public virtual async Task Stages_are_added_renamed_and_reordered()
    {
        var host = CreatePipelineHost();
        var pipeline = await CreateSalesPipelineAsync(host);
        Assert.Equal(["Qualified", "Proposal", "Negotiation"], pipeline.Stages.Select(s => s.Name));

        var added = await host.Pipelines.AddStageAsync(pipeline.Id, pipeline.Version, new StageDraft("Demo", 0.35m, 14), position: 1, Cancel);
        Assert.Equal(["Qualified", "Demo", "Proposal", "Negotiation"], added.Stages.Select(s => s.Name));
        var demo = added.Stages[1];
        var renamed = await host.Pipelines.UpdateStageAsync(pipeline.Id, added.Version, demo.Id, new StageDraft("Product demo", 0.4m, 10), Cancel);
        Assert.Equal(new PipelineStage { Id = demo.Id, Name = "Product demo", WinProbability = 0.4m, RottingDays = 10 }, renamed.FindStage(demo.Id));

        var order = renamed.Stages.Select(s => s.Id).Reverse().ToList();
        var reordered = await host.Pipelines.ReorderStagesAsync(pipeline.Id, renamed.Version, order, Cancel);
        Assert.Equal(order, reordered.Stages.Select(s => s.Id));
        Assert.Equal(reordered.Stages, (await host.Pipelines.GetPipelineAsync(pipeline.Id, Cancel)).Stages);

        var bad = await Assert.ThrowsAsync<CrmValidationException>(async () => await host.Pipelines.AddStageAsync(pipeline.Id, reordered.Version, new StageDraft("qualified", 1.5m, 0), cancellationToken: Cancel));
        Assert.Equal([("stage.WinProbability", "range"), ("stage.RottingDays", "range"), ("stage.Name", "unique")], bad.Errors.Select(e => (e.Field, e.Rule)));
        await Assert.ThrowsAsync<CrmValidationException>(async () => await host.Pipelines.ReorderStagesAsync(pipeline.Id, reordered.Version, order.Take(2).ToList(), Cancel));
        await Assert.ThrowsAsync<ConcurrencyConflictException>(async () => await host.Pipelines.ReorderStagesAsync(pipeline.Id, renamed.Version, order, Cancel));
        await Assert.ThrowsAsync<DuplicateValueException>(async () => await CreateSalesPipelineAsync(host));
        var empty = await Assert.ThrowsAsync<CrmValidationException>(async () => await host.Pipelines.CreatePipelineAsync(new PipelineDraft { Name = "Empty" }, Cancel));
        Assert.Equal(("Stages", "required"), (empty.Errors[0].Field, empty.Errors[0].Rule));
    }

    /// <summary>
    /// Every move and status change lands in the history with from, to, when and who; winning sets the close time
    /// and makes the customer a customer; losing needs a known reason; reopening is recorded too.
    /// </summary>
    [Fact]
    public virtual async Task Deals_move_close_and_reopen_with_history()
    {
        var host = CreatePipelineHost();
        var pipeline = await CreateSalesPipelineAsync(host);
        var lead = await host.Customers.CreateAsync(Faker.Person() with { InitialStage = LifecycleStage.SalesQualifiedLead }, Cancel);
        var deal = await CreateDealAsync(host, pipeline, customerId: lead.Id);
        Assert.Equal((pipeline.Stages[0].Id, DealStatus.Open, Clock.GetUtcNow()), (deal.StageId, deal.Status, deal.StageEnteredAt));

        Clock.Advance(TimeSpan.FromDays(2));
        deal = await host.Pipelines.MoveDealAsync(deal.Id, deal.Version, pipeline.Stages[1].Id, "ann", Cancel);
        Clock.Advance(TimeSpan.FromDays(3));
        deal = await host.Pipelines.MoveDealAsync(deal.Id, deal.Version, pipeline.Stages[2].Id, "bob", Cancel);
        Clock.Advance(TimeSpan.FromDays(1));
        var won = await host.Pipelines.WinDealAsync(deal.Id, deal.Version, "bob", Cancel);
        Assert.Equal((DealStatus.Won, (DateTimeOffset?)Clock.GetUtcNow()), (won.Status, won.ClosedAt));
        Assert.Equal(LifecycleStage.Customer, (await host.Customers.GetByIdAsync(lead.Id, Cancel)).LifecycleStage);
        Assert.Contains(host.Events.Of<LifecycleStageChanged>(), e => e.CustomerId == lead.Id && e.To == LifecycleStage.Customer);

        var moveClosed = await Assert.ThrowsAsync<CrmValidationException>(async () => await host.Pipelines.MoveDealAsync(won.Id, won.Version, pipeline.Stages[0].Id, "bob", Cancel));
        Assert.Equal("open", moveClosed.Errors[0].Rule);
        var reopened = await host.Pipelines.ReopenDealAsync(won.Id, won.Version, "carol", Cancel);
        Assert.Equal((DealStatus.Open, (DateTimeOffset?)null), (reopened.Status, reopened.ClosedAt));

        var unknown = await Assert.ThrowsAsync<CrmValidationException>(async () => await host.Pipelines.LoseDealAsync(reopened.Id, reopened.Version, "Bad weather", "carol", Cancel));
        Assert.Equal(("reason", "known-reason"), (unknown.Errors[0].Field, unknown.Errors[0].Rule));
        var lost = await host.Pipelines.LoseDealAsync(reopened.Id, reopened.Version, "price", "carol", Cancel);
        Assert.Equal((DealStatus.Lost, "Price"), (lost.Status, lost.LostReason));

        var history = await host.Pipelines.GetHistoryAsync(deal.Id, Cancel);
        Assert.Equal(
            [
                (null, pipeline.Stages[0].Id, null, DealStatus.Open, "ann"),
                (pipeline.Stages[0].Id, pipeline.Stages[1].Id, DealStatus.Open, DealStatus.Open, "ann"),
                (pipeline.Stages[1].Id, pipeline.Stages[2].Id, DealStatus.Open, DealStatus.Open, "bob"),
                (pipeline.Stages[2].Id, pipeline.Stages[2].Id, DealStatus.Open, DealStatus.Won, "bob"),
                (pipeline.Stages[2].Id, pipeline.Stages[2].Id, DealStatus.Won, DealStatus.Open, "carol"),
                ((Guid?)pipeline.Stages[2].Id, pipeline.Stages[2].Id, (DealStatus?)DealStatus.Open, DealStatus.Lost, "carol"),
            ],
            history.Select(h => (h.FromStageId, h.ToStageId, h.FromStatus, h.ToStatus, h.Actor)));
        Assert.Equal(5, host.Events.Of<DealStageChanged>().Count);
    }

    /// <summary>A deal moves only to an active stage of its own pipeline; bad drafts are refused with every field named.</summary>
    [Fact]
    public virtual async Task Invalid_moves_and_values_are_refused()
    {
        var host = CreatePipelineHost();
        var pipeline = await CreateSalesPipelineAsync(host);
        var other = await CreateSalesPipelineAsync(host, "Renewals");
        var deal = await CreateDealAsync(host, pipeline);

        var elsewhere = await Assert.ThrowsAsync<CrmValidationException>(async () => await host.Pipelines.MoveDealAsync(deal.Id, deal.Version, other.Stages[1].Id, "ann", Cancel));
        Assert.Equal(("stageId", "same-pipeline"), (elsewhere.Errors[0].Field, elsewhere.Errors[0].Rule));
        Assert.Single(await host.Pipelines.GetHistoryAsync(deal.Id, Cancel));

        var customer = await host.Customers.CreateAsync(Faker.Person(), Cancel);
        var bad = await Assert.ThrowsAsync<CrmValidationException>(async () => await host.Pipelines.CreateDealAsync(new DealDraft
        {
            PipelineId = pipeline.Id,
            CustomerId = customer.Id,
            Title = " ",
            Amount = -1m,
            Currency = "dollars",
            Lines = [new DealLine("SKU-1", "Seat", 0, 10m)],
        }, "ann", Cancel));
        Assert.Equal(
            [("Title", "required"), ("Currency", "iso-4217"), ("Amount", "range"), ("Lines[0].Quantity", "range"), ("Amount", "lines-total")],
            bad.Errors.Select(e => (e.Field, e.Rule)));
        var missing = await Assert.ThrowsAsync<CrmValidationException>(async () => await host.Pipelines.CreateDealAsync(new DealDraft { PipelineId = Guid.NewGuid(), CustomerId = Guid.NewGuid(), Title = "x", Currency = "EUR" }, "ann", Cancel));
        Assert.Equal(["pipeline-exists", "customer-exists"], missing.Errors.Select(e => e.Rule));

        var lined = await host.Pipelines.CreateDealAsync(new DealDraft { PipelineId = pipeline.Id, CustomerId = customer.Id, Title = "Seats", Currency = "eur", Lines = [new DealLine("SEAT", "Seat", 12, 49.5m)] }, "ann", Cancel);
        Assert.Equal((594m, "EUR"), (lined.Amount, lined.Currency));
    }

    /// <summary>Archiving a stage that holds deals needs a target stage; its open deals move there, each move in the history.</summary>
    [Fact]
    public virtual async Task Archiving_a_stage_moves_its_deals()
    {
        var host = CreatePipelineHost();
        var pipeline = await CreateSalesPipelineAsync(host);
        var first = await CreateDealAsync(host, pipeline);
        var second = await CreateDealAsync(host, pipeline);
        var lost = await host.Pipelines.LoseDealAsync((await CreateDealAsync(host, pipeline)).Id, 1, "Price", "ann", Cancel);

        var noTarget = await Assert.ThrowsAsync<CrmValidationException>(async () => await host.Pipelines.ArchiveStageAsync(pipeline.Id, pipeline.Version, pipeline.Stages[0].Id, null, "lead", Cancel));
        Assert.Equal(("moveDealsTo", "required"), (noTarget.Errors[0].Field, noTarget.Errors[0].Rule));

        var (archived, moved) = await host.Pipelines.ArchiveStageAsync(pipeline.Id, pipeline.Version, pipeline.Stages[0].Id, pipeline.Stages[1].Id, "lead", Cancel);
        Assert.Equal(2, moved);
        Assert.True(archived.FindStage(pipeline.Stages[0].Id)!.IsArchived);
        Assert.Equal([pipeline.Stages[1].Id, pipeline.Stages[2].Id], archived.ActiveStages.Select(s => s.Id));
        foreach (var id in new[] { first.Id, second.Id })
        {
            Assert.Equal(pipeline.Stages[1].Id, (await host.Pipelines.GetDealAsync(id, Cancel)).StageId);
            Assert.Equal("lead", (await host.Pipelines.GetHistoryAsync(id, Cancel))[^1].Actor);
        }

        Assert.Equal(pipeline.Stages[0].Id, (await host.Pipelines.GetDealAsync(lost.Id, Cancel)).StageId);
        var intoArchived = await Assert.ThrowsAsync<CrmValidationException>(async () =>
            await host.Pipelines.CreateDealAsync(new DealDraft { PipelineId = pipeline.Id, StageId = pipeline.Stages[0].Id, CustomerId = first.CustomerId, Title = "x", Currency = "USD" }, "ann", Cancel));
        Assert.Equal("active-stage", intoArchived.Errors[0].Rule);

        var reopened = await host.Pipelines.ReopenDealAsync(lost.Id, lost.Version, "ann", Cancel);
        Assert.Equal(pipeline.Stages[1].Id, reopened.StageId);
    }

    /// <summary>Deals idle longer than their stage's threshold rot; a stage move or a linked interaction is activity.</summary>
    [Fact]
    public virtual async Task Idle_deals_rot_until_there_is_activity()
    {
        var host = CreatePipelineHost();
        var pipeline = await CreateSalesPipelineAsync(host, rottingDays: 7);
        var idle = await CreateDealAsync(host, pipeline, owner: "ann");
        var called = await CreateDealAsync(host, pipeline, owner: "ann");
        var bobs = await CreateDealAsync(host, pipeline, owner: "bob");
        Clock.Advance(TimeSpan.FromDays(5));
        var moved = await CreateDealAsync(host, pipeline, owner: "ann");
        Assert.Empty(await host.Pipelines.GetRottingDealsAsync(pipeline.Id, cancellationToken: Cancel));

        await host.Interactions.RecordAsync(new InteractionDraft { CustomerId = called.CustomerId, Kind = InteractionKind.Call, Direction = InteractionDirection.Outbound, DealId = called.Id, OwnerId = "ann" }, Cancel);
        Clock.Advance(TimeSpan.FromDays(3));
        Assert.Equal(new[] { idle.Id, bobs.Id }.Order(), (await host.Pipelines.GetRottingDealsAsync(pipeline.Id, cancellationToken: Cancel)).Select(d => d.Id).Order());
        Assert.Equal([idle.Id], (await host.Pipelines.GetRottingDealsAsync(pipeline.Id, "ann", cancellationToken: Cancel)).Select(d => d.Id));

        Clock.Advance(TimeSpan.FromDays(5));
        Assert.Equal(new[] { idle.Id, called.Id, bobs.Id, moved.Id }.Order(), (await host.Pipelines.GetRottingDealsAsync(pipeline.Id, cancellationToken: Cancel)).Select(d => d.Id).Order());
        var fresh = await host.Pipelines.MoveDealAsync(moved.Id, moved.Version, pipeline.Stages[1].Id, "ann", Cancel);
        Assert.DoesNotContain(fresh.Id, (await host.Pipelines.GetRottingDealsAsync(pipeline.Id, cancellationToken: Cancel)).Select(d => d.Id));

        var foreign = await Assert.ThrowsAsync<CrmValidationException>(async () =>
            await host.Interactions.RecordAsync(new InteractionDraft { CustomerId = idle.CustomerId, Kind = InteractionKind.Note, DealId = bobs.Id }, Cancel));
        Assert.Equal(("DealId", "same-customer"), (foreign.Errors[0].Field, foreign.Errors[0].Rule));
    }

    /// <summary>
    /// A deal's last activity is its latest linked interaction that is not an open task, and its next activity the
    /// open linked task due soonest; completing that task moves both on. Its timeline lists only linked interactions.
    /// </summary>
    [Fact]
    public virtual async Task Next_and_last_activity_come_from_linked_interactions()
    {
        var host = CreatePipelineHost();
        var pipeline = await CreateSalesPipelineAsync(host);
        var deal = await CreateDealAsync(host, pipeline);
        var empty = await host.Pipelines.GetActivityAsync(deal.Id, Cancel);
        Assert.Equal((deal.LastActivityAt, (Interaction?)null, (Interaction?)null), (empty.LastActivityAt, empty.LastInteraction, empty.NextTask));

        Clock.Advance(TimeSpan.FromHours(1));
        var call = await host.Interactions.RecordAsync(Faker.Interaction(deal.CustomerId, Clock.GetUtcNow()) with { DealId = deal.Id }, Cancel);
        await host.Interactions.RecordAsync(Faker.Interaction(deal.CustomerId, Clock.GetUtcNow()), Cancel); // not linked to the deal
        Clock.Advance(TimeSpan.FromHours(1));
        var later = await host.Interactions.RecordAsync(Faker.Task(deal.CustomerId, "ann", Clock.GetUtcNow().AddDays(5)) with { DealId = deal.Id }, Cancel);
        Clock.Advance(TimeSpan.FromHours(1));
        var sooner = await host.Interactions.RecordAsync(Faker.Task(deal.CustomerId, "ann", Clock.GetUtcNow().AddDays(2)) with { DealId = deal.Id }, Cancel);

        var activity = await host.Pipelines.GetActivityAsync(deal.Id, Cancel);
        Assert.Equal((call.Id, sooner.Id), (activity.LastInteraction?.Id, activity.NextTask?.Id));
        Assert.Equal(sooner.OccurredAt, activity.LastActivityAt);

        Clock.Advance(TimeSpan.FromDays(1));
        var done = await host.Interactions.CompleteTaskAsync(sooner.Id, Cancel);
        activity = await host.Pipelines.GetActivityAsync(deal.Id, Cancel);
        Assert.Equal((done.Id, later.Id), (activity.LastInteraction?.Id, activity.NextTask?.Id));

        var timeline = await host.Pipelines.GetDealTimelineAsync(deal.Id, pageSize: 2, cancellationToken: Cancel);
        var rest = await host.Pipelines.GetDealTimelineAsync(deal.Id, timeline.ContinuationToken, 2, Cancel);
        Assert.Equal([sooner.Id, later.Id, call.Id], timeline.Items.Concat(rest.Items).Select(i => i.Id));
        Assert.Null(rest.ContinuationToken);
    }

    /// <summary>
    /// The weighted forecast sums amount × stage probability by expected-close month and currency, beside the best
    /// case and what was won; win rate, sales cycle and velocity come from the deals closed in the period.
    /// </summary>
    [Fact]
    public virtual async Task Forecast_outcomes_and_velocity()
    {
        var host = CreatePipelineHost();
        var pipeline = await CreateSalesPipelineAsync(host);
        var customer = await host.Customers.CreateAsync(Faker.Person(), Cancel);
        var t0 = Clock.GetUtcNow();
        async Task<Deal> DealAsync(decimal amount, string currency, int stage, DateOnly? close, string owner = "ann") =>
            await host.Pipelines.CreateDealAsync(new DealDraft
            {
                PipelineId = pipeline.Id,
                StageId = pipeline.Stages[stage].Id,
                CustomerId = customer.Id,
                Title = "Deal",
                Amount = amount,
                Currency = currency,
                ExpectedCloseDate = close,
                OwnerId = owner,
            }, owner, Cancel);

        await DealAsync(1000m, "USD", 0, new DateOnly(2026, 3, 15));
        await DealAsync(2000m, "USD", 1, new DateOnly(2026, 3, 20));
        await DealAsync(500m, "EUR", 2, new DateOnly(2026, 3, 31));
        await DealAsync(3000m, "USD", 2, new DateOnly(2026, 4, 10), owner: "bob");
        await DealAsync(700m, "USD", 0, null);
        await DealAsync(400m, "USD", 1, new DateOnly(2026, 7, 1));
        var won = await DealAsync(1500m, "USD", 2, new DateOnly(2026, 3, 5));
        var lost = await DealAsync(800m, "USD", 1, new DateOnly(2026, 3, 5));
        Clock.Advance(TimeSpan.FromDays(4));
        await host.Pipelines.LoseDealAsync(lost.Id, lost.Version, "Price", "ann", Cancel);
        Clock.Advance(TimeSpan.FromDays(6));
        await host.Pipelines.WinDealAsync(won.Id, won.Version, "ann", Cancel);

        var forecast = await host.Pipelines.GetForecastAsync(pipeline.Id, new DateOnly(2026, 3, 1), new DateOnly(2026, 4, 30), cancellationToken: Cancel);
        Assert.Equal(
            [
                new ForecastMonth(new DateOnly(2026, 3, 1), "EUR", 400m, 500m, 0m, 1, 0),
                new ForecastMonth(new DateOnly(2026, 3, 1), "USD", 1200m, 3000m, 1500m, 2, 1),
                new ForecastMonth(new DateOnly(2026, 4, 1), "USD", 2400m, 3000m, 0m, 1, 0),
                new ForecastMonth(null, "USD", 140m, 700m, 0m, 1, 0),
            ],
            forecast);
        Assert.Equal([new ForecastMonth(new DateOnly(2026, 4, 1), "USD", 2400m, 3000m, 0m, 1, 0)], await host.Pipelines.GetForecastAsync(pipeline.Id, new DateOnly(2026, 3, 1), new DateOnly(2026, 4, 30), "bob", Cancel));

        var outcomes = await host.Pipelines.GetOutcomesAsync(pipeline.Id, t0, t0.AddDays(30), cancellationToken: Cancel);
        Assert.Equal((1L, 1L, 0.5m, (TimeSpan?)TimeSpan.FromDays(10)), (outcomes.Won, outcomes.Lost, outcomes.WinRate, outcomes.AverageSalesCycle));
        Assert.Equal([new WonAmounts("USD", 1, 1500m)], outcomes.ByCurrency);
        Assert.Equal(1500m, outcomes.ByCurrency[0].AverageDealSize);
        var none = await host.Pipelines.GetOutcomesAsync(pipeline.Id, t0.AddDays(30), t0.AddDays(60), cancellationToken: Cancel);
        Assert.Null(none.WinRate);

        var velocity = Assert.Single(await host.Pipelines.GetVelocityAsync(pipeline.Id, t0, t0.AddDays(30), cancellationToken: Cancel));
        Assert.Equal(new PipelineVelocity("USD", 5, 0.5m, 1500m, TimeSpan.FromDays(10), 375m), velocity);
        await Assert.ThrowsAsync<CrmValidationException>(async () => await host.Pipelines.GetForecastAsync(pipeline.Id, new DateOnly(2026, 4, 1), new DateOnly(2026, 3, 1), cancellationToken: Cancel));
    }

    /// <summary>
    /// The funnel counts a deal at every stage up to the furthest its history reached (skipped stages included, and
    /// every stage for a won deal) for deals created in the period; stage times are the mean and median of the stays
    /// that ended in the period, without the time a deal spent closed before a reopening.
    /// </summary>
    [Fact]
    public virtual async Task Funnel_and_time_in_stage()
    {
        var host = CreatePipelineHost();
        var pipeline = await CreateSalesPipelineAsync(host);
        var other = await CreateSalesPipelineAsync(host, "Renewals");
        await CreateDealAsync(host, pipeline); // created before the period: not in the funnel
        Clock.Advance(TimeSpan.FromHours(1));
        var t0 = Clock.GetUtcNow();
        var deals = new List<Deal>();
        for (var i = 0; i < 6; i++)
        {
            deals.Add(await CreateDealAsync(host, pipeline, owner: i == 5 ? "bob" : "ann"));
        }

        var elsewhere = await CreateDealAsync(host, other);
        var (q, p, n) = (pipeline.Stages[0].Id, pipeline.Stages[1].Id, pipeline.Stages[2].Id);
        async Task At(int day, int index, Func<Deal, Task<Deal>> change)
        {
            Clock.SetUtcNow(t0.AddDays(day));
            var current = await host.Pipelines.GetDealAsync(deals[index].Id, Cancel);
            await change(current);
        }

        Task<Deal> Move(Deal d, Guid stage) => host.Pipelines.MoveDealAsync(d.Id, d.Version, stage, "ann", Cancel);
        Task<Deal> Win(Deal d) => host.Pipelines.WinDealAsync(d.Id, d.Version, "ann", Cancel);
        Task<Deal> Lose(Deal d) => host.Pipelines.LoseDealAsync(d.Id, d.Version, "Price", "ann", Cancel);

        await At(1, 0, d => Move(d, p));
        await At(1, 4, d => Move(d, p));
        await At(2, 1, d => Move(d, n));
        await At(3, 0, d => Move(d, n));
        await At(3, 1, Lose);
        await At(3, 5, d => Move(d, p));
        await At(4, 2, Win);
        await At(6, 0, Win);
        await At(6, 4, Lose);
        await At(10, 2, d => host.Pipelines.ReopenDealAsync(d.Id, d.Version, "ann", Cancel));
        await At(11, 2, Win);
        var moved = await host.Pipelines.MoveDealAsync(elsewhere.Id, elsewhere.Version, other.Stages[1].Id, "ann", Cancel);
        await host.Pipelines.WinDealAsync(moved.Id, moved.Version, "ann", Cancel);

        var funnel = await host.Pipelines.GetFunnelAsync(pipeline.Id, t0, t0.AddDays(1), cancellationToken: Cancel);
        Assert.Equal((6L, 2L, 2L, 2L, (decimal?)0.3333m), (funnel.Deals, funnel.Open, funnel.Won, funnel.Lost, funnel.OverallConversion));
        Assert.Equal(
            [new FunnelStep(q, "Qualified", 6, 5), new FunnelStep(p, "Proposal", 5, 3), new FunnelStep(n, "Negotiation", 3, 2)],
            funnel.Steps);
        Assert.Equal([0.8333m, 0.6m, 0.6667m], funnel.Steps.Select(s => s.Conversion));
        var ann = await host.Pipelines.GetFunnelAsync(pipeline.Id, t0, t0.AddDays(1), "ann", Cancel);
        Assert.Equal([5L, 4L, 3L], ann.Steps.Select(s => s.Reached));
        var empty = await host.Pipelines.GetFunnelAsync(pipeline.Id, t0.AddDays(1), t0.AddDays(2), cancellationToken: Cancel);
        Assert.Equal((0L, 0L, (decimal?)null), (empty.Deals, empty.Steps[0].Reached, empty.Steps[0].Conversion));

        var times = await host.Pipelines.GetStageTimesAsync(pipeline.Id, t0, t0.AddDays(30), Cancel);
        Assert.Equal(
            [
                new StageTime(q, "Qualified", 6, TimeSpan.FromDays(2), TimeSpan.FromDays(1.5)),
                new StageTime(p, "Proposal", 2, TimeSpan.FromDays(3.5), TimeSpan.FromDays(3.5)),
                new StageTime(n, "Negotiation", 2, TimeSpan.FromDays(2), TimeSpan.FromDays(2)),
            ],
            times);
        var firstDays = await host.Pipelines.GetStageTimesAsync(pipeline.Id, t0, t0.AddDays(5), Cancel);
        Assert.Equal(new StageTime(q, "Qualified", 5, TimeSpan.FromDays(2.2), TimeSpan.FromDays(2)), firstDays[0]);
        Assert.Equal(TimeSpan.FromDays(4), (await host.Pipelines.GetHistoryAsync(deals[2].Id, Cancel))[1].TimeInStage);
        await Assert.ThrowsAsync<CrmValidationException>(async () => await host.Pipelines.GetFunnelAsync(pipeline.Id, t0, t0, cancellationToken: Cancel));

        // The funnel follows the stage order of today: reversed, every deal's furthest stage is the (new) last one.
        var current = await host.Pipelines.GetPipelineAsync(pipeline.Id, Cancel);
        await host.Pipelines.ReorderStagesAsync(pipeline.Id, current.Version, [n, p, q], Cancel);
        var reordered = await host.Pipelines.GetFunnelAsync(pipeline.Id, t0, t0.AddDays(1), cancellationToken: Cancel);
        Assert.Equal([new FunnelStep(n, "Negotiation", 6, 6), new FunnelStep(p, "Proposal", 6, 6), new FunnelStep(q, "Qualified", 6, 2)], reordered.Steps);
    }

    /// <summary>Two people moving the same deal at once: one wins, the other gets the concurrency error, and the history has no phantom entry.</summary>
    [Fact]
    public virtual async Task Concurrent_moves_have_one_winner()
    {
        var host = CreatePipelineHost();
        var pipeline = await CreateSalesPipelineAsync(host);
        for (var round = 0; round < 5; round++)
        {
            var deal = await CreateDealAsync(host, pipeline);
            var outcomes = await Task.WhenAll(Enumerable.Range(0, 4).Select(async i =>
            {
                await using var scope = host.CreateScopeAsync();
                var manager = scope.ServiceProvider.GetRequiredService<PipelineManager>();
                try
                {
                    if (i == 3)
                    {
                        await manager.WinDealAsync(deal.Id, deal.Version, "closer", Cancel);
                    }
                    else
                    {
                        await manager.MoveDealAsync(deal.Id, deal.Version, pipeline.Stages[1 + (i % 2)].Id, "rep-" + i, Cancel);
                    }

                    return true;
                }
                catch (ConcurrencyConflictException)
                {
                    return false;
                }
            }));
            Assert.Equal(1, outcomes.Count(won => won));
            var stored = await host.Pipelines.GetDealAsync(deal.Id, Cancel);
            var history = await host.Pipelines.GetHistoryAsync(deal.Id, Cancel);
            Assert.Equal(2, history.Count);
            Assert.Equal((history[^1].ToStageId, history[^1].ToStatus), (stored.StageId, stored.Status));
            Assert.Equal(deal.Version + 1, stored.Version);
        }
    }

    /// <summary>No call can read or change another tenant's pipelines or deals.</summary>
    [Fact]
    public virtual async Task Tenants_are_isolated()
    {
        var a = CreatePipelineHost();
        var b = CreatePipelineHost();
        var pipeline = await CreateSalesPipelineAsync(a);
        var deal = await CreateDealAsync(a, pipeline);

        await Assert.ThrowsAsync<EntityNotFoundException>(async () => await b.Pipelines.GetPipelineAsync(pipeline.Id, Cancel));
        Assert.Null(await b.Pipelines.FindDealAsync(deal.Id, Cancel));
        Assert.Empty(await b.Pipelines.GetHistoryAsync(deal.Id, Cancel));
        Assert.Empty((await b.Pipelines.GetDealsOfCustomerAsync(deal.CustomerId, cancellationToken: Cancel)).Items);
        Assert.Empty((await b.Pipelines.ListPipelinesAsync(cancellationToken: Cancel)).Items);
        await Assert.ThrowsAsync<EntityNotFoundException>(async () => await b.Pipelines.MoveDealAsync(deal.Id, deal.Version, pipeline.Stages[1].Id, "intruder", Cancel));
        await Assert.ThrowsAsync<CrmValidationException>(async () => await b.Pipelines.CreateDealAsync(new DealDraft { PipelineId = pipeline.Id, CustomerId = deal.CustomerId, Title = "x", Currency = "USD" }, "intruder", Cancel));
        await CreateSalesPipelineAsync(b);
        Assert.Equal(deal.Version, (await a.Pipelines.GetDealAsync(deal.Id, Cancel)).Version);
    }

    /// <summary>Deals move with a merge, are exported, and open ones show in the customer 360 view.</summary>
    [Fact]
    public virtual async Task Deals_follow_merges_and_show_in_the_360_view()
    {
        var host = CreatePipelineHost();
        var pipeline = await CreateSalesPipelineAsync(host);
        var survivor = await host.Customers.CreateAsync(Faker.Person(), Cancel);
        var duplicate = await host.Customers.CreateAsync(Faker.Person(), Cancel);
        var open = await CreateDealAsync(host, pipeline, customerId: duplicate.Id);
        var won = await CreateDealAsync(host, pipeline, customerId: survivor.Id);
        await host.Pipelines.WinDealAsync(won.Id, won.Version, "ann", Cancel);

        await host.Merger.MergeAsync(survivor.Id, duplicate.Id, Cancel);
        Assert.Equal(survivor.Id, (await host.Pipelines.GetDealAsync(open.Id, Cancel)).CustomerId);
        Assert.Equal([open.Id], (await host.Pipelines.GetDealsOfCustomerAsync(survivor.Id, openOnly: true, cancellationToken: Cancel)).Items.Select(d => d.Id));
        Assert.Equal(2, Assert.IsAssignableFrom<IEnumerable<Deal>>((await host.Privacy.ExportAsync(survivor.Id, Cancel)).Modules["deals"]).Count());

        var view = await host.Customer360.GetAsync(duplicate.Id, Cancel);
        Assert.True(view.Parts.HasFlag(Customer360Parts.Deals));
        Assert.Equal([open.Id], view.OpenDeals.Select(d => d.Id));
    }

    /// <summary>
    /// Erasing a customer replaces the titles of its deals and drops their custom attributes (free text that often
    /// names the person); amounts, stages and history stay, and the pipeline's figures with them.
    /// </summary>
    [Fact]
    public virtual async Task Erasure_replaces_deal_titles_and_drops_their_attributes()
    {
        var host = CreatePipelineHost();
        var pipeline = await CreateSalesPipelineAsync(host);
        var customer = await host.Customers.CreateAsync(Faker.Person(), Cancel);
        var other = await CreateDealAsync(host, pipeline);
        var deal = await host.Pipelines.CreateDealAsync(new DealDraft
        {
            PipelineId = pipeline.Id, CustomerId = customer.Id, Title = "Renewal for Ana Lima", Amount = 250m, Currency = "USD",
            Attributes = new Dictionary<string, Customers.AttributeValue> { ["contact"] = Customers.AttributeValue.FromText("ana@example.com") },
        }, "ann", Cancel);
        var moved = await host.Pipelines.MoveDealAsync(deal.Id, deal.Version, pipeline.Stages[1].Id, "ann", Cancel);

        await host.Privacy.EraseAsync(customer.Id, Cancel);

        var erased = await host.Pipelines.GetDealAsync(deal.Id, Cancel);
        Assert.Equal(("(erased)", 0, 250m, pipeline.Stages[1].Id, moved.Version + 1), (erased.Title, erased.Attributes.Count, erased.Amount, erased.StageId, erased.Version));
        Assert.Equal(2, (await host.Pipelines.GetHistoryAsync(deal.Id, Cancel)).Count);
        Assert.Equal("Annual plan", (await host.Pipelines.GetDealAsync(other.Id, Cancel)).Title);
    }
}
