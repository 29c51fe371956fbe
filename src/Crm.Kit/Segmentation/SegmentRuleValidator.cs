using System.Globalization;

namespace Crm.Kit.Segmentation;

/// <summary>
/// Checks a rule against the fields it names and the limits every rule obeys, reporting every problem with its
/// JSON path (for example <c>$.rule.all[2].value</c>), whether the rule came from JSON or from C#.
/// </summary>
public static class SegmentRuleValidator
{
    /// <summary>Deepest nesting of groups allowed.</summary>
    public const int MaxDepth = 32;

    /// <summary>Most conditions one rule may hold.</summary>
    public const int MaxConditions = 1000;

    /// <summary>Longest text value, field name or id allowed.</summary>
    public const int MaxTextLength = 1000;

    /// <summary>Most values one condition may list.</summary>
    public const int MaxValues = 1000;

    /// <summary>Largest amount in a relative date condition counted in days (100 years).</summary>
    public const int MaxAmount = 36_600;

    /// <summary>Largest amount in a relative date condition counted in weeks (100 years).</summary>
    public const int MaxAmountWeeks = MaxAmount / 7;

    /// <summary>Largest amount in a relative date condition counted in months (100 years).</summary>
    public const int MaxAmountMonths = 1_200;

    /// <summary>The earliest day a date value may name.</summary>
    public static readonly DateOnly EarliestDate = new(1900, 1, 1);

    /// <summary>The latest day a date value may name.</summary>
    public static readonly DateOnly LatestDate = new(2999, 12, 31);

    internal const string RootPath = "$.rule";

    /// <summary>Throws <see cref="CrmValidationException"/> listing every problem of <paramref name="rule"/>.</summary>
    public static void Validate(SegmentRule rule, SegmentFieldRegistry registry)
    {
        var errors = new ValidationErrorCollector();
        Validate(rule, registry, errors);
        errors.ThrowIfAny();
    }

    internal static void Validate(SegmentRule rule, SegmentFieldRegistry registry, ValidationErrorCollector errors)
    {
        ArgumentNullException.ThrowIfNull(rule);
        ArgumentNullException.ThrowIfNull(registry);
        var walk = new Walk(registry, errors);
        walk.Node(rule, RootPath, 1);
        walk.Finish(RootPath);
    }

    /// <summary>The checks shared by the C# walk here and the JSON reader, which reports structural problems itself.</summary>
    internal sealed class Walk(SegmentFieldRegistry registry, ValidationErrorCollector errors, bool checkFields = true)
    {
        private int _conditions;
        private bool _depthReported;

        public ValidationErrorCollector Errors => errors;

        public void Node(SegmentRule rule, string path, int depth)
        {
            switch (rule)
            {
                case RuleGroup group:
                    if (!EnterGroup(path, depth, group.Rules.Count))
                    {
                        return;
                    }

                    for (var i = 0; i < group.Rules.Count; i++)
                    {
                        var childPath = $"{path}.{GroupName(group.Kind)}[{i}]";
                        if (group.Rules[i] is null)
                        {
                            errors.Add(childPath, "required", "must be a group or a condition, not null");
                        }
                        else
                        {
                            Node(group.Rules[i], childPath, depth + 1);
                        }
                    }

                    break;
                case RuleCondition condition:
                    Condition(condition, path);
                    break;
                default:
                    errors.Add(path, "node-kind", "must be a group or a condition");
                    break;
            }
        }

        /// <summary>Checks a group's depth and size; false when its children must not be walked.</summary>
        public bool EnterGroup(string path, int depth, int count)
        {
            if (depth > MaxDepth)
            {
                if (!_depthReported)
                {
                    errors.Add(path, "max-depth", $"groups may nest at most {MaxDepth} deep");
                    _depthReported = true;
                }

                return false;
            }

            if (count == 0)
            {
                errors.Add(path, "empty-group", "a group needs at least one rule");
            }

            return true;
        }

        public void Finish(string rootPath)
        {
            if (_conditions > MaxConditions)
            {
                errors.Add(rootPath, "max-conditions", $"a rule may hold at most {MaxConditions} conditions (this one holds {_conditions})");
            }
        }

