using System.Linq.Expressions;
using System.Reflection;

namespace Crm.Kit.Segmentation;

/// <summary>
/// The values a compiled rule reads at evaluation time. Every literal of a rule lives here rather than in the
/// expression tree as a constant, for two reasons: a database provider turns each array element into a SQL
/// parameter (never a literal spliced into SQL text), and the times relative to "now" can be recomputed for
/// each evaluation without compiling again. The arrays are shared by every evaluation of one compiled rule: read
/// them, never write to them.
/// </summary>
public sealed class RuleArguments
{
    internal RuleArguments(long nowTicks, long[] longs, decimal[] decimals, int[] ints, string[] texts, bool[] booleans, Guid[] ids, object[] sets, ISegmentMembershipLookup? members)
    {
        NowTicks = nowTicks;
        Longs = longs;
        Decimals = decimals;
        Ints = ints;
        Texts = texts;
        Booleans = booleans;
        Ids = ids;
        Sets = sets;
        Members = members;
    }

    /// <summary>The evaluation time, UTC ticks.</summary>
    public long NowTicks { get; }

    /// <summary>Whole numbers and times (UTC ticks).</summary>
    public long[] Longs { get; }

    /// <summary>Decimal numbers.</summary>
    public decimal[] Decimals { get; }

    /// <summary>Small whole numbers and choices.</summary>
    public int[] Ints { get; }

    /// <summary>Folded texts.</summary>
    public string[] Texts { get; }

    /// <summary>Flags.</summary>
    public bool[] Booleans { get; }

    /// <summary>Segment ids.</summary>
    public Guid[] Ids { get; }

    /// <summary>Typed arrays for <c>in</c> and <c>hasAny</c>.</summary>
    public object[] Sets { get; }

    /// <summary>Static list membership, for in-memory evaluation.</summary>
    public ISegmentMembershipLookup? Members { get; }

    /// <summary>Whether the customer is on the static list (compiled rules call this).</summary>
    /// <exception cref="InvalidOperationException">The arguments were bound without a membership lookup.</exception>
    public bool IsMember(Guid segmentId, Guid customerId) =>
        (Members ?? throw new InvalidOperationException("This rule refers to a static list; bind its arguments with a membership lookup.")).Contains(segmentId, customerId);
}

/// <summary>Answers "is this customer on that static list" synchronously, for rules evaluated in memory.</summary>
public interface ISegmentMembershipLookup
{
    /// <summary>Whether <paramref name="customerId"/> is a member of <paramref name="segmentId"/>.</summary>
    bool Contains(Guid segmentId, Guid customerId);
}

/// <summary>
/// Where a rule is evaluated: in memory over <see cref="Customers.Customer"/>, or by an adapter over its own rows.
/// A target reads fields and tests text, lists and membership its own way; everything else (operators, null
/// handling, dates, negation) is built once, by <see cref="RuleExpressionBuilder"/>, for every target.
/// </summary>
internal abstract class RuleTarget
{
    /// <summary>What stands for one customer: the lambda's parameter, or (in a scan) the current row's customer.</summary>
    public abstract Expression Subject { get; }

    /// <summary>
    /// Whether a group's conditions should be tested cheapest first rather than in the order written. Worth it
    /// where the expression runs as written (in memory); a database plans the order itself.
    /// </summary>
    public virtual bool OrdersByCost => false;

    /// <summary>
    /// What walking a collection the customer holds (tags, attributes) adds to a condition's cost when conditions
    /// are ordered: nothing by default; a target that reads other fields inline makes the walk dearer than them.
    /// </summary>
    public virtual int CollectionWalkCost => 0;

    /// <summary>An expression of type <see cref="RuleArguments"/>.</summary>
    public abstract Expression Arguments { get; }

    /// <summary>
    /// Applies <paramref name="test"/> to the field's value (typed as <see cref="SegmentField.ValueClrType"/>;
    /// text already in the form <see cref="Text"/> expects). A target that stores a field in another table wraps
    /// the test in a subquery.
    /// </summary>
    public abstract Expression Scalar(SegmentField field, Func<Expression, Expression> test);

