using System.Collections.Concurrent;
using System.Data.Common;
using System.Runtime.CompilerServices;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.ChangeTracking;
using Microsoft.EntityFrameworkCore.Infrastructure;
using Microsoft.EntityFrameworkCore.Metadata;
using Microsoft.EntityFrameworkCore.Storage;

namespace Crm.Kit.EntityFrameworkCore;

/// <summary>
/// What the row writers need to know about a row type's table, read once per model from the EF model and the
/// provider's own services: table and column names (so naming conventions and the table prefix hold), identifier
/// quoting, parameter names, the statements, and each column's type mapping (so a row is stored exactly as EF would
/// store it).
/// </summary>
internal sealed class RowTable
{
    private static readonly ConditionalWeakTable<IModel, ConcurrentDictionary<Type, RowTable>> Tables = new();

    private RowTable(IModel model, ISqlGenerationHelper sql, Type rowType)
    {
        var entityType = model.FindEntityType(rowType)
            ?? throw new InvalidOperationException($"{rowType.Name} is not in the model; call ApplyCrmKitModel().");
        var table = StoreObjectIdentifier.Table(entityType.GetTableName()!, entityType.GetSchema());
        Columns = [.. entityType.GetProperties()];
        Mappings = Array.ConvertAll(Columns, p => p.GetRelationalTypeMapping());
        Getters = Array.ConvertAll(Columns, p => p.GetGetter());
        _comparers = Array.ConvertAll(Columns, p => p.GetValueComparer());
        ParameterNames = [.. Columns.Select((_, i) => sql.GenerateParameterName("p" + i))];
        EntityName = rowType.Name;
        string Column(IProperty p) => sql.DelimitIdentifier(p.GetColumnName(table)!);
        var name = sql.DelimitIdentifier(table.Name, table.Schema);

        // "column = @p3" for each column of a set, the key excluded or not: an update's SET list, a probe's WHERE.
        IEnumerable<string> Matches(ulong set, bool withKey) => Columns
            .Select((p, i) => (p, i))
            .Where(c => Includes(set, c.i) && (withKey || c.i != KeyIndex))
            .Select(c => $"{Column(c.p)} = {ParameterNames[c.i]}");

        InsertSql = $"INSERT INTO {name} ({string.Join(", ", Columns.Select(Column))}) VALUES ({string.Join(", ", ParameterNames)})";
        _existsText = set => $"SELECT 1 FROM {name} WHERE {string.Join(" AND ", Matches(set, withKey: true))}";
        PrimaryKeyIndexes = entityType.FindPrimaryKey()?.Properties.Select(p => Array.IndexOf(Columns, p)).ToArray() ?? [];
        KeyIndex = PrimaryKeyIndexes is [var single] ? single : -1;
        if (KeyIndex < 0)
        {
            TokenIndexes = [];
            TokenParameterNames = [];
            VersionToken = -1;
            LockParameters = [];
            return;
        }

        // An update sets columns other than the key, and matches the key and every concurrency token (the version,
        // and the tenant where the model marks it): a row of another tenant or a stale version is not touched.
        TokenIndexes = [.. Columns.Select((p, i) => (p, i)).Where(c => c.p.IsConcurrencyToken).Select(c => c.i)];
        TokenParameterNames = [.. TokenIndexes.Select((_, j) => sql.GenerateParameterName("o" + j))];
        VersionToken = Array.FindIndex(TokenIndexes, i => Columns[i].Name == "Version");
        var key = Column(Columns[KeyIndex]);
        var where = $" WHERE {key} = {ParameterNames[KeyIndex]}" +
            string.Concat(TokenIndexes.Select((i, j) => $" AND {Column(Columns[i])} = {TokenParameterNames[j]}"));
        _updateText = set => $"UPDATE {name} SET {string.Join(", ", Matches(set, withKey: false))}{where}";
        UpdateSql = _updateText(AllColumns);

        var version = Array.FindIndex(Columns, p => p.Name == "Version");
        var tenant = Array.FindIndex(Columns, p => p.Name == "TenantId");
        LockParameters = version < 0 || tenant < 0 ? [] : [KeyIndex, tenant];
        LockSql = version < 0 || tenant < 0
            ? null
            : $"UPDATE {name} SET {Column(Columns[version])} = {Column(Columns[version])} WHERE {key} = {ParameterNames[KeyIndex]} AND {Column(Columns[tenant])} = {ParameterNames[tenant]}";
    }

