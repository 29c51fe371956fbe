using System.Data.Common;
using Microsoft.EntityFrameworkCore.Diagnostics;

namespace Crm.Kit.EntityFrameworkCore;

/// <summary>
/// Opens every SQLite connection of the host's context with <c>PRAGMA secure_delete = FAST</c>: SQLite then zeroes
/// the space a deleted or overwritten row leaves in its page, whenever doing so costs no extra I/O, so that older
/// copies of personal data do not linger in the database file for erasure to miss. Other providers are left alone.
/// </summary>
internal sealed class SqliteSecureDeleteInterceptor : DbConnectionInterceptor
{
    public static readonly SqliteSecureDeleteInterceptor Instance = new();

    public override void ConnectionOpened(DbConnection connection, ConnectionEndEventData eventData)
    {
        if (IsSqlite(connection))
        {
            using var command = Command(connection);
            command.ExecuteNonQuery();
        }
    }

    public override async Task ConnectionOpenedAsync(DbConnection connection, ConnectionEndEventData eventData, CancellationToken cancellationToken = default)
    {
        if (IsSqlite(connection))
        {
            var command = Command(connection);
            await using (command.ConfigureAwait(false))
            {
                await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
            }
        }
    }

    private static bool IsSqlite(DbConnection connection) => connection.GetType().FullName == "Microsoft.Data.Sqlite.SqliteConnection";

    private static DbCommand Command(DbConnection connection)
    {
        var command = connection.CreateCommand();
        command.CommandText = "PRAGMA secure_delete = FAST;";
        return command;
    }
}
