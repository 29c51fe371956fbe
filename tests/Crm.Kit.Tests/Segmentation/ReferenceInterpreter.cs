using System.Collections;
using System.Globalization;
using Crm.Kit.Customers;
using Crm.Kit.Segmentation;

namespace Crm.Kit.Tests.Segmentation;

/// <summary>
/// Evaluates rules the slow, obvious way - walking the tree, reading each field through its own delegate and
/// comparing with plain C# (numbers as decimals, dates as DateTimeOffset arithmetic) - to check the compiled
/// expressions against. UTC only.
/// </summary>
internal sealed class ReferenceInterpreter(SegmentFieldRegistry registry, ISegmentMembershipLookup? members = null)
{
    private readonly Dictionary<string, Delegate> _readers = [];

    public bool Matches(SegmentRule rule, Customer customer, DateTimeOffset now) => rule switch
    {
        RuleGroup { Kind: RuleGroupKind.All } g => g.Rules.All(r => Matches(r, customer, now)),
        RuleGroup { Kind: RuleGroupKind.Any } g => g.Rules.Any(r => Matches(r, customer, now)),
        RuleGroup g => !g.Rules.Any(r => Matches(r, customer, now)),
        RuleCondition c => Condition(c, customer, now),
        _ => throw new ArgumentException("unknown node"),
    };

    private bool Condition(RuleCondition c, Customer customer, DateTimeOffset now)
    {
        var field = registry.Find(c.Field, c.ValueType)!;
        switch (c.Operator)
        {
            case RuleOperator.NotEquals: return !Condition(new RuleCondition(c.Field, RuleOperator.Equals, c.Values) { ValueType = c.ValueType }, customer, now);
            case RuleOperator.NotIn: return !Condition(new RuleCondition(c.Field, RuleOperator.In, c.Values) { ValueType = c.ValueType }, customer, now);
            case RuleOperator.IsNotSet: return !Condition(new RuleCondition(c.Field, RuleOperator.IsSet) { ValueType = c.ValueType }, customer, now);
            case RuleOperator.HasNone: return !Condition(new RuleCondition(c.Field, RuleOperator.HasAny, c.Values) { ValueType = c.ValueType }, customer, now);
            case RuleOperator.NotMemberOf: return !members!.Contains(Guid.Parse(c.Values[0].Text!), customer.Id);
            case RuleOperator.MemberOf: return members!.Contains(Guid.Parse(c.Values[0].Text!), customer.Id);
        }

        if (!_readers.TryGetValue(field.Name, out var read))
        {
            _readers[field.Name] = read = field.InMemory!.Compile();
        }

        var value = field.DependsOnTime ? read.DynamicInvoke(customer, now.UtcTicks) : read.DynamicInvoke(customer);
        return field.Type switch
        {
            SegmentValueType.Text => Text(c, (string?)value),
            SegmentValueType.TextList => List(c, ((IEnumerable?)value)?.Cast<string>().ToList() ?? []),
            SegmentValueType.Boolean => value is bool b && (c.Operator == RuleOperator.IsSet || b == c.Values[0].Boolean),
            SegmentValueType.Choice => c.Operator == RuleOperator.Equals
                ? string.Equals(value!.ToString(), c.Values[0].Text, StringComparison.OrdinalIgnoreCase)
                : c.Values.Any(v => string.Equals(value!.ToString(), v.Text, StringComparison.OrdinalIgnoreCase)),
            SegmentValueType.Number => Number(c, value is null ? null : Convert.ToDecimal(value, CultureInfo.InvariantCulture)),
            SegmentValueType.Date => Date(c, field.DateKind == SegmentDateKind.Day, (long?)value, now),
            _ => throw new ArgumentException("unknown type"),
        };
    }

    private static string Fold(string s) => SegmentText.Fold(s)!;

    private static bool Text(RuleCondition c, string? value)
    {
        if (c.Operator == RuleOperator.IsSet)
        {
            return !string.IsNullOrEmpty(value);
        }

        if (string.IsNullOrEmpty(value))
        {
            return false;
        }

        var v = Fold(value);
        return c.Operator switch
        {
            RuleOperator.Equals => v == Fold(c.Values[0].Text!),
            RuleOperator.In => c.Values.Any(x => v == Fold(x.Text!)),
            RuleOperator.Contains => v.Contains(Fold(c.Values[0].Text!), StringComparison.Ordinal),
            RuleOperator.StartsWith => v.StartsWith(Fold(c.Values[0].Text!), StringComparison.Ordinal),
            RuleOperator.EndsWith => v.EndsWith(Fold(c.Values[0].Text!), StringComparison.Ordinal),
            _ => throw new ArgumentException(c.Operator.ToString()),
        };
    }

