using System.Text.Json;
using Crm.Kit.Customers;
using Crm.Kit.Segmentation;
using Crm.Kit.Testing;
using Crm.Kit.Testing.Specification;
using CsCheck;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace Crm.Kit.Tests.Segmentation;

public sealed class RuleLanguageTests
{
    private static readonly DateTimeOffset Start = new(2026, 3, 1, 9, 0, 0, TimeSpan.Zero);
    private static readonly Lazy<Task<IReadOnlyList<Customer>>> Customers = new(SeedAsync);

    private static CancellationToken Cancel => TestContext.Current.CancellationToken;

    private static SegmentRuleCompiler Compiler(TimeZoneInfo? zone = null) =>
        new(SegmentFieldRegistry.Default, Options.Create(new SegmentationOptions { TimeZone = zone ?? TimeZoneInfo.Utc }));

    private static async Task<IReadOnlyList<Customer>> SeedAsync()
    {
        var clock = new ManualTimeProvider(Start);
        var services = new ServiceCollection();
        services.AddSingleton<TimeProvider>(clock);
        services.AddCrmKit();
        await using var provider = services.BuildServiceProvider();
        await using var scope = provider.CreateAsyncScope();
        var customers = scope.ServiceProvider.GetRequiredService<CustomerManager>();
        var orders = scope.ServiceProvider.GetRequiredService<Crm.Kit.Orders.OrderManager>();
        var faker = new CrmFaker(seed: 99);
        var created = await customers.CreateManyAsync([.. Enumerable.Range(0, 150).Select(i => i % 10 == 0 ? faker.Company() : faker.Person()), .. SegmentSpecification.AwkwardPeople()]);
        for (var i = 0; i < created.Count; i += 2)
        {
            clock.Advance(TimeSpan.FromHours(faker.Number(1, 50)));
            await orders.RecordAsync(faker.Order(created[i].Id, clock.GetUtcNow().AddDays(-faker.Number(0, 200))));
        }

        var all = new List<Customer>();
        await foreach (var customer in customers.StreamAsync())
        {
            all.Add(customer);
        }

        return all;
    }

    [Fact]
    public async Task Compiled_rules_agree_with_the_reference_interpreter()
    {
        var customers = await Customers.Value;
        var compiler = Compiler();
        var now = Start.AddDays(20);
        var lookup = new FixedLookup(Guid.CreateVersion7(), [.. customers.Where((_, i) => i % 4 == 0).Select(c => c.Id)]);
        var interpreter = new ReferenceInterpreter(SegmentFieldRegistry.Default, lookup);
        var faker = new SegmentRuleFaker(seed: 3, customers, now, [lookup.ListId]);
        var decided = 0;
        for (var i = 0; i < 400; i++)
        {
            var rule = faker.Next(maxDepth: 4);
            var compiled = compiler.Compile(rule);
            var arguments = compiled.Bind(now, lookup);
            var matches = 0;
            foreach (var customer in customers)
            {
                var expected = interpreter.Matches(rule, customer, now);
                Assert.True(expected == compiled.Predicate(customer, arguments), $"Rule {i} disagrees on {customer.DisplayName}: {rule}");
                matches += expected ? 1 : 0;
            }

            decided += matches > 0 && matches < customers.Count ? 1 : 0;
        }

        Assert.True(decided > 100, $"only {decided} rules split the customers");
    }

    [Fact]
    public async Task Json_round_trips_are_stable()
    {
        var customers = await Customers.Value;
        var faker = new SegmentRuleFaker(seed: 11, customers, Start, [Guid.CreateVersion7()]);
        for (var i = 0; i < 300; i++)
        {
            var rule = faker.Next(maxDepth: 4);
            var json = SegmentRuleJson.Serialize(rule);
            var parsed = SegmentRuleJson.Parse(json);
            Assert.Equal(rule, parsed);
            Assert.Equal(json, SegmentRuleJson.Serialize(parsed));
        }
    }

