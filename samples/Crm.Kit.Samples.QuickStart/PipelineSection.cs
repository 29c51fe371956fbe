using Crm.Kit.Customers;
using Crm.Kit.Interactions;
using Crm.Kit.Sales;
using Crm.Kit.Segmentation;
using Microsoft.Extensions.DependencyInjection;

/// <summary>
/// Section 11 of the QuickStart: a sales pipeline. Create it, move four deals through it over a few weeks on a
/// clock the sample moves by hand, win one and lose one, print the funnel, the time in each stage and the
/// weighted forecast, then score a lead and show where every point came from.
/// </summary>
internal static class PipelineSection
{
    public static async Task RunAsync()
    {
        var clock = new SampleClock(new DateTimeOffset(2026, 11, 2, 9, 0, 0, TimeSpan.Zero));
        var services = new ServiceCollection();
        services.AddSingleton<TimeProvider>(clock);
        services.AddCrmKit().AddPipeline().AddLeadScoring(model =>
        {
            model.FitRules.Add(new FitRule("Decision maker", Rule.Field(SegmentFieldNames.Tags).HasAny("decision-maker"), 30));
            model.EngagementRules.Add(new EngagementRule { Name = "Meetings", Kind = InteractionKind.Meeting, Points = 20, HalfLifeDays = 30 });
            model.EngagementRules.Add(new EngagementRule { Name = "Inbound emails", Kind = InteractionKind.Email, Direction = InteractionDirection.Inbound, Points = 5, MaxPoints = 15 });
            model.MarketingQualifiedAt = 40;
            model.SalesQualifiedAt = 70;
        });
        await using var provider = services.BuildServiceProvider();
        await using var scope = provider.CreateAsyncScope();
        var customers = scope.ServiceProvider.GetRequiredService<CustomerManager>();
        var interactions = scope.ServiceProvider.GetRequiredService<InteractionManager>();
        var pipelines = scope.ServiceProvider.GetRequiredService<PipelineManager>();
        var scoring = scope.ServiceProvider.GetRequiredService<LeadScoringManager>();

        var pipeline = await pipelines.CreatePipelineAsync(new PipelineDraft
        {
            Name = "New business",
            Stages = [new StageDraft("Qualified", 0.2m, RottingDays: 14), new StageDraft("Proposal", 0.5m, 10), new StageDraft("Negotiation", 0.8m, 7)],
            LostReasons = ["Price", "Went with a competitor", "No budget"],
        });
        var (qualified, proposal, negotiation) = (pipeline.Stages[0].Id, pipeline.Stages[1].Id, pipeline.Stages[2].Id);
        Console.WriteLine($"Pipeline '{pipeline.Name}': {string.Join(" → ", pipeline.Stages.Select(s => $"{s.Name} ({s.WinProbability:P0})"))}");

        var northwind = await customers.CreateAsync(new CustomerDraft { Kind = CustomerKind.Company, CompanyName = "Northwind Outfitters" });
        var rosa = await customers.CreateAsync(new CustomerDraft { FirstName = "Rosa", LastName = "Diaz", CompanyId = northwind.Id, Tags = ["decision-maker"], Emails = [new EmailContact("rosa@northwind.example")] });
        async Task<Deal> DealAsync(string title, decimal amount, int closeInDays) => await pipelines.CreateDealAsync(new DealDraft
        {
            PipelineId = pipeline.Id,
            CustomerId = northwind.Id,
            Title = title,
            OwnerId = "ann",
            Amount = amount,
            Currency = "USD",
            ExpectedCloseDate = DateOnly.FromDateTime(clock.GetUtcNow().UtcDateTime.AddDays(closeInDays)),
        }, actor: "ann");

        var tents = await DealAsync("200 tents", 24_000m, 20);
        var boots = await DealAsync("Boots for the spring range", 9_500m, 25);
        var stoves = await DealAsync("Camping stoves", 6_000m, 40);
        var packs = await DealAsync("Backpacks", 12_000m, 55);

        clock.Advance(TimeSpan.FromDays(3));
        tents = await pipelines.MoveDealAsync(tents.Id, tents.Version, proposal, "ann");
        boots = await pipelines.MoveDealAsync(boots.Id, boots.Version, proposal, "ann");
        stoves = await pipelines.MoveDealAsync(stoves.Id, stoves.Version, proposal, "ann");
        clock.Advance(TimeSpan.FromDays(5));
        tents = await pipelines.MoveDealAsync(tents.Id, tents.Version, negotiation, "ann");
        boots = await pipelines.LoseDealAsync(boots.Id, boots.Version, "Price", "ann");
        clock.Advance(TimeSpan.FromDays(4));
        tents = await pipelines.WinDealAsync(tents.Id, tents.Version, "ann");
        Console.WriteLine($"Won '{tents.Title}' ({tents.Amount:N0} {tents.Currency}); lost '{boots.Title}' ({boots.LostReason}); Northwind is now a {(await customers.GetByIdAsync(northwind.Id)).LifecycleStage}.");
        foreach (var change in await pipelines.GetHistoryAsync(tents.Id))
        {
            var from = change.FromStageId is { } id ? pipeline.FindStage(id)!.Name : "(created)";
            Console.WriteLine($"  {change.At:MMM dd} {from} → {pipeline.FindStage(change.ToStageId)!.Name} [{change.ToStatus}] by {change.Actor}{(change.TimeInStage is { } t ? $", after {t.TotalDays:N0} days" : "")}");
        }

        var month = new DateTimeOffset(2026, 11, 1, 0, 0, 0, TimeSpan.Zero);
        var funnel = await pipelines.GetFunnelAsync(pipeline.Id, month, month.AddMonths(1));
        Console.WriteLine($"Funnel of the {funnel.Deals} deals created in November ({funnel.Won} won, {funnel.Lost} lost, {funnel.Open} open):");
        foreach (var step in funnel.Steps)
        {
            Console.WriteLine($"  {step.StageName,-12} reached by {step.Reached}, {step.MovedOn} moved on ({step.Conversion:P0})");
        }

        foreach (var stage in await pipelines.GetStageTimesAsync(pipeline.Id, month, month.AddMonths(1)))
        {
            Console.WriteLine($"  time in {stage.StageName,-12} mean {stage.Mean.TotalDays:N1} days, median {stage.Median.TotalDays:N1} days over {stage.Stays} stay(s)");
        }

        Console.WriteLine("Forecast:");
        foreach (var row in await pipelines.GetForecastAsync(pipeline.Id, new DateOnly(2026, 11, 1), new DateOnly(2027, 1, 1)))
        {
            Console.WriteLine($"  {row.Month:yyyy-MM} {row.Currency}: weighted {row.Weighted:N0}, best case {row.BestCase:N0}, committed {row.Committed:N0}");
        }

        // Rosa talks to us: two inbound emails and a demo meeting. Each one rescores her.
        await interactions.RecordAsync(new InteractionDraft { CustomerId = rosa.Id, Kind = InteractionKind.Email, Direction = InteractionDirection.Inbound, Subject = "Group rates?" });
        await interactions.RecordAsync(new InteractionDraft { CustomerId = rosa.Id, Kind = InteractionKind.Email, Direction = InteractionDirection.Inbound, Subject = "Re: Group rates" });
        await interactions.RecordAsync(new InteractionDraft { CustomerId = rosa.Id, Kind = InteractionKind.Meeting, Direction = InteractionDirection.Outbound, Subject = "Product demo" });
        var score = (await scoring.GetScoreAsync(rosa.Id))!;
        Console.WriteLine($"Lead score of {rosa.FirstName} {rosa.LastName}: {score.Score} (fit {score.Fit}, engagement {score.Engagement}); she is now {(await customers.GetByIdAsync(rosa.Id)).LifecycleStage}.");
        foreach (var part in score.Contributions)
        {
            Console.WriteLine($"  {part.Points,4:+#;-#;0}  {part.Rule} ({part.Kind}, {part.Events} event(s))");
        }

        clock.Advance(TimeSpan.FromDays(30));
        await scoring.RescoreAllAsync();
        Console.WriteLine($"A month later, with no news, the meeting counts half: {(await scoring.GetScoreAsync(rosa.Id))!.Score}.");
    }
}
