using System.Linq.Expressions;
using Crm.Kit.Customers;
using Crm.Kit.Segmentation;
using Microsoft.EntityFrameworkCore;

namespace Crm.Kit.EntityFrameworkCore;

/// <summary>Evaluates rules inside the database: every condition becomes SQL over the customer rows.</summary>
internal sealed class EfRuleTarget : RuleTarget
{
    private static readonly System.Reflection.MethodInfo StringContains = typeof(string).GetMethod(nameof(string.Contains), [typeof(string)])!;
    private static readonly System.Reflection.MethodInfo StringStartsWith = typeof(string).GetMethod(nameof(string.StartsWith), [typeof(string)])!;
    private static readonly System.Reflection.MethodInfo StringEndsWith = typeof(string).GetMethod(nameof(string.EndsWith), [typeof(string)])!;

    private readonly ParameterExpression _row = Expression.Parameter(typeof(CustomerRow), "customer");
    private readonly DbContext _context;
    private readonly IReadOnlyDictionary<string, IEfSegmentFieldBinding> _contributed;
    private readonly Expression _arguments;

    public EfRuleTarget(DbContext context, IReadOnlyDictionary<string, IEfSegmentFieldBinding> contributed, ArgumentsBox box)
    {
        _context = context;
        _contributed = contributed;
        // Read through a box: EF turns each "box.Value.Texts[i]" into a SQL parameter when the query runs.
        _arguments = Expression.Property(Expression.Constant(box), nameof(ArgumentsBox.Value));
    }

    public override ParameterExpression Subject => _row;

    public override Expression Arguments => _arguments;

    public override Expression Scalar(SegmentField field, Func<Expression, Expression> test)
    {
        if (field.AttributeKey is { } key)
        {
            return AnyAttribute(field, key, a => test(field.Type switch
            {
                SegmentValueType.Text => Expression.Property(a, nameof(CustomerAttributeRow.Text)),
                SegmentValueType.Number => Expression.Property(a, nameof(CustomerAttributeRow.Number)),
                SegmentValueType.Date => Expression.Property(a, nameof(CustomerAttributeRow.Date)),
                _ => Expression.Property(a, nameof(CustomerAttributeRow.Boolean)),
            }));
        }

        var read = Read(field);
        if (field.ValueClrType is { } type && read.Type != type)
        {
            read = Expression.Convert(read, type);
        }

        return test(read);
    }

    public override Expression Text(RuleOperator op, Expression value, Expression? argument)
    {
        var notNull = Expression.NotEqual(value, Expression.Constant(null, typeof(string)));
        return op switch
        {
            RuleOperator.IsSet => notNull,
            RuleOperator.Equals => Expression.AndAlso(notNull, Expression.Equal(value, argument!)),
            RuleOperator.In => Expression.AndAlso(notNull, Expression.Call(typeof(Enumerable), nameof(Enumerable.Contains), [typeof(string)], argument!, value)),
            RuleOperator.Contains => Expression.AndAlso(notNull, Expression.Call(value, StringContains, argument!)),
            RuleOperator.StartsWith => Expression.AndAlso(notNull, Expression.Call(value, StringStartsWith, argument!)),
            RuleOperator.EndsWith => Expression.AndAlso(notNull, Expression.Call(value, StringEndsWith, argument!)),
            _ => throw new InvalidOperationException($"Operator {op} is not a text operator."),
        };
    }

    public override Expression ListHasAny(SegmentField field, Expression foldedSet)
    {
        if (field.AttributeKey is { } key)
        {
            return AnyAttribute(field, key, a => Contains(foldedSet, Expression.Property(a, nameof(CustomerAttributeRow.Text))));
        }

        RequireTags(field);
        return AnyTag(k => Contains(foldedSet, Expression.Property(k, nameof(CustomerKeyRow.Value))));
    }