    /// <summary>A set of columns by index, as bits; columns past the 64th are always included.</summary>
    public const ulong AllColumns = ulong.MaxValue;

    private readonly Func<ulong, string>? _updateText;
    private readonly Func<ulong, string> _existsText;
    private readonly ConcurrentDictionary<ulong, string> _exists = new();
    private readonly ValueComparer[] _comparers;
    private readonly ConcurrentDictionary<ulong, string> _partialUpdates = new();

    /// <summary>The mapped properties, in column order of the statements.</summary>
    public IProperty[] Columns { get; }

    /// <summary>Each column's type mapping, which creates its parameter and converts its value.</summary>
    public RelationalTypeMapping[] Mappings { get; }

    /// <summary>Reads each column's value from a row.</summary>
    public IClrPropertyGetter[] Getters { get; }

    /// <summary>The parameter of each column, by index.</summary>
    public string[] ParameterNames { get; }

    /// <summary>The row type's name, for errors.</summary>
    public string EntityName { get; }

    /// <summary><c>INSERT INTO table (every column) VALUES (@p0, …)</c>.</summary>
    public string InsertSql { get; }

    /// <summary>
    /// <c>UPDATE table SET every other column WHERE key = @pK AND token = @o0 …</c>, or <see langword="null"/> when
    /// the row has no single-column key.
    /// </summary>
    public string? UpdateSql { get; }

    /// <summary>
    /// <c>UPDATE table SET Version = Version WHERE key = @k AND TenantId = @t</c>: changes nothing, but inside a
    /// transaction takes the row's write lock (the database's on SQLite) until it ends. <see langword="null"/> for
    /// rows without a version, a tenant and a single-column key.
    /// </summary>
    public string? LockSql { get; }

    /// <summary>The columns whose parameters <see cref="LockSql"/> uses: the key, then the tenant.</summary>
    public int[] LockParameters { get; }

    /// <summary>The primary key's columns, by index, in the key's order.</summary>
    public int[] PrimaryKeyIndexes { get; }

    /// <summary>The key column's index, or -1.</summary>
    public int KeyIndex { get; }

    /// <summary>The concurrency tokens' column indexes, in the order of their <c>@o</c> parameters.</summary>
    public int[] TokenIndexes { get; }

    /// <summary>The concurrency tokens' parameter names.</summary>
    public string[] TokenParameterNames { get; }

    /// <summary>Which token is the version (its original value is the expected version, not the row's), or -1.</summary>
    public int VersionToken { get; }

    /// <summary>Whether column <paramref name="index"/> is in <paramref name="set"/>.</summary>
    public static bool Includes(ulong set, int index) => index >= 64 || (set & (1UL << index)) != 0;

    /// <summary>
    /// The columns whose values differ between <paramref name="original"/> and <paramref name="row"/>, so that an
    /// update leaves the rest alone. Writing an unchanged indexed column still rewrites its index entries (SQLite
    /// does), which costs pages, and so time at commit.
    /// </summary>
    private ulong Changed(object original, object row)
    {
        var set = 0UL;
        for (var i = 0; i < Math.Min(Columns.Length, 64); i++)
        {
            // Compared as EF compares a tracked property, so "changed" means what it means to SaveChanges.
            if (!_comparers[i].Equals(Getters[i].GetClrValue(original), Getters[i].GetClrValue(row)))
            {
                set |= 1UL << i;
            }
        }

        return set;
    }

