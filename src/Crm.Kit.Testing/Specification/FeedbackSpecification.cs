using Crm.Kit.Customers;
using Crm.Kit.Feedback;
using Crm.Kit.Interactions;
using Crm.Kit.Segmentation;
using Crm.Kit.Service;
using Microsoft.Extensions.DependencyInjection;
using Xunit;

namespace Crm.Kit.Testing.Specification;

/// <summary>Specification tests for surveys: scores, summaries, follow-up, latest NPS as segment fields, tenancy.</summary>
public abstract class FeedbackSpecification : CrmSpecification
{
    /// <summary>Creates a host with the feedback and service modules.</summary>
    protected CrmTestHost CreateFeedbackHost(string? tenantId = null) =>
        CreateHost(tenantId, s => s.AddCrmKit().AddFeedback().AddServiceCases());

    /// <summary>NPS is % promoters − % detractors over the answers in the period, optionally of one survey or one segment's members.</summary>
    [Fact]
    public virtual async Task Net_promoter_score_over_a_period_survey_and_segment()
    {
        var host = CreateFeedbackHost();
        var survey = await host.Feedback.CreateSurveyAsync(new SurveyDraft { Name = "Relationship NPS", Kind = SurveyKind.Nps, Question = "How likely are you to recommend us?" }, Cancel);
        var other = await host.Feedback.CreateSurveyAsync(new SurveyDraft { Name = "Post-purchase NPS", Kind = SurveyKind.Nps }, Cancel);
        var vip = await host.Segments.CreateAsync(SegmentDraft.Static("VIP"), Cancel);
        var from = Clock.GetUtcNow();
        int[] scores = [10, 9, 9, 8, 7, 6, 3, 0, 10, 10];
        var customers = new List<Customer>();
        foreach (var score in scores)
        {
            var customer = await host.Customers.CreateAsync(Faker.Person(), Cancel);
            customers.Add(customer);
            Clock.Advance(TimeSpan.FromMinutes(1));
            await host.Feedback.RecordResponseAsync(new SurveyResponseDraft { SurveyId = survey.Id, CustomerId = customer.Id, Score = score }, Cancel);
        }

        await host.Segments.AddToListAsync(vip.Id, [customers[0].Id, customers[5].Id, customers[6].Id], Cancel);
        await host.Feedback.RecordResponseAsync(new SurveyResponseDraft { SurveyId = other.Id, CustomerId = customers[0].Id, Score = 0 }, Cancel);
        Clock.Advance(TimeSpan.FromDays(40));
        await host.Feedback.RecordResponseAsync(new SurveyResponseDraft { SurveyId = survey.Id, CustomerId = customers[1].Id, Score = 0 }, Cancel);

        var period = new FeedbackQuery { Kind = SurveyKind.Nps, From = from, To = from.AddDays(30), SurveyId = survey.Id };
        var summary = await host.Feedback.SummarizeAsync(period, Cancel);
        Assert.Equal([1L, 0, 0, 1, 0, 0, 1, 1, 1, 2, 3], summary.Distribution);
        Assert.Equal((10L, 5L, 2L, 3L), (summary.Responses, summary.Positive, summary.Neutral, summary.Negative));
        Assert.Equal(20m, summary.NetPromoterScore);
        Assert.Equal(7.2m, summary.Average);

        var everySurvey = await host.Feedback.SummarizeAsync(period with { SurveyId = null }, Cancel);
        Assert.Equal(11, everySurvey.Responses);
        Assert.Equal(Math.Round((5 - 4) * 100m / 11, 2), everySurvey.NetPromoterScore);

        var segment = await host.Feedback.SummarizeAsync(period with { SegmentId = vip.Id }, Cancel);
        Assert.Equal((3L, 1L, 2L), (segment.Responses, segment.Positive, segment.Negative));
        Assert.Equal(Math.Round(-100m / 3, 2), segment.NetPromoterScore);

        var empty = await host.Feedback.SummarizeAsync(period with { From = from.AddYears(-1), To = from }, Cancel);
        Assert.Equal(0, empty.Responses);
        Assert.Null(empty.NetPromoterScore);
        Assert.Null(empty.Average);
    }

