using System.Runtime.CompilerServices;
using Crm.Kit.Interactions;
using Microsoft.EntityFrameworkCore;

namespace Crm.Kit.EntityFrameworkCore;

/// <summary>The EF Core <see cref="IInteractionStore"/>.</summary>
/// <typeparam name="TContext">The host's context.</typeparam>
public sealed class EfInteractionStore<TContext> : IInteractionStore
    where TContext : DbContext
{
    private readonly TContext _context;

    /// <summary>Creates the store over the host's context.</summary>
    public EfInteractionStore(TContext context) => _context = ContextCheck.EnsureModel(context);

    private IQueryable<InteractionRow> Rows(string tenantId) => _context.Set<InteractionRow>().AsNoTracking().Where(r => r.TenantId == tenantId);

    /// <inheritdoc />
    public async ValueTask<Interaction?> FindByIdAsync(string tenantId, Guid id, CancellationToken cancellationToken) =>
        (await Rows(tenantId).FirstOrDefaultAsync(r => r.Id == id, cancellationToken).ConfigureAwait(false))?.ToInteraction();

    /// <inheritdoc />
    public async ValueTask<IReadOnlyList<Interaction>> ListByCustomerAsync(string tenantId, Guid customerId, KeysetPosition? before, int limit, CancellationToken cancellationToken)
    {
        var rows = await NewestFirst.PageAsync(Rows(tenantId).Where(r => r.CustomerId == customerId), r => r.OccurredAt, r => r.Id, before, limit, cancellationToken).ConfigureAwait(false);
        return rows.ConvertAll(r => r.ToInteraction());
    }

    /// <inheritdoc />
    public async ValueTask<IReadOnlyList<Interaction>> ListOverdueTasksAsync(string tenantId, string ownerId, DateTimeOffset asOf, int limit, CancellationToken cancellationToken)
    {
        var ticks = asOf.UtcTicks;
        var rows = await Rows(tenantId)
            .Where(r => r.OwnerId == ownerId && r.Kind == InteractionKind.Task && r.CompletedAt == null && r.DueAt < ticks)
            .OrderBy(r => r.DueAt).ThenBy(r => r.Id)
            .Take(limit)
            .ToListAsync(cancellationToken).ConfigureAwait(false);
        return rows.ConvertAll(r => r.ToInteraction());
    }

    /// <inheritdoc />
    public async ValueTask<IReadOnlyList<Interaction>> ListByDealAsync(string tenantId, Guid dealId, KeysetPosition? before, int limit, CancellationToken cancellationToken)
    {
        var rows = await NewestFirst.PageAsync(Rows(tenantId).Where(r => r.DealId == dealId), r => r.OccurredAt, r => r.Id, before, limit, cancellationToken).ConfigureAwait(false);
        return rows.ConvertAll(r => r.ToInteraction());
    }

    /// <inheritdoc />
    public async ValueTask<IReadOnlyList<Interaction>> ListOpenTasksByDealAsync(string tenantId, Guid dealId, int limit, CancellationToken cancellationToken)
    {
        var rows = await Rows(tenantId)
            .Where(r => r.DealId == dealId && r.Kind == InteractionKind.Task && r.CompletedAt == null)
            .OrderBy(r => r.DueAt == null).ThenBy(r => r.DueAt).ThenBy(r => r.Id)
            .Take(limit)
            .ToListAsync(cancellationToken).ConfigureAwait(false);
        return rows.ConvertAll(r => r.ToInteraction());
    }

    /// <inheritdoc />
    public async IAsyncEnumerable<Interaction> StreamByCustomerAsync(string tenantId, Guid customerId, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        var rows = await Rows(tenantId).Where(r => r.CustomerId == customerId).OrderBy(r => r.OccurredAt).ThenBy(r => r.Id)
            .ToListAsync(cancellationToken).ConfigureAwait(false);
        foreach (var row in rows)
        {
            yield return row.ToInteraction();
        }
    }

    /// <inheritdoc />
    public async ValueTask CreateAsync(Interaction interaction, CancellationToken cancellationToken)
    {
        _context.Add(InteractionRow.From(interaction));
        await StoreWrites.SaveAsync(_context, nameof(Interaction), interaction.Id, 0, cancellationToken).ConfigureAwait(false);
    }

    /// <inheritdoc />
    public async ValueTask UpdateAsync(Interaction interaction, long expectedVersion, CancellationToken cancellationToken)
    {
        StoreWrites.AttachUpdate(_context, InteractionRow.From(interaction), expectedVersion);
        await StoreWrites.SaveUpdateAsync(_context, nameof(Interaction), interaction.Id, expectedVersion, () => Rows(interaction.TenantId).AnyAsync(r => r.Id == interaction.Id, cancellationToken), cancellationToken).ConfigureAwait(false);
    }

    /// <inheritdoc />
    public async ValueTask<int> ReassignCustomerAsync(string tenantId, Guid fromCustomerId, Guid toCustomerId, CancellationToken cancellationToken) =>
        await _context.Set<InteractionRow>().Where(r => r.TenantId == tenantId && r.CustomerId == fromCustomerId)
            .ExecuteUpdateAsync(s => s.SetProperty(r => r.CustomerId, toCustomerId).SetProperty(r => r.Version, r => r.Version + 1), cancellationToken)
            .ConfigureAwait(false);

    /// <inheritdoc />
    public async ValueTask<int> EraseTextAsync(string tenantId, Guid customerId, CancellationToken cancellationToken) =>
        await _context.Set<InteractionRow>().Where(r => r.TenantId == tenantId && r.CustomerId == customerId)
            .ExecuteUpdateAsync(s => s.SetProperty(r => r.Subject, (string?)null).SetProperty(r => r.Body, (string?)null).SetProperty(r => r.Version, r => r.Version + 1), cancellationToken)
            .ConfigureAwait(false);
}
