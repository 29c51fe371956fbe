using Crm.Kit.Customers;
using Crm.Kit.Segmentation;

namespace Crm.Kit.Testing;

/// <summary>
/// Generates random valid segment rules whose values are drawn from real customers (with their letter case
/// scrambled, cut into prefixes and suffixes, or replaced by near misses), so that random rules match some
/// customers rather than none. Seeded: the same seed and sample give the same rules.
/// </summary>
public sealed class SegmentRuleFaker
{
    private readonly Random _random;
    private readonly IReadOnlyList<Customer> _sample;
    private readonly DateTimeOffset _now;
    private readonly IReadOnlyList<Guid> _lists;
    private readonly bool _edges;

    /// <summary>Creates a generator.</summary>
    /// <param name="seed">The seed.</param>
    /// <param name="sample">Customers to draw values from.</param>
    /// <param name="now">The evaluation time, around which dates are drawn.</param>
    /// <param name="staticLists">Static lists rules may refer to.</param>
    /// <param name="edges">
    /// Also draw what lies at the limits the validator allows: the earliest and latest dates and instants, the
    /// largest relative amounts of each unit, whole numbers at the limits of <see cref="long"/>, decimals at the
    /// limits of <see cref="decimal"/>, text of the longest length, blank and white-space text, surrogate pairs,
    /// value lists of <see cref="SegmentRuleValidator.MaxValues"/> values, groups holding the most conditions a rule
    /// may hold, and groups nested as deep as allowed.
    /// </param>
    public SegmentRuleFaker(int seed, IReadOnlyList<Customer> sample, DateTimeOffset now, IReadOnlyList<Guid>? staticLists = null, bool edges = false)
    {
        ArgumentNullException.ThrowIfNull(sample);
        if (sample.Count == 0)
        {
            throw new ArgumentException("The sample needs at least one customer.", nameof(sample));
        }

        _random = new Random(seed);
        _sample = sample;
        _now = now;
        _lists = staticLists ?? [];
        _edges = edges;
    }

    /// <summary>A random rule: a group nested up to <paramref name="maxDepth"/> deep, or a single condition.</summary>
    public SegmentRule Next(int maxDepth = 3) => (_edges ? _random.Next(12) : -1) switch
    {
        0 => Widest(),
        1 => Deepest(),
        _ => _random.Next(5) == 0 ? Condition() : Group(maxDepth),
    };

    // A group holding as many conditions as a rule may, in one flat list.
    private RuleGroup Widest() =>
        new((RuleGroupKind)_random.Next(3), [.. Enumerable.Range(0, SegmentRuleValidator.MaxConditions).Select(_ => Condition())]);

    // Groups nested as deep as the validator allows, a condition or two at each level.
    private SegmentRule Deepest()
    {
        SegmentRule rule = Condition();
        for (var depth = 1; depth < SegmentRuleValidator.MaxDepth; depth++)
        {
            rule = new RuleGroup((RuleGroupKind)_random.Next(3), _random.Next(2) == 0 ? [rule] : [Condition(), rule]);
        }

        return rule;
    }

    private bool AtTheEdge() => _edges && _random.Next(3) == 0;

    private RuleGroup Group(int depth)
    {
        var kind = (RuleGroupKind)_random.Next(3);
        var count = _random.Next(1, 5);
        var rules = new SegmentRule[count];
        for (var i = 0; i < count; i++)
        {
            rules[i] = depth > 1 && _random.Next(3) == 0 ? Group(depth - 1) : Condition();
        }

        return new RuleGroup(kind, rules);
    }

    private Customer Someone() => _sample[_random.Next(_sample.Count)];