    /// <summary>CSAT reports its distribution, average and share of satisfied answers; CES its average.</summary>
    [Fact]
    public virtual async Task Satisfaction_and_effort_summaries()
    {
        var host = CreateFeedbackHost();
        var csat = await host.Feedback.CreateSurveyAsync(new SurveyDraft { Name = "After case", Kind = SurveyKind.Csat }, Cancel);
        var ces = await host.Feedback.CreateSurveyAsync(new SurveyDraft { Name = "Effort", Kind = SurveyKind.Ces }, Cancel);
        var customer = await host.Customers.CreateAsync(Faker.Person(), Cancel);
        var from = Clock.GetUtcNow();
        foreach (var score in new[] { 5, 4, 4, 3, 1 })
        {
            await host.Feedback.RecordResponseAsync(new SurveyResponseDraft { SurveyId = csat.Id, CustomerId = customer.Id, Score = score }, Cancel);
        }

        foreach (var score in new[] { 7, 6, 2 })
        {
            await host.Feedback.RecordResponseAsync(new SurveyResponseDraft { SurveyId = ces.Id, CustomerId = customer.Id, Score = score }, Cancel);
        }

        var satisfaction = await host.Feedback.SummarizeAsync(new FeedbackQuery { Kind = SurveyKind.Csat, From = from, To = from.AddDays(1) }, Cancel);
        Assert.Equal([1L, 0, 1, 2, 1], satisfaction.Distribution);
        Assert.Equal(3.4m, satisfaction.Average);
        Assert.Equal(60m, satisfaction.PositivePercent);
        Assert.Null(satisfaction.NetPromoterScore);

        var effort = await host.Feedback.SummarizeAsync(new FeedbackQuery { Kind = SurveyKind.Ces, From = from, To = from.AddDays(1) }, Cancel);
        Assert.Equal(5m, effort.Average);
        Assert.Equal((2L, 1L), (effort.Positive, effort.Negative));
        Assert.Null(await host.Feedback.GetLatestNpsAsync(customer.Id, Cancel));

        var mixed = await Assert.ThrowsAsync<CrmValidationException>(async () =>
            await host.Feedback.SummarizeAsync(new FeedbackQuery { Kind = SurveyKind.Nps, From = from, To = from.AddDays(1), SurveyId = csat.Id }, Cancel));
        Assert.Equal("same-kind", mixed.Errors[0].Rule);
    }

    /// <summary>A negative answer to a survey with follow-up creates a task for the customer's owner (or the fallback), linked to the case.</summary>
    [Fact]
    public virtual async Task Negative_answers_create_a_follow_up_task()
    {
        var host = CreateFeedbackHost();
        var survey = await host.Feedback.CreateSurveyAsync(new SurveyDraft { Name = "After case", Kind = SurveyKind.Nps, FollowUp = new FollowUpPolicy("service-lead", TimeSpan.FromDays(2)) }, Cancel);
        var owned = await host.Customers.CreateAsync(Faker.Person() with { OwnerId = "ann" }, Cancel);
        var unowned = await host.Customers.CreateAsync(Faker.Person() with { OwnerId = null }, Cancel);
        var complaint = await host.Cases.OpenAsync(Faker.Case(owned.Id), Cancel);

        var detractor = await host.Feedback.RecordResponseAsync(new SurveyResponseDraft { SurveyId = survey.Id, CustomerId = owned.Id, Score = 4, CaseId = complaint.Id, Comment = "Took a week" }, Cancel);
        var task = await host.Interactions.FindByIdAsync(detractor.FollowUpTaskId!.Value, Cancel);
        Assert.NotNull(task);
        Assert.Equal((InteractionKind.Task, "ann", Clock.GetUtcNow().AddDays(2), (Guid?)complaint.Id), (task.Kind, task.OwnerId, task.DueAt, task.CaseId));
        Assert.Contains(host.Events.Of<InteractionRecorded>(), e => e.Interaction.Id == task.Id);
        Assert.Equal(NpsCategory.Detractor, detractor.NpsCategory);

        var fallback = await host.Feedback.RecordResponseAsync(new SurveyResponseDraft { SurveyId = survey.Id, CustomerId = unowned.Id, Score = 0 }, Cancel);
        Assert.Equal("service-lead", (await host.Interactions.FindByIdAsync(fallback.FollowUpTaskId!.Value, Cancel))!.OwnerId);

        var promoter = await host.Feedback.RecordResponseAsync(new SurveyResponseDraft { SurveyId = survey.Id, CustomerId = owned.Id, Score = 10 }, Cancel);
        Assert.Null(promoter.FollowUpTaskId);
        Assert.Equal(3, host.Events.Of<FeedbackReceived>().Count);

        Clock.Advance(TimeSpan.FromDays(3));
        Assert.Equal([task.Id], (await host.Interactions.GetOverdueTasksAsync("ann", cancellationToken: Cancel)).Select(t => t.Id));
        Assert.Equal([fallback.FollowUpTaskId!.Value], (await host.Interactions.GetOverdueTasksAsync("service-lead", cancellationToken: Cancel)).Select(t => t.Id));
    }

