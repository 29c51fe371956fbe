using Microsoft.EntityFrameworkCore;

namespace Crm.Kit.EntityFrameworkCore;

/// <summary>Write mechanics the EF stores share.</summary>
internal static class StoreWrites
{
    /// <summary>
    /// Stops tracking every Crm.Kit row. Stores never leave rows tracked: reads are no-tracking and writes detach
    /// after saving, so a host's context does not fill up, and a failed write leaves nothing to retry by accident.
    /// The host's own tracked entities are left alone.
    /// </summary>
    public static void DetachCrmRows(DbContext context)
    {
        foreach (var entry in context.ChangeTracker.Entries().ToList())
        {
            if (entry.Entity is ICrmRow)
            {
                entry.State = EntityState.Detached;
            }
        }
    }

    /// <summary>
    /// Begins a transaction. Beginning is where SQLite takes the write lock, and EF Core tells no interceptor when it
    /// fails, so a lock held too long is turned into <see cref="CrmStoreBusyException"/> here (see <see cref="SqliteBusy"/>).
    /// </summary>
    public static async Task<Microsoft.EntityFrameworkCore.Storage.IDbContextTransaction> BeginAsync(DbContext context, CancellationToken cancellationToken)
    {
        try
        {
            return await context.Database.BeginTransactionAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            SqliteBusy.ThrowIfBusy(ex);
            throw;
        }
    }

    /// <summary>Runs <paramref name="work"/> in the current transaction, or in one of its own that commits at the end.</summary>
    public static async ValueTask<T> InTransactionAsync<T>(DbContext context, Func<ValueTask<T>> work, CancellationToken cancellationToken)
    {
        if (context.Database.CurrentTransaction is not null)
        {
            return await work().ConfigureAwait(false);
        }

        var transaction = await BeginAsync(context, cancellationToken).ConfigureAwait(false);
        await using (transaction.ConfigureAwait(false))
        {
            try
            {
                var result = await work().ConfigureAwait(false);
                await transaction.CommitAsync(cancellationToken).ConfigureAwait(false);
                return result;
            }
            catch
            {
                DetachCrmRows(context);
                throw;
            }
        }
    }

    /// <summary>Saves, maps an optimistic-concurrency failure to <see cref="ConcurrencyConflictException"/>, and detaches the rows.</summary>
    public static async ValueTask SaveAsync(DbContext context, string entityType, Guid id, long expectedVersion, CancellationToken cancellationToken)
    {
        try
        {
            await context.SaveChangesAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (DbUpdateConcurrencyException ex)
        {
            throw new ConcurrencyConflictException(entityType, id, expectedVersion, ex);
        }
        finally
        {
            DetachCrmRows(context);
        }
    }

    /// <summary>
    /// Saves an update attached with <see cref="AttachUpdate"/>. When no row matched id, tenant and version, tells the
    /// two causes apart: <see cref="EntityNotFoundException"/> when the record is not there (for this tenant),
    /// <see cref="ConcurrencyConflictException"/> when someone else changed it. Other failures pass through.
    /// </summary>
    public static async ValueTask SaveUpdateAsync(DbContext context, string entityType, Guid id, long expectedVersion, Func<Task<bool>> exists, CancellationToken cancellationToken)
    {
        try
        {
            await SaveAsync(context, entityType, id, expectedVersion, cancellationToken).ConfigureAwait(false);
        }
        catch (ConcurrencyConflictException)
        {
            // A zero-row update is not a database error, so the existence check is safe inside a transaction too.
            if (!await exists().ConfigureAwait(false))
            {
                throw new EntityNotFoundException(entityType, id);
            }

            throw;
        }
    }

    /// <summary>Marks <paramref name="row"/> as an update of the stored row with the same id, tenant and <paramref name="expectedVersion"/>.</summary>
    public static void AttachUpdate<TRow>(DbContext context, TRow row, long expectedVersion)
        where TRow : class
    {
        var entry = context.Attach(row);
        entry.State = EntityState.Modified;
        entry.Property("Version").OriginalValue = expectedVersion;
    }
}

/// <summary>Recognises a unique-constraint violation without referencing any provider's exception type.</summary>
internal static class UniqueViolation
{
    /// <summary>
    /// True for SQLSTATE class 23 (integrity constraint violation: PostgreSQL, MySQL, DB2, Oracle) and for the
    /// unique-violation messages of SQLite and SQL Server, which do not report a SQLSTATE.
    /// </summary>
    public static bool Is(Exception exception)
    {
        for (Exception? inner = exception; inner is not null; inner = inner.InnerException)
        {
            if (inner is System.Data.Common.DbException db &&
                (db.SqlState?.StartsWith("23", StringComparison.Ordinal) == true ||
                 db.Message.Contains("UNIQUE constraint failed", StringComparison.OrdinalIgnoreCase) ||
                 db.Message.Contains("duplicate key", StringComparison.OrdinalIgnoreCase)))
            {
                return true;
            }
        }

        return false;
    }
}