    /// <summary>Tests text: <paramref name="op"/> is Equals, In (argument: string[]), Contains, StartsWith, EndsWith or IsSet (no argument).</summary>
    public abstract Expression Text(RuleOperator op, Expression value, Expression? argument);

    /// <summary>Whether a text-list field holds any of the folded texts in <paramref name="foldedSet"/> (string[]).</summary>
    public abstract Expression ListHasAny(SegmentField field, Expression foldedSet);

    /// <summary>
    /// Whether a text-list field holds every one of the <paramref name="count"/> distinct folded texts in
    /// <paramref name="foldedSet"/> (string[]), tested at once; <see langword="null"/> when the target has no such
    /// test, and the builder tests each text in turn. A database target counts the matching rows in one subquery
    /// rather than running one subquery per text.
    /// </summary>
    public virtual Expression? ListHasAll(SegmentField field, Expression foldedSet, int count) => null;

    /// <summary>Whether a text-list field holds at least one text.</summary>
    public abstract Expression ListIsSet(SegmentField field);

    /// <summary>Whether the customer is on the static list <paramref name="segmentId"/> (a <see cref="Guid"/> expression).</summary>
    public abstract Expression MemberOf(Expression segmentId);

    /// <summary>
    /// Binds <paramref name="value"/> once for a body that reads it several times (a null check, then two
    /// comparisons). In memory this saves reading the field three times; a query provider sees the value inlined.
    /// </summary>
    public virtual Expression Let(Expression value, Func<Expression, Expression> body) => body(value);

    /// <summary>The field's value, read the standard way from a lambda over the subject (and the time).</summary>
    protected Expression Inline(LambdaExpression read) => read.Parameters.Count == 2
        ? ParameterReplacer.Replace(read, Subject, Expression.Property(Arguments, nameof(RuleArguments.NowTicks)))
        : ParameterReplacer.Replace(read, Subject);
}

/// <summary>Inlines a lambda: its body with each parameter replaced by the given expression.</summary>
internal sealed class ParameterReplacer(IReadOnlyList<ParameterExpression> from, IReadOnlyList<Expression> to) : ExpressionVisitor
{
    public static Expression Replace(LambdaExpression lambda, params Expression[] arguments) =>
        new ParameterReplacer(lambda.Parameters, arguments).Visit(lambda.Body);

    protected override Expression VisitParameter(ParameterExpression node)
    {
        for (var i = 0; i < from.Count; i++)
        {
            if (node == from[i])
            {
                return to[i];
            }
        }

        return node;
    }
}

/// <summary>A validated rule made ready to evaluate: the predicate's body and how to fill its arguments.</summary>
internal sealed class RuleArgumentsTemplate
{
    private readonly List<long> _longs = [];
    private readonly List<decimal> _decimals = [];
    private readonly List<int> _ints = [];
    private readonly List<string> _texts = [];
    private readonly List<bool> _booleans = [];
    private readonly List<Guid> _ids = [];
    private readonly List<object> _sets = [];
    private readonly List<(int Index, Func<DateTimeOffset, long> Compute)> _times = [];
    private RuleArguments? _frozen;

    /// <summary>
    /// The arguments at <paramref name="now"/>. The literals never change once the rule is built, so they are
    /// copied into arrays once and shared by every binding; only times relative to now get a fresh array.
    /// </summary>
    public RuleArguments Bind(DateTimeOffset now, ISegmentMembershipLookup? members)
    {
        var frozen = _frozen ??= new RuleArguments(0, [.. _longs], [.. _decimals], [.. _ints], [.. _texts], [.. _booleans], [.. _ids], [.. _sets], null);
        var longs = frozen.Longs;
        if (_times.Count > 0)
        {
            longs = [.. longs];
            foreach (var (index, compute) in _times)
            {
                longs[index] = compute(now);
            }
        }

        return new RuleArguments(now.UtcTicks, longs, frozen.Decimals, frozen.Ints, frozen.Texts, frozen.Booleans, frozen.Ids, frozen.Sets, members);
    }