    private static bool List(RuleCondition c, List<string> items)
    {
        var folded = items.Select(Fold).ToHashSet();
        return c.Operator switch
        {
            RuleOperator.IsSet => folded.Count > 0,
            RuleOperator.HasAny => c.Values.Any(v => folded.Contains(Fold(v.Text!))),
            RuleOperator.HasAll => c.Values.All(v => folded.Contains(Fold(v.Text!))),
            _ => throw new ArgumentException(c.Operator.ToString()),
        };
    }

    private static bool Number(RuleCondition c, decimal? value)
    {
        if (c.Operator == RuleOperator.IsSet)
        {
            return value is not null;
        }

        if (value is not { } x)
        {
            return false;
        }

        return c.Operator switch
        {
            RuleOperator.Equals => x == c.Values[0].Number,
            RuleOperator.In => c.Values.Any(v => v.Number == x),
            RuleOperator.GreaterThan => x > c.Values[0].Number,
            RuleOperator.GreaterThanOrEqual => x >= c.Values[0].Number,
            RuleOperator.LessThan => x < c.Values[0].Number,
            RuleOperator.LessThanOrEqual => x <= c.Values[0].Number,
            RuleOperator.Between => x >= c.Values[0].Number && x <= c.Values[1].Number,
            _ => throw new ArgumentException(c.Operator.ToString()),
        };
    }

    private static bool Date(RuleCondition c, bool dayField, long? ticks, DateTimeOffset now)
    {
        if (c.Operator == RuleOperator.IsSet)
        {
            return ticks is not null;
        }

        if (ticks is not { } t)
        {
            return false;
        }

        var at = new DateTimeOffset(t, TimeSpan.Zero);
        (bool IsDay, DateTimeOffset Start, DateTimeOffset End) Literal(RuleValue v)
        {
            var text = v.Text!;
            if (text.Length == 10 || dayField)
            {
                var day = text.Length == 10
                    ? DateOnly.ParseExact(text, "yyyy-MM-dd", CultureInfo.InvariantCulture)
                    : DateOnly.FromDateTime(DateTimeOffset.Parse(text, CultureInfo.InvariantCulture).UtcDateTime);
                var start = new DateTimeOffset(day.ToDateTime(TimeOnly.MinValue), TimeSpan.Zero);
                return (true, start, start.AddDays(1));
            }

            var instant = DateTimeOffset.Parse(text, CultureInfo.InvariantCulture);
            return (false, instant, instant);
        }

        DateTimeOffset Shift(int amount) => c.Unit switch
        {
            RelativeDateUnit.Days => Base().AddDays(amount),
            RelativeDateUnit.Weeks => Base().AddDays(amount * 7),
            _ => Base().AddMonths(amount),
        };

        DateTimeOffset Base() => dayField ? new DateTimeOffset(now.UtcDateTime.Date, TimeSpan.Zero) : now;

        switch (c.Operator)
        {
            case RuleOperator.Before:
                return at < Literal(c.Values[0]).Start;
            case RuleOperator.After:
                var after = Literal(c.Values[0]);
                return after.IsDay ? at >= after.End : at > after.Start;
            case RuleOperator.On:
                var on = Literal(c.Values[0]);
                return at >= on.Start && at < on.End;
            case RuleOperator.Between:
                var (low, high) = (Literal(c.Values[0]), Literal(c.Values[1]));
                return at >= low.Start && (high.IsDay ? at < high.End : at <= high.Start);
            case RuleOperator.WithinLast:
                return at >= Shift(-c.Amount!.Value) && at <= Base();
            case RuleOperator.MoreThanAgo:
                return at < Shift(-c.Amount!.Value);
            case RuleOperator.WithinNext:
                return at >= Base() && at <= Shift(c.Amount!.Value);
            default:
                throw new ArgumentException(c.Operator.ToString());
        }
    }
}
