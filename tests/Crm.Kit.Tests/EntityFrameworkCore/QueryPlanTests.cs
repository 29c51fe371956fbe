using System.Collections.Concurrent;
using System.Data.Common;
using Crm.Kit.Customers;
using Crm.Kit.Feedback;
using Crm.Kit.Interactions;
using Crm.Kit.Orders;
using Crm.Kit.Segmentation;
using Crm.Kit.Service;
using Crm.Kit.Testing;
using Microsoft.Data.Sqlite;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Diagnostics;
using Microsoft.Extensions.DependencyInjection;

namespace Crm.Kit.Tests.EntityFrameworkCore;

/// <summary>
/// Every lookup the issue calls indexed must be an index seek in SQLite's own query plan, never a scan of a table.
/// The SQL is captured from the real commands Crm.Kit sends and explained with the same parameters.
/// </summary>
public sealed class QueryPlanTests : IAsyncLifetime
{
    private readonly SqliteTestDatabase _database = new();
    private readonly CommandRecorder _recorder = new();

    public ValueTask InitializeAsync() => _database.InitializeAsync();

    public ValueTask DisposeAsync() => _database.DisposeAsync();

    [Fact]
    public async Task Lookups_and_listings_never_scan_a_table()
    {
        var ct = TestContext.Current.CancellationToken;
        var services = new ServiceCollection();
        services.AddDbContext<TestCrmDbContext>(o => { _database.Configure(o); o.AddInterceptors(_recorder); });
        services.AddCrmKit().AddServiceCases().AddFeedback().AddPipeline().AddEntityFrameworkStores<TestCrmDbContext>();
        await using var provider = services.BuildServiceProvider();
        await using var scope = provider.CreateAsyncScope();
        var customers = scope.ServiceProvider.GetRequiredService<CustomerManager>();
        var pipelines = scope.ServiceProvider.GetRequiredService<Crm.Kit.Sales.PipelineManager>();
        var orders = scope.ServiceProvider.GetRequiredService<OrderManager>();
        var interactions = scope.ServiceProvider.GetRequiredService<InteractionManager>();
        var cases = scope.ServiceProvider.GetRequiredService<CaseManager>();
        var feedback = scope.ServiceProvider.GetRequiredService<FeedbackManager>();
        var view = scope.ServiceProvider.GetRequiredService<Customer360Service>();
        var faker = new CrmFaker(9);
        var created = await customers.CreateManyAsync([.. Enumerable.Range(0, 50).Select(i => faker.Person() with { ExternalReference = "qp-" + i, Phones = [new PhoneContact("+1415555" + (1000 + i))] })], ct);
        var customer = created[7];
        var order = await orders.RecordAsync(faker.Order(customer.Id, DateTimeOffset.UtcNow), ct);
        await interactions.RecordAsync(faker.Task(customer.Id, "owner-1", DateTimeOffset.UtcNow.AddDays(-1)), ct);
        var firstPage = await customers.ListAsync(pageSize: 10, cancellationToken: ct);
        await cases.CreatePolicyAsync(new SlaPolicyDraft { Name = "Normal", FirstResponseTarget = TimeSpan.FromHours(1), ResolutionTarget = TimeSpan.FromHours(8) }, ct);
        foreach (var other in created.Take(20))
        {
            await cases.OpenAsync(faker.Case(other.Id) with { OwnerId = "owner-" + (other.Id.GetHashCode() & 3), Team = "team-" + (other.Id.GetHashCode() & 1) }, ct);
        }

        var survey = await feedback.CreateSurveyAsync(new SurveyDraft { Name = "NPS", Kind = SurveyKind.Nps }, ct);
        await feedback.RecordResponseAsync(new SurveyResponseDraft { SurveyId = survey.Id, CustomerId = customer.Id, Score = 9 }, ct);
        var pipeline = await pipelines.CreatePipelineAsync(new Crm.Kit.Sales.PipelineDraft { Name = "Sales", Stages = [new("Qualified", 0.2m, 7), new("Proposal", 0.6m, 7)] }, ct);
        Crm.Kit.Sales.Deal? deal = null;
        foreach (var other in created.Take(20))
        {
            deal = await pipelines.CreateDealAsync(new Crm.Kit.Sales.DealDraft { PipelineId = pipeline.Id, CustomerId = other.Id, Title = "Plan", Amount = 100m, Currency = "USD", OwnerId = "owner-1" }, "owner-1", ct);
        }

        deal = await pipelines.MoveDealAsync(deal!.Id, deal.Version, pipeline.Stages[1].Id, "owner-1", ct);

        var lookups = new (string Name, Func<Task> Run)[]
        {
            ("FindById", async () => await customers.FindByIdAsync(customer.Id, ct)),
            ("FindByExternalReference", async () => await customers.FindByExternalReferenceAsync("qp-7", ct)),
            ("FindByEmail", async () => await customers.FindByEmailAsync(customer.Emails[0].Address, ct)),
            ("FindByPhone", async () => await customers.FindByPhoneAsync(customer.Phones[0].Number, ct)),
            ("SearchByName", async () => await customers.SearchByNameAsync(customer.LastName![..3], cancellationToken: ct)),
            ("ListNextPage", async () => await customers.ListAsync(firstPage.ContinuationToken, 10, ct)),
            ("FindOrderByReference", async () => await orders.FindByReferenceAsync(order.Reference, ct)),
            ("OrdersOfCustomer", async () => await orders.ListForCustomerAsync(customer.Id, cancellationToken: ct)),
            ("Timeline", async () => await interactions.GetTimelineAsync(customer.Id, cancellationToken: ct)),
            ("OverdueTasks", async () => await interactions.GetOverdueTasksAsync("owner-1", cancellationToken: ct)),
            ("CasesOfCustomer", async () => await cases.GetCasesOfCustomerAsync(customer.Id, activeOnly: true, cancellationToken: ct)),
            ("OwnerQueue", async () => await cases.GetQueueAsync("owner-1", cancellationToken: ct)),
            ("TeamQueue", async () => await cases.GetQueueAsync(team: "team-1", cancellationToken: ct)),
            ("CasesAtRisk", async () => await cases.GetCasesAtRiskAsync(TimeSpan.FromHours(2), cancellationToken: ct)),
            ("BreachedCases", async () => await cases.GetBreachedCasesAsync(cancellationToken: ct)),
            ("ResponsesOfCustomer", async () => await feedback.GetResponsesOfCustomerAsync(customer.Id, cancellationToken: ct)),
            ("LatestNps", async () => await feedback.GetLatestNpsAsync(customer.Id, ct)),
            ("Customer360", async () => await view.GetAsync(customer.Id, ct)),
            ("DealsOfCustomer", async () => await pipelines.GetDealsOfCustomerAsync(created[0].Id, openOnly: true, cancellationToken: ct)),
            ("DealHistory", async () => await pipelines.GetHistoryAsync(deal!.Id, ct)),
            ("RottingDeals", async () => await pipelines.GetRottingDealsAsync(pipeline.Id, "owner-1", cancellationToken: ct)),
            ("DealActivity", async () => await pipelines.GetActivityAsync(deal.Id, ct)),
            ("DealTimeline", async () => await pipelines.GetDealTimelineAsync(deal.Id, cancellationToken: ct)),
            ("Forecast", async () => await pipelines.GetForecastAsync(pipeline.Id, new DateOnly(2026, 1, 1), new DateOnly(2026, 12, 1), cancellationToken: ct)),
            ("Funnel", async () => await pipelines.GetFunnelAsync(pipeline.Id, DateTimeOffset.UtcNow.AddDays(-30), DateTimeOffset.UtcNow.AddDays(1), "owner-1", ct)),
            ("StageTimes", async () => await pipelines.GetStageTimesAsync(pipeline.Id, DateTimeOffset.UtcNow.AddDays(-30), DateTimeOffset.UtcNow.AddDays(1), ct)),
        };

        await using var connection = new SqliteConnection(((SqliteConnection)scope.ServiceProvider.GetRequiredService<TestCrmDbContext>().Database.GetDbConnection()).ConnectionString);
        await connection.OpenAsync(ct);

        // EF registers ef_sum (its decimal SUM) on the connections it opens; EXPLAIN only needs the name to exist.
        connection.CreateAggregate("ef_sum", (double?)0, (double? sum, double? value) => sum + value);
        foreach (var (name, run) in lookups)
        {
            _recorder.Commands.Clear();
            await run();
            Assert.NotEmpty(_recorder.Commands);
            foreach (var (sql, parameters) in _recorder.Commands)
            {
                await using var explain = connection.CreateCommand();
                explain.CommandText = "EXPLAIN QUERY PLAN " + sql;
                foreach (var (parameterName, value) in parameters)
                {
                    explain.Parameters.AddWithValue(parameterName, value ?? DBNull.Value);
                }

                var plan = new List<string>();
                await using (var reader = await explain.ExecuteReaderAsync(ct))
                {
                    while (await reader.ReadAsync(ct))
                    {
                        plan.Add(reader.GetString(3));
                    }
                }

                // A scan says SCAN; so does, in effect, an index range constrained by the tenant alone (every row of it).
                Assert.False(
                    plan.Any(step => step.StartsWith("SCAN ", StringComparison.Ordinal) || step.EndsWith("(TenantId=?)", StringComparison.Ordinal)),
                    $"{name} scans a table:\n{sql}\nplan: {string.Join(" | ", plan)}");
            }
        }
    }

