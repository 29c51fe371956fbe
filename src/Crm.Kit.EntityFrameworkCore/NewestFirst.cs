using System.Linq.Expressions;
using Crm.Kit.Segmentation;
using Microsoft.EntityFrameworkCore;

namespace Crm.Kit.EntityFrameworkCore;

/// <summary>
/// One page of a newest-first listing keyed by (time, id): the rows strictly before <see cref="KeysetPosition"/>
/// in that order, so the (…, time, id) index serves both the filter and the sort.
/// </summary>
internal static class NewestFirst
{
    private static readonly System.Reflection.MethodInfo GuidCompareTo = typeof(Guid).GetMethod(nameof(Guid.CompareTo), [typeof(Guid)])!;

    public static Task<List<TRow>> PageAsync<TRow>(
        IQueryable<TRow> query,
        Expression<Func<TRow, long>> time,
        Expression<Func<TRow, Guid>> id,
        KeysetPosition? before,
        int limit,
        CancellationToken cancellationToken)
    {
        if (before is { } position)
        {
            // Read through a captured object so EF Core sends the position as parameters, as it does for a closure.
            var cursor = Expression.Constant(new Cursor(position.At.UtcTicks, position.Id));
            var row = time.Parameters[0];
            var rowTime = time.Body;
            var rowId = ParameterReplacer.Replace(id, row);
            var ticks = Expression.Property(cursor, nameof(Cursor.Ticks));
            var earlier = Expression.OrElse(
                Expression.LessThan(rowTime, ticks),
                Expression.AndAlso(
                    Expression.Equal(rowTime, ticks),
                    Expression.LessThan(Expression.Call(rowId, GuidCompareTo, Expression.Property(cursor, nameof(Cursor.Id))), Expression.Constant(0))));
            query = query.Where(Expression.Lambda<Func<TRow, bool>>(earlier, row));
        }

        return query.OrderByDescending(time).ThenByDescending(id).Take(limit).ToListAsync(cancellationToken);
    }

    private sealed record Cursor(long Ticks, Guid Id);
}
