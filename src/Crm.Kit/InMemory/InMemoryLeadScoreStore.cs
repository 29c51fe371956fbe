using Crm.Kit.Sales;

namespace Crm.Kit.InMemory;

/// <summary>The in-memory <see cref="ILeadScoreStore"/>.</summary>
public sealed class InMemoryLeadScoreStore : ILeadScoreStore
{
    private readonly InMemoryCrmDatabase _database;

    /// <summary>Creates the store over a database.</summary>
    public InMemoryLeadScoreStore(InMemoryCrmDatabase database) => _database = database ?? throw new ArgumentNullException(nameof(database));

    /// <summary>The customer's score, or <see langword="null"/>; synchronous and lock-free, for compiled segment rules.</summary>
    public LeadScore? FindScore(string tenantId, Guid customerId) =>
        _database.LeadScores.TryGetValue(tenantId, out var scores) ? scores.GetValueOrDefault(customerId) : null;

    /// <inheritdoc />
    public ValueTask<LeadScore?> FindAsync(string tenantId, Guid customerId, CancellationToken cancellationToken) => new(FindScore(tenantId, customerId));

    /// <inheritdoc />
    public ValueTask SaveAsync(LeadScore score, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(score);
        return _database.WriteAsync(() =>
        {
            var scores = _database.LeadScores.GetOrAdd(score.TenantId, static _ => new());
            var previous = scores.GetValueOrDefault(score.CustomerId);
            scores[score.CustomerId] = score;
            return () =>
            {
                if (previous is null)
                {
                    scores.TryRemove(score.CustomerId, out _);
                }
                else
                {
                    scores[score.CustomerId] = previous;
                }
            };
        }, cancellationToken);
    }

    /// <inheritdoc />
    public async ValueTask<bool> DeleteAsync(string tenantId, Guid customerId, CancellationToken cancellationToken)
    {
        var removed = false;
        await _database.WriteAsync(() =>
        {
            if (!_database.LeadScores.TryGetValue(tenantId, out var scores) || !scores.TryRemove(customerId, out var previous))
            {
                return static () => { };
            }

            removed = true;
            return () => scores[customerId] = previous;
        }, cancellationToken).ConfigureAwait(false);
        return removed;
    }
}
