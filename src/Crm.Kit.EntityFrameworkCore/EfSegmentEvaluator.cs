using System.Linq.Expressions;
using Crm.Kit.Customers;
using Crm.Kit.Segmentation;
using Microsoft.EntityFrameworkCore;

namespace Crm.Kit.EntityFrameworkCore;

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
