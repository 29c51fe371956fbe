using System.Collections.Concurrent;

namespace Crm.Kit.InMemory;

/// <summary>One tenant's rows by id and its indexes. Rows are read without locks; the index is guarded by locking it.</summary>
internal sealed class TenantRows<T, TIndex>
    where T : class
    where TIndex : class, new()
{
    public RowMap<T> Rows { get; } = new();

    public TIndex Index { get; } = new();
}

/// <summary>
/// The storage mechanics every in-memory store shares: rows by tenant and id, one index object per tenant,
/// version-checked writes through the database's gate, and undo records for transactions.
/// </summary>
internal sealed class InMemoryTable<T, TIndex>(
    InMemoryCrmDatabase database,
    ConcurrentDictionary<string, TenantRows<T, TIndex>> tenants,
    string entityType,
    Func<T, Guid> idOf,
    Func<T, string> tenantOf,
    Func<T, long> versionOf,
    Action<TIndex, T> addToIndex,
    Action<TIndex, T> removeFromIndex)
    where T : class
    where TIndex : class, new()
{
    // Most applications have one tenant, or serve one tenant per request: remembering the last one found
    // turns the tenant lookup into a reference comparison, so a read by id touches only the id dictionary.
    // One immutable holder, replaced by a single reference write: a reader can never see one tenant's id paired
    // with another tenant's rows.
    private TenantSlot? _lastTenant;

    public T? Find(string tenantId, Guid id) =>
        Rows(tenantId) is { } rows && rows.Rows.TryGetValue(id, out var row) ? row : null;

    /// <summary>The tenant's rows, or null when the tenant has none (reads never create a tenant).</summary>
    public TenantRows<T, TIndex>? Rows(string tenantId)
    {
        var last = _lastTenant;
        if (last is not null && ReferenceEquals(last.TenantId, tenantId))
        {
            return last.Rows;
        }

        if (!tenants.TryGetValue(tenantId, out var rows))
        {
            return null;
        }

        _lastTenant = new TenantSlot(tenantId, rows);
        return rows;
    }

    /// <summary>The tenant's index, empty for a tenant with no rows.</summary>
    public TIndex Index(string tenantId) => Rows(tenantId)?.Index ?? EmptyIndex;

    private static TIndex EmptyIndex { get; } = new();

    private sealed record TenantSlot(string TenantId, TenantRows<T, TIndex> Rows);

    private TenantRows<T, TIndex> RowsForWrite(string tenantId) => tenants.GetOrAdd(tenantId, static _ => new TenantRows<T, TIndex>());

    /// <summary>Resolves ids found in a tenant's index to rows; call it under the index lock so the two agree.</summary>
    public List<T> Resolve(string tenantId, IEnumerable<Guid> ids)
    {
        var result = new List<T>();
        if (Rows(tenantId) is not { } rows)
        {
            return result;
        }

        foreach (var id in ids)
        {
            if (rows.Rows.TryGetValue(id, out var row))
            {
                result.Add(row);
            }
        }

        return result;
    }

    /// <param name="entity">The new row.</param>
    /// <param name="checkUnique">Returns the exception to throw when the row would break a uniqueness rule of its index.</param>
    /// <param name="cancellationToken">Cancels the wait for the write gate.</param>
    public ValueTask CreateAsync(T entity, Func<TIndex, T, Exception?> checkUnique, CancellationToken cancellationToken) =>
        CreateManyAsync([entity], checkUnique, cancellationToken);

    /// <summary>Adds many rows: every uniqueness rule is checked first (against stored rows and within the batch), then all are added.</summary>
    public ValueTask CreateManyAsync(IReadOnlyList<T> entities, Func<TIndex, T, Exception?> checkUnique, CancellationToken cancellationToken) =>
        database.WriteAsync(() => CreateMany(entities, checkUnique), cancellationToken);

    /// <summary>Adds rows at once, for a caller already inside the write gate; returns the undo.</summary>
    public Action CreateMany(IReadOnlyList<T> entities, Func<TIndex, T, Exception?> checkUnique)
    {
        var added = new List<T>(entities.Count);
        try
        {
            foreach (var entity in entities)
            {
                var rows = RowsForWrite(tenantOf(entity));
                lock (rows.Index)
                {
                    if (rows.Rows.ContainsKey(idOf(entity)))
                    {
                        throw new DuplicateValueException("Id", idOf(entity).ToString());
                    }

                    if (checkUnique(rows.Index, entity) is { } duplicate)
                    {
                        throw duplicate;
                    }

                    Put(rows, null, entity);
                    added.Add(entity);
                }
            }
        }
        catch
        {
            // All or none: take back what this batch added before the clash.
            RemoveAll(added);
            throw;
        }

        return () => RemoveAll(added);
    }

    public ValueTask UpdateAsync(T entity, long expectedVersion, Func<TIndex, T, Exception?> checkUnique, CancellationToken cancellationToken) =>
        database.WriteAsync(() => Update(entity, expectedVersion, checkUnique), cancellationToken);

    /// <summary>Replaces a row at once, for a caller already inside the write gate; returns the undo.</summary>
    public Action Update(T entity, long expectedVersion, Func<TIndex, T, Exception?> checkUnique)
    {
        var rows = Rows(tenantOf(entity)) ?? throw new EntityNotFoundException(entityType, idOf(entity));
        T current;
        lock (rows.Index)
        {
            current = rows.Rows.GetValueOrDefault(idOf(entity)) ?? throw new EntityNotFoundException(entityType, idOf(entity));
            if (versionOf(current) != expectedVersion)
            {
                throw new ConcurrencyConflictException(entityType, idOf(entity), expectedVersion);
            }

            if (checkUnique(rows.Index, entity) is { } duplicate)
            {
                throw duplicate;
            }

            Put(rows, current, entity);
        }

        return () => Put(rows, entity, current);
    }

    /// <summary>Checks a row's version as a write would, so that inside a transaction no other writer can change it until the end.</summary>
    public ValueTask ConfirmVersionAsync(string tenantId, Guid id, long expectedVersion, CancellationToken cancellationToken) =>
        database.WriteAsync(() =>
        {
            var current = Find(tenantId, id) ?? throw new EntityNotFoundException(entityType, id);
            if (versionOf(current) != expectedVersion)
            {
                throw new ConcurrencyConflictException(entityType, id, expectedVersion);
            }

            return static () => { };
        }, cancellationToken);

    /// <summary>Replaces many rows of one tenant in one write (all or none within a transaction).</summary>
    public async ValueTask<int> UpdateManyAsync(string tenantId, Func<TIndex, IReadOnlyList<T>> select, Func<T, T> change, CancellationToken cancellationToken)
    {
        var count = 0;
        await database.WriteAsync(() =>
        {
            if (Rows(tenantId) is not { } rows)
            {
                return () => { };
            }

            var changes = new List<(T Before, T After)>();
            lock (rows.Index)
            {
                foreach (var row in select(rows.Index))
                {
                    var after = change(row);
                    Put(rows, row, after);
                    changes.Add((row, after));
                }
            }

            count = changes.Count;
            return () =>
            {
                foreach (var (before, after) in changes)
                {
                    Put(rows, after, before);
                }
            };
        }, cancellationToken).ConfigureAwait(false);
        return count;
    }

    private void RemoveAll(List<T> added)
    {
        for (var i = added.Count - 1; i >= 0; i--)
        {
            Put(RowsForWrite(tenantOf(added[i])), added[i], null);
        }
    }

    private void Put(TenantRows<T, TIndex> rows, T? before, T? after)
    {
        lock (rows.Index)
        {
            if (before is not null)
            {
                removeFromIndex(rows.Index, before);
            }

            if (after is not null)
            {
                // Index first: lock-free readers of the row may rely on what the index records about it.
                addToIndex(rows.Index, after);
                rows.Rows.Set(idOf(after), after);
            }
            else if (before is not null)
            {
                rows.Rows.Remove(idOf(before));
            }

            (rows.Index as IIndexWriteCompletion)?.WriteCompleted();
        }
    }
}

/// <summary>
/// An index told when a write is complete. A write replaces a row by removing the old one from the index and
/// adding the new one; an index that lock-free readers see must not show them the moment in between.
/// </summary>
internal interface IIndexWriteCompletion
{
    /// <summary>The row's removal and addition are both done.</summary>
    void WriteCompleted();
}
