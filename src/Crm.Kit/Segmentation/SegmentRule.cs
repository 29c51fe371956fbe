using System.Globalization;

namespace Crm.Kit.Segmentation;

/// <summary>How a group combines the rules inside it.</summary>
public enum RuleGroupKind
{
    /// <summary>Every rule must hold.</summary>
    All = 0,

    /// <summary>At least one rule must hold.</summary>
    Any = 1,

    /// <summary>No rule may hold.</summary>
    None = 2,
}

/// <summary>What a condition tests. Which operators a field accepts depends on its <see cref="SegmentValueType"/>.</summary>
public enum RuleOperator
{
    /// <summary>Equal to the value (text compares case-insensitively).</summary>
    Equals = 0,

    /// <summary>Not equal to the value; also true when the field is not set.</summary>
    NotEquals,

    /// <summary>Equal to one of the values.</summary>
    In,

    /// <summary>Equal to none of the values; also true when the field is not set.</summary>
    NotIn,

    /// <summary>Greater than the value.</summary>
    GreaterThan,

    /// <summary>Greater than or equal to the value.</summary>
    GreaterThanOrEqual,

    /// <summary>Less than the value.</summary>
    LessThan,

    /// <summary>Less than or equal to the value.</summary>
    LessThanOrEqual,

    /// <summary>Between two values, both included (for dates given as days: from the start of the first to the end of the second).</summary>
    Between,

    /// <summary>The text contains the value, case-insensitively.</summary>
    Contains,

    /// <summary>The text starts with the value, case-insensitively.</summary>
    StartsWith,

    /// <summary>The text ends with the value, case-insensitively.</summary>
    EndsWith,

    /// <summary>The field has a value (for tags: at least one tag).</summary>
    IsSet,

    /// <summary>The field has no value.</summary>
    IsNotSet,

    /// <summary>The date is before the value (before the start of the day, for a day).</summary>
    Before,

    /// <summary>The date is after the value (after the end of the day, for a day).</summary>
    After,

    /// <summary>The date falls on the given day.</summary>
    On,

    /// <summary>The date lies between <see cref="RuleCondition.Amount"/> units ago and now.</summary>
    WithinLast,

    /// <summary>The date lies more than <see cref="RuleCondition.Amount"/> units before now.</summary>
    MoreThanAgo,

    /// <summary>The date lies between now and <see cref="RuleCondition.Amount"/> units ahead.</summary>
    WithinNext,

    /// <summary>The customer has at least one of the tags.</summary>
    HasAny,

    /// <summary>The customer has every one of the tags.</summary>
    HasAll,

    /// <summary>The customer has none of the tags.</summary>
    HasNone,

    /// <summary>The customer is a member of the segment or static list whose id is the value.</summary>
    MemberOf,

    /// <summary>The customer is not a member of the segment or static list whose id is the value.</summary>
    NotMemberOf,
}

/// <summary>The unit of a relative date condition.</summary>
public enum RelativeDateUnit
{
    /// <summary>Days.</summary>
    Days = 0,

    /// <summary>Weeks of seven days.</summary>
    Weeks = 1,

    /// <summary>Calendar months.</summary>
    Months = 2,
}

/// <summary>The kind of a <see cref="RuleValue"/>, as it would appear in JSON.</summary>
public enum RuleValueKind
{
    /// <summary>A string (also used for dates, ids and choices).</summary>
    Text = 0,

    /// <summary>A number.</summary>
    Number = 1,

    /// <summary>A boolean.</summary>
    Boolean = 2,
}