    /// <summary>
    /// The import's key check seeks the unique (tenant, account, key) index once per pair, and matches keys exactly:
    /// quotes, LIKE wildcards and non-Latin letters in a key are data, and a key differing only in case is another key.
    /// </summary>
    [Fact]
    public async Task Loyalty_import_key_checks_match_keys_exactly_and_seek_the_key_index()
    {
        var ct = TestContext.Current.CancellationToken;
        var services = new ServiceCollection();
        services.AddDbContext<TestCrmDbContext>(o => _database.Configure(o));
        services.AddCrmKit().AddLoyalty().AddEntityFrameworkStores<TestCrmDbContext>();
        await using var provider = services.BuildServiceProvider();
        await using var scope = provider.CreateAsyncScope();
        var loyalty = scope.ServiceProvider.GetRequiredService<Crm.Kit.Loyalty.LoyaltyManager>();
        await loyalty.CreateProgrammeAsync(new Crm.Kit.Loyalty.LoyaltyProgrammeDefinition { Name = "Club", Currency = "USD" }, ct);
        var faker = new CrmFaker(4);
        var members = await scope.ServiceProvider.GetRequiredService<CustomerManager>().CreateManyAsync([.. Enumerable.Range(0, 3).Select(_ => faker.Person())], ct);
        foreach (var member in members)
        {
            await loyalty.EnrolAsync(member.Id, cancellationToken: ct);
        }

        var yesterday = DateTimeOffset.UtcNow.AddDays(-1);
        Crm.Kit.Loyalty.PointsImport Line(int member, string key) => new(members[member].Id, 10 + member, key, yesterday, "legacy");
        Crm.Kit.Loyalty.PointsImport[] lines = [Line(0, "legacy'0%_ключ"), Line(1, "legacy'1%_ключ"), Line(2, "legacy'2%_ключ")];
        Assert.Equal(new Crm.Kit.Loyalty.PointsImportResult(3, 0), await loyalty.ImportAsync(lines, ct));
        Assert.Equal(
            new Crm.Kit.Loyalty.PointsImportResult(2, 3),
            await loyalty.ImportAsync([.. lines, Line(0, "legacy'0%ключ"), Line(1, "LEGACY'1%_ключ")], ct));

        var context = scope.ServiceProvider.GetRequiredService<TestCrmDbContext>();
        var table = Crm.Kit.EntityFrameworkCore.RowTable.Of<Crm.Kit.EntityFrameworkCore.LedgerEntryRow>(context);
        string[] columns = ["TenantId", "AccountId", "IdempotencyKey"];
        var sql = table.ExistsSqlFor(table.ColumnSet(columns));
        await using var connection = new SqliteConnection(((SqliteConnection)context.Database.GetDbConnection()).ConnectionString);
        await connection.OpenAsync(ct);
        await using var explain = connection.CreateCommand();
        explain.CommandText = "EXPLAIN QUERY PLAN " + sql;
        foreach (var column in columns)
        {
            explain.Parameters.AddWithValue(table.ParameterNames[Array.FindIndex(table.Columns, c => c.Name == column)], "x");
        }

        var plan = new List<string>();
        await using (var reader = await explain.ExecuteReaderAsync(ct))
        {
            while (await reader.ReadAsync(ct))
            {
                plan.Add(reader.GetString(3));
            }
        }

        var step = Assert.Single(plan);
        Assert.StartsWith("SEARCH ", step, StringComparison.Ordinal);
        Assert.Contains("IdempotencyKey=?", step, StringComparison.Ordinal);
    }

