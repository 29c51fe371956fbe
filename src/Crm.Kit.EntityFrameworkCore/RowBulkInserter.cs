using System.Data.Common;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Storage;

namespace Crm.Kit.EntityFrameworkCore;

/// <summary>
/// Inserts many rows without change tracking, for imports, with <see cref="RowTable.InsertSql"/>: through
/// <see cref="DbBatch"/> where the provider supports it and one prepared command otherwise. Runs in the context's
/// current transaction, which the caller must have begun.
/// </summary>
internal static class RowBulkInserter
{
    private const int RowsPerBatch = 200;

    public static async ValueTask InsertAsync<TRow>(DbContext context, IReadOnlyList<TRow> rows, CancellationToken cancellationToken)
        where TRow : class
    {
        if (rows.Count == 0)
        {
            return;
        }

        var table = RowTable.Of<TRow>(context);

        // Rows with a composite key go in in key order. Such a key is an index of its own (on SQLite, beside the
        // table), and rows keyed by values such as email addresses would otherwise land on random pages of it: with
        // more pages dirty than the cache holds, each insert read a page back and wrote one out again, several times
        // per page and transaction. In key order, each page is read and written once. Single-column keys here are
        // time-ordered ids made just before, which go in at the end of their index as they are; sorting them would
        // only shuffle rows made in the same millisecond, and undo an order the caller chose (such as the loyalty
        // import's, account by account). The sort is stable, so rows with equal keys keep their order.
        if (table.PrimaryKeyIndexes.Length > 1)
        {
            rows = [.. rows.OrderBy(table.PrimaryKeyValues, RowTable.KeyOrder)];
        }

        var connection = context.Database.GetDbConnection();
        var transaction = RowTable.Transaction(context);

        if (connection.CanCreateBatch)
        {
            // EF's type mappings create parameters through a DbCommand; one from the same connection serves as the factory.
            var parameterFactory = connection.CreateCommand();
            await using var factoryScope = parameterFactory.ConfigureAwait(false);
            for (var start = 0; start < rows.Count; start += RowsPerBatch)
            {
                var batch = connection.CreateBatch();
                await using (batch.ConfigureAwait(false))
                {
                    batch.Transaction = transaction;
                    for (var r = start; r < Math.Min(rows.Count, start + RowsPerBatch); r++)
                    {
                        var command = batch.CreateBatchCommand();
                        command.CommandText = table.InsertSql;
                        table.AddParameters(command.Parameters, parameterFactory, RowTable.AllColumns, tokens: false).Bind(rows[r], null);
                        batch.BatchCommands.Add(command);
                    }

                    await batch.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
                }
            }

            return;
        }

        var insert = connection.CreateCommand();
        await using (insert.ConfigureAwait(false))
        {
            insert.Transaction = transaction;
            insert.CommandText = table.InsertSql;
            var parameters = table.AddParameters(insert.Parameters, insert, RowTable.AllColumns, tokens: false);
            await insert.PrepareAsync(cancellationToken).ConfigureAwait(false);
            foreach (var row in rows)
            {
                parameters.Bind(row, null);
                await insert.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
            }
        }
    }
}
