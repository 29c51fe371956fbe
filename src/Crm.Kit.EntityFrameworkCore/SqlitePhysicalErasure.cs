using Crm.Kit.Privacy;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Storage;

namespace Crm.Kit.EntityFrameworkCore;

/// <summary>
/// Makes erasure physical on SQLite, which otherwise keeps deleted and overwritten rows readable in the free space of
/// its pages, on its free list and in its write-ahead log. Every connection already zeroes what ordinary writes free
/// within a page (<see cref="SqliteSecureDeleteInterceptor"/>). The erasure's own writes run with full secure
/// deletion, which also zeroes the pages they free; once they have committed, the pages on the free list are
/// overwritten, and the log is checkpointed into the database and truncated. On other providers it does nothing
/// (see <c>docs/customers.md</c> for PostgreSQL).
/// </summary>
internal sealed class SqlitePhysicalErasure<TContext>(TContext context) : IPhysicalErasure
    where TContext : DbContext
{
    private bool IsSqlite => context.Database.ProviderName?.EndsWith(".Sqlite", StringComparison.Ordinal) == true;

    public async ValueTask PrepareAsync(CancellationToken cancellationToken)
    {
        if (IsSqlite)
        {
            await context.Database.ExecuteSqlRawAsync("PRAGMA secure_delete = ON;", cancellationToken).ConfigureAwait(false);
        }
    }

    public async ValueTask CompleteAsync(CancellationToken cancellationToken)
    {
        if (!IsSqlite)
        {
            return;
        }

        await context.Database.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            await context.Database.ExecuteSqlRawAsync("PRAGMA secure_delete = ON;", cancellationToken).ConfigureAwait(false);
            await ScrubFreelistAsync(cancellationToken).ConfigureAwait(false);

            // The first column says whether the checkpoint was blocked (by readers of an older snapshot, after the
            // connection's busy timeout): then the log still holds the old pages, and the caller must hear of it.
            if (await ScalarAsync("PRAGMA wal_checkpoint(TRUNCATE);", cancellationToken).ConfigureAwait(false) != 0)
            {
                throw new CrmStoreBusyException("The erasure is committed, but SQLite's write-ahead log, which still holds the erased values, could not be emptied while other connections were reading. Call EraseAsync again to finish it.");
            }
        }
        finally
        {
            // Back to what every connection runs with, in case the host keeps this one open.
            await context.Database.ExecuteSqlRawAsync("PRAGMA secure_delete = FAST;", CancellationToken.None).ConfigureAwait(false);
            await context.Database.CloseConnectionAsync().ConfigureAwait(false);
        }
    }

    /// <summary>
    /// Overwrites the pages on the free list, where older writes may have left copies of rows: a blob of zeros as
    /// large as the free list takes its pages and is dropped again, all in one transaction.
    /// </summary>
    private async Task ScrubFreelistAsync(CancellationToken cancellationToken)
    {
        var free = await ScalarAsync("PRAGMA freelist_count;", cancellationToken).ConfigureAwait(false);
        if (free == 0)
        {
            return;
        }

        var pageSize = await ScalarAsync("PRAGMA page_size;", cancellationToken).ConfigureAwait(false);
        var transaction = await StoreWrites.BeginAsync(context, cancellationToken).ConfigureAwait(false);
        await using (transaction.ConfigureAwait(false))
        {
            await context.Database.ExecuteSqlRawAsync("CREATE TABLE crm_erasure_scrub (b BLOB);", cancellationToken).ConfigureAwait(false);
            await context.Database.ExecuteSqlAsync($"INSERT INTO crm_erasure_scrub VALUES (zeroblob({free * pageSize}));", cancellationToken).ConfigureAwait(false);
            await context.Database.ExecuteSqlRawAsync("DROP TABLE crm_erasure_scrub;", cancellationToken).ConfigureAwait(false);
            await transaction.CommitAsync(cancellationToken).ConfigureAwait(false);
        }
    }

    private async Task<long> ScalarAsync(string pragma, CancellationToken cancellationToken)
    {
        var command = context.Database.GetDbConnection().CreateCommand();
        await using (command.ConfigureAwait(false))
        {
            command.CommandText = pragma;
            command.Transaction = context.Database.CurrentTransaction?.GetDbTransaction();
            return Convert.ToInt64(await command.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false), System.Globalization.CultureInfo.InvariantCulture);
        }
    }
}
