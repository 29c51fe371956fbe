using Crm.Kit.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Infrastructure;
using Microsoft.EntityFrameworkCore.Storage;

namespace Microsoft.EntityFrameworkCore;

/// <summary>Maintenance that makes erasure physical where the engine keeps old row versions in its table files.</summary>
public static class ErasedDataPurge
{
    /// <summary>
    /// Rewrites Crm.Kit's tables so that nothing erased (or otherwise deleted or overwritten) stays readable in their
    /// files. On PostgreSQL, where a deleted or updated row stays in its page as a dead tuple until the space is reused
    /// (a plain <c>VACUUM</c> marks it free but does not clear it), this runs <c>VACUUM (FULL)</c> on each Crm.Kit
    /// table, which rewrites the table, its TOAST table and its indexes into new files and removes the old ones. It
    /// holds an <c>ACCESS EXCLUSIVE</c> lock on each table while that table is rewritten: run it in a maintenance
    /// window after erasures, not on every request. On SQLite, where erasure already clears what it frees (see
    /// <c>docs/customers.md</c>), this runs <c>VACUUM</c>, which rebuilds the whole file; it is only needed once, for
    /// databases that held personal data before Crm.Kit turned secure deletion on.
    /// </summary>
    /// <param name="database">The host context's database.</param>
    /// <param name="cancellationToken">Cancels between tables.</param>
    /// <returns>The tables rewritten.</returns>
    /// <exception cref="NotSupportedException">The provider is neither PostgreSQL nor SQLite.</exception>
    public static async Task<IReadOnlyList<string>> PurgeErasedDataAsync(this DatabaseFacade database, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(database);
        var provider = database.ProviderName ?? string.Empty;
        if (provider.EndsWith(".Sqlite", StringComparison.Ordinal))
        {
            await database.ExecuteSqlRawAsync("VACUUM;", cancellationToken).ConfigureAwait(false);
            return ["(the whole database)"];
        }

        if (!provider.StartsWith("Npgsql", StringComparison.Ordinal))
        {
            throw new NotSupportedException($"PurgeErasedDataAsync knows PostgreSQL and SQLite, not {provider}; docs/customers.md says what erasure leaves on disk and what to do about it.");
        }

        var context = ((IDatabaseFacadeDependenciesAccessor)database).Context;
        var helper = context.GetService<ISqlGenerationHelper>();
        var tables = context.Model.GetEntityTypes()
            .Where(t => typeof(ICrmRow).IsAssignableFrom(t.ClrType) && t.GetTableName() is not null)
            .Select(t => helper.DelimitIdentifier(t.GetTableName()!, t.GetSchema()))
            .Distinct(StringComparer.Ordinal)
            .Order(StringComparer.Ordinal)
            .ToList();
        foreach (var table in tables)
        {
            // VACUUM cannot run inside a transaction block; EF runs a raw command outside one unless the host opened
            // one. The table name comes from the model, delimited by the provider: nothing from a caller is in the SQL.
#pragma warning disable EF1003
            await database.ExecuteSqlRawAsync("VACUUM (FULL) " + table + ";", cancellationToken).ConfigureAwait(false);
#pragma warning restore EF1003
        }

        return tables;
    }
}
