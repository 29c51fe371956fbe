using Crm.Kit.Customers;
using Crm.Kit.Interactions;
using Crm.Kit.Sales;
using Crm.Kit.Segmentation;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using Xunit;

namespace Crm.Kit.Testing.Specification;

/// <summary>Specification tests for lead scoring: explained scores, time decay, qualification and the <c>lead.score</c> field.</summary>
public abstract class LeadScoringSpecification : CrmSpecification
{
    /// <summary>A model with two fit rules and three engagement rules: thresholds 40 (marketing) and 70 (sales).</summary>
    protected static void Model(LeadScoringOptions o)
    {
        o.FitRules.Add(new FitRule("Decision maker", Rule.Field(SegmentFieldNames.Tags).HasAny("decision-maker"), 30));
        o.FitRules.Add(new FitRule("Student", Rule.Field(SegmentFieldNames.Tags).HasAny("student"), -20));
        o.EngagementRules.Add(new EngagementRule { Name = "Meetings", Kind = InteractionKind.Meeting, Points = 20, HalfLifeDays = 30 });
        o.EngagementRules.Add(new EngagementRule { Name = "Inbound emails", Kind = InteractionKind.Email, Direction = InteractionDirection.Inbound, Points = 5, MaxPoints = 10 });
        o.EngagementRules.Add(new EngagementRule { Name = "Orders", Source = EngagementSource.Order, Points = 15 });
        o.MarketingQualifiedAt = 40;
        o.SalesQualifiedAt = 70;
    }

    /// <summary>Creates a host with the pipeline and lead scoring modules.</summary>
    protected CrmTestHost CreateScoringHost() => CreateHost(configure: s => s.AddCrmKit().AddPipeline().AddLeadScoring(Model));

    /// <summary>
    /// Fit and engagement add up to the score with every rule's share explained; reaching a threshold moves the
    /// lifecycle up (never down) and publishes <see cref="LeadQualified"/>; engagement halves with its half-life
    /// and leaves the window; the score is a segment field.
    /// </summary>
    [Fact]
    public virtual async Task Scores_explain_themselves_decay_and_qualify_leads()
    {
        var host = CreateScoringHost();
        var scoring = host.Services.GetRequiredService<LeadScoringManager>();
        var lead = await host.Customers.CreateAsync(Faker.Person() with { Tags = ["decision-maker"] }, Cancel);
        var student = await host.Customers.CreateAsync(Faker.Person() with { Tags = ["student"] }, Cancel);
        Assert.Equal([new ScoreContribution("Decision maker", ScoreRuleKind.Fit, 30, 1)], (await scoring.GetScoreAsync(lead.Id, Cancel))!.Contributions);
        Assert.Equal(-20, (await scoring.GetScoreAsync(student.Id, Cancel))!.Score);

        for (var i = 0; i < 3; i++)
        {
            await host.Interactions.RecordAsync(new InteractionDraft { CustomerId = lead.Id, Kind = InteractionKind.Email, Direction = InteractionDirection.Inbound, Subject = "Pricing?" }, Cancel);
        }

        Assert.Equal((40, LifecycleStage.MarketingQualifiedLead), ((await scoring.GetScoreAsync(lead.Id, Cancel))!.Score, (await host.Customers.GetByIdAsync(lead.Id, Cancel)).LifecycleStage));
        var qualified = Assert.Single(host.Events.Of<LeadQualified>());
        Assert.Equal((lead.Id, LifecycleStage.Lead, LifecycleStage.MarketingQualifiedLead, 40), (qualified.CustomerId, qualified.From, qualified.To, qualified.Score.Score));

        for (var i = 0; i < 2; i++)
        {
            await host.Interactions.RecordAsync(new InteractionDraft { CustomerId = lead.Id, Kind = InteractionKind.Meeting, Direction = InteractionDirection.Outbound, Subject = "Demo" }, Cancel);
        }

        await host.Interactions.RecordAsync(Faker.Task(lead.Id, "ann", Clock.GetUtcNow().AddDays(1)), Cancel); // a plan, not engagement
        var score = await scoring.GetScoreAsync(lead.Id, Cancel);
        Assert.Equal((80, 30, 50), (score!.Score, score.Fit, score.Engagement));
        Assert.Equal(LifecycleStage.SalesQualifiedLead, (await host.Customers.GetByIdAsync(lead.Id, Cancel)).LifecycleStage);
        Assert.Equal(2, host.Events.Of<LeadQualified>().Count);

        // The first order makes the lead a customer (an order rule, not a score rule); the score keeps counting.
        await host.Orders.RecordAsync(Faker.Order(lead.Id, Clock.GetUtcNow()), Cancel);
        score = await scoring.GetScoreAsync(lead.Id, Cancel);
        Assert.Equal(
            [
                new ScoreContribution("Decision maker", ScoreRuleKind.Fit, 30, 1),
                new ScoreContribution("Meetings", ScoreRuleKind.Engagement, 40, 2),
                new ScoreContribution("Inbound emails", ScoreRuleKind.Engagement, 10, 3),
                new ScoreContribution("Orders", ScoreRuleKind.Engagement, 15, 1),
            ],
            score!.Contributions);
        Assert.Equal(95, score.Score);
        Assert.Equal(2, host.Events.Of<LeadQualified>().Count);

        Assert.Equal([lead.Id], await host.Segments.FilterCustomersAsync(Rule.Field(LeadScoreFields.Score).AtLeast(90), [lead.Id, student.Id], Cancel));
        Clock.Advance(TimeSpan.FromDays(30));
        var run = await scoring.RescoreAllAsync(Cancel);
        Assert.Equal((2L, 1L, 0L), (run.Scored, run.Changed, run.Qualified));
        Assert.Equal(75, (await scoring.GetScoreAsync(lead.Id, Cancel))!.Score);
        Assert.Empty(await host.Segments.FilterCustomersAsync(Rule.Field(LeadScoreFields.Score).AtLeast(90), [lead.Id, student.Id], Cancel));
        Assert.Equal(LifecycleStage.Customer, (await host.Customers.GetByIdAsync(lead.Id, Cancel)).LifecycleStage);

        Clock.Advance(TimeSpan.FromDays(61));
        await scoring.RescoreAllAsync(Cancel);
        Assert.Equal([new ScoreContribution("Decision maker", ScoreRuleKind.Fit, 30, 1)], (await scoring.GetScoreAsync(lead.Id, Cancel))!.Contributions);
    }

