using System.Collections.Concurrent;
using System.Linq.Expressions;
using Crm.Kit.Customers;
using Microsoft.Extensions.Options;

namespace Crm.Kit.Segmentation;

/// <summary>Options of segmentation, validated at start-up.</summary>
public sealed class SegmentationOptions
{
    /// <summary>
    /// The zone in which days in rules begin and end ("on 2026-05-01", "within the last 3 months"). Default UTC.
    /// </summary>
    public TimeZoneInfo TimeZone { get; set; } = TimeZoneInfo.Utc;

    /// <summary>How many compiled rules to keep; the cache is cleared when it grows past this. Default 1,000.</summary>
    public int CompiledRuleCacheSize { get; set; } = 1000;
}

/// <summary>Checks <see cref="SegmentationOptions"/> at start-up.</summary>
internal sealed class SegmentationOptionsValidator : IValidateOptions<SegmentationOptions>
{
    public ValidateOptionsResult Validate(string? name, SegmentationOptions options)
    {
        List<string> failures = [];
        if (options.TimeZone is null)
        {
            failures.Add("SegmentationOptions.TimeZone: is required.");
        }

        if (options.CompiledRuleCacheSize < 1)
        {
            failures.Add($"SegmentationOptions.CompiledRuleCacheSize: must be at least 1 (was {options.CompiledRuleCacheSize}).");
        }

        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }
}

/// <summary>A rule compiled to a delegate over in-memory customers.</summary>
public sealed class CompiledSegmentRule
{
    private readonly RuleArgumentsTemplate _template;

    internal CompiledSegmentRule(SegmentRule rule, Expression<Func<Customer, RuleArguments, bool>> expression, RuleArgumentsTemplate template)
    {
        Rule = rule;
        Expression = expression;
        _template = template;
        Predicate = expression.Compile();
    }

    /// <summary>The rule compiled.</summary>
    public SegmentRule Rule { get; }

    /// <summary>The expression tree the delegate was compiled from.</summary>
    public Expression<Func<Customer, RuleArguments, bool>> Expression { get; }

    /// <summary>The compiled predicate; pass it the arguments from <see cref="Bind"/>.</summary>
    public Func<Customer, RuleArguments, bool> Predicate { get; }

    /// <summary>
    /// The arguments for evaluations at <paramref name="now"/>: relative dates resolve here, once, not per
    /// customer. <paramref name="members"/> answers static-list conditions; rules without them need none.
    /// </summary>
    public RuleArguments Bind(DateTimeOffset now, ISegmentMembershipLookup? members = null) => _template.Bind(now, members);

    /// <summary>The form the in-memory store counts with, once built (see <see cref="SegmentRuleCompiler.ScanCounter"/>).</summary>
    internal RuleScanCounter? ScanCounter { get; set; }

    /// <summary>Evaluates one customer (convenience; bind once and call <see cref="Predicate"/> in loops).</summary>
    public bool Matches(Customer customer, DateTimeOffset now, ISegmentMembershipLookup? members = null) => Predicate(customer, Bind(now, members));
}

/// <summary>
/// Validates rules and compiles them to delegates for in-memory evaluation, caching by the rule's canonical JSON
/// (so a segment's compiled form is reused until its rule, or a segment it refers to, changes).
/// </summary>
public sealed class SegmentRuleCompiler
{
    private readonly ConcurrentDictionary<string, CompiledSegmentRule> _cache = new(StringComparer.Ordinal);
    private readonly SegmentationOptions _options;

    /// <summary>Creates the compiler.</summary>
    public SegmentRuleCompiler(SegmentFieldRegistry registry, IOptions<SegmentationOptions> options)
    {
        Registry = registry ?? throw new ArgumentNullException(nameof(registry));
        _options = (options ?? throw new ArgumentNullException(nameof(options))).Value;
    }

    /// <summary>The fields rules may use.</summary>
    public SegmentFieldRegistry Registry { get; }

    /// <summary>The zone days are read in.</summary>
    public TimeZoneInfo TimeZone => _options.TimeZone;

