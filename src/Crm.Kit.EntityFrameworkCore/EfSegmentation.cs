using System.Linq.Expressions;
using System.Runtime.CompilerServices;
using Crm.Kit.Customers;
using Crm.Kit.Segmentation;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Metadata;

namespace Crm.Kit.EntityFrameworkCore;

/// <summary>
/// Binds a segment field contributed by a module to SQL: given the host's context, an expression
/// <c>(string tenantId, Guid customerId) =&gt; value</c> over the module's own tables, returning the same type as
/// the field's in-memory reader (text folded with <see cref="SegmentText.Fold"/>). Register it with
/// <see cref="Microsoft.Extensions.DependencyInjection.EntityFrameworkCoreBuilderExtensions.AddEntityFrameworkSegmentField"/>.
/// </summary>
public interface IEfSegmentFieldBinding
{
    /// <summary>The field bound.</summary>
    string FieldName { get; }

    /// <summary>The value's expression, for example <c>(t, id) =&gt; db.Set&lt;Account&gt;().Where(a =&gt; a.TenantId == t &amp;&amp; a.CustomerId == id).Select(a =&gt; (int?)a.Points).FirstOrDefault()</c>.</summary>
    LambdaExpression Bind(DbContext context);
}

internal sealed class DelegateSegmentFieldBinding(string fieldName, Func<DbContext, LambdaExpression> bind) : IEfSegmentFieldBinding
{
    public string FieldName => fieldName;

    public LambdaExpression Bind(DbContext context) => bind(context);
}

/// <summary>
/// Binds a module's field to a row keyed by tenant and customer:
/// <c>(tenant, customer) =&gt; rows.Where(r =&gt; r.TenantId == tenant &amp;&amp; r.CustomerId == customer).Select(select).FirstOrDefault()</c>,
/// a correlated lookup on the row's unique (tenant, customer) key. Without a row the field reads as the type's
/// default: unset, or false for a boolean. Built from expressions rather than a lambda, because the context is
/// only known when a rule is translated.
/// </summary>
internal static class CustomerRowBinding
{
    public static DelegateSegmentFieldBinding Bind<TRow, T>(string field, Expression<Func<TRow, T>> select)
        where TRow : class =>
        new(field, context =>
        {
            var tenant = Expression.Parameter(typeof(string), "tenantId");
            var customer = Expression.Parameter(typeof(Guid), "customerId");
            var row = Expression.Parameter(typeof(TRow), "row");
            var match = Expression.Lambda<Func<TRow, bool>>(
                Expression.AndAlso(
                    Expression.Equal(Expression.Property(row, "TenantId"), tenant),
                    Expression.Equal(Expression.Property(row, "CustomerId"), customer)),
                row);
            var rows = context.Set<TRow>().AsNoTracking().Expression;
            var where = Expression.Call(typeof(Queryable), nameof(Queryable.Where), [typeof(TRow)], rows, Expression.Quote(match));
            var selected = Expression.Call(typeof(Queryable), nameof(Queryable.Select), [typeof(TRow), typeof(T)], where, Expression.Quote(select));
            var first = Expression.Call(typeof(Queryable), nameof(Queryable.FirstOrDefault), [typeof(T)], selected);
            return Expression.Lambda(first, tenant, customer);
        });
}

/// <summary>How each of Crm.Kit's own fields reads from <see cref="CustomerRow"/>.</summary>
internal static class CoreRowFields
{
    private static readonly Dictionary<string, LambdaExpression> Fields = Build();

    public static LambdaExpression? Find(string name) => Fields.GetValueOrDefault(name);

    private static Dictionary<string, LambdaExpression> Build()
    {
        var fields = new Dictionary<string, LambdaExpression>(StringComparer.Ordinal)
        {
            [SegmentFieldNames.Kind] = Read(r => r.Kind),
            [SegmentFieldNames.LifecycleStage] = Read(r => r.LifecycleStage),
            [SegmentFieldNames.CreatedAt] = Read(r => (long?)r.CreatedAt),
            [SegmentFieldNames.Country] = Read(r => r.CountryKey),
            [SegmentFieldNames.City] = Read(r => r.CityKey),
            [SegmentFieldNames.PostalCode] = Read(r => r.PostalCodeKey),
            [SegmentFieldNames.Owner] = Read(r => r.OwnerKey),
            [SegmentFieldNames.CompanyName] = Read(r => r.CompanyKey),
            [SegmentFieldNames.OrderCount] = Read(r => r.OrderCount),
            [SegmentFieldNames.TotalSpent] = Read(r => r.TotalSpent),
            [SegmentFieldNames.AverageOrderValue] = Read(r => r.AverageOrderValue),
            [SegmentFieldNames.FirstOrderAt] = Read(r => r.FirstOrderAt),
            [SegmentFieldNames.LastOrderAt] = Read(r => r.LastOrderAt),
            [SegmentFieldNames.DaysSinceLastOrder] = (Expression<Func<CustomerRow, long, long?>>)((r, now) =>
                r.LastOrderAt == null ? null : (now - r.LastOrderAt.Value) / TimeSpan.TicksPerDay),
        };

        foreach (var channel in Enum.GetValues<ContactChannel>())
        {
            foreach (var purpose in Enum.GetValues<ConsentPurpose>())
            {
                var bit = CustomerRow.ConsentBit(channel, purpose);
                fields[SegmentFieldNames.Consent(channel, purpose)] = Read(r => (r.ConsentFlags & bit) != 0);
            }
        }

        return fields;
    }