    /// <summary>Merging drops the merged-away customer's score and rescores the survivor; erasure drops the score.</summary>
    [Fact]
    public virtual async Task Scores_follow_merges_and_erasure()
    {
        var host = CreateScoringHost();
        var scoring = host.Services.GetRequiredService<LeadScoringManager>();
        var survivor = await host.Customers.CreateAsync(Faker.Person() with { Tags = [] }, Cancel);
        var duplicate = await host.Customers.CreateAsync(Faker.Person() with { Tags = ["decision-maker"] }, Cancel);
        await host.Orders.RecordAsync(Faker.Order(duplicate.Id, Clock.GetUtcNow()), Cancel);
        Assert.Equal(45, (await scoring.GetScoreAsync(duplicate.Id, Cancel))!.Score);

        await host.Merger.MergeAsync(survivor.Id, duplicate.Id, Cancel);
        Assert.Null(await scoring.GetScoreAsync(duplicate.Id, Cancel));
        Assert.Equal(45, (await scoring.GetScoreAsync(survivor.Id, Cancel))!.Score);

        await host.Privacy.EraseAsync(survivor.Id, Cancel);
        Assert.Null(await scoring.GetScoreAsync(survivor.Id, Cancel));
        await Assert.ThrowsAsync<EntityNotFoundException>(async () => await scoring.ScoreAsync(survivor.Id, Cancel));
    }

    /// <summary>A broken model stops the host at start-up with every problem named.</summary>
    [Fact]
    public virtual void A_broken_model_is_refused_at_start_up()
    {
        var host = CreateHost(configure: s => s.AddCrmKit().AddLeadScoring(o =>
        {
            o.FitRules.Add(new FitRule("Loop", Rule.Field(LeadScoreFields.Score).AtLeast(10), 5));
            o.FitRules.Add(new FitRule("Nowhere", Rule.Field("no.such.field").EqualTo("x"), 5000));
            o.EngagementRules.Add(new EngagementRule { Name = "loop", Source = EngagementSource.Order, Kind = InteractionKind.Call, Points = 5, HalfLifeDays = 0 });
            o.MarketingQualifiedAt = 90;
            o.SalesQualifiedAt = 80;
        }));
        var failure = Assert.Throws<OptionsValidationException>(() => host.Services.GetRequiredService<IOptions<LeadScoringOptions>>().Value);
        Assert.Contains(failure.Failures, f => f.StartsWith("LeadScoringOptions.FitRules[0].Rule: cannot use 'lead.score'", StringComparison.Ordinal));
        Assert.Contains(failure.Failures, f => f.StartsWith("LeadScoringOptions.FitRules[1].Rule ", StringComparison.Ordinal));
        Assert.Contains(failure.Failures, f => f.StartsWith("LeadScoringOptions.FitRules[1].Points", StringComparison.Ordinal));
        Assert.Contains(failure.Failures, f => f.StartsWith("LeadScoringOptions.EngagementRules[0].Name", StringComparison.Ordinal));
        Assert.Contains(failure.Failures, f => f.StartsWith("LeadScoringOptions.EngagementRules[0]: Kind and Direction", StringComparison.Ordinal));
        Assert.Contains(failure.Failures, f => f.StartsWith("LeadScoringOptions.EngagementRules[0].HalfLifeDays", StringComparison.Ordinal));
        Assert.Contains(failure.Failures, f => f.StartsWith("LeadScoringOptions.MarketingQualifiedAt", StringComparison.Ordinal));
    }
}
