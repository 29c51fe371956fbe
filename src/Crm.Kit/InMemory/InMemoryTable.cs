using System.Collections.Concurrent;

namespace Crm.Kit.InMemory;

/// <summary>
/// The storage mechanics every in-memory store shares: rows by id, one index object per tenant, version-checked
/// writes through the database's gate, and undo records for transactions.
/// </summary>
internal sealed class InMemoryTable<T, TIndex>(
    InMemoryCrmDatabase database,
    ConcurrentDictionary<Guid, T> rows,
    ConcurrentDictionary<string, TIndex> indexes,
    string entityType,
    Func<T, Guid> idOf,
    Func<T, string> tenantOf,
    Func<T, long> versionOf,
    Action<TIndex, T> addToIndex,
    Action<TIndex, T> removeFromIndex)
    where T : class
    where TIndex : class, new()
{
    public T? Find(string tenantId, Guid id) =>
        rows.TryGetValue(id, out var row) && string.Equals(tenantOf(row), tenantId, StringComparison.Ordinal) ? row : null;

    public TIndex Index(string tenantId) => indexes.GetOrAdd(tenantId, static _ => new TIndex());

    /// <summary>Resolves ids found in an index to rows, under the index lock so the two agree.</summary>
    public List<T> Resolve(IEnumerable<Guid> ids)
    {
        var result = new List<T>();
        foreach (var id in ids)
        {
            if (rows.TryGetValue(id, out var row))
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
        database.WriteAsync(() =>
        {
            var index = Index(tenantOf(entity));
            lock (index)
            {
                if (rows.ContainsKey(idOf(entity)))
                {
                    throw new DuplicateValueException("Id", idOf(entity).ToString());
                }

                if (checkUnique(index, entity) is { } duplicate)
                {
                    throw duplicate;
                }

                Put(index, null, entity);
            }

            return () => Put(Index(tenantOf(entity)), entity, null);
        }, cancellationToken);

    /// <summary>Adds many rows: every uniqueness rule is checked first (against stored rows and within the batch), then all are added.</summary>
    public ValueTask CreateManyAsync(IReadOnlyList<T> entities, Func<TIndex, T, Exception?> checkUnique, CancellationToken cancellationToken) =>
        database.WriteAsync(() =>
        {
            var added = new List<T>(entities.Count);
            try
            {
                foreach (var entity in entities)
                {
                    var index = Index(tenantOf(entity));
                    lock (index)
                    {
                        if (rows.ContainsKey(idOf(entity)))
                        {
                            throw new DuplicateValueException("Id", idOf(entity).ToString());
                        }

                        if (checkUnique(index, entity) is { } duplicate)
                        {
                            throw duplicate;
                        }

                        Put(index, null, entity);
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
        }, cancellationToken);

    public ValueTask UpdateAsync(T entity, long expectedVersion, Func<TIndex, T, Exception?> checkUnique, CancellationToken cancellationToken) =>
        database.WriteAsync(() =>
        {
            var tenantId = tenantOf(entity);
            var index = Index(tenantId);
            T current;
            lock (index)
            {
                current = Find(tenantId, idOf(entity)) ?? throw new EntityNotFoundException(entityType, idOf(entity));
                if (versionOf(current) != expectedVersion)
                {
                    throw new ConcurrencyConflictException(entityType, idOf(entity), expectedVersion);
                }

                if (checkUnique(index, entity) is { } duplicate)
                {
                    throw duplicate;
                }

                Put(index, current, entity);
            }

            return () => Put(Index(tenantId), entity, current);
        }, cancellationToken);

    /// <summary>Replaces many rows of one tenant in one write (all or none within a transaction).</summary>
    public async ValueTask<int> UpdateManyAsync(string tenantId, Func<TIndex, IReadOnlyList<T>> select, Func<T, T> change, CancellationToken cancellationToken)
    {
        var count = 0;
        await database.WriteAsync(() =>
        {
            var index = Index(tenantId);
            var changes = new List<(T Before, T After)>();
            lock (index)
            {
                foreach (var row in select(index))
                {
                    var after = change(row);
                    Put(index, row, after);
                    changes.Add((row, after));
                }
            }

            count = changes.Count;
            return () =>
            {
                foreach (var (before, after) in changes)
                {
                    Put(Index(tenantId), after, before);
                }
            };
        }, cancellationToken).ConfigureAwait(false);
        return count;
    }

    private void RemoveAll(List<T> added)
    {
        for (var i = added.Count - 1; i >= 0; i--)
        {
            Put(Index(tenantOf(added[i])), added[i], null);
        }
    }

    private void Put(TIndex index, T? before, T? after)
    {
        lock (index)
        {
            if (before is not null)
            {
                removeFromIndex(index, before);
            }

            if (after is not null)
            {
                rows[idOf(after)] = after;
                addToIndex(index, after);
            }
            else if (before is not null)
            {
                rows.TryRemove(idOf(before), out _);
            }
        }
    }
}