        public void Condition(RuleCondition condition, string path)
        {
            _conditions++;
            if (_conditions > MaxConditions || !checkFields)
            {
                return;
            }

            if (string.IsNullOrWhiteSpace(condition.Field))
            {
                errors.Add(path + ".field", "required", "a condition needs a field");
                return;
            }

            if (condition.Field.Length > MaxTextLength)
            {
                errors.Add(path + ".field", "max-length", $"must be at most {MaxTextLength} characters");
                return;
            }

            var isAttribute = condition.Field.StartsWith(SegmentFieldNames.AttributePrefix, StringComparison.Ordinal);
            if (isAttribute && condition.ValueType is null)
            {
                errors.Add(path + ".type", "attribute-type", "conditions on custom attributes must say the attribute's type: text, number, date, boolean or textList");
                return;
            }

            if (isAttribute && !SegmentFieldRegistry.IsAttributeType(condition.ValueType!.Value))
            {
                errors.Add(path + ".type", "attribute-type", $"'{Names.Type(condition.ValueType.Value)}' is not an attribute type; use text, number, date, boolean or textList");
                return;
            }

            var field = registry.Find(condition.Field, condition.ValueType);
            if (field is null)
            {
                errors.Add(path + ".field", "unknown-field", isAttribute
                    ? $"{InputText.Quote(condition.Field)} is not a valid attribute key (a letter, then up to 63 letters, digits, '_', '.' or '-')"
                    : $"{InputText.Quote(condition.Field)} is not a known field");
                return;
            }

            if (!isAttribute && condition.ValueType is { } declared && declared != field.Type)
            {
                errors.Add(path + ".type", "type-mismatch", $"field '{field.Name}' is {Names.Type(field.Type)}, not {Names.Type(declared)}");
            }

            if (!Operators.IsAllowed(field.Type, condition.Operator))
            {
                errors.Add(path + ".op", "operator-not-allowed", $"'{Names.Operator(condition.Operator)}' cannot be used on {Names.Type(field.Type)} field '{field.Name}'; allowed: {string.Join(", ", Operators.For(field.Type).Select(Names.Operator))}");
                return;
            }

            CheckRelative(condition, path);
            CheckValues(field, condition, path);
        }

        private void CheckRelative(RuleCondition condition, string path)
        {
            if (Operators.IsRelative(condition.Operator))
            {
                // Every relative date lies within 100 years of now, so that no evaluation can leave the calendar.
                var max = condition.Unit switch { RelativeDateUnit.Weeks => MaxAmountWeeks, RelativeDateUnit.Months => MaxAmountMonths, _ => MaxAmount };
                if (condition.Amount is not { } amount)
                {
                    errors.Add(path + ".amount", "required", $"'{Names.Operator(condition.Operator)}' needs an amount");
                }
                else if (amount < 0 || amount > max)
                {
                    errors.Add(path + ".amount", "range", $"must be between 0 and {max} {(condition.Unit is { } u && Enum.IsDefined(u) ? Names.Unit(u) : "days")}, at most 100 years (was {amount})");
                }

                if (condition.Unit is not { } unit)
                {
                    errors.Add(path + ".unit", "required", $"'{Names.Operator(condition.Operator)}' needs a unit: days, weeks or months");
                }
                else if (!Enum.IsDefined(unit))
                {
                    errors.Add(path + ".unit", "defined-value", "must be days, weeks or months");
                }
            }
            else
            {
                if (condition.Amount is not null)
                {
                    errors.Add(path + ".amount", "not-allowed", $"only relative date operators take an amount, not '{Names.Operator(condition.Operator)}'");
                }

                if (condition.Unit is not null)
                {
                    errors.Add(path + ".unit", "not-allowed", $"only relative date operators take a unit, not '{Names.Operator(condition.Operator)}'");
                }
            }
        }

        private void CheckValues(SegmentField field, RuleCondition condition, string path)
        {
            var values = condition.Values ?? [];
            var (min, max) = Operators.ValueCount(condition.Operator);
            var single = max == 1;
            var valuesPath = single ? path + ".value" : path + ".values";
            if (values.Count < min || values.Count > max)
            {
                var expected = (min, max) switch
                {
                    (0, 0) => "no value",
                    (1, 1) => "exactly one value",
                    (2, 2) => "exactly two values",
                    _ => $"between {min} and {max} values",
                };
                errors.Add(valuesPath, values.Count > MaxValues ? "max-count" : "value-count", $"'{Names.Operator(condition.Operator)}' needs {expected} (got {values.Count})");
                return;
            }

            for (var i = 0; i < values.Count; i++)
            {
                CheckValue(field, condition.Operator, values[i], single ? valuesPath : $"{valuesPath}[{i}]");
            }

            if (condition.Operator == RuleOperator.Between && !errors.HasErrorsAt(valuesPath) && RuleValues.Compare(field, values[0], values[1]) > 0)
            {
                errors.Add(valuesPath, "range-order", "the first value must not be greater than the second");
            }
        }

