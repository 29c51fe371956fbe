using System.Data.Common;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Storage;

namespace Crm.Kit.EntityFrameworkCore;

/// <summary>
/// Updates many versioned rows without change tracking, for imports: an update statement prepared once per set of
/// changed columns and executed per row, each required to touch exactly one row. Runs in the context's current
/// transaction.
/// </summary>
internal static class RowBulkUpdater
{
    /// <summary>
    /// Updates each row; given its original as read, only the columns that differ (rows changing the same columns
    /// share one prepared statement).
    /// </summary>
    public static async ValueTask UpdateAsync<TRow>(DbContext context, IReadOnlyList<(TRow Row, Guid Id, long ExpectedVersion, TRow? Original)> rows, string entityName, CancellationToken cancellationToken)
        where TRow : class
    {
        if (rows.Count == 0)
        {
            return;
        }

        var table = RowTable.Of<TRow>(context).ForUpdates();
        foreach (var group in rows.GroupBy(r => table.ColumnsToWrite(r.Row, r.Original)))
        {
            await UpdateAsync(context, table, group.Key, [.. group], entityName, cancellationToken).ConfigureAwait(false);
        }
    }

    private static async ValueTask UpdateAsync<TRow>(DbContext context, RowTable table, ulong set, IReadOnlyList<(TRow Row, Guid Id, long ExpectedVersion, TRow? Original)> rows, string entityName, CancellationToken cancellationToken)
        where TRow : class
    {
        var update = context.Database.GetDbConnection().CreateCommand();
        await using (update.ConfigureAwait(false))
        {
            update.Transaction = RowTable.Transaction(context);
            update.CommandText = table.UpdateSqlFor(set);
            var parameters = table.AddParameters(update.Parameters, update, set, tokens: true);
            await update.PrepareAsync(cancellationToken).ConfigureAwait(false);
            foreach (var (row, id, expected, _) in rows)
            {
                parameters.Bind(row, expected);
                if (await update.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false) != 1)
                {
                    throw new ConcurrencyConflictException(entityName, id, expected);
                }
            }
        }
    }
}