    /// <summary>
    /// The columns an update of <paramref name="row"/> writes: those that differ from <paramref name="original"/>, or
    /// all of them without an original or when nothing differs (a row without a version written back as it was).
    /// </summary>
    public ulong ColumnsToWrite(object row, object? original)
    {
        var changed = original is null ? 0 : Changed(original, row);
        return changed == 0 ? AllColumns : changed;
    }

    /// <summary>This table, checked to have the single-column key that updates match on.</summary>
    public RowTable ForUpdates() =>
        UpdateSql is not null ? this : throw new InvalidOperationException($"{EntityName} needs a single-column key to be updated.");

    /// <summary>The update of the columns in <paramref name="set"/>, made once per set.</summary>
    public string UpdateSqlFor(ulong set) =>
        set == AllColumns ? UpdateSql! : _partialUpdates.GetOrAdd(set, _updateText!);

    /// <summary>The set of the columns mapped from <paramref name="properties"/> (at most the first 64 columns).</summary>
    public ulong ColumnSet(params string[] properties)
    {
        var set = 0UL;
        foreach (var property in properties)
        {
            var index = Array.FindIndex(Columns, p => p.Name == property);
            if (index is < 0 or >= 64)
            {
                throw new InvalidOperationException($"{EntityName} has no column for {property} among its first 64.");
            }

            set |= 1UL << index;
        }

        return set;
    }

    /// <summary><c>SELECT 1 FROM table WHERE column = @p …</c> for the columns in <paramref name="set"/>, made once per set.</summary>
    public string ExistsSqlFor(ulong set) => _exists.GetOrAdd(set, _existsText);

    /// <summary>The table of <typeparamref name="TRow"/> in <paramref name="context"/>'s model.</summary>
    public static RowTable Of<TRow>(DbContext context)
        where TRow : class
    {
        var model = context.Model;
        var byType = Tables.GetValue(model, static _ => new ConcurrentDictionary<Type, RowTable>());
        return byType.TryGetValue(typeof(TRow), out var known)
            ? known
            : byType.GetOrAdd(typeof(TRow), static (type, state) => new RowTable(state.Model, state.Sql, type), (Model: model, Sql: context.GetService<ISqlGenerationHelper>()));
    }

    /// <summary>The context's current transaction, which bulk and row writes need.</summary>
    public static DbTransaction Transaction(DbContext context) =>
        context.Database.CurrentTransaction?.GetDbTransaction()
            ?? throw new InvalidOperationException("Row writes run inside a transaction; begin one with ICrmUnitOfWork.");

    /// <summary>The values of <paramref name="row"/>'s primary key, as the provider stores them.</summary>
    public object[] PrimaryKeyValues(object row) => Array.ConvertAll(PrimaryKeyIndexes, index => ProviderValue(row, index));

    /// <summary>
    /// Orders <see cref="PrimaryKeyValues"/> as an index of them is ordered: text ordinally, which is SQLite's default
    /// collation; other values by their own order (a <see cref="Guid"/> sorts as its text does).
    /// </summary>
    public static readonly Comparer<object[]> KeyOrder = Comparer<object[]>.Create(static (x, y) =>
    {
        for (var i = 0; i < x.Length; i++)
        {
            var order = (x[i], y[i]) switch
            {
                (string s, string t) => string.CompareOrdinal(s, t),
                (DBNull, DBNull) => 0,
                (DBNull, _) => -1,
                (_, DBNull) => 1,
                (IComparable c, var other) => c.CompareTo(other),
                _ => 0,
            };

            if (order != 0)
            {
                return order;
            }
        }

        return 0;
    });

    /// <summary>The value of column <paramref name="index"/> in <paramref name="row"/>, as the provider stores it.</summary>
    public object ProviderValue(object row, int index)
    {
        var value = Getters[index].GetClrValue(row);
        return (value is null ? null : Mappings[index].Converter?.ConvertToProvider(value) ?? value) ?? DBNull.Value;
    }