    [Fact]
    public void Every_problem_is_reported_with_its_json_path()
    {
        const string json = """
            {"version":2,"rule":{"all":[
              {"field":"nope","op":"equals","value":1},
              {"field":"orderCount","op":"contains","value":"x"},
              {"field":"orderCount","op":"greaterThan","value":"x"},
              {"field":"createdAt","op":"before","value":"2026-13-01"},
              {"any":[]},
              {"field":"tags","op":"hasAny","values":[]},
              {"field":"attributes.plan","op":"equals","value":"x"},
              {"field":"orderCount","op":"frobnicate","value":1},
              {"field":"lastOrderAt","op":"withinLast","amount":5},
              {"field":"orderCount","op":"equals","value":1.5},
              {"field":"lifecycleStage","op":"in","values":["lead","king"]},
              {"field":"totalSpent","op":"between","values":[10,5]},
              {"field":"city","op":"equals","value":"x","colour":"red"}
            ]}}
            """;

        var error = Assert.Throws<CrmValidationException>(() => SegmentRuleJson.Parse(json));

        Assert.Equal(
            [
                ("$.version", "unsupported-version"),
                ("$.rule.all[0].field", "unknown-field"),
                ("$.rule.all[1].op", "operator-not-allowed"),
                ("$.rule.all[2].value", "value-type"),
                ("$.rule.all[3].value", "bad-date"),
                ("$.rule.all[4]", "empty-group"),
                ("$.rule.all[5].values", "value-count"),
                ("$.rule.all[6].type", "attribute-type"),
                ("$.rule.all[7].op", "unknown-operator"),
                ("$.rule.all[8].unit", "required"),
                ("$.rule.all[9].value", "whole-number"),
                ("$.rule.all[10].values[1]", "unknown-choice"),
                ("$.rule.all[11].values", "range-order"),
                ("$.rule.all[12].colour", "unknown-property"),
            ],
            error.Errors.Select(e => (e.Field, e.Rule)));
    }

    [Fact]
    public void Limits_on_depth_size_and_length_are_enforced()
    {
        SegmentRule deep = Rule.Field("orderCount").GreaterThan(1);
        for (var i = 0; i < 40; i++)
        {
            deep = Rule.All(deep);
        }

        var tooDeep = Assert.Throws<CrmValidationException>(() => Compiler().Compile(deep));
        Assert.Equal("max-depth", Assert.Single(tooDeep.Errors).Rule);
        Assert.Equal("max-depth", Assert.Single(Assert.Throws<CrmValidationException>(() => SegmentRuleJson.Parse(SegmentRuleJson.Serialize(deep))).Errors).Rule);

        var wide = Rule.Any([.. Enumerable.Range(0, 1001).Select(i => Rule.Field("orderCount").EqualTo(i))]);
        Assert.Equal(("$.rule", "max-conditions"), Assert.Single(Assert.Throws<CrmValidationException>(() => Compiler().Compile(wide)).Errors) is var e ? (e.Field, e.Rule) : default);

        var long_ = Rule.Field("city").EqualTo(new string('x', 1001));
        Assert.Equal("max-length", Assert.Single(Assert.Throws<CrmValidationException>(() => Compiler().Compile(long_)).Errors).Rule);

        // Far beyond any legal depth the reader stops with a JSON error rather than recursing on.
        var abyss = string.Concat(Enumerable.Repeat("{\"all\":[", 5000)) + string.Concat(Enumerable.Repeat("]}", 5000));
        Assert.Throws<JsonException>(() => SegmentRuleJson.Parse("{\"version\":1,\"rule\":" + abyss + "}"));
    }

    [Fact]
    public async Task Random_and_mutated_json_only_ever_fails_with_a_validation_or_json_error()
    {
        var customers = await Customers.Value;
        var faker = new SegmentRuleFaker(seed: 5, customers, Start);
        var documents = Enumerable.Range(0, 40).Select(_ => SegmentRuleJson.Serialize(faker.Next(maxDepth: 3))).ToArray();
        const string alphabet = "{}[]\",:0123456789.-eEtruefalsnl abcxyz\\u00e9";
        var compiler = Compiler();

        var mutated = Gen.Select(Gen.Int[0, documents.Length - 1], Gen.Int[0, 7].Array[1, 6], Gen.Int[0, int.MaxValue].Array[6], Gen.Char[alphabet].Array[6])
            .Select((doc, kinds, positions, chars) =>
            {
                var text = new System.Text.StringBuilder(documents[doc]);
                for (var i = 0; i < kinds.Length && text.Length > 0; i++)
                {
                    var at = positions[i] % text.Length;
                    switch (kinds[i])
                    {
                        case 0 or 1: text.Remove(at, 1); break;
                        case 2 or 3: text.Insert(at, chars[i]); break;
                        case 4: text[at] = chars[i]; break;
                        case 5: text.Insert(at, text.ToString(at, Math.Min(20, text.Length - at))); break;
                        default: text.Remove(at, Math.Min(text.Length - at, 1 + (positions[i] % 15))); break;
                    }
                }

                return text.ToString();
            });
        var random = Gen.Char[alphabet].Array[0, 200].Select(chars => new string(chars));

        void Check(string text)
        {
            try
            {
                compiler.Compile(SegmentRuleJson.Parse(text));
            }
            catch (CrmValidationException)
            {
            }
            catch (JsonException)
            {
            }
        }

        mutated.Sample(Check, iter: 4000);
        random.Sample(Check, iter: 2000);
    }

