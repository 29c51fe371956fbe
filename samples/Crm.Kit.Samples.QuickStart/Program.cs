// Crm.Kit QuickStart: the in-memory default, no database needed.
// Creates customers, records orders, finds and merges a duplicate, shows a profile with metrics and
// timeline, keeps segments up to date as orders arrive, exports and erases a customer's personal data, then
// analyses a shop's order history: RFM segments, predicted lifetime value, churn risk, cohorts and cross-sell,
// runs a loyalty programme, handles customer service (cases with SLAs, NPS feedback, the 360 view), and runs a
// sales pipeline: deals moved, won and lost, the funnel, the forecast and an explained lead score.
using System.Globalization;
using Crm.Kit;
using Crm.Kit.Customers;
using Crm.Kit.Duplicates;
using Crm.Kit.Interactions;
using Crm.Kit.Orders;
using Crm.Kit.Privacy;
using Crm.Kit.Segmentation;
using Microsoft.Extensions.DependencyInjection;

CultureInfo.CurrentCulture = CultureInfo.InvariantCulture;

var services = new ServiceCollection();
services.AddCrmKit(options =>
{
    options.ReportingCurrency = "USD";
    options.DefaultPhoneRegion = "US";
});
services.AddSingleton<ICrmEventHandler<CrmEvent>, ConsoleEventLog>();

await using var provider = services.BuildServiceProvider();
await using var scope = provider.CreateAsyncScope();
var customers = scope.ServiceProvider.GetRequiredService<CustomerManager>();
var orders = scope.ServiceProvider.GetRequiredService<OrderManager>();
var interactions = scope.ServiceProvider.GetRequiredService<InteractionManager>();
var duplicates = scope.ServiceProvider.GetRequiredService<DuplicateFinder>();
var merger = scope.ServiceProvider.GetRequiredService<CustomerMerger>();
var privacy = scope.ServiceProvider.GetRequiredService<CustomerPrivacy>();
var segments = scope.ServiceProvider.GetRequiredService<SegmentManager>();

Section("1. Customers");
var acme = await customers.CreateAsync(new CustomerDraft
{
    Kind = CustomerKind.Company,
    CompanyName = "Acme Garden Supplies",
    Emails = [new EmailContact("hello@acme-garden.example")],
    Addresses = [new PostalAddress("12 Orchard Lane", null, "Portland", "OR", "97201", "US")],
    Tags = ["b2b"],
});
var ana = await customers.CreateAsync(new CustomerDraft
{
    FirstName = "Ana",
    LastName = "Lima",
    CompanyId = acme.Id,
    ExternalReference = "shop-user-1001",
    Emails = [new EmailContact("Ana.Lima@Example.com", "work")],
    Phones = [new PhoneContact("(503) 555-0147", "mobile")],
    Addresses = [new PostalAddress("8 Alder St", null, "Portland", "OR", "97205", "US")],
    Tags = ["newsletter"],
    Attributes = new Dictionary<string, AttributeValue> { ["favourite-category"] = AttributeValue.FromText("Garden") },
    InitialConsent = [new ConsentRecord(ContactChannel.Email, ConsentPurpose.Marketing, true, DateTimeOffset.UtcNow, "signup-form")],
});
Console.WriteLine($"Created {acme.DisplayName} and {ana.DisplayName} (email stored as {ana.Emails[0].Address}, phone as {ana.Phones[0].Number}).");
var imported = await customers.CreateManyAsync(
[
    new CustomerDraft { FirstName = "Bo", LastName = "Berg", Emails = [new EmailContact("bo@berg.example")], CompanyId = acme.Id },
    new CustomerDraft { FirstName = "Chen", LastName = "Wei", Phones = [new PhoneContact("+44 20 7946 0958")] },
]);
Console.WriteLine($"Imported {imported.Count} more in one batch; a search for 'ber' finds {string.Join(", ", (await customers.SearchByNameAsync("ber")).Select(c => c.DisplayName))}.");

Section("2. Segments");
// In C#: Portland customers who have bought something.
var portlandBuyers = await segments.CreateAsync(SegmentDraft.Dynamic(
    "Portland buyers",
    Rule.All(Rule.Field(SegmentFieldNames.City).EqualTo("portland"), Rule.Field(SegmentFieldNames.OrderCount).AtLeast(1))));