    /// <summary>Validates and compiles a rule (from the cache when seen before).</summary>
    /// <exception cref="CrmValidationException">The rule breaks a rule of the language; every problem is listed.</exception>
    public CompiledSegmentRule Compile(SegmentRule rule)
    {
        ArgumentNullException.ThrowIfNull(rule);
        var key = SegmentRuleJson.Serialize(rule);
        if (_cache.TryGetValue(key, out var cached))
        {
            return cached;
        }

        SegmentRuleValidator.Validate(rule, Registry);
        var target = new InMemoryRuleTarget();
        var template = new RuleArgumentsTemplate();
        var body = DecimalComparisonOutliner.Instance.Visit(new RuleExpressionBuilder(Registry, _options.TimeZone, target, template).Build(rule));
        var compiled = new CompiledSegmentRule(rule, System.Linq.Expressions.Expression.Lambda<Func<Customer, RuleArguments, bool>>(body, (ParameterExpression)target.Subject, (ParameterExpression)target.Arguments), template);
        if (_cache.Count >= _options.CompiledRuleCacheSize)
        {
            _cache.Clear();
        }

        _cache[key] = compiled;
        return compiled;
    }

    /// <summary>
    /// The rule compiled to count matches over the in-memory store's scan rows; built the first time a rule is
    /// counted over a whole tenant, then kept with the compiled rule.
    /// </summary>
    internal RuleScanCounter ScanCounter(CompiledSegmentRule compiled)
    {
        // Two threads may both build it on first use; either result is the same, and one is kept.
        return compiled.ScanCounter ??= Build(compiled.Rule);

        RuleScanCounter Build(SegmentRule rule)
        {
            var rows = Expression.Parameter(typeof(InMemory.CustomerScanRow[]), "rows");
            var length = Expression.Parameter(typeof(int), "length");
            var arguments = Expression.Parameter(typeof(RuleArguments), "arguments");
            var i = Expression.Variable(typeof(int), "i");
            var matches = Expression.Variable(typeof(int), "matches");
            var target = new ScanRowRuleTarget(Expression.ArrayAccess(rows, i), arguments);
            var template = new RuleArgumentsTemplate();
            var test = DecimalComparisonOutliner.Instance.Visit(new RuleExpressionBuilder(Registry, _options.TimeZone, target, template).Build(rule));

            // The loop is part of the compiled method rather than a caller of it: one call per segment of rows,
            // not one per customer. A free slot has no customer (compared as a reference: a record's != operator
            // would be a call per row).
            var live = Expression.ReferenceNotEqual(target.Subject, Expression.Constant(null, typeof(Customer)));
            var end = Expression.Label("end");
            var body = Expression.Block(
                [i, matches],
                Expression.Loop(
                    Expression.IfThenElse(
                        Expression.LessThan(i, length),
                        Expression.Block(
                            Expression.IfThen(Expression.AndAlso(live, test), Expression.PreIncrementAssign(matches)),
                            Expression.PreIncrementAssign(i)),
                        Expression.Break(end)),
                    end),
                matches);
            var count = Expression.Lambda<Func<InMemory.CustomerScanRow[], int, RuleArguments, int>>(body, rows, length, arguments).Compile();
            return new RuleScanCounter(count, template);
        }
    }
}

/// <summary>A rule compiled to count the matching rows of a span of in-memory scan rows.</summary>
internal sealed class RuleScanCounter(Func<InMemory.CustomerScanRow[], int, RuleArguments, int> count, RuleArgumentsTemplate template)
{
    /// <summary>Counts the customers among the first <c>length</c> rows that match.</summary>
    public Func<InMemory.CustomerScanRow[], int, RuleArguments, int> Count { get; } = count;

    /// <summary>The arguments of <see cref="Count"/> at <paramref name="now"/>.</summary>
    public RuleArguments Bind(DateTimeOffset now, ISegmentMembershipLookup? members) => template.Bind(now, members);
}

/// <summary>Evaluates rules over <see cref="Customer"/> objects.</summary>
internal class InMemoryRuleTarget : RuleTarget
{
    private readonly Expression _customer;
    private readonly ParameterExpression _arguments;

    public InMemoryRuleTarget()
        : this(Expression.Parameter(typeof(Customer), "customer"), Expression.Parameter(typeof(RuleArguments), "arguments"))
    {
    }

    protected InMemoryRuleTarget(Expression customer, ParameterExpression arguments)
    {
        _customer = customer;
        _arguments = arguments;
    }

    public override Expression Subject => _customer;

    public override bool OrdersByCost => true;

    public override Expression Arguments => _arguments;

    public override Expression Scalar(SegmentField field, Func<Expression, Expression> test) => test(Read(field));