    /// <summary>Answers off the scale, to inactive surveys, about someone else's case or order, or from the future are refused before anything is stored.</summary>
    [Fact]
    public virtual async Task Bad_answers_are_refused()
    {
        var host = CreateFeedbackHost();
        var nps = await host.Feedback.CreateSurveyAsync(new SurveyDraft { Name = "NPS", Kind = SurveyKind.Nps }, Cancel);
        var customer = await host.Customers.CreateAsync(Faker.Person(), Cancel);
        var other = await host.Customers.CreateAsync(Faker.Person(), Cancel);
        var othersCase = await host.Cases.OpenAsync(Faker.Case(other.Id), Cancel);
        var othersOrder = await host.Orders.RecordAsync(Faker.Order(other.Id, Clock.GetUtcNow().AddDays(-1)), Cancel);

        var offScale = await Assert.ThrowsAsync<CrmValidationException>(async () =>
            await host.Feedback.RecordResponseAsync(new SurveyResponseDraft { SurveyId = nps.Id, CustomerId = customer.Id, Score = 11, CaseId = othersCase.Id, OrderId = othersOrder.Id, RespondedAt = Clock.GetUtcNow().AddHours(1) }, Cancel));
        Assert.Equal([("RespondedAt", "not-future")], offScale.Errors.Select(e => (e.Field, e.Rule)));

        var foreign = await Assert.ThrowsAsync<CrmValidationException>(async () =>
            await host.Feedback.RecordResponseAsync(new SurveyResponseDraft { SurveyId = nps.Id, CustomerId = customer.Id, Score = 11, CaseId = othersCase.Id, OrderId = othersOrder.Id }, Cancel));
        Assert.Equal([("Score", "scale"), ("CaseId", "customer-case"), ("OrderId", "customer-order")], foreign.Errors.Select(e => (e.Field, e.Rule)));

        await host.Feedback.UpdateSurveyAsync(nps.Id, nps.Version, new SurveyDraft { Name = "NPS", Kind = SurveyKind.Nps, IsActive = false }, Cancel);
        var inactive = await Assert.ThrowsAsync<CrmValidationException>(async () =>
            await host.Feedback.RecordResponseAsync(new SurveyResponseDraft { SurveyId = nps.Id, CustomerId = customer.Id, Score = 9 }, Cancel));
        Assert.Equal("active", inactive.Errors[0].Rule);
        Assert.Empty((await host.Feedback.GetResponsesOfCustomerAsync(customer.Id, cancellationToken: Cancel)).Items);

        var followUp = await Assert.ThrowsAsync<CrmValidationException>(async () =>
            await host.Feedback.CreateSurveyAsync(new SurveyDraft { Name = " ", Kind = (SurveyKind)7, FollowUp = new FollowUpPolicy("", TimeSpan.Zero) }, Cancel));
        Assert.Equal(["Name", "Kind", "FollowUp.FallbackOwnerId", "FollowUp.DueWithin"], followUp.Errors.Select(e => e.Field));
        await Assert.ThrowsAsync<DuplicateValueException>(async () => await host.Feedback.CreateSurveyAsync(new SurveyDraft { Name = "NPS", Kind = SurveyKind.Csat }, Cancel));
    }