        private void CheckValue(SegmentField field, RuleOperator op, RuleValue value, string path)
        {
            if (value.Kind == RuleValueKind.Text)
            {
                // The length and encoding every text field is held to; a value that fails them is not read further.
                var before = errors.Errors.Count;
                errors.Text(path, value.Text, MaxTextLength);
                if (errors.Errors.Count > before)
                {
                    return;
                }
            }

            switch (field.Type)
            {
                case SegmentValueType.Text or SegmentValueType.TextList:
                    if (value.Kind != RuleValueKind.Text || value.Text!.Length == 0)
                    {
                        errors.Add(path, "value-type", "must be a non-empty string");
                    }

                    break;
                case SegmentValueType.Number:
                    if (value.Kind != RuleValueKind.Number)
                    {
                        errors.Add(path, "value-type", "must be a number");
                    }
                    else if (RuleValues.IsWholeNumberField(field) && (decimal.Truncate(value.Number) != value.Number || value.Number < long.MinValue || value.Number > long.MaxValue))
                    {
                        errors.Add(path, "whole-number", $"field '{field.Name}' holds whole numbers; {value.Number.ToString(CultureInfo.InvariantCulture)} is not one");
                    }

                    break;
                case SegmentValueType.Date:
                    if (value.Kind != RuleValueKind.Text || !RuleValues.TryParseDate(value.Text!, out var date))
                    {
                        errors.Add(path, "bad-date", "must be a day (yyyy-MM-dd) or an ISO 8601 instant (2026-05-01T09:30:00Z)");
                    }
                    else if (!RuleValues.IsWithinWindow(date))
                    {
                        errors.Add(path, "date-range", $"must lie between {EarliestDate:yyyy-MM-dd} and {LatestDate:yyyy-MM-dd}");
                    }
                    else if (op == RuleOperator.On && !date.IsDay)
                    {
                        errors.Add(path, "day-required", "'on' takes a day (yyyy-MM-dd), not an instant");
                    }

                    break;
                case SegmentValueType.Boolean:
                    if (value.Kind != RuleValueKind.Boolean)
                    {
                        errors.Add(path, "value-type", "must be true or false");
                    }

                    break;
                case SegmentValueType.Choice:
                    if (value.Kind != RuleValueKind.Text || RuleValues.ChoiceIndex(field, value.Text!) < 0)
                    {
                        errors.Add(path, "unknown-choice", $"must be one of: {string.Join(", ", field.Choices)}");
                    }

                    break;
                case SegmentValueType.Segment:
                    if (value.Kind != RuleValueKind.Text || !Guid.TryParse(value.Text, out _))
                    {
                        errors.Add(path, "bad-id", "must be a segment id (a GUID)");
                    }

                    break;
            }
        }
    }

    internal static string GroupName(RuleGroupKind kind) => kind switch
    {
        RuleGroupKind.All => "all",
        RuleGroupKind.Any => "any",
        _ => "none",
    };
}

/// <summary>Which operators each type takes, and how many values each needs.</summary>
internal static class Operators
{
    private static readonly RuleOperator[] TextOps = [RuleOperator.Equals, RuleOperator.NotEquals, RuleOperator.In, RuleOperator.NotIn, RuleOperator.Contains, RuleOperator.StartsWith, RuleOperator.EndsWith, RuleOperator.IsSet, RuleOperator.IsNotSet];
    private static readonly RuleOperator[] NumberOps = [RuleOperator.Equals, RuleOperator.NotEquals, RuleOperator.In, RuleOperator.NotIn, RuleOperator.GreaterThan, RuleOperator.GreaterThanOrEqual, RuleOperator.LessThan, RuleOperator.LessThanOrEqual, RuleOperator.Between, RuleOperator.IsSet, RuleOperator.IsNotSet];
    private static readonly RuleOperator[] DateOps = [RuleOperator.Before, RuleOperator.After, RuleOperator.On, RuleOperator.Between, RuleOperator.WithinLast, RuleOperator.MoreThanAgo, RuleOperator.WithinNext, RuleOperator.IsSet, RuleOperator.IsNotSet];
    private static readonly RuleOperator[] BooleanOps = [RuleOperator.Equals, RuleOperator.NotEquals, RuleOperator.IsSet, RuleOperator.IsNotSet];
    private static readonly RuleOperator[] ChoiceOps = [RuleOperator.Equals, RuleOperator.NotEquals, RuleOperator.In, RuleOperator.NotIn];
    private static readonly RuleOperator[] ListOps = [RuleOperator.HasAny, RuleOperator.HasAll, RuleOperator.HasNone, RuleOperator.IsSet, RuleOperator.IsNotSet];
    private static readonly RuleOperator[] SegmentOps = [RuleOperator.MemberOf, RuleOperator.NotMemberOf];

    public static IReadOnlyList<RuleOperator> For(SegmentValueType type) => type switch
    {
        SegmentValueType.Text => TextOps,
        SegmentValueType.Number => NumberOps,
        SegmentValueType.Date => DateOps,
        SegmentValueType.Boolean => BooleanOps,
        SegmentValueType.Choice => ChoiceOps,
        SegmentValueType.TextList => ListOps,
        SegmentValueType.Segment => SegmentOps,
        _ => [],
    };

