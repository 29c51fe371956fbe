using System.Collections.Concurrent;
using Crm.Kit.Customers;
using Crm.Kit.Insights;
using Crm.Kit.Interactions;
using Crm.Kit.Orders;

namespace Crm.Kit.InMemory;

/// <summary>
/// The data behind the in-memory stores: thread-safe, with secondary indexes for every lookup. Writes are
/// serialised through one gate (so version checks cannot race); reads never wait for it. Share one instance
/// between service providers to let them see the same data, as the specification tests do for tenant isolation.
/// </summary>
public sealed class InMemoryCrmDatabase : IDisposable
{
    private readonly SemaphoreSlim _writeGate = new(1, 1);
    private readonly AsyncLocal<InMemoryTransaction?> _currentTransaction = new();

    internal ConcurrentDictionary<string, TenantRows<Customer, CustomerIndex>> Customers { get; } = new(StringComparer.Ordinal);

    /// <summary>One shared instance of each low-cardinality string (owners, cities, labels, tags, sources).</summary>
    internal ConcurrentDictionary<string, string> Strings { get; } = new(StringComparer.Ordinal);

    internal ConcurrentDictionary<string, TenantRows<Order, OrderIndex>> Orders { get; } = new(StringComparer.Ordinal);

    internal ConcurrentDictionary<string, TenantRows<Interaction, InteractionIndex>> Interactions { get; } = new(StringComparer.Ordinal);

    internal ConcurrentDictionary<string, SegmentTenant> Segments { get; } = new(StringComparer.Ordinal);

    internal ConcurrentDictionary<string, ConcurrentDictionary<Guid, CustomerInsight>> Insights { get; } = new(StringComparer.Ordinal);

    internal ConcurrentDictionary<string, LoyaltyTenant> Loyalty { get; } = new(StringComparer.Ordinal);

    internal ConcurrentDictionary<string, TenantRows<Service.ServiceCase, CaseIndex>> Cases { get; } = new(StringComparer.Ordinal);

    /// <summary>Each tenant's SLA policies: a small list replaced whole on every change.</summary>
    internal ConcurrentDictionary<string, IReadOnlyList<Service.SlaPolicy>> SlaPolicies { get; } = new(StringComparer.Ordinal);

    internal ConcurrentDictionary<string, FeedbackTenant> Feedback { get; } = new(StringComparer.Ordinal);

    internal ConcurrentDictionary<string, ConcurrentDictionary<Guid, Sales.SalesPipeline>> Pipelines { get; } = new(StringComparer.Ordinal);

    internal ConcurrentDictionary<string, ConcurrentDictionary<Guid, Sales.LeadScore>> LeadScores { get; } = new(StringComparer.Ordinal);

    internal ConcurrentDictionary<string, TenantRows<Sales.Deal, DealIndex>> Deals { get; } = new(StringComparer.Ordinal);

    /// <inheritdoc />
    public void Dispose() => _writeGate.Dispose();

    /// <summary>
    /// Runs one write. Inside a transaction of the calling flow it applies at once and records its undo;
    /// otherwise it waits for the gate, so that it never interleaves with a transaction or another write.
    /// </summary>
    internal ValueTask WriteAsync(Func<Action> apply, CancellationToken cancellationToken) =>
        WriteAsync(apply, static apply => apply(), cancellationToken);

    /// <summary>
    /// <see cref="WriteAsync(Func{Action}, CancellationToken)"/> for a hot write: the state goes to a static
    /// <paramref name="apply"/>, which returns its undo as an object (or a delegate), so the write needs no closures.
    /// </summary>
    internal async ValueTask WriteAsync<TState>(TState state, Func<TState, object> apply, CancellationToken cancellationToken)
    {
        if (_currentTransaction.Value is { IsActive: true } transaction)
        {
            transaction.Record(apply(state));
            return;
        }

        await _writeGate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            apply(state);
        }
        finally
        {
            _writeGate.Release();
        }
    }

    // Not async on purpose: the AsyncLocal assignment must happen in the caller's execution context so that the
    // caller's later store calls see the transaction; an async method would restore the context on return.
    internal ValueTask<ICrmTransaction> BeginAsync(CancellationToken cancellationToken)
    {
        if (_currentTransaction.Value is { IsActive: true })
        {
            return new ValueTask<ICrmTransaction>(NestedTransaction.Instance);
        }

        var transaction = new InMemoryTransaction(this);
        _currentTransaction.Value = transaction;
        return transaction.AcquireAsync(_writeGate, cancellationToken);
    }

    internal void EndTransaction(InMemoryTransaction transaction)
    {
        if (ReferenceEquals(_currentTransaction.Value, transaction))
        {
            _currentTransaction.Value = null;
        }
    }

    internal sealed class InMemoryTransaction(InMemoryCrmDatabase database) : ICrmTransaction
    {
        // Most transactions record one write: the list is made for the second.
        private object? _firstUndo;
        private List<object>? _moreUndo;
        private SemaphoreSlim? _gate;
        private bool _committed;

        public bool IsActive => _gate is not null;

        public async ValueTask<ICrmTransaction> AcquireAsync(SemaphoreSlim gate, CancellationToken cancellationToken)
        {
            try
            {
                await gate.WaitAsync(cancellationToken).ConfigureAwait(false);
            }
            catch
            {
                database.EndTransaction(this);
                throw;
            }

            _gate = gate;
            return this;
        }

        /// <summary>Records how to undo a write: an <see cref="Action"/> or an <see cref="IUndo"/>.</summary>
        public void Record(object undo)
        {
            if (_firstUndo is null)
            {
                _firstUndo = undo;
            }
            else
            {
                (_moreUndo ??= []).Add(undo);
            }
        }

        public ValueTask CommitAsync(CancellationToken cancellationToken)
        {
            _committed = true;
            _firstUndo = null;
            _moreUndo = null;
            return ValueTask.CompletedTask;
        }

        public ValueTask DisposeAsync()
        {
            if (_gate is { } gate)
            {
                if (!_committed)
                {
                    // Latest first.
                    for (var i = (_moreUndo?.Count ?? 0) - 1; i >= 0; i--)
                    {
                        Undo(_moreUndo![i]);
                    }

                    if (_firstUndo is { } first)
                    {
                        Undo(first);
                    }
                }

                _gate = null;
                gate.Release();
            }

            database.EndTransaction(this);
            return ValueTask.CompletedTask;
        }
    }

    private static void Undo(object undo)
    {
        if (undo is Action action)
        {
            action();
        }
        else
        {
            ((IUndo)undo).Undo();
        }
    }

    private sealed class NestedTransaction : ICrmTransaction
    {
        public static readonly NestedTransaction Instance = new();

        public ValueTask CommitAsync(CancellationToken cancellationToken) => ValueTask.CompletedTask;

        public ValueTask DisposeAsync() => ValueTask.CompletedTask;
    }
}

/// <summary>How to take back one write when its transaction does not commit; an object for writes that keep state anyway.</summary>
internal interface IUndo
{
    /// <summary>Restores what the write changed.</summary>
    void Undo();
}

/// <summary>The in-memory <see cref="ICrmUnitOfWork"/>: an undo log over the database's write gate.</summary>
/// <param name="database">The database.</param>
public sealed class InMemoryUnitOfWork(InMemoryCrmDatabase database) : ICrmUnitOfWork
{
    /// <inheritdoc />
    public ValueTask<ICrmTransaction> BeginAsync(CancellationToken cancellationToken) => database.BeginAsync(cancellationToken);
}
