using System.Data.Common;
using System.Reflection;
using Microsoft.EntityFrameworkCore.Diagnostics;

namespace Crm.Kit.EntityFrameworkCore;

/// <summary>
/// Turns SQLite's "database is locked" into <see cref="CrmStoreBusyException"/> for every command and transaction
/// of the host's context. Microsoft.Data.Sqlite has already waited for the lock for the connection's Default
/// Timeout by then; the exception says that nothing was written and the call may be repeated. The interceptor
/// throws from the failure notification, which EF Core raises inside its own catch block, so the caller sees the
/// Crm.Kit exception with SQLite's as its inner exception. Other errors and providers pass through untouched.
/// </summary>
internal static class SqliteBusy
{
    private const int Busy = 5;
    private const int Locked = 6;

    // The adapter does not reference Microsoft.Data.Sqlite: its exception is recognised by type name and code.
    private static PropertyInfo? _errorCode;

    public static void ThrowIfBusy(Exception exception)
    {
        for (var e = exception; e is not null; e = e.InnerException)
        {
            if (e is DbException db && db.GetType().FullName == "Microsoft.Data.Sqlite.SqliteException" && Code(db) is Busy or Locked)
            {
                throw new CrmStoreBusyException(
                    "The SQLite database stayed locked by another writer for longer than the connection waits (its Default Timeout): nothing was written, and the call may be repeated. docs/adapters.md says how to share one SQLite file.",
                    exception);
            }
        }
    }

    private static int Code(DbException exception)
    {
        _errorCode ??= exception.GetType().GetProperty("SqliteErrorCode");
        return _errorCode?.GetValue(exception) is int code ? code : -1;
    }
}

/// <summary>The command half of <see cref="SqliteBusy"/>.</summary>
internal sealed class SqliteBusyCommandInterceptor : DbCommandInterceptor
{
    public static readonly SqliteBusyCommandInterceptor Instance = new();

    public override void CommandFailed(DbCommand command, CommandErrorEventData eventData) => SqliteBusy.ThrowIfBusy(eventData.Exception);

    public override Task CommandFailedAsync(DbCommand command, CommandErrorEventData eventData, CancellationToken cancellationToken = default)
    {
        SqliteBusy.ThrowIfBusy(eventData.Exception);
        return Task.CompletedTask;
    }
}

/// <summary>The transaction half of <see cref="SqliteBusy"/>: beginning and committing take the write lock.</summary>
internal sealed class SqliteBusyTransactionInterceptor : DbTransactionInterceptor
{
    public static readonly SqliteBusyTransactionInterceptor Instance = new();

    public override void TransactionFailed(DbTransaction transaction, TransactionErrorEventData eventData) => SqliteBusy.ThrowIfBusy(eventData.Exception);

    public override Task TransactionFailedAsync(DbTransaction transaction, TransactionErrorEventData eventData, CancellationToken cancellationToken = default)
    {
        SqliteBusy.ThrowIfBusy(eventData.Exception);
        return Task.CompletedTask;
    }
}
