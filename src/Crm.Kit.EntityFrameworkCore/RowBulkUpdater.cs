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

        var table = RowTable.Of<TRow>(context);
        if (table.UpdateSql is null)
        {
            throw new InvalidOperationException($"{typeof(TRow).Name} needs a single-column key.");
        }

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
            var columns = new List<(int Index, DbParameter Parameter)>();
            for (var i = 0; i < table.Columns.Length; i++)
            {
                if (i == table.KeyIndex || RowTable.Includes(set, i))
                {
                    var parameter = table.Mappings[i].CreateParameter(update, table.ParameterNames[i], null, table.Columns[i].IsNullable);
                    update.Parameters.Add(parameter);
                    columns.Add((i, parameter));
                }
            }

            var tokens = new DbParameter[table.TokenIndexes.Length];
            for (var j = 0; j < tokens.Length; j++)
            {
                var i = table.TokenIndexes[j];
                tokens[j] = table.Mappings[i].CreateParameter(update, table.TokenParameterNames[j], null, table.Columns[i].IsNullable);
                update.Parameters.Add(tokens[j]);
            }

            await update.PrepareAsync(cancellationToken).ConfigureAwait(false);
            foreach (var (row, id, expected, _) in rows)
            {
                foreach (var (i, parameter) in columns)
                {
                    parameter.Value = table.ProviderValue(row, i);
                }

                for (var j = 0; j < tokens.Length; j++)
                {
                    tokens[j].Value = j == table.VersionToken ? expected : table.ProviderValue(row, table.TokenIndexes[j]);
                }

                if (await update.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false) != 1)
                {
                    throw new ConcurrencyConflictException(entityName, id, expected);
                }
            }
        }
    }
}