    public int Long(long value) => Add(_longs, value);

    public int Time(Func<DateTimeOffset, long> compute)
    {
        var index = Add(_longs, 0L);
        _times.Add((index, compute));
        return index;
    }

    public int Decimal(decimal value) => Add(_decimals, value);

    public int Int(int value) => Add(_ints, value);

    public int Text(string value) => Add(_texts, value);

    public int Boolean(bool value) => Add(_booleans, value);

    public int Id(Guid value) => Add(_ids, value);

    public int Set(object array) => Add(_sets, array);

    private static int Add<T>(List<T> list, T value)
    {
        list.Add(value);
        return list.Count - 1;
    }
}

/// <summary>Builds one boolean expression from a validated rule for a <see cref="RuleTarget"/>.</summary>
internal sealed class RuleExpressionBuilder
{
    private static readonly MethodInfo ContainsMethod = typeof(Enumerable).GetMethods(BindingFlags.Public | BindingFlags.Static)
        .Single(m => m.Name == nameof(Enumerable.Contains) && m.GetParameters().Length == 2);

    private readonly SegmentFieldRegistry _registry;
    private readonly TimeZoneInfo _zone;
    private readonly RuleTarget _target;
    private readonly RuleArgumentsTemplate _template;

    public RuleExpressionBuilder(SegmentFieldRegistry registry, TimeZoneInfo zone, RuleTarget target, RuleArgumentsTemplate template)
    {
        _registry = registry;
        _zone = zone;
        _target = target;
        _template = template;
    }

    /// <summary>Up to this many values, "in" becomes a chain of equalities: cheaper than a set lookup in memory, and plain SQL.</summary>
    private const int InlineInLimit = 8;

    public Expression Build(SegmentRule rule) => rule switch
    {
        RuleGroup group => Group(group),
        RuleCondition condition => Condition(condition),
        _ => throw new ArgumentException($"Unknown rule node {rule.GetType().Name}.", nameof(rule)),
    };

    private Expression Group(RuleGroup group)
    {
        var parts = group.Rules.Select(Build).ToList();
        if (_target.OrdersByCost && parts.Count > 1)
        {
            // Conditions are pure, so all/any/none give the same answer in any order; testing the cheap ones first
            // means the dear ones (calls, lists, nested groups) run only for the customers the cheap ones let through.
            parts = [.. parts.OrderBy(part => RuleCost.Of(part, _target.CollectionWalkCost))];
        }

        return group.Kind switch
        {
            RuleGroupKind.All => Balanced(parts, Expression.AndAlso),
            RuleGroupKind.Any => Balanced(parts, Expression.OrElse),
            _ => Expression.Not(Balanced(parts, Expression.OrElse)),
        };
    }

    /// <summary>
    /// Combines the parts as a balanced tree rather than a chain: a chain of a thousand conditions is a thousand
    /// deep, past what SQL translators and the expression compiler accept; a balanced tree is ten deep. Evaluation
    /// order and short-circuiting stay as the parts are listed.
    /// </summary>
    private static Expression Balanced(IReadOnlyList<Expression> parts, Func<Expression, Expression, BinaryExpression> combine)
    {
        return Combine(0, parts.Count);

        Expression Combine(int start, int count) => count == 1
            ? parts[start]
            : combine(Combine(start, count / 2), Combine(start + (count / 2), count - (count / 2)));
    }

    private Expression Condition(RuleCondition condition)
    {
        var field = _registry.Find(condition.Field, condition.ValueType)
            ?? throw new InvalidOperationException($"Field {InputText.Quote(condition.Field)} is not registered; validate rules before compiling them.");
        if (Operators.PositiveOf(condition.Operator) is { } positive)
        {
            return Expression.Not(Positive(field, positive, condition));
        }

        if (condition.Operator == RuleOperator.HasAll)
        {
            var distinct = condition.Values.Select(v => SegmentText.Fold(v.Text)!).Distinct(StringComparer.Ordinal).Count();
            return _target.ListHasAll(field, TextSet(condition.Values), distinct)
                ?? Balanced([.. condition.Values.Select(v => _target.ListHasAny(field, TextSet([v])))], Expression.AndAlso);
        }

        return Positive(field, condition.Operator, condition);
    }