    public override Expression ListHasAll(SegmentField field, Expression foldedSet, int count)
    {
        // One subquery counting the distinct texts found, instead of one EXISTS per text: a thousand of those in
        // one condition take PostgreSQL's planner seconds.
        if (field.AttributeKey is null)
        {
            RequireTags(field);
        }

        var found = field.AttributeKey is { } key ? CountAttributeTexts(field, key, foldedSet) : CountTags(foldedSet);
        return Expression.Equal(found, Expression.Constant(count));
    }

    public override Expression ListIsSet(SegmentField field)
    {
        if (field.AttributeKey is { } key)
        {
            return AnyAttribute(field, key, _ => Expression.Constant(true));
        }

        RequireTags(field);
        return AnyTag(_ => Expression.Constant(true));
    }

    public override Expression MemberOf(Expression segmentId)
    {
        var m = Expression.Parameter(typeof(SegmentMemberRow), "member");
        var body = Expression.AndAlso(
            Expression.AndAlso(
                Expression.Equal(Expression.Property(m, nameof(SegmentMemberRow.TenantId)), Expression.Property(_row, nameof(CustomerRow.TenantId))),
                Expression.Equal(Expression.Property(m, nameof(SegmentMemberRow.SegmentId)), segmentId)),
            Expression.Equal(Expression.Property(m, nameof(SegmentMemberRow.CustomerId)), Expression.Property(_row, nameof(CustomerRow.Id))));
        return Any<SegmentMemberRow>(m, body);
    }

    private Expression Read(SegmentField field)
    {
        if (CoreRowFields.Find(field.Name) is { } core)
        {
            return Inline(core);
        }

        if (_contributed.TryGetValue(field.Name, out var binding))
        {
            var lambda = binding.Bind(_context);
            if (lambda.Parameters.Count != 2 || lambda.Parameters[0].Type != typeof(string) || lambda.Parameters[1].Type != typeof(Guid))
            {
                throw new InvalidOperationException($"The EF Core binding of segment field '{field.Name}' must be a lambda (string tenantId, Guid customerId) => value.");
            }

            return ParameterReplacer.Replace(lambda, Expression.Property(_row, nameof(CustomerRow.TenantId)), Expression.Property(_row, nameof(CustomerRow.Id)));
        }

        throw new InvalidOperationException(
            $"Segment field '{field.Name}' has no EF Core binding, so rules using it cannot run in the database. Register one with AddEntityFrameworkSegmentField(\"{field.Name}\", ...).");
    }

    private static void RequireTags(SegmentField field)
    {
        if (field.Name != SegmentFieldNames.Tags)
        {
            throw new InvalidOperationException($"Text-list field '{field.Name}' has no EF Core binding; only tags and list attributes are stored as lists.");
        }
    }

    private Expression AnyTag(Func<ParameterExpression, Expression> test)
    {
        var k = Expression.Parameter(typeof(CustomerKeyRow), "key");
        return Any<CustomerKeyRow>(k, TagOf(k, test(k)));
    }

    /// <summary>The customer's tag rows that pass <paramref name="test"/>.</summary>
    private Expression TagOf(ParameterExpression k, Expression test) =>
        Expression.AndAlso(
            Expression.AndAlso(
                Expression.AndAlso(
                    Expression.Equal(Expression.Property(k, nameof(CustomerKeyRow.TenantId)), Expression.Property(_row, nameof(CustomerRow.TenantId))),
                    Expression.Equal(Expression.Property(k, nameof(CustomerKeyRow.CustomerId)), Expression.Property(_row, nameof(CustomerRow.Id)))),
                Expression.Equal(Expression.Property(k, nameof(CustomerKeyRow.Kind)), Expression.Constant(CustomerKeyRow.Tag))),
            test);

    private Expression CountTags(Expression foldedSet)
    {
        var k = Expression.Parameter(typeof(CustomerKeyRow), "key");
        return CountDistinct<CustomerKeyRow>(k, TagOf(k, Contains(foldedSet, Expression.Property(k, nameof(CustomerKeyRow.Value)))), nameof(CustomerKeyRow.Value));
    }