    private RuleCondition Condition()
    {
        switch (_random.Next(17))
        {
            case 0: return Choice(SegmentFieldNames.Kind, Enum.GetNames<CustomerKind>());
            case 1: return Choice(SegmentFieldNames.LifecycleStage, Enum.GetNames<LifecycleStage>());
            case 2: return Text(SegmentFieldNames.City, c => FirstAddress(c)?.City);
            case 3: return Text(SegmentFieldNames.Country, c => FirstAddress(c)?.CountryCode);
            case 4: return Text(SegmentFieldNames.Owner, c => c.OwnerId);
            case 5: return Text(SegmentFieldNames.CompanyName, c => c.CompanyName);
            case 6: return Text(SegmentFieldNames.PostalCode, c => FirstAddress(c)?.PostalCode);
            case 7: return Tags(SegmentFieldNames.Tags, null, c => c.Tags);
            case 8: return Number(SegmentFieldNames.OrderCount, null, c => c.Metrics.OrderCount, whole: true);
            case 9: return Number(SegmentFieldNames.TotalSpent, null, c => c.Metrics.TotalSpent, whole: false);
            case 10: return Number(SegmentFieldNames.DaysSinceLastOrder, null, c => c.Metrics.LastOrderAt is { } t ? (int)(_now - t).TotalDays : null, whole: true);
            case 11: return Date(SegmentFieldNames.LastOrderAt, null, c => c.Metrics.LastOrderAt);
            case 12: return Date(SegmentFieldNames.CreatedAt, null, c => c.CreatedAt);
            case 13:
                var consent = SegmentFieldNames.Consent(Pick(Enum.GetValues<ContactChannel>()), Pick(Enum.GetValues<ConsentPurpose>()));
                return _random.Next(2) == 0 ? new RuleCondition(consent, RuleOperator.Equals, _random.Next(2) == 0) : new RuleCondition(consent, RuleOperator.NotEquals, true);
            case 14: return Attribute();
            case 15 when _lists.Count > 0:
                return new RuleCondition(SegmentFieldNames.Segment, _random.Next(2) == 0 ? RuleOperator.MemberOf : RuleOperator.NotMemberOf, RuleValue.FromId(Pick(_lists)));
            default: return Number(SegmentFieldNames.AverageOrderValue, null, c => c.Metrics.AverageOrderValue, whole: false);
        }
    }

    private RuleCondition Attribute() => _random.Next(4) switch
    {
        0 => Date("attributes.birthday", SegmentValueType.Date, c => c.Attributes.TryGetValue("birthday", out var v) && v.Kind == AttributeKind.Date ? new DateTimeOffset(v.Date.ToDateTime(TimeOnly.MinValue), TimeSpan.Zero) : null),
        1 => Number("attributes.shoe-size", SegmentValueType.Number, c => c.Attributes.TryGetValue("shoe-size", out var v) && v.Kind == AttributeKind.Number ? v.Number : null, whole: false),
        2 => Tags("attributes.newsletter-topics", SegmentValueType.TextList, c => c.Attributes.TryGetValue("newsletter-topics", out var v) && v.Kind == AttributeKind.TextList ? v.TextList : []),
        _ => Text("attributes.plan", c => c.Attributes.TryGetValue("plan", out var v) && v.Kind == AttributeKind.Text ? v.Text : null, SegmentValueType.Text),
    };

    private RuleCondition Choice(string field, string[] names)
    {
        string Name() => System.Text.Json.JsonNamingPolicy.CamelCase.ConvertName(Pick(names));
        return _random.Next(4) switch
        {
            0 => new RuleCondition(field, RuleOperator.Equals, Name()),
            1 => new RuleCondition(field, RuleOperator.NotEquals, Name()),
            2 => new RuleCondition(field, RuleOperator.In, [.. Enumerable.Range(0, _random.Next(1, 4)).Select(_ => (RuleValue)Name())]),
            _ => new RuleCondition(field, RuleOperator.NotIn, [.. Enumerable.Range(0, _random.Next(1, 4)).Select(_ => (RuleValue)Name())]),
        };
    }

