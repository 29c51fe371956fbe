using Crm.Kit.Insights;
using Microsoft.EntityFrameworkCore;

namespace Crm.Kit.EntityFrameworkCore;

/// <summary>The EF Core <see cref="ICustomerInsightStore"/>: one row per customer in the insight table.</summary>
/// <typeparam name="TContext">The host's context, with <see cref="CrmKitModelBuilderExtensions.ApplyCrmKitModel"/> applied.</typeparam>
public sealed class EfCustomerInsightStore<TContext> : ICustomerInsightStore
    where TContext : DbContext
{
    private const int InsertRaceRetries = 3;
    private readonly TContext _context;

    /// <summary>Creates the store.</summary>
    public EfCustomerInsightStore(TContext context) => _context = ContextCheck.EnsureModel(context);

    /// <inheritdoc />
    public async ValueTask<CustomerInsight?> FindAsync(string tenantId, Guid customerId, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(tenantId);
        var row = await _context.Set<CustomerInsightRow>().AsNoTracking()
            .FirstOrDefaultAsync(r => r.TenantId == tenantId && r.CustomerId == customerId, cancellationToken).ConfigureAwait(false);
        return row?.ToInsight();
    }

    /// <inheritdoc />
    public async ValueTask UpsertAsync(string tenantId, IReadOnlyList<CustomerInsight> insights, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(tenantId);
        CustomerInsight.Validate(insights);
        if (insights.Count == 0)
        {
            return;
        }

        // Two writers inserting the same new customer collide on the key; the loser reads the winner's row and
        // decides again, so the newer snapshot wins either way.
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                await StoreWrites.InTransactionAsync(_context, async () =>
                {
                    await WriteAsync(tenantId, insights, cancellationToken).ConfigureAwait(false);
                    return true;
                }, cancellationToken).ConfigureAwait(false);
                return;
            }
            catch (DbUpdateException ex) when (attempt < InsertRaceRetries && _context.Database.CurrentTransaction is null && UniqueViolation.Is(ex))
            {
            }
        }
    }

    private async Task WriteAsync(string tenantId, IReadOnlyList<CustomerInsight> insights, CancellationToken cancellationToken)
    {
        var ids = insights.Select(i => i.CustomerId).ToArray();
        var stored = await _context.Set<CustomerInsightRow>()
            .Where(r => r.TenantId == tenantId && ids.Contains(r.CustomerId))
            .ToDictionaryAsync(r => r.CustomerId, cancellationToken).ConfigureAwait(false);
        foreach (var insight in insights)
        {
            if (stored.TryGetValue(insight.CustomerId, out var row))
            {
                if (row.ComputedAt <= insight.ComputedAt.UtcTicks)
                {
                    row.CopyFrom(insight);
                }
            }
            else
            {
                var added = new CustomerInsightRow { TenantId = tenantId };
                added.CopyFrom(insight);
                _context.Add(added);
            }
        }

        try
        {
            await _context.SaveChangesAsync(cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            StoreWrites.DetachCrmRows(_context);
        }
    }

    /// <inheritdoc />
    public async ValueTask<int> RemoveComputedBeforeAsync(string tenantId, DateTimeOffset computedAt, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(tenantId);
        var before = computedAt.UtcTicks;
        return await _context.Set<CustomerInsightRow>()
            .Where(r => r.TenantId == tenantId && r.ComputedAt < before)
            .ExecuteDeleteAsync(cancellationToken).ConfigureAwait(false);
    }
}