    /// <summary>
    /// The 360 view costs the same number of commands for a customer with one case, interaction, segment and
    /// answer as for one with dozens of each: every part is one query, never one per item.
    /// </summary>
    [Fact]
    public async Task Customer360_sends_the_same_commands_however_much_a_customer_holds()
    {
        var ct = TestContext.Current.CancellationToken;
        var services = new ServiceCollection();
        services.AddDbContext<TestCrmDbContext>(o => { _database.Configure(o); o.AddInterceptors(_recorder); });
        services.AddCrmKit().AddServiceCases().AddFeedback().AddLoyalty().AddEntityFrameworkStores<TestCrmDbContext>();
        await using var provider = services.BuildServiceProvider();
        await using var scope = provider.CreateAsyncScope();
        var sp = scope.ServiceProvider;
        var faker = new CrmFaker(11);
        await sp.GetRequiredService<Crm.Kit.Loyalty.LoyaltyManager>().CreateProgrammeAsync(new Crm.Kit.Loyalty.LoyaltyProgrammeDefinition { Name = "Club", PointName = "points", Currency = "USD" }, ct);
        var survey = await sp.GetRequiredService<FeedbackManager>().CreateSurveyAsync(new SurveyDraft { Name = "NPS", Kind = SurveyKind.Nps }, ct);

        async Task<Guid> CustomerHoldingAsync(int items)
        {
            var customer = await sp.GetRequiredService<CustomerManager>().CreateAsync(faker.Person(), ct);
            await sp.GetRequiredService<Crm.Kit.Loyalty.LoyaltyManager>().EnrolAsync(customer.Id, cancellationToken: ct);
            for (var i = 0; i < items; i++)
            {
                await sp.GetRequiredService<CaseManager>().OpenAsync(faker.Case(customer.Id), ct);
                await sp.GetRequiredService<InteractionManager>().RecordAsync(faker.Interaction(customer.Id, DateTimeOffset.UtcNow.AddHours(-i)), ct);
                await sp.GetRequiredService<FeedbackManager>().RecordResponseAsync(new SurveyResponseDraft { SurveyId = survey.Id, CustomerId = customer.Id, Score = i % 11 }, ct);
                var list = await sp.GetRequiredService<SegmentManager>().CreateAsync(SegmentDraft.Static($"list {customer.Id:N} {i}"), ct);
                await sp.GetRequiredService<SegmentManager>().AddToListAsync(list.Id, [customer.Id], ct);
            }

            return customer.Id;
        }

        var light = await CustomerHoldingAsync(1);
        var heavy = await CustomerHoldingAsync(25);
        var counts = new List<int>();
        foreach (var id in new[] { light, heavy })
        {
            _recorder.Commands.Clear();
            var shown = await sp.GetRequiredService<Customer360Service>().GetAsync(id, ct);
            Assert.NotEmpty(shown.Segments);
            counts.Add(_recorder.Commands.Count);
        }

        Assert.Equal(counts[0], counts[1]);
        Assert.InRange(counts[0], 1, 12);
    }

    private sealed class CommandRecorder : DbCommandInterceptor
    {
        public ConcurrentQueue<(string Sql, List<(string Name, object? Value)> Parameters)> Commands { get; } = new();

        public override ValueTask<InterceptionResult<DbDataReader>> ReaderExecutingAsync(DbCommand command, CommandEventData eventData, InterceptionResult<DbDataReader> result, CancellationToken cancellationToken = default)
        {
            Commands.Enqueue((command.CommandText, [.. command.Parameters.Cast<DbParameter>().Select(p => (p.ParameterName, (object?)p.Value))]));
            return base.ReaderExecutingAsync(command, eventData, result, cancellationToken);
        }
    }
}