    [Fact]
    public void Text_that_is_not_valid_unicode_fails_as_malformed_json()
    {
        const string template = """{"version":1,"rule":{"field":"city","op":"equals","value":"VALUE"}}""";
        string[] malformed =
        [
            template.Replace("VALUE", "\\ud800", StringComparison.Ordinal),        // an escaped lone high surrogate
            template.Replace("VALUE", "\\udfff", StringComparison.Ordinal),        // an escaped lone low surrogate
            template.Replace("VALUE", "\\udc00\\ud800", StringComparison.Ordinal), // a pair in the wrong order
            template.Replace("VALUE", "\ud800", StringComparison.Ordinal),          // a raw lone surrogate
            template.Replace("VALUE", "x", StringComparison.Ordinal).Replace("\"city\"", "\"\\ud800\"", StringComparison.Ordinal),
        ];
        foreach (var text in malformed)
        {
            Assert.Throws<JsonException>(() => SegmentRuleJson.Parse(text));
        }

        // A well-formed pair, escaped or raw, is ordinary text.
        Assert.Equal("\U0001F600", ((RuleCondition)SegmentRuleJson.Parse(template.Replace("VALUE", "\\ud83d\\ude00", StringComparison.Ordinal))).Values[0].Text);
        Assert.Equal("\U0001F600", ((RuleCondition)SegmentRuleJson.Parse(template.Replace("VALUE", "\U0001F600", StringComparison.Ordinal))).Values[0].Text);
        // U+0000 is well-formed JSON, but no database text can hold it: a validation error names the value.
        var nul = Assert.Throws<CrmValidationException>(() => SegmentRuleJson.Parse(template.Replace("VALUE", "a\\u0000b", StringComparison.Ordinal)));
        Assert.Equal(("$.rule.value", "text-encoding"), (nul.Errors[0].Field, nul.Errors[0].Rule));
    }

    [Fact]
    public async Task Any_bytes_or_code_units_end_in_a_validation_or_json_error_only()
    {
        var customers = await Customers.Value;
        var faker = new SegmentRuleFaker(seed: 17, customers, Start);
        var documents = Enumerable.Range(0, 20).Select(_ => SegmentRuleJson.Serialize(faker.Next(maxDepth: 2))).ToArray();
        var compiler = Compiler();

        void Check(string text)
        {
            try
            {
                compiler.Compile(SegmentRuleJson.Parse(text));
            }
            catch (CrmValidationException)
            {
            }
            catch (JsonException)
            {
            }
        }

        // Raw UTF-16 code units, surrogates of both halves included, spliced into real documents.
        Gen.Select(Gen.Int[0, documents.Length - 1], Gen.Int[0, int.MaxValue], Gen.Char.Array[1, 8]).Sample((doc, at, units) =>
        {
            var text = documents[doc];
            var position = at % text.Length;
            Check(string.Concat(text.AsSpan(0, position), new string(units), text.AsSpan(position)));
        }, iter: 3000);

        // Escapes of every kind, lone surrogates and broken escapes among them, inside string values.
        string[] escapes = ["\\ud800", "\\udbff", "\\udc00", "\\udfff", "\\ud83d\\ude00", "\\u0000", "\\u", "\\u12", "\\uzzzz", "\\x41", "\\", "\\\"", "\\/", "\\b\\f\\n\\r\\t", "\\u200b", "\\u202e", "\\ufeff"];
        Gen.Select(Gen.Int[0, documents.Length - 1], Gen.Int[0, escapes.Length - 1].Array[1, 4]).Sample((doc, picks) =>
        {
            var inserted = string.Concat(picks.Select(p => escapes[p]));
            var text = documents[doc];
            var quote = text.IndexOf("\"value\":\"", StringComparison.Ordinal);
            Check(quote < 0 ? text.Replace("\"version\"", "\"ver" + inserted + "sion\"", StringComparison.Ordinal) : text.Insert(quote + 9, inserted));
        }, iter: 3000);

        // Bytes, as a host would decode them from a request body: invalid UTF-8 becomes U+FFFD, Latin-1 anything.
        Gen.Byte.Array[0, 300].Sample(bytes =>
        {
            Check(System.Text.Encoding.UTF8.GetString(bytes));
            Check(System.Text.Encoding.Latin1.GetString(bytes));
            Check(documents[bytes.Length % documents.Length] + System.Text.Encoding.UTF8.GetString(bytes));
        }, iter: 2000);
    }

