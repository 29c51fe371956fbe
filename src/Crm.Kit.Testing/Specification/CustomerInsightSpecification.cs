using Crm.Kit.Insights;
using Crm.Kit.Segmentation;
using Microsoft.Extensions.DependencyInjection;
using Xunit;

namespace Crm.Kit.Testing.Specification;

/// <summary>
/// <see cref="ICustomerInsightStore"/> and the segment fields over it (<see cref="CustomerInsightFields"/>): snapshots
/// round-trip, never go back in time, are removed by age, stay in their tenant, and rules on them select exactly the
/// customers a plain computation over the snapshots selects — in the adapter's own evaluator.
/// </summary>
public abstract class CustomerInsightSpecification : CrmSpecification
{
    private static readonly DateOnly AsOf = new(2026, 2, 28);

    /// <summary>A written snapshot reads back equal, and a rewrite replaces it.</summary>
    [Fact]
    public virtual async Task Snapshots_round_trip_and_are_replaced()
    {
        var host = CreateHost();
        var id = Guid.NewGuid();
        var first = Insight(id, Clock.GetUtcNow(), r: 5, f: 4, m: 5, "Champions", risk: 0.125m, atRisk: false, alive: 0.875m, value: 1234.5678m);
        await Store(host).UpsertAsync(host.TenantId, [first], Cancel);
        Assert.Equal(first, await Store(host).FindAsync(host.TenantId, id, Cancel));
        Assert.Equal("545", (await Store(host).FindAsync(host.TenantId, id, Cancel))!.RfmScore);

        var second = first with { ComputedAt = first.ComputedAt.AddDays(1), RecencyScore = 2, RfmSegment = "At Risk", ChurnRisk = 0.71234567m, AtRisk = true, PredictedLifetimeValue = null };
        await Store(host).UpsertAsync(host.TenantId, [second], Cancel);
        Assert.Equal(second, await Store(host).FindAsync(host.TenantId, id, Cancel));
        Assert.Null(await Store(host).FindAsync(host.TenantId, Guid.NewGuid(), Cancel));
    }

    /// <summary>A snapshot older than the stored one is ignored: overlapping refreshes keep the newer figures.</summary>
    [Fact]
    public virtual async Task An_older_snapshot_never_replaces_a_newer_one()
    {
        var host = CreateHost();
        var id = Guid.NewGuid();
        var newer = Insight(id, Clock.GetUtcNow(), 5, 5, 5, "Champions", 0.1m, false, 0.9m, 500m);
        await Store(host).UpsertAsync(host.TenantId, [newer], Cancel);
        await Store(host).UpsertAsync(host.TenantId, [newer with { ComputedAt = newer.ComputedAt.AddMinutes(-1), RfmSegment = "Lost" }], Cancel);
        Assert.Equal(newer, await Store(host).FindAsync(host.TenantId, id, Cancel));
    }

    /// <summary>Removal by age takes exactly the snapshots computed before the cut and says how many.</summary>
    [Fact]
    public virtual async Task Snapshots_computed_before_a_time_are_removed()
    {
        var host = CreateHost();
        var now = Clock.GetUtcNow();
        var old = Insight(Guid.NewGuid(), now.AddDays(-1), 1, 1, 1, "Lost", 0.95m, true, 0.05m, 1m);
        var current = Insight(Guid.NewGuid(), now, 3, 3, 3, "Need Attention", 0.4m, false, 0.6m, 50m);
        await Store(host).UpsertAsync(host.TenantId, [old, current], Cancel);

        Assert.Equal(1, await Store(host).RemoveComputedBeforeAsync(host.TenantId, now, Cancel));
        Assert.Null(await Store(host).FindAsync(host.TenantId, old.CustomerId, Cancel));
        Assert.Equal(current, await Store(host).FindAsync(host.TenantId, current.CustomerId, Cancel));
        Assert.Equal(0, await Store(host).RemoveComputedBeforeAsync(host.TenantId, now, Cancel));
    }

