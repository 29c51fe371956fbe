using System.Linq.Expressions;
using Crm.Kit.Customers;
using Crm.Kit.Duplicates;
using Crm.Kit.InMemory;
using Crm.Kit.Privacy;
using Crm.Kit.Segmentation;
using Crm.Kit.Testing;
using CsCheck;
using Microsoft.Extensions.DependencyInjection;
using Xunit;

namespace Crm.Kit.Tests.InMemory;

/// <summary>
/// The in-memory store counts a segment over rows that copy the fields rules test most out of each customer.
/// These pin down that a row reads each field exactly as the field's own reader does, that the rows follow every
/// kind of write, and that a count running beside writers sees each customer once.
/// </summary>
public sealed class CustomerScanRowTests
{
    private static CancellationToken Cancel => TestContext.Current.CancellationToken;

    private static Gen<T> OneOf<T>(params T[] values) => Gen.Int[0, values.Length - 1].Select(i => values[i]);

    private static readonly Gen<CustomerMetrics> MetricsGen =
        Gen.Select(Gen.Int[0, 20], Gen.Int[0, 100_000], Gen.Int[-1, 2_000], Gen.Int[-1, 2_000], (orders, cents, firstDays, lastDays) =>
        {
            var spent = cents / 100m;
            return new CustomerMetrics(orders, spent, orders == 0 ? 0m : spent / orders, Day(firstDays), Day(lastDays));
        });

    private static readonly Gen<Customer> CustomerGen =
        Gen.Select(
            Gen.Enum<CustomerKind>(),
            Gen.Enum<LifecycleStage>(),
            MetricsGen,
            Gen.Select(Gen.Enum<ContactChannel>(), Gen.Enum<ConsentPurpose>(), Gen.Bool).Array[0, 6],
            Gen.Select(OneOf("US", "us", "DE", "Ch"), OneOf("Berlin", "Zürich")).Array[0, 2],
            OneOf<string[]>([], ["vip"], ["VIP", "returning"]),
            (kind, stage, metrics, consents, addresses, tags) => new Customer
            {
                Id = Guid.CreateVersion7(),
                TenantId = "t",
                Kind = kind,
                LifecycleStage = stage,
                CreatedAt = Day(0)!.Value,
                Metrics = metrics,
                ConsentHistory = [.. consents.Select((c, i) => new ConsentRecord(c.Item1, c.Item2, c.Item3, Day(i)!.Value, "test"))],
                Addresses = [.. addresses.Select(a => new PostalAddress("1 Main St", null, a.Item2, null, "1000", a.Item1))],
                Tags = tags,
            });

    /// <summary>Days after the start of 2025; -1 for none.</summary>
    private static DateTimeOffset? Day(int days) => days < 0 ? null : new DateTimeOffset(2025, 1, 1, 0, 0, 0, TimeSpan.Zero).AddDays(days);

    [Fact]
    public void A_row_reads_every_field_it_carries_as_the_field_itself_reads_it()
    {
        var row = Expression.Parameter(typeof(CustomerScanRow), "row");
        var carried = SegmentFieldRegistry.Default.Fields
            .Select(field => (Field: field, Read: CustomerScanRow.Read(row, field)))
            .Where(f => f.Read is not null)
            .Select(f => (
                f.Field.Name,
                FromRow: Expression.Lambda<Func<CustomerScanRow, object?>>(Expression.Convert(f.Read!, typeof(object)), row).Compile(),
                FromCustomer: f.Field.InMemory!.Compile()))
            .ToList();

        // Kind, stage, creation, the five metrics it keeps, country, tags, and the eight consent flags.
        Assert.Equal(17, carried.Count);
        CustomerGen.Sample(customer =>
        {
            var scanned = CustomerScanRow.For(customer);
            foreach (var (name, fromRow, fromCustomer) in carried)
            {
                Assert.True(Equals(fromCustomer.DynamicInvoke(customer), fromRow(scanned)), $"{name} differs for {customer}");
            }
        }, iter: 2000);
    }

