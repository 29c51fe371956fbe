using System.Linq.Expressions;
using Crm.Kit.Customers;
using Crm.Kit.Segmentation;
using Microsoft.EntityFrameworkCore;

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