    /// <summary>The field's value; a target that keeps some fields elsewhere reads those its own way.</summary>
    protected virtual Expression Read(SegmentField field) =>
        Inline(field.InMemory ?? throw new InvalidOperationException($"Field '{field.Name}' cannot be read in memory."));

    public override Expression Let(Expression value, Func<Expression, Expression> body)
    {
        if (value is ParameterExpression or ConstantExpression || Nullable.GetUnderlyingType(value.Type) is null)
        {
            return body(value);
        }

        var variable = Expression.Variable(value.Type, "value");
        return Expression.Block([variable], Expression.Assign(variable, value), body(variable));
    }

    public override Expression Text(RuleOperator op, Expression value, Expression? argument) => op switch
    {
        RuleOperator.Equals => Call(nameof(SegmentText.EqualsFolded), value, argument!),
        RuleOperator.In => Call(nameof(SegmentText.InFolded), value, argument!),
        RuleOperator.Contains => Call(nameof(SegmentText.ContainsFolded), value, argument!),
        RuleOperator.StartsWith => Call(nameof(SegmentText.StartsWithFolded), value, argument!),
        RuleOperator.EndsWith => Call(nameof(SegmentText.EndsWithFolded), value, argument!),
        RuleOperator.IsSet => Call(nameof(SegmentText.IsSet), value),
        _ => throw new InvalidOperationException($"Operator {op} is not a text operator."),
    };

    public override Expression ListHasAny(SegmentField field, Expression foldedSet) => Call(nameof(SegmentText.ListHasAny), Read(field), foldedSet);

    public override Expression ListIsSet(SegmentField field) => Call(nameof(SegmentText.ListIsSet), Read(field));

    public override Expression MemberOf(Expression segmentId) =>
        Expression.Call(_arguments, nameof(RuleArguments.IsMember), null, segmentId, Expression.Property(_customer, nameof(Customer.Id)));

    private static MethodCallExpression Call(string name, params Expression[] arguments) =>
        Expression.Call(typeof(SegmentText), name, null, arguments);
}

/// <summary>
/// Evaluates rules over the in-memory store's scan rows (<see cref="InMemory.CustomerScanRow"/>): the fields a row
/// carries are read from it, every other field from the row's customer, through the same readers as above.
/// </summary>
internal sealed class ScanRowRuleTarget(Expression row, ParameterExpression arguments)
    : InMemoryRuleTarget(Expression.Field(row, nameof(InMemory.CustomerScanRow.Customer)), arguments)
{
    public override int CollectionWalkCost => RuleCost.Call;

    protected override Expression Read(SegmentField field) => InMemory.CustomerScanRow.Read(row, field) ?? base.Read(field);
}

/// <summary>Points decimal comparisons at <see cref="SegmentAccess"/>'s helpers, which the JIT does not inline.</summary>
internal sealed class DecimalComparisonOutliner : ExpressionVisitor
{
    private static readonly Dictionary<ExpressionType, System.Reflection.MethodInfo> Helpers = new()
    {
        [ExpressionType.Equal] = Helper(nameof(SegmentAccess.DecimalEqual)),
        [ExpressionType.NotEqual] = Helper(nameof(SegmentAccess.DecimalNotEqual)),
        [ExpressionType.GreaterThan] = Helper(nameof(SegmentAccess.DecimalGreaterThan)),
        [ExpressionType.GreaterThanOrEqual] = Helper(nameof(SegmentAccess.DecimalGreaterThanOrEqual)),
        [ExpressionType.LessThan] = Helper(nameof(SegmentAccess.DecimalLessThan)),
        [ExpressionType.LessThanOrEqual] = Helper(nameof(SegmentAccess.DecimalLessThanOrEqual)),
    };

    public static readonly DecimalComparisonOutliner Instance = new();

    protected override Expression VisitBinary(BinaryExpression node)
    {
        var visited = (BinaryExpression)base.VisitBinary(node);
        return visited.Method?.DeclaringType == typeof(decimal) && Helpers.TryGetValue(visited.NodeType, out var helper)
            ? Expression.MakeBinary(visited.NodeType, visited.Left, visited.Right, visited.IsLiftedToNull, helper)
            : visited;
    }

    private static System.Reflection.MethodInfo Helper(string name) =>
        typeof(SegmentAccess).GetMethod(name, [typeof(decimal), typeof(decimal)]) ?? throw new MissingMethodException(nameof(SegmentAccess), name);
}