// From JSON, as an admin screen would send it: reachable by email, and bought in the last 90 days or tagged.
var audience = await segments.CreateAsync(SegmentDraft.Dynamic("Email audience", segments.ParseRule("""
    {"version":1,"rule":{"all":[
      {"field":"consent.email.marketing","op":"equals","value":true},
      {"any":[
        {"field":"lastOrderAt","op":"withinLast","amount":90,"unit":"days"},
        {"field":"tags","op":"hasAny","values":["vip"]}]}]}}
    """)));
ConsoleEventLog.Names[portlandBuyers.Id] = portlandBuyers.Name;
ConsoleEventLog.Names[audience.Id] = audience.Name;
ConsoleEventLog.Names[ana.Id] = ana.DisplayName;
Console.WriteLine($"'{portlandBuyers.Name}' has {await segments.CountAsync(portlandBuyers.Id)} member(s), '{audience.Name}' {await segments.CountAsync(audience.Id)}: nobody has ordered yet.");
var preview = await segments.PreviewAsync(Rule.Field(SegmentFieldNames.Tags).HasAny("newsletter", "b2b"));
Console.WriteLine($"Preview of an unsaved rule (tagged newsletter or b2b): {preview.Count} customer(s): {string.Join(", ", preview.Sample.Select(c => c.DisplayName))}.");
Console.WriteLine("Ana's first order below moves her into both segments; watch for SegmentEntered.");

Section("3. Orders");
var firstOrder = await orders.RecordAsync(new OrderDraft
{
    CustomerId = ana.Id,
    Reference = "web-5001",
    Currency = "USD",
    Channel = "web",
    Lines = [new OrderLine("SEED-01", "Heirloom tomato seeds", "Garden", 3, 4.50m), new OrderLine("POT-20", "Clay pot 20cm", "Garden", 2, 12.00m)],
});
var repeat = await orders.RecordAsync(new OrderDraft { CustomerId = ana.Id, Reference = "web-5001", Currency = "USD", Lines = firstOrder.Lines });
Console.WriteLine($"Order {firstOrder.Reference}: {firstOrder.Total} {firstOrder.Currency}. Recording it again returns the same order: {repeat.Id == firstOrder.Id}.");
await orders.RecordAsync(new OrderDraft
{
    CustomerId = ana.Id,
    Reference = "store-7002",
    Currency = "USD",
    Channel = "store",
    Lines = [new OrderLine("SHEAR-1", "Pruning shears", "Tools", 1, 29.90m)],
});
await orders.RefundAsync(firstOrder.Id, new RefundRequest { Reference = "rf-1", Lines = [new RefundedLine("POT-20", 1)], Reason = "cracked" });
Console.WriteLine($"Ana is now in: {string.Join(", ", (await segments.GetSegmentsOfCustomerAsync(ana.Id)).Select(x => x.Name))}. A nightly ReevaluateAsync() would move her out of '{audience.Name}' once her last order is 90 days old.");

Section("4. Timeline");
await interactions.RecordAsync(new InteractionDraft { CustomerId = ana.Id, Kind = InteractionKind.Call, Direction = InteractionDirection.Inbound, Subject = "Asked about raised beds", OwnerId = "sam" });
await interactions.RecordAsync(new InteractionDraft { CustomerId = ana.Id, Kind = InteractionKind.Message, Channel = MessageChannel.Chat, Direction = InteractionDirection.Inbound, Subject = "Where is my order?", OwnerId = "sam" });
await interactions.RecordAsync(new InteractionDraft { CustomerId = ana.Id, Kind = InteractionKind.Task, Subject = "Send raised-bed quote", OwnerId = "sam", DueAt = DateTimeOffset.UtcNow.AddDays(-1) });
Console.WriteLine($"Sam's overdue tasks: {string.Join(", ", (await interactions.GetOverdueTasksAsync("sam")).Select(t => t.Subject))}");

Section("5. Duplicates and merge");
var anaAgain = await customers.CreateAsync(new CustomerDraft
{
    FirstName = "Ana",
    LastName = "Lima",
    ExternalReference = "pos-88",
    Emails = [new EmailContact("ANA.LIMA@example.com")],
    Phones = [new PhoneContact("+1 503 555 0199")],
    Tags = ["in-store"],
});
await orders.RecordAsync(new OrderDraft { CustomerId = anaAgain.Id, Reference = "store-7003", Currency = "USD", Channel = "store", Lines = [new OrderLine("GLOVE-M", "Garden gloves", "Garden", 1, 8.00m)] });
foreach (var match in await duplicates.FindForCustomerAsync(ana.Id))
{
    var other = await customers.GetByIdAsync(match.DuplicateId);
    Console.WriteLine($"Likely duplicate of {ana.DisplayName}: {other.DisplayName} ({other.ExternalReference}), score {match.Score}, because {string.Join(" + ", match.Reasons)}");
}