    private Expression Positive(SegmentField field, RuleOperator op, RuleCondition condition) => field.Type switch
    {
        SegmentValueType.Text => _target.Scalar(field, value => _target.Text(op, value, op switch
        {
            RuleOperator.IsSet => null,
            RuleOperator.In => TextSet(condition.Values),
            _ => TextArg(condition.Values[0]),
        })),
        SegmentValueType.TextList => op == RuleOperator.IsSet ? _target.ListIsSet(field) : _target.ListHasAny(field, TextSet(condition.Values)),
        SegmentValueType.Segment => _target.MemberOf(Arg(nameof(RuleArguments.Ids), _template.Id(Guid.Parse(condition.Values[0].Text!)))),
        SegmentValueType.Date => _target.Scalar(field, value => _target.Let(value, v => DateTest(field, op, condition, v))),
        _ => _target.Scalar(field, value => _target.Let(value, v => ValueTest(field, op, condition.Values, v))),
    };

    /// <summary>Numbers, booleans and choices: compare the value, false when it is not set.</summary>
    private Expression ValueTest(SegmentField field, RuleOperator op, IReadOnlyList<RuleValue> values, Expression value)
    {
        if (op == RuleOperator.IsSet)
        {
            return NotNull(value);
        }

        var (plain, type) = Unwrap(value);
        if (field.Type == SegmentValueType.Choice)
        {
            plain = Expression.Convert(plain, typeof(int));
            type = typeof(int);
        }

        Expression test = op switch
        {
            RuleOperator.Equals => Expression.Equal(plain, Literal(field, type, values[0])),
            RuleOperator.In when values.Count <= InlineInLimit => values.Select(v => (Expression)Expression.Equal(plain, Literal(field, type, v))).Aggregate(Expression.OrElse),
            RuleOperator.In => Expression.Call(ContainsMethod.MakeGenericMethod(type), LiteralSet(field, type, values), plain),
            RuleOperator.GreaterThan => Expression.GreaterThan(plain, Literal(field, type, values[0])),
            RuleOperator.GreaterThanOrEqual => Expression.GreaterThanOrEqual(plain, Literal(field, type, values[0])),
            RuleOperator.LessThan => Expression.LessThan(plain, Literal(field, type, values[0])),
            RuleOperator.LessThanOrEqual => Expression.LessThanOrEqual(plain, Literal(field, type, values[0])),
            RuleOperator.Between => Expression.AndAlso(
                Expression.GreaterThanOrEqual(plain, Literal(field, type, values[0])),
                Expression.LessThanOrEqual(plain, Literal(field, type, values[1]))),
            _ => throw new InvalidOperationException($"Operator {op} is not valid for {field.Type}."),
        };

        return Guard(value, test);
    }

    private Expression DateTest(SegmentField field, RuleOperator op, RuleCondition condition, Expression value)
    {
        if (op == RuleOperator.IsSet)
        {
            return NotNull(value);
        }

        var (plain, _) = Unwrap(value);
        var isDay = field.DateKind == SegmentDateKind.Day;
        Expression test;
        switch (op)
        {
            case RuleOperator.Before:
                test = Expression.LessThan(plain, Start(Date(condition.Values[0]), isDay));
                break;
            case RuleOperator.After:
                var after = Date(condition.Values[0]);
                test = after.IsDay || isDay
                    ? Expression.GreaterThanOrEqual(plain, End(after, isDay))
                    : Expression.GreaterThan(plain, Start(after, isDay));
                break;
            case RuleOperator.On:
                var on = Date(condition.Values[0]);
                test = Expression.AndAlso(Expression.GreaterThanOrEqual(plain, Start(on, isDay)), Expression.LessThan(plain, End(on, isDay)));
                break;
            case RuleOperator.Between:
                var (low, high) = (Date(condition.Values[0]), Date(condition.Values[1]));
                var upper = high.IsDay || isDay ? Expression.LessThan(plain, End(high, isDay)) : Expression.LessThanOrEqual(plain, Start(high, isDay));
                test = Expression.AndAlso(Expression.GreaterThanOrEqual(plain, Start(low, isDay)), upper);
                break;
            default:
                test = Relative(op, condition.Amount!.Value, condition.Unit!.Value, isDay, plain);
                break;
        }

        return Guard(value, test);
    }