    /// <summary>
    /// Adds to <paramref name="target"/> a parameter, created by <paramref name="factory"/>'s provider, for every
    /// column in <paramref name="set"/> and for the key, and with <paramref name="tokens"/> one for each concurrency
    /// token's original value: what <see cref="InsertSql"/> (all columns, no tokens) or <see cref="UpdateSqlFor"/>
    /// (with tokens) needs; without <paramref name="key"/>, only the columns in the set, as <see cref="ExistsSqlFor"/>
    /// needs. Bind a row to them with <see cref="RowParameters.Bind"/>, once or once per row.
    /// </summary>
    public RowParameters AddParameters(DbParameterCollection target, DbCommand factory, ulong set, bool tokens, bool key = true)
    {
        var columns = new List<(int Column, DbParameter Parameter)>(Columns.Length);
        for (var i = 0; i < Columns.Length; i++)
        {
            if ((key && i == KeyIndex) || Includes(set, i))
            {
                columns.Add((i, Add(target, factory, i, ParameterNames[i])));
            }
        }

        var originals = tokens ? new DbParameter[TokenIndexes.Length] : [];
        for (var j = 0; j < originals.Length; j++)
        {
            originals[j] = Add(target, factory, TokenIndexes[j], TokenParameterNames[j]);
        }

        return new RowParameters(this, [.. columns], originals);
    }

    private DbParameter Add(DbParameterCollection target, DbCommand factory, int column, string name)
    {
        var parameter = Mappings[column].CreateParameter(factory, name, null, Columns[column].IsNullable);
        target.Add(parameter);
        return parameter;
    }
}

/// <summary>The parameters <see cref="RowTable.AddParameters"/> added, to be given one row's values.</summary>
internal readonly struct RowParameters(RowTable table, (int Column, DbParameter Parameter)[] columns, DbParameter[] tokens)
{
    /// <summary>
    /// Gives the parameters <paramref name="row"/>'s values as the provider stores them; a concurrency token gets the
    /// row's own value, except the version, which must be <paramref name="expectedVersion"/>.
    /// </summary>
    public void Bind(object row, long? expectedVersion)
    {
        foreach (var (column, parameter) in columns)
        {
            parameter.Value = table.ProviderValue(row, column);
        }

        for (var j = 0; j < tokens.Length; j++)
        {
            tokens[j].Value = j == table.VersionToken
                ? expectedVersion ?? throw new InvalidOperationException($"Updating {table.EntityName} needs the version it must still have.")
                : table.ProviderValue(row, table.TokenIndexes[j]);
        }
    }
}

/// <summary>
/// A few row writes that go to the database together, without change tracking: on a provider that batches
/// (<see cref="DbConnection.CanCreateBatch"/>, e.g. Npgsql) in one round trip, otherwise one command after another.
/// An update must touch exactly one row, or it fails with <see cref="ConcurrencyConflictException"/>. Runs in the
/// context's current transaction, which the caller must have begun; a failure leaves rolling back to it.
/// </summary>
internal sealed class RowWrites(DbContext context)
{
    private readonly List<Write> _writes = [];

    /// <summary>True when nothing has been added.</summary>
    public bool IsEmpty => _writes.Count == 0;

    /// <summary>Adds the insert of <paramref name="row"/>.</summary>
    public void Insert<TRow>(TRow row)
        where TRow : class =>
        _writes.Add(new Write(RowTable.Of<TRow>(context), row, IsUpdate: false, null, Guid.Empty, null, RowTable.AllColumns));

