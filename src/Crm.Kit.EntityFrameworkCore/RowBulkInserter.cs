using System.Data.Common;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Infrastructure;
using Microsoft.EntityFrameworkCore.Metadata;
using Microsoft.EntityFrameworkCore.Storage;

namespace Crm.Kit.EntityFrameworkCore;

/// <summary>
/// Inserts many rows without change tracking, for imports. Everything provider-specific comes from the EF
/// model and the provider's own services: table and column names (so naming conventions and the table prefix
/// hold), identifier quoting, parameter names, and value conversion through each property's type mapping (so a
/// row is stored exactly as EF would store it). Uses <see cref="DbBatch"/> where the provider supports it and
/// one prepared command otherwise. Runs in the context's current transaction, which the caller must have begun.
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

        var (entityType, table, sql) = BulkTarget.Of<TRow>(context);
        var properties = entityType.GetProperties().ToArray();
        var mappings = Array.ConvertAll(properties, p => p.GetRelationalTypeMapping());
        var getters = Array.ConvertAll(properties, p => p.GetGetter());
        var text = $"INSERT INTO {sql.DelimitIdentifier(table.Name, table.Schema)} " +
            $"({string.Join(", ", properties.Select(p => sql.DelimitIdentifier(p.GetColumnName(table)!)))}) " +
            $"VALUES ({string.Join(", ", properties.Select((_, i) => sql.GenerateParameterName("p" + i)))})";

        var connection = context.Database.GetDbConnection();
        var transaction = BulkTarget.Transaction(context);

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
                        command.CommandText = text;
                        for (var i = 0; i < properties.Length; i++)
                        {
                            command.Parameters.Add(mappings[i].CreateParameter(parameterFactory, sql.GenerateParameterName("p" + i), getters[i].GetClrValue(rows[r]), properties[i].IsNullable));
                        }

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
            insert.CommandText = text;
            var parameters = new DbParameter[properties.Length];
            for (var i = 0; i < properties.Length; i++)
            {
                parameters[i] = mappings[i].CreateParameter(insert, sql.GenerateParameterName("p" + i), null, properties[i].IsNullable);
                insert.Parameters.Add(parameters[i]);
            }

            await insert.PrepareAsync(cancellationToken).ConfigureAwait(false);
            foreach (var row in rows)
            {
                for (var i = 0; i < properties.Length; i++)
                {
                    var value = getters[i].GetClrValue(row);
                    parameters[i].Value = (value is null ? null : mappings[i].Converter?.ConvertToProvider(value) ?? value) ?? DBNull.Value;
                }

                await insert.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
            }
        }
    }
}

/// <summary>What the bulk writers need to know about a row type's table, read from the EF model and provider.</summary>
internal static class BulkTarget
{
    public static (IEntityType EntityType, StoreObjectIdentifier Table, ISqlGenerationHelper Sql) Of<TRow>(DbContext context)
        where TRow : class
    {
        var entityType = context.Model.FindEntityType(typeof(TRow))
            ?? throw new InvalidOperationException($"{typeof(TRow).Name} is not in the model; call ApplyCrmKitModel().");
        return (entityType, StoreObjectIdentifier.Table(entityType.GetTableName()!, entityType.GetSchema()), context.GetService<ISqlGenerationHelper>());
    }

    public static DbTransaction Transaction(DbContext context) =>
        context.Database.CurrentTransaction?.GetDbTransaction()
            ?? throw new InvalidOperationException("Bulk writes run inside a transaction; begin one with ICrmUnitOfWork.");
}