    private Expression CountAttributeTexts(SegmentField field, string key, Expression foldedSet)
    {
        var a = Expression.Parameter(typeof(CustomerAttributeRow), "attribute");
        return CountDistinct<CustomerAttributeRow>(a, AttributeOf(a, field, key, Contains(foldedSet, Expression.Property(a, nameof(CustomerAttributeRow.Text)))), nameof(CustomerAttributeRow.Text));
    }

    private static MethodCallExpression Contains(Expression set, Expression value) =>
        Expression.Call(typeof(Enumerable), nameof(Enumerable.Contains), [typeof(string)], set, value);

    private MethodCallExpression CountDistinct<TRow>(ParameterExpression parameter, Expression body, string property)
        where TRow : class
    {
        var where = Expression.Call(typeof(Queryable), nameof(Queryable.Where), [typeof(TRow)],
            _context.Set<TRow>().AsNoTracking().Expression, Expression.Quote(Expression.Lambda<Func<TRow, bool>>(body, parameter)));
        var select = Expression.Call(typeof(Queryable), nameof(Queryable.Select), [typeof(TRow), typeof(string)],
            where, Expression.Quote(Expression.Lambda<Func<TRow, string>>(Expression.Property(parameter, property), parameter)));
        var distinct = Expression.Call(typeof(Queryable), nameof(Queryable.Distinct), [typeof(string)], select);
        return Expression.Call(typeof(Queryable), nameof(Queryable.Count), [typeof(string)], distinct);
    }

    private Expression AnyAttribute(SegmentField field, string key, Func<ParameterExpression, Expression> test)
    {
        var a = Expression.Parameter(typeof(CustomerAttributeRow), "attribute");
        return Any<CustomerAttributeRow>(a, AttributeOf(a, field, key, test(a)));
    }

    /// <summary>The customer's rows of attribute <paramref name="key"/>, of the field's kind, that pass <paramref name="test"/>.</summary>
    private Expression AttributeOf(ParameterExpression a, SegmentField field, string key, Expression test)
    {
        var kind = field.Type switch
        {
            SegmentValueType.Text => AttributeKind.Text,
            SegmentValueType.Number => AttributeKind.Number,
            SegmentValueType.Date => AttributeKind.Date,
            SegmentValueType.Boolean => AttributeKind.Boolean,
            _ => AttributeKind.TextList,
        };
        return Expression.AndAlso(
            Expression.AndAlso(
                Expression.AndAlso(
                    Expression.Equal(Expression.Property(a, nameof(CustomerAttributeRow.TenantId)), Expression.Property(_row, nameof(CustomerRow.TenantId))),
                    Expression.Equal(Expression.Property(a, nameof(CustomerAttributeRow.CustomerId)), Expression.Property(_row, nameof(CustomerRow.Id)))),
                Expression.AndAlso(
                    Expression.Equal(Expression.Property(a, nameof(CustomerAttributeRow.Key)), Expression.Property(Expression.Constant(new KeyBox(key)), nameof(KeyBox.Key))),
                    Expression.Equal(Expression.Property(a, nameof(CustomerAttributeRow.Kind)), Expression.Constant(kind)))),
            test);
    }

    private MethodCallExpression Any<TRow>(ParameterExpression parameter, Expression body)
        where TRow : class =>
        Expression.Call(typeof(Queryable), nameof(Queryable.Any), [typeof(TRow)],
            _context.Set<TRow>().AsNoTracking().Expression,
            Expression.Quote(Expression.Lambda<Func<TRow, bool>>(body, parameter)));

    /// <summary>Holds an attribute key so that it reaches SQL as a parameter.</summary>
    private sealed class KeyBox(string key)
    {
        public string Key { get; } = key;
    }
}

/// <summary>Holds the arguments of one evaluation, read by the query when it runs.</summary>
internal sealed class ArgumentsBox
{
    public RuleArguments? Value { get; set; }
}
