namespace Crm.Kit.Privacy;

/// <summary>
/// Makes erasure physical in a store whose engine keeps overwritten and deleted data readable for a while (in the
/// free space of its files, or in a write-ahead log). <see cref="CustomerPrivacy.EraseAsync"/> calls every registered
/// one: <see cref="PrepareAsync"/> inside the erasure's transaction before anything is written, and
/// <see cref="CompleteAsync"/> once the transaction has committed. The EF Core adapter registers one that does this
/// for SQLite; a store that needs nothing registers none.
/// </summary>
public interface IPhysicalErasure
{
    /// <summary>Called inside the erasure's transaction, before its writes: for example, turns on secure deletion.</summary>
    ValueTask PrepareAsync(CancellationToken cancellationToken);

    /// <summary>
    /// Called after the erasure committed: clears what the engine still holds of the erased values. When it fails,
    /// the erasure stands (it is committed) and the exception reaches the caller, who may call
    /// <see cref="CustomerPrivacy.EraseAsync"/> again to repeat it.
    /// </summary>
    ValueTask CompleteAsync(CancellationToken cancellationToken);
}