    /// <summary>
    /// Relative windows are computed from the evaluation time in the configured zone: months are calendar months
    /// (the 31st minus a month is the last day of the previous month); for day fields, "today" is the zone's date.
    /// </summary>
    private Expression Relative(RuleOperator op, int amount, RelativeDateUnit unit, bool isDay, Expression value)
    {
        var zone = _zone;
        var now = Arg(nameof(RuleArguments.Longs), _template.Time(n => isDay ? Today(n, zone) : n.UtcTicks));
        var past = Arg(nameof(RuleArguments.Longs), _template.Time(n => Shift(n, -amount, unit, isDay, zone)));
        var future = Arg(nameof(RuleArguments.Longs), _template.Time(n => Shift(n, amount, unit, isDay, zone)));
        return op switch
        {
            RuleOperator.WithinLast => Expression.AndAlso(Expression.GreaterThanOrEqual(value, past), Expression.LessThanOrEqual(value, now)),
            RuleOperator.MoreThanAgo => Expression.LessThan(value, past),
            _ => Expression.AndAlso(Expression.GreaterThanOrEqual(value, now), Expression.LessThanOrEqual(value, future)),
        };
    }

    internal static long Today(DateTimeOffset now, TimeZoneInfo zone) =>
        SegmentAccess.DayTicks(DateOnly.FromDateTime(TimeZoneInfo.ConvertTime(now, zone).DateTime));

    internal static long Shift(DateTimeOffset now, int amount, RelativeDateUnit unit, bool isDay, TimeZoneInfo zone)
    {
        var local = TimeZoneInfo.ConvertTime(now, zone);
        if (isDay)
        {
            var today = DateOnly.FromDateTime(local.DateTime);
            return SegmentAccess.DayTicks(unit switch
            {
                RelativeDateUnit.Days => today.AddDays(amount),
                RelativeDateUnit.Weeks => today.AddDays(amount * 7),
                _ => today.AddMonths(amount),
            });
        }

        var shifted = unit switch
        {
            RelativeDateUnit.Days => local.AddDays(amount),
            RelativeDateUnit.Weeks => local.AddDays(amount * 7),
            _ => local.AddMonths(amount),
        };
        return shifted.UtcTicks;
    }

    private Expression Start(DateLiteral date, bool isDay) =>
        Arg(nameof(RuleArguments.Longs), _template.Long(isDay ? SegmentAccess.DayTicks(DayOf(date)) : date.IsDay ? StartOfDay(date.Day, _zone) : date.Instant.UtcTicks));

    /// <summary>The start of the day after the literal's day.</summary>
    private Expression End(DateLiteral date, bool isDay)
    {
        var next = DayOf(date).AddDays(1);
        return Arg(nameof(RuleArguments.Longs), _template.Long(isDay ? SegmentAccess.DayTicks(next) : StartOfDay(next, _zone)));
    }

    private DateOnly DayOf(DateLiteral date) => date.IsDay ? date.Day : DateOnly.FromDateTime(TimeZoneInfo.ConvertTime(date.Instant, _zone).DateTime);