var plan = await merger.PreviewAsync(ana.Id, anaAgain.Id);
Console.WriteLine($"Merge preview: {plan.OrdersToMove} order(s) and {plan.InteractionsToMove} interaction(s) move; emails after merge: {string.Join(", ", plan.Result.Emails.Select(e => e.Address))}");
var merged = await merger.MergeAsync(plan);
Console.WriteLine($"Merged. The old reference pos-88 now finds: {(await customers.FindByExternalReferenceAsync("pos-88"))?.DisplayName} ({merged.Id == ana.Id})");

Section("6. Profile");
var profile = await customers.GetByIdAsync(ana.Id);
Console.WriteLine($"{profile.DisplayName}  [{profile.LifecycleStage}]  tags: {string.Join(", ", profile.Tags)}");
Console.WriteLine($"  emails:   {string.Join(", ", profile.Emails.Select(e => e.Address))}");
Console.WriteLine($"  phones:   {string.Join(", ", profile.Phones.Select(p => p.Number))}");
Console.WriteLine($"  consent:  email marketing {(profile.HasConsent(ContactChannel.Email, ConsentPurpose.Marketing) ? "granted" : "not granted")}");
Console.WriteLine($"  metrics:  {profile.Metrics.OrderCount} orders, {profile.Metrics.TotalSpent} USD spent, average {profile.Metrics.AverageOrderValue} USD, last order {profile.Metrics.LastOrderAt:yyyy-MM-dd}");
Console.WriteLine("  lifecycle: " + string.Join(" -> ", profile.LifecycleHistory.Select(h => $"{h.Stage} ({h.Reason})")));
Console.WriteLine("  timeline (newest first):");
foreach (var entry in (await interactions.GetTimelineAsync(ana.Id, pageSize: 10)).Items)
{
    Console.WriteLine($"    {entry.OccurredAt:yyyy-MM-dd HH:mm}  {entry.Kind,-8} {entry.Subject}");
}

Section("7. Privacy");
var export = await privacy.ExportAsJsonAsync(ana.Id);
Console.WriteLine($"Export for {ana.DisplayName}: {export.Length} characters of JSON, starting:");
Console.WriteLine(string.Join(Environment.NewLine, export.Split('\n').Take(6).Select(l => "    " + l.TrimEnd())));
await privacy.EraseAsync(ana.Id);
var erased = await customers.GetByIdAsync(ana.Id);
Console.WriteLine($"After erasure: name '{(erased.DisplayName.Length == 0 ? "(erased)" : erased.DisplayName)}', emails {erased.Emails.Count}, lookup by email finds {(await customers.FindByEmailAsync("ana.lima@example.com")).Count}; metrics kept: {erased.Metrics.OrderCount} orders, {erased.Metrics.TotalSpent} USD.");

Section("8. Analytics");
// A second, separate shop with enough history to analyse; pass --charts <dir> to also draw two SVG charts.
var charts = Array.IndexOf(args, "--charts") is var at and >= 0 && at + 1 < args.Length ? args[at + 1] : null;
await AnalyticsSection.RunAsync(charts);

Section("9. Loyalty");
await LoyaltySection.RunAsync();

Section("10. Service and feedback");
await ServiceSection.RunAsync();

Section("11. Sales pipeline and lead scoring");
await PipelineSection.RunAsync();

Section("Done");
return 0;

static void Section(string title) => Console.WriteLine($"{Environment.NewLine}== {title} ==");

/// <summary>Prints every event Crm.Kit publishes, to show when they fire.</summary>
internal sealed class ConsoleEventLog : ICrmEventHandler<CrmEvent>
{
    /// <summary>Names to print instead of ids.</summary>
    public static System.Collections.Concurrent.ConcurrentDictionary<Guid, string> Names { get; } = new();

    private static string Name(Guid id) => Names.TryGetValue(id, out var name) ? name : id.ToString();

    public ValueTask HandleAsync(CrmEvent crmEvent, CancellationToken cancellationToken)
    {
        Console.WriteLine(crmEvent switch
        {
            SegmentEntered e => $"   (event) SegmentEntered: {Name(e.CustomerId)} entered '{Name(e.SegmentId)}'",
            SegmentExited e => $"   (event) SegmentExited: {Name(e.CustomerId)} left '{Name(e.SegmentId)}'",
            _ => $"   (event) {crmEvent.GetType().Name}",
        });
        return ValueTask.CompletedTask;
    }
}