    [Fact]
    public void Date_values_and_relative_amounts_stay_within_the_documented_window()
    {
        var compiler = Compiler();
        var customer = new Customer { Id = Guid.NewGuid(), TenantId = "t", CreatedAt = Start };
        string Reject(SegmentRule rule) => Assert.Single(Assert.Throws<CrmValidationException>(() => compiler.Compile(rule)).Errors).Rule;
        void Runs(SegmentRule rule) => compiler.Compile(rule).Matches(customer, Start);

        // The probe's rule: "on 9999-12-31" passed validation and then threw when evaluated.
        Assert.Equal("date-range", Reject(Rule.Field("createdAt").On(new DateOnly(9999, 12, 31))));
        Assert.Equal("date-range", Reject(Rule.Field("createdAt").Before(new DateOnly(1899, 12, 31))));
        Assert.Equal("date-range", Reject(Rule.Field("createdAt").After(new DateOnly(3000, 1, 1))));
        Assert.Equal("date-range", Reject(Rule.Field("createdAt").After(new DateTimeOffset(3000, 1, 1, 0, 0, 0, TimeSpan.Zero))));
        Assert.Equal("date-range", Reject(Rule.Field("createdAt").Before(new DateTimeOffset(1900, 1, 1, 5, 0, 0, TimeSpan.FromHours(14)))));
        Assert.Equal("date-range", Reject(Rule.Field("createdAt").Between(new DateOnly(1, 1, 1), new DateOnly(2000, 1, 1))));

        Runs(Rule.Field("createdAt").On(SegmentRuleValidator.LatestDate));
        Runs(Rule.Field("createdAt").On(SegmentRuleValidator.EarliestDate));
        Runs(Rule.Field("createdAt").Between(SegmentRuleValidator.EarliestDate, SegmentRuleValidator.LatestDate));
        Runs(Rule.Field("createdAt").After(new DateTimeOffset(2999, 12, 31, 23, 59, 59, TimeSpan.Zero)));
        Runs(Rule.Field("createdAt").Before(new DateTimeOffset(1900, 1, 1, 0, 0, 0, TimeSpan.Zero)));

        foreach (var (unit, max) in new[] { (RelativeDateUnit.Days, SegmentRuleValidator.MaxAmount), (RelativeDateUnit.Weeks, SegmentRuleValidator.MaxAmountWeeks), (RelativeDateUnit.Months, SegmentRuleValidator.MaxAmountMonths) })
        {
            Runs(Rule.Field("createdAt").MoreThanAgo(max, unit));
            Runs(Rule.Field("createdAt").WithinNext(max, unit));
            Assert.Equal("range", Reject(Rule.Field("createdAt").MoreThanAgo(max + 1, unit)));
        }
    }

    [Fact]
    public async Task Days_are_read_in_the_configured_time_zone()
    {
        var berlin = TimeZoneInfo.FindSystemTimeZoneById("Europe/Berlin");
        var customer = (await Customers.Value)[0] with { CreatedAt = new DateTimeOffset(2026, 5, 1, 23, 30, 0, TimeSpan.Zero) };
        var rule = Rule.Field("createdAt").On(new DateOnly(2026, 5, 2));

        Assert.True(Compiler(berlin).Compile(rule).Matches(customer, Start));
        Assert.False(Compiler().Compile(rule).Matches(customer, Start));
    }