    /// <summary>A batch with one bad snapshot is rejected whole, naming each broken rule, and nothing is written.</summary>
    [Fact]
    public virtual async Task Invalid_snapshots_are_rejected_by_field_before_anything_is_written()
    {
        var host = CreateHost();
        var good = Insight(Guid.NewGuid(), Clock.GetUtcNow(), 5, 5, 5, "Champions", 0.1m, false, 0.9m, 500m);
        var bad = good with { CustomerId = Guid.NewGuid(), RecencyScore = 6, ChurnRisk = 1.5m, PredictedLifetimeValue = 0.123456789m, Currency = "usd" };

        var error = await Assert.ThrowsAsync<CrmValidationException>(async () => await Store(host).UpsertAsync(host.TenantId, [good, bad, good], Cancel));

        Assert.Equal(
            ["insights[1].Currency", "insights[1].RecencyScore", "insights[1].ChurnRisk", "insights[1].PredictedLifetimeValue", "insights[2].CustomerId"],
            error.Errors.Select(e => e.Field));
        Assert.Contains(error.Errors, e => e.Rule == "precision");
        Assert.Null(await Store(host).FindAsync(host.TenantId, good.CustomerId, Cancel));
    }

    /// <summary>Another tenant's snapshots are invisible and untouched by removal.</summary>
    [Fact]
    public virtual async Task Tenants_see_only_their_own_snapshots()
    {
        var mine = CreateHost();
        var theirs = CreateHost();
        var insight = Insight(Guid.NewGuid(), Clock.GetUtcNow(), 4, 4, 4, "Loyal Customers", 0.2m, false, 0.8m, 300m);
        await Store(theirs).UpsertAsync(theirs.TenantId, [insight], Cancel);

        Assert.Null(await Store(mine).FindAsync(mine.TenantId, insight.CustomerId, Cancel));
        Assert.Equal(0, await Store(mine).RemoveComputedBeforeAsync(mine.TenantId, DateTimeOffset.MaxValue, Cancel));
        Assert.Equal(insight, await Store(theirs).FindAsync(theirs.TenantId, insight.CustomerId, Cancel));
    }

    /// <summary>
    /// Rules on every insight field select, in the adapter's evaluator, the customers a plain computation over the
    /// stored snapshots selects; customers without a snapshot have the fields unset (and are not at risk).
    /// </summary>
    [Fact]
    public virtual async Task Rules_on_insight_fields_select_what_the_snapshots_say()
    {
        var host = CreateHost(configure: s => s.AddCrmKit().AddSegmentFields<CustomerInsightFields>());
        var random = new Random(7);
        string[] segments = ["Champions", "Loyal Customers", "At Risk", "Hibernating"];
        var snapshots = new Dictionary<Guid, CustomerInsight>();
        var customers = new List<Guid>();
        for (var i = 0; i < 60; i++)
        {
            var customer = await host.Customers.CreateAsync(Faker.Person(), Cancel);
            customers.Add(customer.Id);
            if (i % 6 == 0)
            {
                continue; // no snapshot
            }

            var modelled = i % 5 != 0;
            var risk = modelled ? Math.Round((decimal)random.NextDouble(), 6) : (decimal?)null;
            snapshots[customer.Id] = Insight(
                customer.Id, Clock.GetUtcNow(), random.Next(1, 6), random.Next(1, 6), random.Next(1, 6), segments[random.Next(segments.Length)],
                risk, risk >= 0.5m, modelled ? Math.Round(1 - risk!.Value, 6) : null, modelled ? Math.Round((decimal)(random.NextDouble() * 1000), 4) : null);
        }

        await Store(host).UpsertAsync(host.TenantId, [.. snapshots.Values], Cancel);

        var cases = new (SegmentRule Rule, Func<CustomerInsight?, bool> Expected)[]
        {
            (Rule.Field(CustomerInsightFields.RfmSegment).EqualTo("champions"), i => i?.RfmSegment == "Champions"),
            (Rule.Field(CustomerInsightFields.RfmSegment).In("at risk", "HIBERNATING"), i => i?.RfmSegment is "At Risk" or "Hibernating"),
            (Rule.Field(CustomerInsightFields.RfmScore).StartsWith("5"), i => i?.RecencyScore == 5),
            (Rule.Field(CustomerInsightFields.Recency).AtLeast(4), i => i?.RecencyScore >= 4),
            (Rule.All(Rule.Field(CustomerInsightFields.Frequency).Between(2, 3), Rule.Field(CustomerInsightFields.Monetary).LessThan(3)), i => i?.FrequencyScore is 2 or 3 && i.MonetaryScore < 3),
            (Rule.Field(CustomerInsightFields.AtRisk).IsTrue(), i => i?.AtRisk == true),
            (Rule.Field(CustomerInsightFields.AtRisk).IsFalse(), i => i?.AtRisk != true),
            (Rule.Field(CustomerInsightFields.ChurnRisk).Between(0.25m, 0.75m), i => i?.ChurnRisk is >= 0.25m and <= 0.75m),
            (Rule.Field(CustomerInsightFields.ChurnRisk).IsNotSet(), i => i?.ChurnRisk is null),
            (Rule.Field(CustomerInsightFields.ProbabilityAlive).GreaterThan(0.6m), i => i?.ProbabilityAlive > 0.6m),
            (Rule.Any(Rule.Field(CustomerInsightFields.PredictedLifetimeValue).AtLeast(750), Rule.Field(CustomerInsightFields.RfmSegment).IsNotSet()), i => i?.PredictedLifetimeValue >= 750m || i?.RfmSegment is null),
        };

        var evaluator = host.Services.GetRequiredService<ISegmentEvaluator>();
        foreach (var (rule, expected) in cases)
        {
            var actual = await evaluator.ListIdsAsync(host.TenantId, rule, Clock.GetUtcNow(), null, 1000, Cancel);
            var want = customers.Where(c => expected(snapshots.GetValueOrDefault(c))).Order().ToList();
            Assert.True(want.Count > 0 && want.Count < customers.Count, $"The case {rule} should split the customers.");
            Assert.Equal(want, actual.Order().ToList());
        }
    }

