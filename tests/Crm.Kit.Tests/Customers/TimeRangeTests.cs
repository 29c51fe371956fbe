using Crm.Kit.Customers;
using Crm.Kit.Feedback;
using Crm.Kit.Interactions;
using Crm.Kit.Orders;
using Crm.Kit.Sales;
using Crm.Kit.Testing;
using Microsoft.Extensions.DependencyInjection;

namespace Crm.Kit.Tests.Customers;

/// <summary>
/// Every time a caller supplies lies in its documented range (<see cref="TimeRanges"/>): what has happened lies no
/// later than now plus the allowed clock skew, what is planned no further than the planning horizon, nothing before
/// 1900. Each boundary is accepted and the first value past it refused with the field named.
/// </summary>
public sealed class TimeRangeTests : IAsyncDisposable
{
    private static readonly DateTimeOffset Now = new(2026, 6, 1, 12, 0, 0, TimeSpan.Zero);
    private static readonly TimeSpan Skew = TimeSpan.FromMinutes(5);
    private static readonly TimeSpan Tick = TimeSpan.FromTicks(1);

    private readonly ServiceProvider _provider;
    private readonly CustomerManager _customers;
    private readonly OrderManager _orders;
    private readonly InteractionManager _interactions;
    private readonly FeedbackManager _feedback;
    private readonly PipelineManager _pipelines;
    private readonly Crm.Kit.Loyalty.LoyaltyManager _loyalty;

    public TimeRangeTests()
    {
        var services = new ServiceCollection();
        services.AddSingleton<TimeProvider>(new ManualTimeProvider(Now));
        services.AddCrmKit().AddFeedback().AddPipeline().AddLoyalty();
        _provider = services.BuildServiceProvider();
        _customers = _provider.GetRequiredService<CustomerManager>();
        _orders = _provider.GetRequiredService<OrderManager>();
        _interactions = _provider.GetRequiredService<InteractionManager>();
        _feedback = _provider.GetRequiredService<FeedbackManager>();
        _pipelines = _provider.GetRequiredService<PipelineManager>();
        _loyalty = _provider.GetRequiredService<Crm.Kit.Loyalty.LoyaltyManager>();
    }

    private static CancellationToken Cancel => TestContext.Current.CancellationToken;

    public ValueTask DisposeAsync() => _provider.DisposeAsync();

    private static async Task Refused(string field, string rule, Func<Task> act)
    {
        var error = await Assert.ThrowsAsync<CrmValidationException>(act);
        Assert.True(error.Errors.Any(e => e.Field == field && e.Rule == rule), $"expected {field} ({rule}), got: {error.Message}");
    }

    private Task<Customer> CustomerAsync() => _customers.CreateAsync(new CustomerDraft { FirstName = "Ana" }, Cancel);

    [Fact]
    public async Task Consent_is_dated_no_later_than_now_plus_the_skew_so_a_real_withdrawal_always_wins()
    {
        var ana = await CustomerAsync();
        ConsentRecord At(DateTimeOffset at, bool granted = true) => new(ContactChannel.Email, ConsentPurpose.Marketing, granted, at, "form");

        await Refused("consent[0].RecordedAt", "not-future", () => _customers.RecordConsentAsync(ana.Id, At(new DateTimeOffset(9999, 12, 31, 0, 0, 0, TimeSpan.Zero)), Cancel));
        await Refused("consent[0].RecordedAt", "not-future", () => _customers.RecordConsentAsync(ana.Id, At(Now + Skew + Tick), Cancel));
        await Refused("consent[0].RecordedAt", "time-range", () => _customers.RecordConsentAsync(ana.Id, At(TimeRanges.Earliest - Tick), Cancel));
        await Refused("InitialConsent[0].RecordedAt", "not-future", () => _customers.CreateAsync(new CustomerDraft { FirstName = "B", InitialConsent = [At(Now.AddYears(1))] }, Cancel));

        await _customers.RecordConsentAsync(ana.Id, At(TimeRanges.Earliest), Cancel);
        await _customers.RecordConsentAsync(ana.Id, At(Now + Skew), Cancel);
        var withdrawn = await _customers.RecordConsentAsync(ana.Id, At(Now + Skew, granted: false), Cancel);
        Assert.False(withdrawn.HasConsent(ContactChannel.Email, ConsentPurpose.Marketing));
    }

    [Fact]
    public async Task Orders_are_placed_between_1900_and_now_plus_the_skew()
    {
        var ana = await CustomerAsync();
        OrderDraft Placed(DateTimeOffset? at, string reference) => new()
        {
            CustomerId = ana.Id, Reference = reference, Currency = "USD", PlacedAt = at,
            Lines = [new OrderLine("S-1", "Seeds", "Garden", 1, 2m)],
        };

        foreach (var year in new[] { 9999, 3000 })
        {
            await Refused("PlacedAt", "not-future", () => _orders.RecordAsync(Placed(new DateTimeOffset(year, 1, 1, 0, 0, 0, TimeSpan.Zero), "y" + year), Cancel));
        }

        await Refused("PlacedAt", "time-range", () => _orders.RecordAsync(Placed(DateTimeOffset.MinValue, "min"), Cancel));
        await Refused("PlacedAt", "time-range", () => _orders.RecordAsync(Placed(TimeRanges.Earliest - Tick, "early"), Cancel));
        await Refused("PlacedAt", "not-future", () => _orders.RecordAsync(Placed(Now + Skew + Tick, "late"), Cancel));

        await _orders.RecordAsync(Placed(TimeRanges.Earliest, "first"), Cancel);
        await _orders.RecordAsync(Placed(Now + Skew, "last"), Cancel);
        Assert.Equal(Now + Skew, (await _customers.GetByIdAsync(ana.Id, Cancel)).Metrics.LastOrderAt);
    }