    private RuleCondition Text(string field, Func<Customer, string?> read, SegmentValueType? type = null)
    {
        var value = read(Someone()) ?? read(Someone()) ?? "zz";
        var op = Pick([RuleOperator.Equals, RuleOperator.NotEquals, RuleOperator.In, RuleOperator.NotIn, RuleOperator.Contains, RuleOperator.StartsWith, RuleOperator.EndsWith, RuleOperator.IsSet, RuleOperator.IsNotSet]);
        var cut = value.Length <= 1 ? value : op switch
        {
            RuleOperator.Contains => value.Substring(_random.Next(value.Length / 2), Math.Max(1, value.Length / 2)),
            RuleOperator.StartsWith => value[..Math.Max(1, _random.Next(value.Length))],
            RuleOperator.EndsWith => value[_random.Next(value.Length)..],
            _ => value,
        };
        var scrambled = new string([.. cut.Select(ch => _random.Next(2) == 0 ? char.ToUpperInvariant(ch) : char.ToLowerInvariant(ch))]);
        if (AtTheEdge())
        {
            scrambled = EdgeText();
        }

        return op switch
        {
            RuleOperator.IsSet or RuleOperator.IsNotSet => new RuleCondition(field, op) { ValueType = type },
            RuleOperator.In or RuleOperator.NotIn => new RuleCondition(field, op, scrambled, read(Someone()) ?? "none") { ValueType = type },
            _ => new RuleCondition(field, op, scrambled) { ValueType = type },
        };
    }

    private string EdgeText() => _random.Next(6) switch
    {
        0 => " ",
        1 => "\t \u00a0",
        2 => new string('x', SegmentRuleValidator.MaxTextLength),
        3 => string.Concat(Enumerable.Repeat("\U0001F600", SegmentRuleValidator.MaxTextLength / 2)),
        4 => "ß",
        _ => "%_'\\",
    };

    private RuleValue[] EdgeTextList() => _random.Next(2) == 0
        ? [.. Enumerable.Range(0, SegmentRuleValidator.MaxValues).Select(i => (RuleValue)("v" + i.ToString(System.Globalization.CultureInfo.InvariantCulture)))]
        : [EdgeText(), EdgeText()];

    private RuleCondition Tags(string field, SegmentValueType? type, Func<Customer, IReadOnlyList<string>> read)
    {
        var pool = Enumerable.Range(0, 5).SelectMany(_ => read(Someone())).Distinct().ToList();
        if (pool.Count == 0)
        {
            pool.Add("none");
        }

        var op = Pick([RuleOperator.HasAny, RuleOperator.HasAll, RuleOperator.HasNone, RuleOperator.IsSet, RuleOperator.IsNotSet]);
        if (op is RuleOperator.IsSet or RuleOperator.IsNotSet)
        {
            return new RuleCondition(field, op) { ValueType = type };
        }

        var values = AtTheEdge() ? EdgeTextList() : Enumerable.Range(0, _random.Next(1, 3)).Select(_ => (RuleValue)Pick(pool).ToUpperInvariant()).ToArray();
        return new RuleCondition(field, op, values) { ValueType = type };
    }