    /// <summary>
    /// Adds the update of the stored row with <paramref name="row"/>'s key and concurrency tokens, the version being
    /// <paramref name="expectedVersion"/> where the row has one; <paramref name="entityName"/> and <paramref name="id"/>
    /// name it in the conflict error.
    /// </summary>
    /// <remarks>Given the <paramref name="original"/> row as it was read, only the columns that differ are written.</remarks>
    public void Update<TRow>(TRow row, string entityName, Guid id, long? expectedVersion, TRow? original = null)
        where TRow : class
    {
        var table = RowTable.Of<TRow>(context).ForUpdates();
        _writes.Add(new Write(table, row, IsUpdate: true, entityName, id, expectedVersion, table.ColumnsToWrite(row, original)));
    }

    /// <summary>
    /// Takes the write lock of the <typeparamref name="TRow"/> with <paramref name="id"/> in <paramref name="tenantId"/>
    /// until the current transaction ends, without changing it; does nothing outside a transaction.
    /// </summary>
    public static async ValueTask LockAsync<TRow>(DbContext context, string tenantId, Guid id, CancellationToken cancellationToken)
        where TRow : class
    {
        if (context.Database.CurrentTransaction?.GetDbTransaction() is not { } transaction)
        {
            return;
        }

        var table = RowTable.Of<TRow>(context);
        var command = context.Database.GetDbConnection().CreateCommand();
        await using (command.ConfigureAwait(false))
        {
            command.Transaction = transaction;
            command.CommandText = table.LockSql ?? throw new InvalidOperationException($"{typeof(TRow).Name} has no version, tenant or single-column key to lock by.");
            foreach (var (index, value) in new (int, object)[] { (table.LockParameters[0], id), (table.LockParameters[1], tenantId) })
            {
                command.Parameters.Add(table.Mappings[index].CreateParameter(command, table.ParameterNames[index], value, nullable: false));
            }

            await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>Runs the writes in order.</summary>
    public async ValueTask ExecuteAsync(CancellationToken cancellationToken)
    {
        if (_writes.Count == 0)
        {
            return;
        }

        var connection = context.Database.GetDbConnection();
        var transaction = RowTable.Transaction(context);
        if (connection.CanCreateBatch && _writes.Count > 1)
        {
            await ExecuteBatchAsync(connection, transaction, cancellationToken).ConfigureAwait(false);
            return;
        }

        foreach (var write in _writes)
        {
            var command = connection.CreateCommand();
            await using (command.ConfigureAwait(false))
            {
                command.Transaction = transaction;
                command.CommandText = write.Sql;
                Fill(write, command.Parameters, command);
                Check(write, await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false));
            }
        }
    }

    private async ValueTask ExecuteBatchAsync(DbConnection connection, DbTransaction transaction, CancellationToken cancellationToken)
    {
        // EF's type mappings create parameters through a DbCommand; one from the same connection serves as the factory.
        var factory = connection.CreateCommand();
        await using var factoryScope = factory.ConfigureAwait(false);
        var batch = connection.CreateBatch();
        await using (batch.ConfigureAwait(false))
        {
            batch.Transaction = transaction;
            foreach (var write in _writes)
            {
                var command = batch.CreateBatchCommand();
                command.CommandText = write.Sql;
                Fill(write, command.Parameters, factory);
                batch.BatchCommands.Add(command);
            }

            await batch.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
            for (var i = 0; i < _writes.Count; i++)
            {
                Check(_writes[i], batch.BatchCommands[i].RecordsAffected);
            }
        }
    }

    private static void Fill(Write write, DbParameterCollection parameters, DbCommand factory) =>
        write.Table.AddParameters(parameters, factory, write.Set, tokens: write.IsUpdate).Bind(write.Row, write.ExpectedVersion);

    private static void Check(Write write, int affected)
    {
        if (write.IsUpdate && affected != 1)
        {
            throw new ConcurrencyConflictException(write.EntityName!, write.Id, write.ExpectedVersion ?? 0);
        }
    }

    private readonly record struct Write(RowTable Table, object Row, bool IsUpdate, string? EntityName, Guid Id, long? ExpectedVersion, ulong Set)
    {
        public string Sql => IsUpdate ? Table.UpdateSqlFor(Set) : Table.InsertSql;
    }
}
