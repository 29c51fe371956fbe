using System.Diagnostics;
using System.Diagnostics.Metrics;

namespace Crm.Kit;

/// <summary>
/// The <see cref="ActivitySource"/> and <see cref="Meter"/> named <c>Crm.Kit</c>. One instance per service
/// provider (a DI singleton), so nothing is global; listen to the name with OpenTelemetry or dotnet-counters.
/// </summary>
public sealed class CrmKitInstrumentation : IDisposable
{
    /// <summary>The name of the activity source and the meter.</summary>
    public const string Name = "Crm.Kit";

    /// <summary>Creates the source, the meter and its instruments.</summary>
    public CrmKitInstrumentation()
    {
        var version = typeof(CrmKitInstrumentation).Assembly.GetName().Version?.ToString();
        ActivitySource = new ActivitySource(Name, version);
        Meter = new Meter(Name, version);
        CustomersCreated = Meter.CreateCounter<long>("crmkit.customers.created", unit: "{customer}", description: "Customers created.");
        OrdersRecorded = Meter.CreateCounter<long>("crmkit.orders.recorded", unit: "{order}", description: "Orders recorded (idempotent repeats not counted).");
        ConcurrencyConflicts = Meter.CreateCounter<long>("crmkit.concurrency.conflicts", unit: "{conflict}", description: "Optimistic concurrency conflicts detected.");
        PointsPosted = Meter.CreateCounter<long>("crmkit.loyalty.entries", unit: "{entry}", description: "Loyalty ledger entries posted (idempotent repeats not counted).");
        SegmentEvaluationFailures = Meter.CreateCounter<long>("crmkit.segments.evaluation_failures", unit: "{failure}", description: "Evaluations of a dynamic segment that failed and were left out while the other segments went on.");
    }

    /// <summary>Spans for manager operations.</summary>
    public ActivitySource ActivitySource { get; }

    /// <summary>The meter holding Crm.Kit's instruments.</summary>
    public Meter Meter { get; }

    /// <summary>Counts customers created.</summary>
    public Counter<long> CustomersCreated { get; }

    /// <summary>Counts orders recorded.</summary>
    public Counter<long> OrdersRecorded { get; }

    /// <summary>Counts optimistic concurrency conflicts seen by managers.</summary>
    public Counter<long> ConcurrencyConflicts { get; }

    /// <summary>Counts loyalty ledger entries posted.</summary>
    public Counter<long> PointsPosted { get; }

    /// <summary>Failed evaluations of a dynamic segment, each isolated from the other segments.</summary>
    public Counter<long> SegmentEvaluationFailures { get; }

    /// <inheritdoc />
    public void Dispose()
    {
        ActivitySource.Dispose();
        Meter.Dispose();
    }
}