    private RuleCondition Number(string field, SegmentValueType? type, Func<Customer, decimal?> read, bool whole)
    {
        var value = read(Someone()) ?? 0m;
        if (!whole && _random.Next(3) == 0 && value < 1_000_000m)
        {
            value += 0.01m;
        }

        var other = value < 1_000_000m ? value + _random.Next(0, 100) : value;
        if (AtTheEdge())
        {
            decimal[] limits = whole
                ? [long.MinValue, long.MaxValue, int.MinValue - 1L, int.MaxValue + 1L, 0, -1]
                : [decimal.MinValue, decimal.MaxValue, 0.0000000000000000000000000001m, -0.0000000000000000000000000001m, 7922816251426433759354395033.5m, 0];
            value = Pick(limits);
            other = Pick(limits);
            (value, other) = (Math.Min(value, other), Math.Max(value, other));
        }

        var op = Pick([RuleOperator.Equals, RuleOperator.NotEquals, RuleOperator.In, RuleOperator.NotIn, RuleOperator.GreaterThan, RuleOperator.GreaterThanOrEqual, RuleOperator.LessThan, RuleOperator.LessThanOrEqual, RuleOperator.Between, RuleOperator.IsSet, RuleOperator.IsNotSet]);
        return op switch
        {
            RuleOperator.IsSet or RuleOperator.IsNotSet => new RuleCondition(field, op) { ValueType = type },
            RuleOperator.Between => new RuleCondition(field, op, value, other) { ValueType = type },
            RuleOperator.In or RuleOperator.NotIn when _edges && _random.Next(4) == 0 =>
                new RuleCondition(field, op, [.. Enumerable.Range(0, SegmentRuleValidator.MaxValues).Select(i => (RuleValue)(value > 0 ? value - i : value + i))]) { ValueType = type },
            RuleOperator.In or RuleOperator.NotIn => new RuleCondition(field, op, value, other) { ValueType = type },
            _ => new RuleCondition(field, op, value) { ValueType = type },
        };
    }

    private RuleCondition Date(string field, SegmentValueType? type, Func<Customer, DateTimeOffset?> read)
    {
        var value = read(Someone()) ?? _now.AddDays(-_random.Next(1, 400));
        var day = DateOnly.FromDateTime(value.UtcDateTime);
        var op = Pick([RuleOperator.Before, RuleOperator.After, RuleOperator.On, RuleOperator.Between, RuleOperator.WithinLast, RuleOperator.MoreThanAgo, RuleOperator.WithinNext, RuleOperator.IsSet, RuleOperator.IsNotSet]);
        var unit = Pick(Enum.GetValues<RelativeDateUnit>());
        var amount = unit switch { RelativeDateUnit.Days => _random.Next(0, 400), RelativeDateUnit.Weeks => _random.Next(0, 60), _ => _random.Next(0, 14) };
        if (AtTheEdge())
        {
            amount = unit switch { RelativeDateUnit.Days => SegmentRuleValidator.MaxAmount, RelativeDateUnit.Weeks => SegmentRuleValidator.MaxAmountWeeks, _ => SegmentRuleValidator.MaxAmountMonths };
            day = _random.Next(2) == 0 ? SegmentRuleValidator.EarliestDate : SegmentRuleValidator.LatestDate;
            value = day == SegmentRuleValidator.EarliestDate
                ? new DateTimeOffset(day.ToDateTime(TimeOnly.MinValue), TimeSpan.Zero)
                : new DateTimeOffset(day.ToDateTime(TimeOnly.MaxValue), TimeSpan.Zero);
        }

        RuleValue literal = _random.Next(2) == 0 ? day : value;
        return op switch
        {
            RuleOperator.IsSet or RuleOperator.IsNotSet => new RuleCondition(field, op) { ValueType = type },
            RuleOperator.WithinLast or RuleOperator.MoreThanAgo or RuleOperator.WithinNext => new RuleCondition(field, op) { ValueType = type, Amount = amount, Unit = unit },
            RuleOperator.On => new RuleCondition(field, op, day) { ValueType = type },
            RuleOperator.Between => new RuleCondition(field, op, Clamp(day.AddDays(-_random.Next(0, 60))), Clamp(day.AddDays(_random.Next(0, 60)))) { ValueType = type },
            _ => new RuleCondition(field, op, literal) { ValueType = type },
        };
    }

    private static DateOnly Clamp(DateOnly day) =>
        day < SegmentRuleValidator.EarliestDate ? SegmentRuleValidator.EarliestDate : day > SegmentRuleValidator.LatestDate ? SegmentRuleValidator.LatestDate : day;

    private static PostalAddress? FirstAddress(Customer customer) => customer.Addresses.Count == 0 ? null : customer.Addresses[0];

    private T Pick<T>(IReadOnlyList<T> items) => items[_random.Next(items.Count)];
}