    /// <summary>An answer sent again with the same reference is recorded once, even when the deliveries race.</summary>
    [Fact]
    public virtual async Task Answers_with_a_reference_are_recorded_once()
    {
        var host = CreateFeedbackHost();
        var survey = await host.Feedback.CreateSurveyAsync(new SurveyDraft { Name = "NPS", Kind = SurveyKind.Nps }, Cancel);
        var customer = await host.Customers.CreateAsync(Faker.Person(), Cancel);
        var draft = new SurveyResponseDraft { SurveyId = survey.Id, CustomerId = customer.Id, Score = 9, Reference = "mail-42" };
        var first = await host.Feedback.RecordResponseAsync(draft, Cancel);
        Assert.Equal(first, await host.Feedback.RecordResponseAsync(draft with { Score = 3 }, Cancel));

        var racing = await Task.WhenAll(Enumerable.Range(0, 8).Select(async _ =>
        {
            await using var scope = host.CreateScopeAsync();
            return await scope.ServiceProvider.GetRequiredService<FeedbackManager>().RecordResponseAsync(draft with { Reference = "mail-43" }, Cancel);
        }));
        Assert.Single(racing.Select(r => r.Id).Distinct());
        Assert.Equal(2, (await host.Feedback.GetResponsesOfCustomerAsync(customer.Id, cancellationToken: Cancel)).Items.Count);
    }

    /// <summary>
    /// The latest NPS answer (by answer time) and its group are segment fields: a customer enters the detractor
    /// segment with a bad answer and leaves it with a better, later one; a late-arriving older answer changes nothing.
    /// </summary>
    [Fact]
    public virtual async Task Latest_nps_drives_segments()
    {
        var host = CreateFeedbackHost();
        var survey = await host.Feedback.CreateSurveyAsync(new SurveyDraft { Name = "NPS", Kind = SurveyKind.Nps }, Cancel);
        var detractors = await host.Segments.CreateAsync(SegmentDraft.Dynamic("Detractors", Rule.Field(FeedbackFields.NpsCategory).EqualTo("detractor")), Cancel);
        var lowScores = await host.Segments.CreateAsync(SegmentDraft.Dynamic("NPS below 5", Rule.Field(FeedbackFields.Nps).LessThan(5)), Cancel);
        var unanswered = await host.Segments.CreateAsync(SegmentDraft.Dynamic("Never answered", Rule.Field(FeedbackFields.Nps).IsNotSet()), Cancel);
        var customer = await host.Customers.CreateAsync(Faker.Person(), Cancel);
        Assert.True(await host.Segments.IsMemberAsync(unanswered.Id, customer.Id, Cancel));

        await host.Feedback.RecordResponseAsync(new SurveyResponseDraft { SurveyId = survey.Id, CustomerId = customer.Id, Score = 3 }, Cancel);
        Assert.Equal(new LatestNps(customer.Id, 3, Clock.GetUtcNow(), (await host.Feedback.GetResponsesOfCustomerAsync(customer.Id, cancellationToken: Cancel)).Items[0].Id), await host.Feedback.GetLatestNpsAsync(customer.Id, Cancel));
        Assert.Contains(host.Events.Of<SegmentEntered>(), e => e.SegmentId == detractors.Id && e.CustomerId == customer.Id);
        Assert.True(await host.Segments.IsMemberAsync(lowScores.Id, customer.Id, Cancel));

        Clock.Advance(TimeSpan.FromDays(10));
        await host.Feedback.RecordResponseAsync(new SurveyResponseDraft { SurveyId = survey.Id, CustomerId = customer.Id, Score = 9 }, Cancel);
        await host.Feedback.RecordResponseAsync(new SurveyResponseDraft { SurveyId = survey.Id, CustomerId = customer.Id, Score = 0, RespondedAt = Clock.GetUtcNow().AddDays(-5) }, Cancel);
        var latest = await host.Feedback.GetLatestNpsAsync(customer.Id, Cancel);
        Assert.Equal((9, NpsCategory.Promoter, Clock.GetUtcNow()), (latest!.Score, latest.Category, latest.RespondedAt));
        Assert.Contains(host.Events.Of<SegmentExited>(), e => e.SegmentId == detractors.Id && e.CustomerId == customer.Id);
        Assert.Empty((await host.Segments.GetMembersAsync(detractors.Id, cancellationToken: Cancel)).Items);
        Assert.False(await host.Segments.IsMemberAsync(lowScores.Id, customer.Id, Cancel));
    }