/// <summary>
/// One literal in a condition, kept as JSON would hold it: a string, a number or a boolean. Dates are strings
/// (<c>2026-05-01</c> for a day, ISO 8601 with an offset for an instant); the field decides how a value is read.
/// </summary>
public readonly record struct RuleValue
{
    private RuleValue(RuleValueKind kind, string? text, decimal number, bool boolean)
    {
        Kind = kind;
        Text = text;
        Number = number;
        Boolean = boolean;
    }

    /// <summary>The kind of literal.</summary>
    public RuleValueKind Kind { get; }

    /// <summary>The string, for <see cref="RuleValueKind.Text"/>.</summary>
    public string? Text { get; }

    /// <summary>The number, for <see cref="RuleValueKind.Number"/>.</summary>
    public decimal Number { get; }

    /// <summary>The flag, for <see cref="RuleValueKind.Boolean"/>.</summary>
    public bool Boolean { get; }

    /// <summary>A string value.</summary>
    public static RuleValue FromText(string text) => new(RuleValueKind.Text, text ?? throw new ArgumentNullException(nameof(text)), 0, false);

    /// <summary>A number value.</summary>
    public static RuleValue FromNumber(decimal number) => new(RuleValueKind.Number, null, number, false);

    /// <summary>A boolean value.</summary>
    public static RuleValue FromBoolean(bool boolean) => new(RuleValueKind.Boolean, null, 0, boolean);

    /// <summary>A day, written <c>yyyy-MM-dd</c>.</summary>
    public static RuleValue FromDate(DateOnly day) => FromText(day.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture));

    /// <summary>An instant, written in ISO 8601 round-trip form.</summary>
    public static RuleValue FromInstant(DateTimeOffset instant) => FromText(instant.ToString("O", CultureInfo.InvariantCulture));

    /// <summary>A segment or list id.</summary>
    public static RuleValue FromId(Guid id) => FromText(id.ToString("D"));

    /// <summary>Converts a string.</summary>
    public static implicit operator RuleValue(string text) => FromText(text);

    /// <summary>Converts a number.</summary>
    public static implicit operator RuleValue(decimal number) => FromNumber(number);

    /// <summary>Converts a whole number.</summary>
    public static implicit operator RuleValue(int number) => FromNumber(number);

    /// <summary>Converts a boolean.</summary>
    public static implicit operator RuleValue(bool boolean) => FromBoolean(boolean);

    /// <summary>Converts a day.</summary>
    public static implicit operator RuleValue(DateOnly day) => FromDate(day);

    /// <summary>Converts an instant.</summary>
    public static implicit operator RuleValue(DateTimeOffset instant) => FromInstant(instant);

    /// <summary>Converts an id.</summary>
    public static implicit operator RuleValue(Guid id) => FromId(id);

    /// <inheritdoc />
    public override string ToString() => Kind switch
    {
        RuleValueKind.Text => Text!,
        RuleValueKind.Number => Number.ToString(CultureInfo.InvariantCulture),
        _ => Boolean ? "true" : "false",
    };
}

/// <summary>
/// A node of a segment rule: a <see cref="RuleGroup"/> or a <see cref="RuleCondition"/>. Rules are immutable
/// values; build them with <see cref="Rule"/> in C# or read them with <see cref="SegmentRuleJson"/>.
/// </summary>
public abstract record SegmentRule
{
    private protected SegmentRule()
    {
    }

    /// <summary>The rule in the documented JSON format.</summary>
    public override string ToString() => SegmentRuleJson.Serialize(this);
}

/// <summary>A group of rules combined with all, any or none.</summary>
public sealed record RuleGroup : SegmentRule
{
    /// <summary>Creates a group.</summary>
    public RuleGroup(RuleGroupKind kind, IReadOnlyList<SegmentRule> rules)
    {
        Kind = kind;
        Rules = rules ?? throw new ArgumentNullException(nameof(rules));
    }

    /// <summary>How the rules combine.</summary>
    public RuleGroupKind Kind { get; }

    /// <summary>The rules in the group.</summary>
    public IReadOnlyList<SegmentRule> Rules { get; }

    /// <inheritdoc />
    public bool Equals(RuleGroup? other) =>
        other is not null && Kind == other.Kind && Rules.SequenceEqual(other.Rules);

    /// <inheritdoc />
    public override int GetHashCode() => HashCode.Combine(Kind, Rules.Count);

    /// <inheritdoc />
    public override string ToString() => base.ToString();
}