    /// <summary>After a bulk change of snapshots, re-evaluating the segments that use insight fields publishes who entered and left.</summary>
    [Fact]
    public virtual async Task Segments_on_insight_fields_follow_a_bulk_change()
    {
        var host = CreateHost(configure: s => s.AddCrmKit().AddSegmentFields<CustomerInsightFields>());
        var a = await host.Customers.CreateAsync(Faker.Person(), Cancel);
        var b = await host.Customers.CreateAsync(Faker.Person(), Cancel);
        var atRisk = await host.Segments.CreateAsync(SegmentDraft.Dynamic("At risk", Rule.Field(CustomerInsightFields.AtRisk).IsTrue()), Cancel);
        var unrelated = await host.Segments.CreateAsync(SegmentDraft.Dynamic("Big spenders", Rule.Field(SegmentFieldNames.TotalSpent).AtLeast(1000)), Cancel);
        var now = Clock.GetUtcNow();
        await Store(host).UpsertAsync(host.TenantId, [Insight(a.Id, now, 1, 1, 1, "Lost", 0.9m, true, 0.1m, 1m), Insight(b.Id, now, 5, 5, 5, "Champions", 0.1m, false, 0.9m, 900m)], Cancel);

        var first = await host.Segments.ReevaluateUsingFieldsAsync(CustomerInsightFields.Names, Cancel);
        await Store(host).UpsertAsync(host.TenantId, [Insight(a.Id, now.AddDays(1), 3, 1, 1, "Need Attention", 0.2m, false, 0.8m, 10m), Insight(b.Id, now.AddDays(1), 1, 5, 5, "Can't Lose Them", 0.8m, true, 0.2m, 200m)], Cancel);
        var second = await host.Segments.ReevaluateUsingFieldsAsync(CustomerInsightFields.Names, Cancel);

        Assert.Equal(new SegmentReevaluation(1, 1, 0), first);
        Assert.Equal(new SegmentReevaluation(1, 1, 1), second);
        var entered = host.Events.Of<SegmentEntered>();
        var exited = host.Events.Of<SegmentExited>();
        Assert.Equal(new[] { a.Id, b.Id }.Order(), entered.Select(e => e.CustomerId).Order());
        Assert.Equal([a.Id], exited.Select(e => e.CustomerId));
        Assert.All(entered.Select(e => e.SegmentId).Concat(exited.Select(e => e.SegmentId)), id => Assert.Equal(atRisk.Id, id));
        Assert.Equal(0, await host.Segments.CountAsync(unrelated.Id, Cancel));
    }

    /// <summary>The insight store of a host.</summary>
    protected static ICustomerInsightStore Store(CrmTestHost host) => host.Services.GetRequiredService<ICustomerInsightStore>();

    private static CustomerInsight Insight(Guid id, DateTimeOffset computedAt, int r, int f, int m, string segment, decimal? risk, bool atRisk, decimal? alive, decimal? value) => new()
    {
        CustomerId = id,
        ComputedAt = computedAt,
        AsOf = AsOf,
        Currency = "USD",
        RecencyScore = r,
        FrequencyScore = f,
        MonetaryScore = m,
        RfmSegment = segment,
        ChurnRisk = risk,
        AtRisk = atRisk,
        ProbabilityAlive = alive,
        PredictedLifetimeValue = value,
    };
}
