using System.Data.Common;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Storage;

namespace Crm.Kit.EntityFrameworkCore;

/// <summary>
/// Updates many versioned rows without change tracking, for imports: one prepared
/// <c>UPDATE … SET every column WHERE key = @key AND Version = @expected</c>, executed per row, each required to touch
/// exactly one row. Names, quoting and value conversion come from the EF model and provider, as in
/// <see cref="RowBulkInserter"/>. Runs in the context's current transaction.
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

        var (entityType, table, sql) = BulkTarget.Of<TRow>(context);
        var key = entityType.FindPrimaryKey()?.Properties is [var single] ? single : throw new InvalidOperationException($"{typeof(TRow).Name} needs a single-column key.");
        var version = entityType.FindProperty("Version") ?? throw new InvalidOperationException($"{typeof(TRow).Name} has no Version.");
        var columns = entityType.GetProperties().Where(p => p != key).ToArray();
        var all = columns.Append(key).Append(version).ToArray();
        var mappings = Array.ConvertAll(all, p => p.GetRelationalTypeMapping());
        var getters = Array.ConvertAll(columns, p => p.GetGetter());
        string Name(int i) => sql.GenerateParameterName("p" + i);
        var text = $"UPDATE {sql.DelimitIdentifier(table.Name, table.Schema)} SET " +
            string.Join(", ", columns.Select((p, i) => $"{sql.DelimitIdentifier(p.GetColumnName(table)!)} = {Name(i)}")) +
            $" WHERE {sql.DelimitIdentifier(key.GetColumnName(table)!)} = {Name(columns.Length)} AND {sql.DelimitIdentifier(version.GetColumnName(table)!)} = {Name(columns.Length + 1)}";

        var connection = context.Database.GetDbConnection();
        var transaction = BulkTarget.Transaction(context);
        var update = connection.CreateCommand();
        await using (update.ConfigureAwait(false))
        {
            update.Transaction = transaction;
            update.CommandText = text;
            var parameters = new DbParameter[all.Length];
            for (var i = 0; i < all.Length; i++)
            {
                parameters[i] = mappings[i].CreateParameter(update, Name(i), null, all[i].IsNullable);
                update.Parameters.Add(parameters[i]);
            }

            await update.PrepareAsync(cancellationToken).ConfigureAwait(false);
            foreach (var (row, id, expected) in rows)
            {
                for (var i = 0; i < columns.Length; i++)
                {
                    parameters[i].Value = Provider(mappings[i], getters[i].GetClrValue(row));
                }

                parameters[columns.Length].Value = Provider(mappings[columns.Length], id);
                parameters[columns.Length + 1].Value = expected;
                if (await update.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false) != 1)
                {
                    throw new ConcurrencyConflictException(entityName, id, expected);
                }
            }
        }
    }

    private static object Provider(RelationalTypeMapping mapping, object? value) =>
        (value is null ? null : mapping.Converter?.ConvertToProvider(value) ?? value) ?? DBNull.Value;
}