    /// <summary>Answers move with a merge (the survivor's latest NPS is worked out again), lose their comment on erasure, and are exported.</summary>
    [Fact]
    public virtual async Task Answers_follow_merge_erasure_and_export()
    {
        var host = CreateFeedbackHost();
        var survey = await host.Feedback.CreateSurveyAsync(new SurveyDraft { Name = "NPS", Kind = SurveyKind.Nps }, Cancel);
        var survivor = await host.Customers.CreateAsync(Faker.Person(), Cancel);
        var duplicate = await host.Customers.CreateAsync(Faker.Person(), Cancel);
        await host.Feedback.RecordResponseAsync(new SurveyResponseDraft { SurveyId = survey.Id, CustomerId = survivor.Id, Score = 8 }, Cancel);
        Clock.Advance(TimeSpan.FromHours(1));
        var later = await host.Feedback.RecordResponseAsync(new SurveyResponseDraft { SurveyId = survey.Id, CustomerId = duplicate.Id, Score = 2, Comment = "Rude staff" }, Cancel);

        await host.Merger.MergeAsync(survivor.Id, duplicate.Id, Cancel);
        Assert.Equal(later.Id, (await host.Feedback.GetLatestNpsAsync(survivor.Id, Cancel))!.ResponseId);
        Assert.Null(await host.Feedback.GetLatestNpsAsync(duplicate.Id, Cancel));
        Assert.Equal(2, (await host.Feedback.GetResponsesOfCustomerAsync(survivor.Id, cancellationToken: Cancel)).Items.Count);
        var export = await host.Privacy.ExportAsync(survivor.Id, Cancel);
        Assert.Equal(2, Assert.IsAssignableFrom<IEnumerable<SurveyResponse>>(export.Modules["surveyResponses"]).Count());

        await host.Privacy.EraseAsync(survivor.Id, Cancel);
        var erased = (await host.Feedback.GetResponsesOfCustomerAsync(survivor.Id, cancellationToken: Cancel)).Items;
        Assert.All(erased, r => Assert.Null(r.Comment));
        Assert.Equal([2, 8], erased.Select(r => r.Score));
    }

    /// <summary>No call can read another tenant's surveys, answers or figures.</summary>
    [Fact]
    public virtual async Task Tenants_are_isolated()
    {
        var a = CreateFeedbackHost();
        var b = CreateFeedbackHost();
        var survey = await a.Feedback.CreateSurveyAsync(new SurveyDraft { Name = "NPS", Kind = SurveyKind.Nps }, Cancel);
        var customer = await a.Customers.CreateAsync(Faker.Person(), Cancel);
        var from = Clock.GetUtcNow();
        await a.Feedback.RecordResponseAsync(new SurveyResponseDraft { SurveyId = survey.Id, CustomerId = customer.Id, Score = 10 }, Cancel);

        await Assert.ThrowsAsync<EntityNotFoundException>(async () => await b.Feedback.GetSurveyAsync(survey.Id, Cancel));
        Assert.Empty((await b.Feedback.ListSurveysAsync(cancellationToken: Cancel)).Items);
        Assert.Null(await b.Feedback.GetLatestNpsAsync(customer.Id, Cancel));
        Assert.Empty((await b.Feedback.GetResponsesOfCustomerAsync(customer.Id, cancellationToken: Cancel)).Items);
        Assert.Equal(0, (await b.Feedback.SummarizeAsync(new FeedbackQuery { Kind = SurveyKind.Nps, From = from, To = from.AddDays(1) }, Cancel)).Responses);
        await Assert.ThrowsAsync<CrmValidationException>(async () =>
            await b.Feedback.RecordResponseAsync(new SurveyResponseDraft { SurveyId = survey.Id, CustomerId = customer.Id, Score = 1 }, Cancel));
        Assert.Equal(100m, (await a.Feedback.SummarizeAsync(new FeedbackQuery { Kind = SurveyKind.Nps, From = from, To = from.AddDays(1) }, Cancel)).NetPromoterScore);
    }
}
