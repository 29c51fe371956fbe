using System.Data.Common;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Storage;

namespace Crm.Kit.EntityFrameworkCore;

/// <summary>
/// Updates many versioned rows without change tracking, for imports: <see cref="RowTable.UpdateSql"/> prepared once
/// and executed per row, each required to touch exactly one row. Runs in the context's current transaction.
/// </summary>
internal static class RowBulkUpdater
{
    public static async ValueTask UpdateAsync<TRow>(DbContext context, IReadOnlyList<(TRow Row, Guid Id, long ExpectedVersion)> rows, string entityName, CancellationToken cancellationToken)
        where TRow : class
    {
        if (rows.Count == 0)
        {
            return;
        }

        var table = RowTable.Of<TRow>(context);
        var update = context.Database.GetDbConnection().CreateCommand();
        await using (update.ConfigureAwait(false))
        {
            update.Transaction = RowTable.Transaction(context);
            update.CommandText = table.UpdateSql ?? throw new InvalidOperationException($"{typeof(TRow).Name} needs a single-column key.");
            var columns = new DbParameter[table.Columns.Length];
            for (var i = 0; i < columns.Length; i++)
            {
                columns[i] = table.Mappings[i].CreateParameter(update, table.ParameterNames[i], null, table.Columns[i].IsNullable);
                update.Parameters.Add(columns[i]);
            }

            var tokens = new DbParameter[table.TokenIndexes.Length];
            for (var j = 0; j < tokens.Length; j++)
            {
                var i = table.TokenIndexes[j];
                tokens[j] = table.Mappings[i].CreateParameter(update, table.TokenParameterNames[j], null, table.Columns[i].IsNullable);
                update.Parameters.Add(tokens[j]);
            }

            await update.PrepareAsync(cancellationToken).ConfigureAwait(false);
            foreach (var (row, id, expected) in rows)
            {
                for (var i = 0; i < columns.Length; i++)
                {
                    columns[i].Value = table.ProviderValue(row, i);
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