    /// <summary>UTC ticks of the first instant of <paramref name="day"/> in <paramref name="zone"/>, stepping over a clock change at midnight.</summary>
    internal static long StartOfDay(DateOnly day, TimeZoneInfo zone)
    {
        var local = day.ToDateTime(TimeOnly.MinValue, DateTimeKind.Unspecified);
        while (zone.IsInvalidTime(local))
        {
            local = local.AddMinutes(15);
        }

        return new DateTimeOffset(local, zone.GetUtcOffset(local)).UtcTicks;
    }

    private static DateLiteral Date(RuleValue value) =>
        RuleValues.TryParseDate(value.Text!, out var date) ? date : throw new InvalidOperationException($"{InputText.Quote(value.Text)} is not a date; validate rules before compiling them.");

    private Expression Literal(SegmentField field, Type type, RuleValue value)
    {
        if (field.Type == SegmentValueType.Choice)
        {
            return Arg(nameof(RuleArguments.Ints), _template.Int(Convert.ToInt32(RuleValues.ChoiceValue(field, value.Text!), System.Globalization.CultureInfo.InvariantCulture)));
        }

        if (type == typeof(bool))
        {
            return Arg(nameof(RuleArguments.Booleans), _template.Boolean(value.Boolean));
        }

        if (type == typeof(decimal))
        {
            return Arg(nameof(RuleArguments.Decimals), _template.Decimal(value.Number));
        }

        if (type == typeof(int))
        {
            // A bound beyond int's range still compares correctly once clamped: no int lies beyond it.
            return Arg(nameof(RuleArguments.Ints), _template.Int((int)Math.Clamp(value.Number, int.MinValue, int.MaxValue)));
        }

        if (type == typeof(long))
        {
            return Arg(nameof(RuleArguments.Longs), _template.Long((long)value.Number));
        }

        throw new InvalidOperationException($"Field '{field.Name}' has an unsupported value type {type.Name}.");
    }

    private Expression LiteralSet(SegmentField field, Type type, IReadOnlyList<RuleValue> values)
    {
        object set;
        if (field.Type == SegmentValueType.Choice)
        {
            set = values.Select(v => Convert.ToInt32(RuleValues.ChoiceValue(field, v.Text!), System.Globalization.CultureInfo.InvariantCulture)).ToArray();
        }
        else if (type == typeof(decimal))
        {
            set = values.Select(v => v.Number).ToArray();
        }
        else if (type == typeof(int))
        {
            // A value outside int's range can never match, so it is left out rather than clamped.
            set = values.Where(v => v.Number is >= int.MinValue and <= int.MaxValue).Select(v => (int)v.Number).ToArray();
        }
        else if (type == typeof(long))
        {
            set = values.Select(v => (long)v.Number).ToArray();
        }
        else
        {
            throw new InvalidOperationException($"Field '{field.Name}' has an unsupported value type {type.Name} for 'in'.");
        }

        return Expression.Convert(Arg(nameof(RuleArguments.Sets), _template.Set(set)), type.MakeArrayType());
    }

    private Expression TextArg(RuleValue value) => Arg(nameof(RuleArguments.Texts), _template.Text(SegmentText.Fold(value.Text)!));

    private Expression TextSet(IReadOnlyList<RuleValue> values) =>
        Expression.Convert(Arg(nameof(RuleArguments.Sets), _template.Set(values.Select(v => SegmentText.Fold(v.Text)!).Distinct(StringComparer.Ordinal).ToArray())), typeof(string[]));

    private Expression Arg(string array, int index) => Expression.ArrayIndex(Expression.Property(_target.Arguments, array), Expression.Constant(index));

    private static (Expression Plain, Type Type) Unwrap(Expression value) =>
        Nullable.GetUnderlyingType(value.Type) is { } inner ? (Expression.Property(value, "Value"), inner) : (value, value.Type);

    private static Expression NotNull(Expression value) =>
        value.Type.IsValueType && Nullable.GetUnderlyingType(value.Type) is null
            ? Expression.Constant(true)
            : Expression.NotEqual(value, Expression.Constant(null, value.Type));