    [Fact]
    public async Task Interactions_happen_by_now_and_tasks_fall_due_within_the_planning_horizon()
    {
        var ana = await CustomerAsync();
        InteractionDraft Note(DateTimeOffset at) => new() { CustomerId = ana.Id, Kind = InteractionKind.Note, Body = "x", OccurredAt = at };
        InteractionDraft Task(DateTimeOffset due) => new() { CustomerId = ana.Id, Kind = InteractionKind.Task, Subject = "call", OwnerId = "user-1", DueAt = due };

        await Refused("OccurredAt", "not-future", () => _interactions.RecordAsync(Note(DateTimeOffset.MaxValue), Cancel));
        await Refused("OccurredAt", "not-future", () => _interactions.RecordAsync(Note(Now + Skew + Tick), Cancel));
        await Refused("OccurredAt", "time-range", () => _interactions.RecordAsync(Note(DateTimeOffset.MinValue), Cancel));
        await Refused("DueAt", "time-range", () => _interactions.RecordAsync(Task(Now + TimeRanges.PlanningHorizon + Tick), Cancel));
        await Refused("DueAt", "time-range", () => _interactions.RecordAsync(Task(TimeRanges.Earliest - Tick), Cancel));

        await _interactions.RecordAsync(Note(Now + Skew), Cancel);
        await _interactions.RecordAsync(Note(TimeRanges.Earliest), Cancel);
        await _interactions.RecordAsync(Task(Now + TimeRanges.PlanningHorizon), Cancel);
        await _interactions.RecordAsync(Task(Now.AddDays(-3)), Cancel); // an overdue task is a plan too
    }

    [Fact]
    public async Task Survey_answers_and_imported_points_have_happened_and_deals_close_within_the_horizon()
    {
        var ana = await CustomerAsync();
        var survey = await _feedback.CreateSurveyAsync(new SurveyDraft { Name = "NPS", Kind = SurveyKind.Nps, Question = "Recommend us?" }, Cancel);
        await Refused("RespondedAt", "not-future", () => _feedback.RecordResponseAsync(new SurveyResponseDraft { SurveyId = survey.Id, CustomerId = ana.Id, Score = 9, RespondedAt = Now + Skew + Tick }, Cancel));
        await _feedback.RecordResponseAsync(new SurveyResponseDraft { SurveyId = survey.Id, CustomerId = ana.Id, Score = 9, RespondedAt = Now + Skew }, Cancel);

        var pipeline = await _pipelines.CreatePipelineAsync(new PipelineDraft { Name = "Sales", Stages = [new StageDraft("Open", 0.5m), new StageDraft("Won", 1m)] }, Cancel);
        DealDraft Deal(DateOnly close) => new() { PipelineId = pipeline.Id, CustomerId = ana.Id, Title = "Seeds", Currency = "USD", Amount = 10m, ExpectedCloseDate = close };
        var horizon = DateOnly.FromDateTime((Now + TimeRanges.PlanningHorizon).UtcDateTime);
        await Refused("ExpectedCloseDate", "time-range", () => _pipelines.CreateDealAsync(Deal(new DateOnly(9999, 12, 31)), "ana", Cancel));
        await Refused("ExpectedCloseDate", "time-range", () => _pipelines.CreateDealAsync(Deal(horizon.AddDays(1)), "ana", Cancel));
        await Refused("ExpectedCloseDate", "time-range", () => _pipelines.CreateDealAsync(Deal(new DateOnly(1899, 12, 31)), "ana", Cancel));
        await _pipelines.CreateDealAsync(Deal(horizon), "ana", Cancel);
        await _pipelines.CreateDealAsync(Deal(new DateOnly(1900, 1, 1)), "ana", Cancel);

        await _loyalty.CreateProgrammeAsync(new Crm.Kit.Loyalty.LoyaltyProgrammeDefinition { Name = "Club", Currency = "USD" }, Cancel);
        await Refused("lines[0].EarnedAt", "not-future", () => _loyalty.ImportAsync([new Crm.Kit.Loyalty.PointsImport(ana.Id, 10, "k0", Now + Tick)], Cancel));
        await Refused("lines[0].EarnedAt", "time-range", () => _loyalty.ImportAsync([new Crm.Kit.Loyalty.PointsImport(ana.Id, 10, "k1", TimeRanges.Earliest - Tick)], Cancel));
    }
}
