using System.Data.Common;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Storage;

namespace Crm.Kit.EntityFrameworkCore;

/// <summary>
/// Asks which of many rows exist, matching each on a few columns (a unique key), without change tracking or query
/// translation: <see cref="RowTable.ExistsSqlFor"/>, one index seek per probe, through <see cref="DbBatch"/> a few
/// hundred at a time where the provider batches (one round trip each) and one prepared command otherwise (SQLite,
/// where a round trip is a function call). Runs in the context's current transaction when there is one.
/// </summary>
/// <remarks>
/// One query OR-ing a few hundred column matches, which LINQ would build, cost more than the seeks themselves on
/// SQLite: EF translated and looked up an expression tree of that size per query, and SQLite planned every OR term
/// and found each of its hundreds of parameters by name.
/// </remarks>
internal static class RowProbe
{
    private const int ProbesPerBatch = 250;

    /// <summary>
    /// For each of <paramref name="probes"/>, whether a stored row has the same values in the columns of
    /// <paramref name="set"/> (<see cref="RowTable.ColumnSet"/>).
    /// </summary>
    public static async ValueTask<bool[]> ExistAsync<TRow>(DbContext context, IReadOnlyList<TRow> probes, ulong set, CancellationToken cancellationToken)
        where TRow : class
    {
        var found = new bool[probes.Count];
        if (probes.Count == 0)
        {
            return found;
        }

        var table = RowTable.Of<TRow>(context);
        var sql = table.ExistsSqlFor(set);
        await context.Database.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            var connection = context.Database.GetDbConnection();
            var transaction = context.Database.CurrentTransaction?.GetDbTransaction();
            if (connection.CanCreateBatch)
            {
                await ProbeInBatchesAsync(connection, transaction, table, sql, set, probes, found, cancellationToken).ConfigureAwait(false);
                return found;
            }

            var probe = connection.CreateCommand();
            await using (probe.ConfigureAwait(false))
            {
                probe.Transaction = transaction;
                probe.CommandText = sql;
                var parameters = table.AddParameters(probe.Parameters, probe, set, tokens: false, key: false);
                await probe.PrepareAsync(cancellationToken).ConfigureAwait(false);
                for (var i = 0; i < probes.Count; i++)
                {
                    parameters.Bind(probes[i], null);
                    found[i] = await probe.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false) is not null;
                }
            }

            return found;
        }
        finally
        {
            await context.Database.CloseConnectionAsync().ConfigureAwait(false);
        }
    }

    private static async ValueTask ProbeInBatchesAsync<TRow>(DbConnection connection, DbTransaction? transaction, RowTable table, string sql, ulong set, IReadOnlyList<TRow> probes, bool[] found, CancellationToken cancellationToken)
        where TRow : class
    {
        // EF's type mappings create parameters through a DbCommand; one from the same connection serves as the factory.
        var factory = connection.CreateCommand();
        await using var factoryScope = factory.ConfigureAwait(false);
        for (var start = 0; start < probes.Count; start += ProbesPerBatch)
        {
            var end = Math.Min(probes.Count, start + ProbesPerBatch);
            var batch = connection.CreateBatch();
            await using (batch.ConfigureAwait(false))
            {
                batch.Transaction = transaction;
                for (var i = start; i < end; i++)
                {
                    var command = batch.CreateBatchCommand();
                    command.CommandText = sql;
                    table.AddParameters(command.Parameters, factory, set, tokens: false, key: false).Bind(probes[i], null);
                    batch.BatchCommands.Add(command);
                }

                var reader = await batch.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
                await using (reader.ConfigureAwait(false))
                {
                    // One result per command, in order; a row means the probe matched.
                    for (var i = start; i < end; i++)
                    {
                        found[i] = await reader.ReadAsync(cancellationToken).ConfigureAwait(false);
                        if (i + 1 < end)
                        {
                            await reader.NextResultAsync(cancellationToken).ConfigureAwait(false);
                        }
                    }
                }
            }
        }
    }
}