    /// <summary>
    /// "Not set" never matches a positive test. Spelling the guard out keeps every condition two-valued in SQL too,
    /// so that a negation (none, notEquals) gives the same answer in memory and in the database.
    /// </summary>
    private static Expression Guard(Expression value, Expression test) =>
        Nullable.GetUnderlyingType(value.Type) is null ? test : Expression.AndAlso(NotNull(value), test);
}

/// <summary>
/// A rough cost of testing an expression once, used only to order a group's conditions (ties keep the written
/// order). What counts is what the JIT cannot flatten: a call it will not inline (a helper marked not to be, a
/// method too big to be, a virtual or interface call) and each read of a member of an object, which may be a cache
/// miss. Reading the rule's own arguments or a field of a struct costs nothing; a nested group costs its parts.
/// </summary>
internal sealed class RuleCost : ExpressionVisitor
{
    /// <summary>The cost of one call the JIT does not inline, the unit of these estimates.</summary>
    internal const int Call = 8;

    // The JIT inlines small methods; past about this much IL it usually does not.
    private const int InlinedILSize = 32;

    private readonly int _walkCost;
    private int _cost;

    private RuleCost(int walkCost) => _walkCost = walkCost;

    /// <param name="expression">The condition or group.</param>
    /// <param name="walkCost">What walking a collection the customer holds adds (<see cref="RuleTarget.CollectionWalkCost"/>).</param>
    public static int Of(Expression expression, int walkCost)
    {
        var counter = new RuleCost(walkCost);
        counter.Visit(expression);
        return counter._cost;
    }

    protected override Expression VisitMethodCall(MethodCallExpression node)
    {
        _cost += CallCost(node.Method);
        foreach (var argument in node.Arguments)
        {
            // A collection the customer holds (tags, attributes), handed over as an interface, is walked: an object
            // and its items, each a likely cache miss, where the rule's own sets are arrays in its arguments. Only
            // targets that read other fields inline (scan rows) count it; over customer objects every read is a
            // hop already.
            _cost += argument.Type.IsInterface && typeof(System.Collections.IEnumerable).IsAssignableFrom(argument.Type) ? _walkCost : 0;
        }

        return base.VisitMethodCall(node);
    }

    protected override Expression VisitInvocation(InvocationExpression node)
    {
        _cost += Call;
        return base.VisitInvocation(node);
    }

    protected override Expression VisitBinary(BinaryExpression node)
    {
        // An operator with a method behind it (decimal's) is a call; on primitives it is one instruction.
        _cost += node.Method is { } method ? Math.Max(CallCost(method), Call / 2) : 0;
        return base.VisitBinary(node);
    }

    protected override Expression VisitMember(MemberExpression node)
    {
        var owner = node.Expression?.Type;
        _cost += owner is null || owner.IsValueType || owner == typeof(RuleArguments) ? 0 : 1;
        if (node.Member is PropertyInfo { GetMethod: { } getter })
        {
            _cost += CallCost(getter);
        }

        return base.VisitMember(node);
    }

    protected override Expression VisitIndex(IndexExpression node)
    {
        _cost += node.Indexer?.GetMethod is { } getter ? CallCost(getter) : 0;
        return base.VisitIndex(node);
    }

    private static readonly System.Collections.Concurrent.ConcurrentDictionary<MethodInfo, int> CallCosts = new();

    // Cached: reading a method's IL through reflection costs more than the rest of the estimate.
    private static int CallCost(MethodInfo method) => CallCosts.GetOrAdd(method, EstimateCallCost);

    private static int EstimateCallCost(MethodInfo method)
    {
        if ((method.MethodImplementationFlags & MethodImplAttributes.NoInlining) != 0 || method.IsAbstract ||
            (method.IsVirtual && !method.IsFinal && method.DeclaringType is { IsSealed: false }))
        {
            return Call;
        }

        if ((method.MethodImplementationFlags & MethodImplAttributes.AggressiveInlining) != 0)
        {
            return 0;
        }

        return method.GetMethodBody()?.GetILAsByteArray() is { Length: <= InlinedILSize } ? 0 : Call;
    }
}