    private static Expression<Func<CustomerRow, T>> Read<T>(Expression<Func<CustomerRow, T>> read) => read;
}

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

/// <summary>The EF Core <see cref="ISegmentEvaluator"/>: counts, lists and filters with one SQL query each.</summary>
/// <typeparam name="TContext">The host's context.</typeparam>
public sealed class EfSegmentEvaluator<TContext> : ISegmentEvaluator
    where TContext : DbContext
{
    private readonly TContext _context;
    private readonly SegmentRuleCompiler _compiler;
    private readonly IReadOnlyDictionary<string, IEfSegmentFieldBinding> _contributed;

    /// <summary>Creates the evaluator.</summary>
    public EfSegmentEvaluator(TContext context, SegmentRuleCompiler compiler, IEnumerable<IEfSegmentFieldBinding> bindings)
    {
        _context = ContextCheck.EnsureModel(context);
        _compiler = compiler ?? throw new ArgumentNullException(nameof(compiler));
        _contributed = (bindings ?? throw new ArgumentNullException(nameof(bindings))).ToDictionary(b => b.FieldName, StringComparer.Ordinal);
    }

    /// <summary>The query of live customers matching <paramref name="rule"/> at <paramref name="now"/>; useful to compose further.</summary>
    internal IQueryable<CustomerRow> Matching(string tenantId, SegmentRule rule, DateTimeOffset now)
    {
        SegmentRuleValidator.Validate(rule, _compiler.Registry);
        var box = new ArgumentsBox();
        var template = new RuleArgumentsTemplate();
        var target = new EfRuleTarget(_context, _contributed, box);
        var body = new RuleExpressionBuilder(_compiler.Registry, _compiler.TimeZone, target, template).Build(rule);
        box.Value = template.Bind(now, members: null);
        var predicate = Expression.Lambda<Func<CustomerRow, bool>>(body, target.Subject);
        return _context.Set<CustomerRow>().AsNoTracking()
            .Where(r => r.TenantId == tenantId && r.MergedIntoId == null && r.ErasedAt == null)
            .Where(predicate);
    }

    /// <inheritdoc />
    public async ValueTask<long> CountAsync(string tenantId, SegmentRule rule, DateTimeOffset now, CancellationToken cancellationToken) =>
        await Matching(tenantId, rule, now).LongCountAsync(cancellationToken).ConfigureAwait(false);

    /// <inheritdoc />
    public async ValueTask<IReadOnlyList<Customer>> ListAsync(string tenantId, SegmentRule rule, DateTimeOffset now, Guid? afterId, int limit, CancellationToken cancellationToken)
    {
        var rows = await After(Matching(tenantId, rule, now), afterId).OrderBy(r => r.Id).Take(limit).ToListAsync(cancellationToken).ConfigureAwait(false);
        return rows.ConvertAll(r => r.ToCustomer());
    }

    /// <inheritdoc />
    public async ValueTask<IReadOnlyList<Guid>> ListIdsAsync(string tenantId, SegmentRule rule, DateTimeOffset now, Guid? afterId, int limit, CancellationToken cancellationToken) =>
        await After(Matching(tenantId, rule, now), afterId).OrderBy(r => r.Id).Select(r => r.Id).Take(limit).ToListAsync(cancellationToken).ConfigureAwait(false);

    /// <inheritdoc />
    public async ValueTask<IReadOnlyList<Guid>> FilterAsync(string tenantId, SegmentRule rule, DateTimeOffset now, IReadOnlyCollection<Guid> customerIds, CancellationToken cancellationToken)
    {
        var ids = customerIds.ToArray();
        return await Matching(tenantId, rule, now).Where(r => ids.Contains(r.Id)).Select(r => r.Id).ToListAsync(cancellationToken).ConfigureAwait(false);
    }

    private static IQueryable<CustomerRow> After(IQueryable<CustomerRow> query, Guid? afterId) =>
        afterId is { } after ? query.Where(r => r.Id.CompareTo(after) > 0) : query;
}

