namespace Crm.Kit;

/// <summary>
/// Starts the transactions managers use to make several store writes atomic (for example an order and the
/// customer metrics it changes). Each adapter supplies one; a host rarely calls it directly.
/// </summary>
public interface ICrmUnitOfWork
{
    /// <summary>
    /// Begins a transaction. When the adapter is already inside a transaction the host started, the returned
    /// transaction joins it and commits nothing itself.
    /// </summary>
    ValueTask<ICrmTransaction> BeginAsync(CancellationToken cancellationToken);
}

/// <summary>An open transaction. Disposing it without <see cref="CommitAsync"/> rolls every write in it back.</summary>
public interface ICrmTransaction : IAsyncDisposable
{
    /// <summary>Makes every write in the transaction durable and visible.</summary>
    ValueTask CommitAsync(CancellationToken cancellationToken);
}