    [Fact]
    public void Relative_months_are_calendar_months()
    {
        var now = new DateTimeOffset(2026, 3, 31, 12, 0, 0, TimeSpan.Zero);
        var rule = Compiler().Compile(Rule.Field("createdAt").WithinLast(1, RelativeDateUnit.Months));
        Customer At(DateTimeOffset t) => new() { Id = Guid.NewGuid(), TenantId = "t", CreatedAt = t };

        Assert.True(rule.Matches(At(new DateTimeOffset(2026, 2, 28, 12, 0, 0, TimeSpan.Zero)), now));
        Assert.False(rule.Matches(At(new DateTimeOffset(2026, 2, 28, 11, 59, 0, TimeSpan.Zero)), now));
        Assert.False(rule.Matches(At(now.AddMinutes(1)), now));
    }

    [Fact]
    public void Modules_contribute_fields_and_unknown_names_are_refused()
    {
        var registry = new SegmentFieldRegistry([new ScoreFields()]);
        var compiler = new SegmentRuleCompiler(registry, Options.Create(new SegmentationOptions()));
        var rule = SegmentRuleJson.Parse("""{"version":1,"rule":{"field":"test.score","op":"atLeast","value":5}}""".Replace("atLeast", "greaterThanOrEqual", StringComparison.Ordinal), registry);
        var customer = new Customer { Id = Guid.NewGuid(), TenantId = "t", Tags = ["a", "b", "c", "d", "e"] };

        Assert.True(compiler.Compile(rule).Matches(customer, Start));
        Assert.Throws<CrmValidationException>(() => SegmentRuleJson.Parse("""{"version":1,"rule":{"field":"test.score","op":"equals","value":5}}"""));
        Assert.Throws<InvalidOperationException>(() => new SegmentFieldRegistry([new ScoreFields(), new ScoreFields()]));
    }

    [Fact]
    public void In_memory_rules_test_cheap_conditions_before_costly_ones_whatever_order_they_are_written_in()
    {
        var registry = new SegmentFieldRegistry([new CountedFields()]);
        var compiler = new SegmentRuleCompiler(registry, Options.Create(new SegmentationOptions()));
        var written = new[]
        {
            Rule.All(Rule.Field("test.lookup").GreaterThan(0), Rule.Field("orderCount").GreaterThan(0)),
            Rule.Any(Rule.Field("test.lookup").GreaterThan(0), Rule.Field("orderCount").EqualTo(0)),
        };
        var customers = Enumerable.Range(0, 10).Select(i => new Customer { Id = Guid.NewGuid(), TenantId = "t", Tags = ["x"] }).ToList();

        foreach (var rule in written)
        {
            var compiled = compiler.Compile(rule);
            var reads = CountedFields.Reads;

            // No customer has an order: the order-count test alone settles both rules, so the lookup never runs.
            Assert.All(customers, c => Assert.Equal(rule.Kind == RuleGroupKind.Any, compiled.Matches(c, Start)));
            Assert.Equal(reads, CountedFields.Reads);
        }
    }

    private sealed class CountedFields : ISegmentFieldProvider
    {
        private static int _reads;

        public static int Reads => Volatile.Read(ref _reads);

        public IEnumerable<SegmentField> GetFields() => [SegmentField.Number("test.lookup", "A value read through a call (a store, say).", c => Lookup(c))];

        [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.NoInlining)]
        private static int Lookup(Customer customer)
        {
            Interlocked.Increment(ref _reads);
            return customer.Tags.Count;
        }
    }

    private sealed class ScoreFields : ISegmentFieldProvider
    {
        public IEnumerable<SegmentField> GetFields() => [SegmentField.Number("test.score", "A score (the number of tags, for the test).", c => c.Tags.Count)];
    }

    private sealed class FixedLookup(Guid listId, HashSet<Guid> members) : ISegmentMembershipLookup
    {
        public Guid ListId => listId;

        public bool Contains(Guid segmentId, Guid customerId) => segmentId == listId && members.Contains(customerId);
    }
}