    public static bool IsAllowed(SegmentValueType type, RuleOperator op) => For(type).Contains(op);

    public static bool IsRelative(RuleOperator op) => op is RuleOperator.WithinLast or RuleOperator.MoreThanAgo or RuleOperator.WithinNext;

    public static (int Min, int Max) ValueCount(RuleOperator op) => op switch
    {
        RuleOperator.IsSet or RuleOperator.IsNotSet or RuleOperator.WithinLast or RuleOperator.MoreThanAgo or RuleOperator.WithinNext => (0, 0),
        RuleOperator.Between => (2, 2),
        RuleOperator.In or RuleOperator.NotIn or RuleOperator.HasAny or RuleOperator.HasAll or RuleOperator.HasNone => (1, SegmentRuleValidator.MaxValues),
        _ => (1, 1),
    };

    /// <summary>Negative operators are evaluated as the negation of their positive twin, so "not set" counts as a match.</summary>
    public static RuleOperator? PositiveOf(RuleOperator op) => op switch
    {
        RuleOperator.NotEquals => RuleOperator.Equals,
        RuleOperator.NotIn => RuleOperator.In,
        RuleOperator.IsNotSet => RuleOperator.IsSet,
        RuleOperator.HasNone => RuleOperator.HasAny,
        RuleOperator.NotMemberOf => RuleOperator.MemberOf,
        _ => null,
    };
}

/// <summary>Names as JSON writes them.</summary>
internal static class Names
{
    public static string Operator(RuleOperator op) => System.Text.Json.JsonNamingPolicy.CamelCase.ConvertName(op.ToString());

    public static string Type(SegmentValueType type) => System.Text.Json.JsonNamingPolicy.CamelCase.ConvertName(type.ToString());

    public static string Unit(RelativeDateUnit unit) => System.Text.Json.JsonNamingPolicy.CamelCase.ConvertName(unit.ToString());
}

/// <summary>A date literal: a calendar day, or an instant.</summary>
internal readonly record struct DateLiteral(bool IsDay, DateOnly Day, DateTimeOffset Instant);

/// <summary>Reading literals the way the validator and the compilers agree on.</summary>
internal static class RuleValues
{
    public static bool TryParseDate(string text, out DateLiteral date)
    {
        if (text.Length == 10 && DateOnly.TryParseExact(text, "yyyy-MM-dd", CultureInfo.InvariantCulture, DateTimeStyles.None, out var day))
        {
            date = new DateLiteral(true, day, default);
            return true;
        }

        if (text.Length is > 10 and <= 40 && text[10] == 'T' &&
            DateTimeOffset.TryParse(text, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var instant))
        {
            date = new DateLiteral(false, default, instant);
            return true;
        }

        date = default;
        return false;
    }

    /// <summary>Whether a date value lies within the window the validator allows (an instant by its UTC day).</summary>
    public static bool IsWithinWindow(DateLiteral date)
    {
        var day = date.IsDay ? date.Day : DateOnly.FromDateTime(date.Instant.UtcDateTime);
        return day >= SegmentRuleValidator.EarliestDate && day <= SegmentRuleValidator.LatestDate;
    }

    public static bool IsWholeNumberField(SegmentField field) =>
        Nullable.GetUnderlyingType(field.ValueClrType ?? typeof(decimal)) is { } inner ? inner != typeof(decimal) : field.ValueClrType != typeof(decimal);

    public static int ChoiceIndex(SegmentField field, string name)
    {
        for (var i = 0; i < field.Choices.Count; i++)
        {
            if (string.Equals(field.Choices[i], name, StringComparison.OrdinalIgnoreCase))
            {
                return i;
            }
        }

        return -1;
    }

    /// <summary>The enum value a choice name stands for.</summary>
    public static object ChoiceValue(SegmentField field, string name) =>
        Enum.GetValues(field.ChoiceType!).GetValue(ChoiceIndex(field, name))!;

    /// <summary>Orders two valid literals of a number or date field (dates by their start).</summary>
    public static int Compare(SegmentField field, RuleValue a, RuleValue b) => field.Type switch
    {
        SegmentValueType.Number => a.Number.CompareTo(b.Number),
        SegmentValueType.Date when TryParseDate(a.Text!, out var x) && TryParseDate(b.Text!, out var y) =>
            Start(x).CompareTo(Start(y)),
        _ => 0,
    };

    // Comparing a day with an instant needs a zone; the day's UTC midnight is close enough to catch reversed ranges.
    private static DateTimeOffset Start(DateLiteral date) => date.IsDay ? new DateTimeOffset(date.Day.ToDateTime(TimeOnly.MinValue), TimeSpan.Zero) : date.Instant;
}
