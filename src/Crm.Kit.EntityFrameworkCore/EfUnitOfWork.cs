using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Storage;

namespace Crm.Kit.EntityFrameworkCore;

/// <summary>
/// The EF Core <see cref="ICrmUnitOfWork"/>: a database transaction on the host's context, or, when the host
/// already opened one, a part of it that leaves committing to the host.
/// </summary>
/// <typeparam name="TContext">The host's context.</typeparam>
public sealed class EfUnitOfWork<TContext>(TContext context) : ICrmUnitOfWork
    where TContext : DbContext
{
    /// <inheritdoc />
    public async ValueTask<ICrmTransaction> BeginAsync(CancellationToken cancellationToken)
    {
        if (context.Database.CurrentTransaction is not null)
        {
            return JoinedTransaction.Instance;
        }

        return new OwnedTransaction(context, await StoreWrites.BeginAsync(context, cancellationToken).ConfigureAwait(false));
    }

    private sealed class OwnedTransaction(DbContext context, IDbContextTransaction transaction) : ICrmTransaction
    {
        private bool _committed;

        public async ValueTask CommitAsync(CancellationToken cancellationToken)
        {
            await transaction.CommitAsync(cancellationToken).ConfigureAwait(false);
            _committed = true;
        }

        public async ValueTask DisposeAsync()
        {
            await transaction.DisposeAsync().ConfigureAwait(false);
            if (!_committed)
            {
                // Rows a store added in the rolled-back transaction must not linger in the change tracker.
                StoreWrites.DetachCrmRows(context);
            }
        }
    }

    private sealed class JoinedTransaction : ICrmTransaction
    {
        public static readonly JoinedTransaction Instance = new();

        public ValueTask CommitAsync(CancellationToken cancellationToken) => ValueTask.CompletedTask;

        public ValueTask DisposeAsync() => ValueTask.CompletedTask;
    }
}
