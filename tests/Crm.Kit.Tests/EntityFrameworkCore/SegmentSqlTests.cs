using System.Collections.Concurrent;
using System.Linq.Expressions;
using Crm.Kit.Customers;
using Crm.Kit.Segmentation;
using Crm.Kit.Testing;
using Crm.Kit.Testing.Specification;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Diagnostics;
using Microsoft.Extensions.DependencyInjection;

namespace Crm.Kit.Tests.EntityFrameworkCore;

/// <summary>What only a SQL adapter can get wrong: values spliced into SQL, and fields contributed by modules.</summary>
public sealed class SegmentSqlTests : IAsyncLifetime
{
    private static readonly ConcurrentDictionary<Guid, long> Scores = new();
    private readonly SqliteTestDatabase _database = new();
    private readonly ConcurrentQueue<string> _sql = new();
    private ServiceProvider? _provider;

    private static CancellationToken Cancel => TestContext.Current.CancellationToken;

    public async ValueTask InitializeAsync()
    {
        await _database.InitializeAsync();
        var services = new ServiceCollection();
        services.AddSingleton<ICrmTenantContext>(new FixedTenantContext("sql-tests"));
        services.AddDbContext<TestCrmDbContext>(o =>
        {
            _database.Configure(o);
            o.LogTo(_sql.Enqueue, [RelationalEventId.CommandExecuted]);
        });
        services.AddCrmKit()
            .AddEntityFrameworkStores<TestCrmDbContext>()
            .AddSegmentFields<ScoreFields>()
            .AddEntityFrameworkSegmentField("test.score", db => (Expression<Func<string, Guid, long?>>)((tenantId, customerId) =>
                db.Set<HostScore>().Where(s => s.TenantId == tenantId && s.CustomerId == customerId).Select(s => (long?)s.Score).FirstOrDefault()));
        _provider = services.BuildServiceProvider();
    }

    public async ValueTask DisposeAsync()
    {
        if (_provider is not null)
        {
            await _provider.DisposeAsync();
        }

        await _database.DisposeAsync();
    }

    [Fact]
    public async Task Rule_values_reach_sql_only_as_parameters()
    {
        await using var scope = _provider!.CreateAsyncScope();
        var customers = scope.ServiceProvider.GetRequiredService<CustomerManager>();
        var segments = scope.ServiceProvider.GetRequiredService<SegmentManager>();
        await customers.CreateManyAsync([.. SegmentSpecification.AwkwardPeople()], Cancel);
        string[] hostile = ["x'; DROP TABLE crm_customers; --", "%_ü", "O'Brien %", "Ünïcode", "it's"];
        var rule = Rule.Any(
            Rule.Field(SegmentFieldNames.City).EqualTo(hostile[0]),
            Rule.Field(SegmentFieldNames.City).Contains(hostile[1]),
            Rule.Field(SegmentFieldNames.City).StartsWith(hostile[2]),
            Rule.Field(SegmentFieldNames.Tags).HasAny(hostile[3], hostile[4]),
            Rule.Attribute("plan", SegmentValueType.Text).In(hostile[2], hostile[0]));
        _sql.Clear();

        var preview = await segments.PreviewAsync(rule, 50, Cancel);

        Assert.Equal(6, preview.Count);
        var executed = string.Join("\n", _sql);
        Assert.Contains("crm_customers", executed, StringComparison.Ordinal);
        foreach (var value in hostile.Select(v => SegmentText.Fold(v)!).Concat(hostile))
        {
            Assert.DoesNotContain(value, executed, StringComparison.OrdinalIgnoreCase);
        }
    }

    [Fact]
    public async Task Fields_contributed_by_modules_run_inside_the_database()
    {
        await using var scope = _provider!.CreateAsyncScope();
        var customers = scope.ServiceProvider.GetRequiredService<CustomerManager>();
        var segments = scope.ServiceProvider.GetRequiredService<SegmentManager>();
        var db = scope.ServiceProvider.GetRequiredService<TestCrmDbContext>();
        var faker = new CrmFaker(seed: 8);
        var created = await customers.CreateManyAsync([.. Enumerable.Range(0, 20).Select(_ => faker.Person())], Cancel);
        for (var i = 0; i < created.Count; i++)
        {
            Scores[created[i].Id] = i;
            if (i % 2 == 0)
            {
                db.Add(new HostScore { TenantId = "sql-tests", CustomerId = created[i].Id, Score = i });
            }
        }

        await db.SaveChangesAsync(Cancel);
        var rule = Rule.All(Rule.Field("test.score").AtLeast(10), Rule.Field(SegmentFieldNames.Kind).EqualTo("person"));
        var segment = await segments.CreateAsync(SegmentDraft.Dynamic("high scores", rule), Cancel);

        // In the database only even customers have a score row; in memory every customer has one.
        Assert.Equal(5, await segments.CountAsync(segment.Id, Cancel));
        var compiled = scope.ServiceProvider.GetRequiredService<SegmentRuleCompiler>().Compile(rule);
        Assert.Equal(10, created.Count(c => compiled.Matches(c, DateTimeOffset.UtcNow)));
    }

    [Fact]
    public async Task A_field_without_a_database_binding_fails_with_a_message_naming_the_fix()
    {
        await using var scope = _provider!.CreateAsyncScope();
        var segments = scope.ServiceProvider.GetRequiredService<SegmentManager>();

        var error = await Assert.ThrowsAsync<InvalidOperationException>(() => segments.PreviewAsync(Rule.Field("test.unbound").EqualTo("x"), 10, Cancel));

        Assert.Contains("AddEntityFrameworkSegmentField(\"test.unbound\"", error.Message, StringComparison.Ordinal);
    }

    private static long? ScoreOf(Guid id) => Scores.TryGetValue(id, out var score) ? score : null;

    private sealed class ScoreFields : ISegmentFieldProvider
    {
        public IEnumerable<SegmentField> GetFields() =>
        [
            SegmentField.Number("test.score", "A score the host keeps.", c => ScoreOf(c.Id)),
            SegmentField.Text("test.unbound", "A field only memory can read.", c => c.FirstName),
        ];
    }
}