/// <summary>One test on one field.</summary>
public sealed record RuleCondition : SegmentRule
{
    /// <summary>Creates a condition.</summary>
    /// <param name="field">The field name, for example <c>orderCount</c>, <c>tags</c> or <c>attributes.plan</c>.</param>
    /// <param name="operator">The operator.</param>
    /// <param name="values">The values the operator needs: none, one, or several.</param>
    public RuleCondition(string field, RuleOperator @operator, params IReadOnlyList<RuleValue> values)
    {
        Field = field ?? throw new ArgumentNullException(nameof(field));
        Operator = @operator;
        Values = values ?? throw new ArgumentNullException(nameof(values));
    }

    /// <summary>The field tested.</summary>
    public string Field { get; }

    /// <summary>The operator.</summary>
    public RuleOperator Operator { get; }

    /// <summary>The values compared against.</summary>
    public IReadOnlyList<RuleValue> Values { get; }

    /// <summary>For relative date operators: how many units.</summary>
    public int? Amount { get; init; }

    /// <summary>For relative date operators: the unit.</summary>
    public RelativeDateUnit? Unit { get; init; }

    /// <summary>
    /// For custom attributes (<c>attributes.&lt;key&gt;</c>): the attribute's type, which decides the operators
    /// allowed. An attribute stored with another type does not match.
    /// </summary>
    public SegmentValueType? ValueType { get; init; }

    /// <inheritdoc />
    public bool Equals(RuleCondition? other) =>
        other is not null && Field == other.Field && Operator == other.Operator && Values.SequenceEqual(other.Values) &&
        Amount == other.Amount && Unit == other.Unit && ValueType == other.ValueType;

    /// <inheritdoc />
    public override int GetHashCode() => HashCode.Combine(Field, Operator, Values.Count, Amount, Unit, ValueType);

    /// <inheritdoc />
    public override string ToString() => base.ToString();
}

/// <summary>Builds rules in C#: <c>Rule.All(Rule.Field("orderCount").GreaterThan(3), Rule.Field("tags").HasAny("vip"))</c>.</summary>
public static class Rule
{
    /// <summary>A group in which every rule must hold.</summary>
    public static RuleGroup All(params SegmentRule[] rules) => new(RuleGroupKind.All, rules);

    /// <summary>A group in which at least one rule must hold.</summary>
    public static RuleGroup Any(params SegmentRule[] rules) => new(RuleGroupKind.Any, rules);

    /// <summary>A group in which no rule may hold.</summary>
    public static RuleGroup None(params SegmentRule[] rules) => new(RuleGroupKind.None, rules);

    /// <summary>Starts a condition on a field.</summary>
    public static RuleField Field(string name) => new(name, null);

    /// <summary>Starts a condition on a custom attribute of the given type.</summary>
    public static RuleField Attribute(string key, SegmentValueType type) => new(SegmentFieldNames.AttributePrefix + key, type);

    /// <summary>A condition that the customer may be contacted on a channel for a purpose.</summary>
    public static RuleCondition HasConsent(Customers.ContactChannel channel, Customers.ConsentPurpose purpose) =>
        Field(SegmentFieldNames.Consent(channel, purpose)).IsTrue();

    /// <summary>A condition that the customer is a member of a segment or static list.</summary>
    public static RuleCondition MemberOf(Guid segmentId) => new(SegmentFieldNames.Segment, RuleOperator.MemberOf, RuleValue.FromId(segmentId));

    /// <summary>A condition that the customer is not a member of a segment or static list.</summary>
    public static RuleCondition NotMemberOf(Guid segmentId) => new(SegmentFieldNames.Segment, RuleOperator.NotMemberOf, RuleValue.FromId(segmentId));
}

