using SQLitePCL;

namespace Crm.Kit.Benchmarks;

/// <summary>
/// A database opened through SQLite's own C API (SQLitePCLRaw, the binding Microsoft.Data.Sqlite itself sits on):
/// no ADO.NET, no EF, only the native library. Baselines written on it show what SQLite alone costs on the machine,
/// the floor under any .NET code using it.
/// </summary>
internal sealed class NativeSqlite : IDisposable
{
    private readonly sqlite3 _database;

    static NativeSqlite() => Batteries_V2.Init();

    public NativeSqlite(string path)
    {
        var result = raw.sqlite3_open(path, out _database);
        if (result != raw.SQLITE_OK)
        {
            throw new InvalidOperationException($"sqlite3_open({path}) returned {result}.");
        }
    }

    public NativeStatement Prepare(string sql)
    {
        Check(raw.sqlite3_prepare_v2(_database, sql, out var statement));
        return new NativeStatement(this, statement);
    }

    public void Execute(string sql) => Check(raw.sqlite3_exec(_database, sql));

    /// <summary>Throws with SQLite's message unless the result is OK, ROW or DONE; returns the result.</summary>
    public int Check(int result) => result is raw.SQLITE_OK or raw.SQLITE_ROW or raw.SQLITE_DONE
        ? result
        : throw new InvalidOperationException(raw.sqlite3_errmsg(_database).utf8_to_string());

    public void Dispose() => _database.Dispose();
}

/// <summary>A prepared statement: bind by 1-based index, step, read, reset for the next use.</summary>
internal sealed class NativeStatement(NativeSqlite database, sqlite3_stmt statement) : IDisposable
{
    /// <summary>Binds text, or NULL for a null string.</summary>
    public NativeStatement Bind(int index, string? value)
    {
        database.Check(value is null ? raw.sqlite3_bind_null(statement, index) : raw.sqlite3_bind_text(statement, index, value));
        return this;
    }

    public NativeStatement Bind(int index, long value)
    {
        database.Check(raw.sqlite3_bind_int64(statement, index, value));
        return this;
    }

    /// <summary>Steps once; true when a row came back.</summary>
    public bool Step() => database.Check(raw.sqlite3_step(statement)) == raw.SQLITE_ROW;

    public long Int64(int column) => raw.sqlite3_column_int64(statement, column);

    public string Text(int column) => raw.sqlite3_column_text(statement, column).utf8_to_string();

    public void Reset() => raw.sqlite3_reset(statement);

    /// <summary>Steps a statement that returns no rows, then resets it.</summary>
    public void Run()
    {
        Step();
        Reset();
    }

    public void Dispose() => statement.Dispose();
}
