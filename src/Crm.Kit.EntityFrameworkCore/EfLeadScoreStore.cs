using Crm.Kit.Sales;
using Microsoft.EntityFrameworkCore;

namespace Crm.Kit.EntityFrameworkCore;

/// <summary>The EF Core <see cref="ILeadScoreStore"/>.</summary>
/// <typeparam name="TContext">The host's context, with <see cref="CrmKitModelBuilderExtensions.ApplyCrmKitModel"/> applied.</typeparam>
public sealed class EfLeadScoreStore<TContext> : ILeadScoreStore
    where TContext : DbContext
{
    private readonly TContext _context;

    /// <summary>Creates the store over the host's context.</summary>
    public EfLeadScoreStore(TContext context) => _context = ContextCheck.EnsureModel(context);

    private IQueryable<LeadScoreRow> Rows(string tenantId, Guid customerId) =>
        _context.Set<LeadScoreRow>().Where(r => r.TenantId == tenantId && r.CustomerId == customerId);

    /// <inheritdoc />
    public async ValueTask<LeadScore?> FindAsync(string tenantId, Guid customerId, CancellationToken cancellationToken) =>
        (await Rows(tenantId, customerId).AsNoTracking().FirstOrDefaultAsync(cancellationToken).ConfigureAwait(false))?.ToScore();

    /// <inheritdoc />
    public async ValueTask SaveAsync(LeadScore score, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(score);
        var row = LeadScoreRow.From(score);
        for (var tries = 0; ; tries++)
        {
            var updated = await Rows(row.TenantId, row.CustomerId).ExecuteUpdateAsync(
                s => s.SetProperty(r => r.Score, row.Score).SetProperty(r => r.Fit, row.Fit).SetProperty(r => r.Engagement, row.Engagement)
                    .SetProperty(r => r.Contributions, row.Contributions).SetProperty(r => r.ScoredAt, row.ScoredAt),
                cancellationToken).ConfigureAwait(false);
            if (updated > 0)
            {
                return;
            }

            try
            {
                _context.Add(row);
                await StoreWrites.SaveAsync(_context, nameof(LeadScore), row.CustomerId, 0, cancellationToken).ConfigureAwait(false);
                return;
            }
            catch (DbUpdateException ex) when (UniqueViolation.Is(ex) && tries == 0)
            {
                // Another scoring of the same customer inserted first: the last write wins, so update it.
                StoreWrites.DetachCrmRows(_context);
            }
        }
    }

    /// <inheritdoc />
    public async ValueTask<bool> DeleteAsync(string tenantId, Guid customerId, CancellationToken cancellationToken) =>
        await Rows(tenantId, customerId).ExecuteDeleteAsync(cancellationToken).ConfigureAwait(false) > 0;
}