    [Fact]
    public async Task Counts_follow_creates_updates_merges_erasures_and_rollbacks()
    {
        await using var provider = new ServiceCollection().AddCrmKit().Services.BuildServiceProvider();
        await using var scope = provider.CreateAsyncScope();
        var services = scope.ServiceProvider;
        var customers = services.GetRequiredService<CustomerManager>();
        var evaluator = services.GetRequiredService<ISegmentEvaluator>();
        var faker = new CrmFaker(seed: 11);
        var people = await customers.CreateManyAsync([.. Enumerable.Range(0, 40).Select(_ => faker.Person())], Cancel);
        var rule = Rule.Field(SegmentFieldNames.Tags).HasAny("scan-test");
        var now = DateTimeOffset.UtcNow;

        async Task AgreesAsync()
        {
            var compiled = services.GetRequiredService<SegmentRuleCompiler>().Compile(rule);
            var arguments = compiled.Bind(now);
            var expected = 0;
            await foreach (var customer in customers.StreamAsync(Cancel))
            {
                expected += customer.MergedIntoId is null && customer.ErasedAt is null && compiled.Predicate(customer, arguments) ? 1 : 0;
            }

            Assert.Equal(expected, await evaluator.CountAsync(people[0].TenantId, rule, now, Cancel));
        }

        for (var i = 0; i < 10; i++)
        {
            var current = (await customers.FindByIdAsync(people[i].Id, Cancel))!;
            await customers.UpdateAsync(current.Id, current.Version, current.ToDraft() with { Tags = ["scan-test"] }, Cancel);
        }

        await AgreesAsync();
        Assert.Equal(10, await evaluator.CountAsync(people[0].TenantId, rule, now, Cancel));

        await services.GetRequiredService<CustomerMerger>().MergeAsync(people[0].Id, people[1].Id, Cancel);
        await services.GetRequiredService<CustomerPrivacy>().EraseAsync(people[2].Id, Cancel);
        await AgreesAsync();
        Assert.Equal(8, await evaluator.CountAsync(people[0].TenantId, rule, now, Cancel));

        // A rolled-back change puts the row back as it was, and a freed slot is taken by the next customer.
        await using (await services.GetRequiredService<ICrmUnitOfWork>().BeginAsync(Cancel))
        {
            var current = (await customers.FindByIdAsync(people[3].Id, Cancel))!;
            await customers.UpdateAsync(current.Id, current.Version, current.ToDraft() with { Tags = [] }, Cancel);
            Assert.Equal(7, await evaluator.CountAsync(people[0].TenantId, rule, now, Cancel));
        }

        await customers.CreateAsync(faker.Person() with { Tags = ["SCAN-TEST"] }, Cancel);
        await AgreesAsync();
        Assert.Equal(9, await evaluator.CountAsync(people[0].TenantId, rule, now, Cancel));
    }

    [Fact]
    public async Task A_count_beside_writers_sees_every_customer_once()
    {
        await using var provider = new ServiceCollection().AddCrmKit().Services.BuildServiceProvider();
        var faker = new CrmFaker(seed: 5);
        IReadOnlyList<Customer> people;
        await using (var setup = provider.CreateAsyncScope())
        {
            people = await setup.ServiceProvider.GetRequiredService<CustomerManager>().CreateManyAsync([.. Enumerable.Range(0, 3000).Select(_ => State(faker.Person(), 0))], Cancel);
        }

        // Writers move customers between two states that both match. Nobody ever leaves the segment, so every count
        // must be 3,000; a row read half old and half new (tags of one state, country of the other) would not match.
        var rule = Rule.Any(
            Rule.All(Rule.Field(SegmentFieldNames.Tags).HasAny("north"), Rule.Field(SegmentFieldNames.Country).EqualTo("NO")),
            Rule.All(Rule.Field(SegmentFieldNames.Tags).HasAny("south"), Rule.Field(SegmentFieldNames.Country).EqualTo("ZA")));
        using var stop = new CancellationTokenSource();
        var written = 0;
        var writers = Enumerable.Range(0, 2).Select(w => Task.Run(async () =>
        {
            await using var scope = provider.CreateAsyncScope();
            var customers = scope.ServiceProvider.GetRequiredService<CustomerManager>();
            var random = new Random(w);
            while (!stop.IsCancellationRequested)
            {
                var current = (await customers.FindByIdAsync(people[random.Next(people.Count)].Id, Cancel))!;
                try
                {
                    await customers.UpdateAsync(current.Id, current.Version, State(current.ToDraft(), random.Next(2)), Cancel);
                    Interlocked.Increment(ref written);
                }
                catch (ConcurrencyConflictException)
                {
                    // The other writer got there first; take the next one.
                }
            }
        })).ToArray();

        var evaluator = provider.GetRequiredService<ISegmentEvaluator>();
        var counts = new List<long>();
        while (counts.Count < 300 || Volatile.Read(ref written) < 200)
        {
            counts.Add(await evaluator.CountAsync(people[0].TenantId, rule, DateTimeOffset.UtcNow, Cancel));
        }

        await stop.CancelAsync();
        await Task.WhenAll(writers);
        Assert.All(counts, count => Assert.Equal(3000, count));

        static CustomerDraft State(CustomerDraft draft, int state) => draft with
        {
            Tags = [state == 0 ? "north" : "south"],
            Addresses = [new PostalAddress("1 Main St", null, state == 0 ? "Oslo" : "Durban", null, "0150", state == 0 ? "NO" : "ZA")],
        };
    }
}
