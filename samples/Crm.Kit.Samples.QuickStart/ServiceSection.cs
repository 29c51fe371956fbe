using Crm.Kit;
using Crm.Kit.Customers;
using Crm.Kit.Feedback;
using Crm.Kit.Interactions;
using Crm.Kit.Service;
using Microsoft.Extensions.DependencyInjection;

/// <summary>
/// Section 10 of the QuickStart: customer service. Open a complaint and answer it within its SLA, let another
/// case breach its SLA on a clock the sample moves by hand, record an NPS answer that asks for a follow-up, and
/// show everything in the customer 360 view.
/// </summary>
internal static class ServiceSection
{
    public static async Task RunAsync()
    {
        // Monday 23 November 2026, 08:00 UTC (08:00 in London). The clock only moves when the sample says so.
        var clock = new SampleClock(new DateTimeOffset(2026, 11, 23, 8, 0, 0, TimeSpan.Zero));
        var services = new ServiceCollection();
        services.AddSingleton<TimeProvider>(clock);
        services.AddSingleton<ICrmEventHandler<CaseSlaBreached>, BreachAlert>();
        services.AddCrmKit().AddServiceCases().AddFeedback();
        await using var provider = services.BuildServiceProvider();
        await using var scope = provider.CreateAsyncScope();
        var customers = scope.ServiceProvider.GetRequiredService<CustomerManager>();
        var interactions = scope.ServiceProvider.GetRequiredService<InteractionManager>();
        var cases = scope.ServiceProvider.GetRequiredService<CaseManager>();
        var feedback = scope.ServiceProvider.GetRequiredService<FeedbackManager>();
        var view = scope.ServiceProvider.GetRequiredService<Customer360Service>();

        // Normal cases: answer within 2 working hours, solve within 2 working days (Mon–Fri 09:00–17:00 London).
        // Urgent ones: answer within 30 minutes, solve within 4 hours, round the clock.
        await cases.CreatePolicyAsync(new SlaPolicyDraft
        {
            Name = "Standard",
            Priority = CasePriority.Normal,
            FirstResponseTarget = TimeSpan.FromHours(2),
            ResolutionTarget = TimeSpan.FromHours(16),
            BusinessHours = BusinessHours.Weekdays("Europe/London", TimeSpan.FromHours(9), TimeSpan.FromHours(17), holidays: [new DateOnly(2026, 12, 25)]),
        });
        await cases.CreatePolicyAsync(new SlaPolicyDraft { Name = "Urgent", Priority = CasePriority.Urgent, FirstResponseTarget = TimeSpan.FromMinutes(30), ResolutionTarget = TimeSpan.FromHours(4) });

        var maya = await customers.CreateAsync(new CustomerDraft
        {
            FirstName = "Maya",
            LastName = "Okafor",
            OwnerId = "sam",
            Emails = [new EmailContact("maya@example.com")],
            InitialConsent = [new ConsentRecord(ContactChannel.Email, ConsentPurpose.Service, true, clock.GetUtcNow(), "checkout")],
        });

        var complaint = await cases.OpenAsync(new CaseDraft
        {
            CustomerId = maya.Id,
            Kind = CaseKinds.Complaint,
            Subject = "Parcel arrived crushed",
            Channel = CaseChannel.Email,
            OwnerId = "sam",
            OpenedBy = "sam",
        });
        Console.WriteLine($"Complaint opened at 08:00: first response due {complaint.Sla.FirstResponseDueAt:HH:mm}, resolution due {complaint.Sla.ResolutionDueAt:ddd HH:mm} (UTC)");

        clock.Advance(TimeSpan.FromMinutes(95));
        await interactions.RecordAsync(new InteractionDraft
        {
            CustomerId = maya.Id,
            Kind = InteractionKind.Email,
            Direction = InteractionDirection.Outbound,
            Subject = "Sorry about your parcel — a replacement is on its way",
            OwnerId = "sam",
            CaseId = complaint.Id,
        });
        complaint = await cases.GetByIdAsync(complaint.Id);
        Console.WriteLine($"Sam replies at {clock.GetUtcNow():HH:mm}: the reply is the first response, the case is now {complaint.Status}, no breach");

        var urgent = await cases.OpenAsync(new CaseDraft
        {
            CustomerId = maya.Id,
            Kind = CaseKinds.Request,
            Subject = "Card charged twice",
            Channel = CaseChannel.Phone,
            Priority = CasePriority.Urgent,
            Team = "billing",
            OpenedBy = "maya",
        });
        clock.Advance(TimeSpan.FromMinutes(20));
        Console.WriteLine($"Cases due within 15 minutes: {string.Join(", ", (await cases.GetCasesAtRiskAsync(TimeSpan.FromMinutes(15))).Select(c => c.Subject))}");
        clock.Advance(TimeSpan.FromMinutes(20));
        Console.WriteLine($"Breach run at {clock.GetUtcNow():HH:mm}: {await cases.DetectBreachesAsync()} breach recorded; the billing queue: {string.Join(", ", (await cases.GetQueueAsync(team: "billing")).Select(c => $"{c.Subject} ({c.Status}, breached {c.Sla.IsBreached})"))}");
        urgent = await cases.GetByIdAsync(urgent.Id);
        urgent = await cases.ChangeStatusAsync(urgent.Id, urgent.Version, CaseStatus.Resolved, "billing-lead", "refund issued");
        Console.WriteLine($"Resolved by billing-lead: {string.Join(" -> ", urgent.History.Select(h => h.To))}");

        var nps = await feedback.CreateSurveyAsync(new SurveyDraft
        {
            Name = "After your case",
            Kind = SurveyKind.Nps,
            Question = "How likely are you to recommend us to a friend?",
            FollowUp = new FollowUpPolicy(FallbackOwnerId: "service-lead", DueWithin: TimeSpan.FromDays(1)),
        });
        var answer = await feedback.RecordResponseAsync(new SurveyResponseDraft { SurveyId = nps.Id, CustomerId = maya.Id, Score = 5, CaseId = urgent.Id, Comment = "Sorted, but I had to call twice." });
        var task = await interactions.FindByIdAsync(answer.FollowUpTaskId!.Value);
        Console.WriteLine($"Maya answers NPS {answer.Score} ({answer.NpsCategory}): follow-up task for {task!.OwnerId}, due {task.DueAt:ddd HH:mm}");
        var summary = await feedback.SummarizeAsync(new FeedbackQuery { Kind = SurveyKind.Nps, From = clock.GetUtcNow().AddDays(-30), To = clock.GetUtcNow().AddMinutes(1) });
        Console.WriteLine($"NPS over the last 30 days: {summary.NetPromoterScore} from {summary.Responses} answer(s)");

        var maya360 = await view.GetAsync(maya.Id);
        Console.WriteLine($"360 of {maya360.Customer.FirstName} {maya360.Customer.LastName} (parts: {maya360.Parts})");
        Console.WriteLine($"  consent: {string.Join(", ", maya360.Consent.Select(c => $"{c.Channel}/{c.Purpose} {(c.Granted ? "granted" : "withdrawn")}"))}");
        Console.WriteLine($"  open cases: {string.Join(", ", maya360.OpenCases.Select(c => $"{c.Subject} [{c.Status}, next due {c.NextDueAt:ddd HH:mm}]"))}");
        Console.WriteLine($"  recent interactions: {string.Join(" | ", maya360.RecentInteractions.Select(i => $"{i.Kind} {i.Subject}"))}");
        Console.WriteLine($"  latest NPS: {maya360.LatestNps?.Score} ({maya360.LatestNps?.Category})");
    }

    /// <summary>What a host would send to a pager or chat channel.</summary>
    private sealed class BreachAlert : ICrmEventHandler<CaseSlaBreached>
    {
        public ValueTask HandleAsync(CaseSlaBreached crmEvent, CancellationToken cancellationToken)
        {
            Console.WriteLine($"  ALERT: \"{crmEvent.Case.Subject}\" missed its {crmEvent.Target} target (due {crmEvent.DueAt:HH:mm})");
            return ValueTask.CompletedTask;
        }
    }
}