/// <summary>The EF Core <see cref="ISegmentStore"/>.</summary>
/// <typeparam name="TContext">The host's context.</typeparam>
public sealed class EfSegmentStore<TContext> : ISegmentStore
    where TContext : DbContext
{
    // Every change to a customer lists the dynamic segments to re-evaluate, so that one query is compiled, kept per
    // model as in EfCustomerStore.
    private static readonly ConditionalWeakTable<IModel, Func<TContext, string, IAsyncEnumerable<SegmentRow>>> DynamicByModel = new();

    private readonly TContext _context;
    private readonly Func<TContext, string, IAsyncEnumerable<SegmentRow>> _dynamic;

    /// <summary>
    /// Creates the store. Stored rules are read without checking their fields (<see cref="SegmentRuleJson.ReadStored"/>):
    /// the manager checks them per segment when it evaluates them.
    /// </summary>
    public EfSegmentStore(TContext context)
    {
        _context = ContextCheck.EnsureModel(context);
        _dynamic = DynamicByModel.GetValue(context.Model, static _ => EF.CompileAsyncQuery<TContext, string, SegmentRow>((c, tenantId) =>
            c.Set<SegmentRow>().AsNoTracking().Where(r => r.TenantId == tenantId && r.Kind == SegmentKind.Dynamic).OrderBy(r => r.Id)));
    }

    private IQueryable<SegmentRow> Rows(string tenantId) => _context.Set<SegmentRow>().AsNoTracking().Where(r => r.TenantId == tenantId);

    private IQueryable<SegmentMemberRow> Members(string tenantId, Guid segmentId) =>
        _context.Set<SegmentMemberRow>().AsNoTracking().Where(m => m.TenantId == tenantId && m.SegmentId == segmentId);

    /// <inheritdoc />
    public async ValueTask<Segment?> FindByIdAsync(string tenantId, Guid id, CancellationToken cancellationToken) =>
        (await Rows(tenantId).FirstOrDefaultAsync(r => r.Id == id, cancellationToken).ConfigureAwait(false))?.ToSegment();

    /// <inheritdoc />
    public async ValueTask<Segment?> FindByNameAsync(string tenantId, string name, CancellationToken cancellationToken) =>
        (await Rows(tenantId).FirstOrDefaultAsync(r => r.Name == name, cancellationToken).ConfigureAwait(false))?.ToSegment();

    /// <inheritdoc />
    public async ValueTask<IReadOnlyList<Segment>> FindManyAsync(string tenantId, IReadOnlyCollection<Guid> ids, CancellationToken cancellationToken)
    {
        var wanted = ids.ToList();
        var rows = await Rows(tenantId).Where(r => wanted.Contains(r.Id)).ToListAsync(cancellationToken).ConfigureAwait(false);
        return rows.ConvertAll(r => r.ToSegment());
    }

    /// <inheritdoc />
    public async ValueTask<IReadOnlyList<Segment>> ListAsync(string tenantId, Guid? afterId, int limit, CancellationToken cancellationToken)
    {
        var query = Rows(tenantId);
        if (afterId is { } after)
        {
            query = query.Where(r => r.Id.CompareTo(after) > 0);
        }

        var rows = await query.OrderBy(r => r.Id).Take(limit).ToListAsync(cancellationToken).ConfigureAwait(false);
        return rows.ConvertAll(r => r.ToSegment());
    }

    /// <inheritdoc />
    public async ValueTask<IReadOnlyList<Segment>> ListDynamicAsync(string tenantId, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(tenantId);
        var segments = new List<Segment>();
        await foreach (var row in _dynamic(_context, tenantId).WithCancellation(cancellationToken).ConfigureAwait(false))
        {
            segments.Add(row.ToSegment());
        }

        return segments;
    }

    /// <inheritdoc />
    public ValueTask CreateAsync(Segment segment, CancellationToken cancellationToken) =>
        new(StoreWrites.InTransactionAsync(_context, async () =>
        {
            _context.Add(SegmentRow.From(segment));
            try
            {
                await StoreWrites.SaveAsync(_context, nameof(Segment), segment.Id, 0, cancellationToken).ConfigureAwait(false);
            }
            catch (DbUpdateException ex) when (UniqueViolation.Is(ex))
            {
                throw new DuplicateValueException(nameof(Segment.Name), segment.Name, ex);
            }

            return true;
        }, cancellationToken).AsTask());

    /// <inheritdoc />
    public ValueTask UpdateAsync(Segment segment, long expectedVersion, CancellationToken cancellationToken) =>
        new(StoreWrites.InTransactionAsync(_context, async () =>
        {
            StoreWrites.AttachUpdate(_context, SegmentRow.From(segment), expectedVersion);
            try
            {
                await StoreWrites.SaveUpdateAsync(_context, nameof(Segment), segment.Id, expectedVersion, () => Rows(segment.TenantId).AnyAsync(r => r.Id == segment.Id, cancellationToken), cancellationToken).ConfigureAwait(false);
            }
            catch (DbUpdateException ex) when (UniqueViolation.Is(ex))
            {
                throw new DuplicateValueException(nameof(Segment.Name), segment.Name, ex);
            }

            return true;
        }, cancellationToken).AsTask());

    /// <inheritdoc />
    public ValueTask DeleteAsync(string tenantId, Guid id, long expectedVersion, CancellationToken cancellationToken) =>
        new(StoreWrites.InTransactionAsync(_context, async () =>
        {
            var deleted = await _context.Set<SegmentRow>().Where(r => r.TenantId == tenantId && r.Id == id && r.Version == expectedVersion)
                .ExecuteDeleteAsync(cancellationToken).ConfigureAwait(false);
            if (deleted == 0)
            {
                throw await Rows(tenantId).AnyAsync(r => r.Id == id, cancellationToken).ConfigureAwait(false)
                    ? new ConcurrencyConflictException(nameof(Segment), id, expectedVersion)
                    : new EntityNotFoundException(nameof(Segment), id);
            }

            await _context.Set<SegmentMemberRow>().Where(m => m.TenantId == tenantId && m.SegmentId == id).ExecuteDeleteAsync(cancellationToken).ConfigureAwait(false);
            return true;
        }, cancellationToken).AsTask());

    /// <inheritdoc />
    public async ValueTask<IReadOnlyList<Guid>> AddMembersAsync(string tenantId, Guid segmentId, IReadOnlyCollection<Guid> customerIds, CancellationToken cancellationToken) =>
        await StoreWrites.InTransactionAsync<IReadOnlyList<Guid>>(_context, async () =>
        {
            // Inside the transaction, the rows found here cannot vanish or appear under us: membership is only
            // written while the customers are held (ICustomerStore.ConfirmVersionAsync) or the list is changed by id.
            var existing = await FindMembersAsync(tenantId, segmentId, customerIds, cancellationToken).ConfigureAwait(false);
            var added = customerIds.Distinct().Except(existing).ToList();
            try
            {
                await RowBulkInserter.InsertAsync(_context, added.ConvertAll(id => new SegmentMemberRow { TenantId = tenantId, SegmentId = segmentId, CustomerId = id }), cancellationToken).ConfigureAwait(false);
            }
            catch (System.Data.Common.DbException ex) when (UniqueViolation.Is(ex))
            {
                // Someone else added one of them meanwhile: the caller retries and sees it.
                throw new ConcurrencyConflictException(nameof(Segment), segmentId, 0, ex);
            }

            return added;
        }, cancellationToken).ConfigureAwait(false);

    /// <inheritdoc />
    public async ValueTask<IReadOnlyList<Guid>> RemoveMembersAsync(string tenantId, Guid segmentId, IReadOnlyCollection<Guid> customerIds, CancellationToken cancellationToken) =>
        await StoreWrites.InTransactionAsync<IReadOnlyList<Guid>>(_context, async () =>
        {
            var existing = await FindMembersAsync(tenantId, segmentId, customerIds, cancellationToken).ConfigureAwait(false);
            var ids = existing.ToArray();
            await _context.Set<SegmentMemberRow>().Where(m => m.TenantId == tenantId && m.SegmentId == segmentId && ids.Contains(m.CustomerId))
                .ExecuteDeleteAsync(cancellationToken).ConfigureAwait(false);
            return existing;
        }, cancellationToken).ConfigureAwait(false);

    /// <inheritdoc />
    public async ValueTask<IReadOnlyList<Guid>> FindMembersAsync(string tenantId, Guid segmentId, IReadOnlyCollection<Guid> customerIds, CancellationToken cancellationToken)
    {
        var ids = customerIds.ToArray();
        return await Members(tenantId, segmentId).Where(m => ids.Contains(m.CustomerId)).Select(m => m.CustomerId).ToListAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <inheritdoc />
    public async ValueTask<IReadOnlyList<Guid>> ListMemberIdsAsync(string tenantId, Guid segmentId, Guid? afterId, int limit, CancellationToken cancellationToken)
    {
        var query = Members(tenantId, segmentId);
        if (afterId is { } after)
        {
            query = query.Where(m => m.CustomerId.CompareTo(after) > 0);
        }

        return await query.OrderBy(m => m.CustomerId).Select(m => m.CustomerId).Take(limit).ToListAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <inheritdoc />
    public async ValueTask<IReadOnlyList<Guid>> ListSegmentIdsOfMemberAsync(string tenantId, Guid customerId, CancellationToken cancellationToken) =>
        await _context.Set<SegmentMemberRow>().AsNoTracking().Where(m => m.TenantId == tenantId && m.CustomerId == customerId)
            .OrderBy(m => m.SegmentId).Select(m => m.SegmentId).ToListAsync(cancellationToken).ConfigureAwait(false);
}