/// <summary>A field chosen in <see cref="Rule.Field"/>, waiting for its operator.</summary>
public readonly struct RuleField
{
    private readonly string _name;
    private readonly SegmentValueType? _type;

    internal RuleField(string name, SegmentValueType? type)
    {
        _name = name ?? throw new ArgumentNullException(nameof(name));
        _type = type;
    }

    private RuleCondition Make(RuleOperator op, params RuleValue[] values) => new(_name, op, values) { ValueType = _type };

    private RuleCondition Relative(RuleOperator op, int amount, RelativeDateUnit unit) => new(_name, op) { ValueType = _type, Amount = amount, Unit = unit };

    /// <summary>Equal to the value.</summary>
    public RuleCondition EqualTo(RuleValue value) => Make(RuleOperator.Equals, value);

    /// <summary>Not equal to the value (or not set).</summary>
    public RuleCondition NotEqualTo(RuleValue value) => Make(RuleOperator.NotEquals, value);

    /// <summary>Is <see langword="true"/>.</summary>
    public RuleCondition IsTrue() => Make(RuleOperator.Equals, true);

    /// <summary>Is <see langword="false"/>.</summary>
    public RuleCondition IsFalse() => Make(RuleOperator.Equals, false);

    /// <summary>One of the values.</summary>
    public RuleCondition In(params RuleValue[] values) => Make(RuleOperator.In, values);

    /// <summary>None of the values (or not set).</summary>
    public RuleCondition NotIn(params RuleValue[] values) => Make(RuleOperator.NotIn, values);

    /// <summary>Greater than the value.</summary>
    public RuleCondition GreaterThan(RuleValue value) => Make(RuleOperator.GreaterThan, value);

    /// <summary>Greater than or equal to the value.</summary>
    public RuleCondition AtLeast(RuleValue value) => Make(RuleOperator.GreaterThanOrEqual, value);

    /// <summary>Less than the value.</summary>
    public RuleCondition LessThan(RuleValue value) => Make(RuleOperator.LessThan, value);

    /// <summary>Less than or equal to the value.</summary>
    public RuleCondition AtMost(RuleValue value) => Make(RuleOperator.LessThanOrEqual, value);

    /// <summary>Between two values, both included.</summary>
    public RuleCondition Between(RuleValue low, RuleValue high) => Make(RuleOperator.Between, low, high);

    /// <summary>Contains the text, case-insensitively.</summary>
    public RuleCondition Contains(string text) => Make(RuleOperator.Contains, text);

    /// <summary>Starts with the text, case-insensitively.</summary>
    public RuleCondition StartsWith(string text) => Make(RuleOperator.StartsWith, text);

    /// <summary>Ends with the text, case-insensitively.</summary>
    public RuleCondition EndsWith(string text) => Make(RuleOperator.EndsWith, text);

    /// <summary>Has a value.</summary>
    public RuleCondition IsSet() => Make(RuleOperator.IsSet);

    /// <summary>Has no value.</summary>
    public RuleCondition IsNotSet() => Make(RuleOperator.IsNotSet);

    /// <summary>Before the day or instant.</summary>
    public RuleCondition Before(RuleValue date) => Make(RuleOperator.Before, date);

    /// <summary>After the day or instant.</summary>
    public RuleCondition After(RuleValue date) => Make(RuleOperator.After, date);

    /// <summary>On the day.</summary>
    public RuleCondition On(DateOnly day) => Make(RuleOperator.On, day);

    /// <summary>Within the last <paramref name="amount"/> units.</summary>
    public RuleCondition WithinLast(int amount, RelativeDateUnit unit) => Relative(RuleOperator.WithinLast, amount, unit);

    /// <summary>More than <paramref name="amount"/> units ago.</summary>
    public RuleCondition MoreThanAgo(int amount, RelativeDateUnit unit) => Relative(RuleOperator.MoreThanAgo, amount, unit);

    /// <summary>Within the next <paramref name="amount"/> units.</summary>
    public RuleCondition WithinNext(int amount, RelativeDateUnit unit) => Relative(RuleOperator.WithinNext, amount, unit);

    /// <summary>Has at least one of the tags.</summary>
    public RuleCondition HasAny(params RuleValue[] tags) => Make(RuleOperator.HasAny, tags);

    /// <summary>Has every one of the tags.</summary>
    public RuleCondition HasAll(params RuleValue[] tags) => Make(RuleOperator.HasAll, tags);

    /// <summary>Has none of the tags.</summary>
    public RuleCondition HasNone(params RuleValue[] tags) => Make(RuleOperator.HasNone, tags);
}
