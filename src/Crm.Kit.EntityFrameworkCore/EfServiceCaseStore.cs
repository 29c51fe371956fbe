using System.Text.Json;
using Crm.Kit.Service;
using Microsoft.EntityFrameworkCore;

namespace Crm.Kit.EntityFrameworkCore;

/// <summary>The EF Core <see cref="IServiceCaseStore"/>.</summary>
/// <typeparam name="TContext">The host's context, with <see cref="CrmKitModelBuilderExtensions.ApplyCrmKitModel"/> applied.</typeparam>
public sealed class EfServiceCaseStore<TContext> : IServiceCaseStore
    where TContext : DbContext
{
    private readonly TContext _context;

    /// <summary>Creates the store over the host's context.</summary>
    public EfServiceCaseStore(TContext context) => _context = ContextCheck.EnsureModel(context);

    private IQueryable<ServiceCaseRow> Cases(string tenantId) => _context.Set<ServiceCaseRow>().AsNoTracking().Where(r => r.TenantId == tenantId);

    private IQueryable<SlaPolicyRow> Policies(string tenantId) => _context.Set<SlaPolicyRow>().AsNoTracking().Where(r => r.TenantId == tenantId);

    /// <inheritdoc />
    public async ValueTask<ServiceCase?> FindByIdAsync(string tenantId, Guid id, CancellationToken cancellationToken) =>
        (await Cases(tenantId).FirstOrDefaultAsync(r => r.Id == id, cancellationToken).ConfigureAwait(false))?.ToCase();

    /// <inheritdoc />
    public async ValueTask CreateAsync(ServiceCase serviceCase, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(serviceCase);
        _context.Add(ServiceCaseRow.From(serviceCase));
        await StoreWrites.SaveAsync(_context, nameof(ServiceCase), serviceCase.Id, 0, cancellationToken).ConfigureAwait(false);
    }

    /// <inheritdoc />
    public async ValueTask UpdateAsync(ServiceCase serviceCase, long expectedVersion, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(serviceCase);
        StoreWrites.AttachUpdate(_context, ServiceCaseRow.From(serviceCase), expectedVersion);
        await StoreWrites.SaveUpdateAsync(_context, nameof(ServiceCase), serviceCase.Id, expectedVersion, () => Cases(serviceCase.TenantId).AnyAsync(r => r.Id == serviceCase.Id, cancellationToken), cancellationToken).ConfigureAwait(false);
    }

    /// <inheritdoc />
    public async ValueTask<IReadOnlyList<ServiceCase>> ListByCustomerAsync(string tenantId, Guid customerId, bool activeOnly, Guid? beforeId, int limit, CancellationToken cancellationToken)
    {
        var query = Cases(tenantId).Where(r => r.CustomerId == customerId);
        if (activeOnly)
        {
            query = query.Where(r => r.Active);
        }

        if (beforeId is { } before)
        {
            query = query.Where(r => r.Id.CompareTo(before) < 0);
        }

        var rows = await query.OrderByDescending(r => r.Id).Take(limit).ToListAsync(cancellationToken).ConfigureAwait(false);
        return rows.ConvertAll(r => r.ToCase());
    }

    /// <inheritdoc />
    public async ValueTask<IReadOnlyList<ServiceCase>> ListQueueAsync(string tenantId, string? ownerId, string? team, int limit, CancellationToken cancellationToken)
    {
        var query = Cases(tenantId).Where(r => r.Active);
        if (ownerId is not null)
        {
            query = query.Where(r => r.OwnerId == ownerId);
        }

        if (team is not null)
        {
            query = query.Where(r => r.Team == team);
        }

        var rows = await query.OrderBy(r => r.QueueKey).ThenBy(r => r.Id).Take(limit).ToListAsync(cancellationToken).ConfigureAwait(false);
        return rows.ConvertAll(r => r.ToCase());
    }

    /// <inheritdoc />
    public async ValueTask<IReadOnlyList<ServiceCase>> ListDueAsync(string tenantId, DateTimeOffset from, DateTimeOffset before, int limit, CancellationToken cancellationToken)
    {
        var fromTicks = from.UtcTicks;
        var beforeTicks = before.UtcTicks;
        var rows = await Cases(tenantId)
            .Where(r => r.NextDueAt >= fromTicks && r.NextDueAt < beforeTicks)
            .OrderBy(r => r.NextDueAt).ThenBy(r => r.Id)
            .Take(limit)
            .ToListAsync(cancellationToken).ConfigureAwait(false);
        return rows.ConvertAll(r => r.ToCase());
    }

    /// <inheritdoc />
    public async ValueTask<IReadOnlyList<ServiceCase>> ListBreachedAsync(string tenantId, DateTimeOffset asOf, Guid? afterId, int limit, CancellationToken cancellationToken)
    {
        var ticks = asOf.UtcTicks;
        // Both sides are ranges on their own index (a recorded breach is never later than now), so the database
        // can answer each from its index and merge them.
        var query = Cases(tenantId).Where(r => r.BreachedAt <= ticks || r.NextDueAt < ticks);
        if (afterId is { } after)
        {
            query = query.Where(r => r.Id.CompareTo(after) > 0);
        }

        var rows = await query.OrderBy(r => r.Id).Take(limit).ToListAsync(cancellationToken).ConfigureAwait(false);
        return rows.ConvertAll(r => r.ToCase());
    }

    /// <inheritdoc />
    public async ValueTask<int> ReassignCustomerAsync(string tenantId, Guid fromCustomerId, Guid toCustomerId, CancellationToken cancellationToken) =>
        await _context.Set<ServiceCaseRow>().Where(r => r.TenantId == tenantId && r.CustomerId == fromCustomerId)
            .ExecuteUpdateAsync(s => s.SetProperty(r => r.CustomerId, toCustomerId).SetProperty(r => r.Version, r => r.Version + 1), cancellationToken)
            .ConfigureAwait(false);

    /// <inheritdoc />
    public async ValueTask<int> EraseTextAsync(string tenantId, Guid customerId, CancellationToken cancellationToken)
    {
        // Status notes live inside the history document, so the rows are rewritten rather than updated in SQL.
        var rows = await _context.Set<ServiceCaseRow>().Where(r => r.TenantId == tenantId && r.CustomerId == customerId).ToListAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            foreach (var row in rows)
            {
                var scrubbed = row.ToCase() with { Subject = null, Description = null };
                row.Subject = null;
                row.Description = null;
                row.History = JsonSerializer.Serialize(scrubbed.History.Select(h => h with { Note = null }), RowJson.Options);
                row.Version++;
            }

            await _context.SaveChangesAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (DbUpdateConcurrencyException ex)
        {
            throw new ConcurrencyConflictException(nameof(ServiceCase), rows.Count > 0 ? rows[0].Id : Guid.Empty, 0, ex);
        }
        finally
        {
            StoreWrites.DetachCrmRows(_context);
        }

        return rows.Count;
    }

    /// <inheritdoc />
    public async ValueTask<IReadOnlyList<SlaPolicy>> ListPoliciesAsync(string tenantId, CancellationToken cancellationToken)
    {
        var rows = await Policies(tenantId).OrderBy(r => r.Id).ToListAsync(cancellationToken).ConfigureAwait(false);
        return rows.ConvertAll(r => r.ToPolicy());
    }

    /// <inheritdoc />
    public async ValueTask CreatePolicyAsync(SlaPolicy policy, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(policy);
        await CheckUniqueAsync(policy, cancellationToken).ConfigureAwait(false);
        _context.Add(SlaPolicyRow.From(policy));
        await SavePolicyAsync(policy, 0, cancellationToken).ConfigureAwait(false);
    }

    /// <inheritdoc />
    public async ValueTask UpdatePolicyAsync(SlaPolicy policy, long expectedVersion, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(policy);
        await CheckUniqueAsync(policy, cancellationToken).ConfigureAwait(false);
        StoreWrites.AttachUpdate(_context, SlaPolicyRow.From(policy), expectedVersion);
        await SavePolicyAsync(policy, expectedVersion, cancellationToken).ConfigureAwait(false);
    }

    /// <inheritdoc />
    public async ValueTask DeletePolicyAsync(string tenantId, Guid id, long expectedVersion, CancellationToken cancellationToken)
    {
        var deleted = await _context.Set<SlaPolicyRow>().Where(r => r.TenantId == tenantId && r.Id == id && r.Version == expectedVersion)
            .ExecuteDeleteAsync(cancellationToken).ConfigureAwait(false);
        if (deleted == 0)
        {
            throw await Policies(tenantId).AnyAsync(r => r.Id == id, cancellationToken).ConfigureAwait(false)
                ? new ConcurrencyConflictException(nameof(SlaPolicy), id, expectedVersion)
                : new EntityNotFoundException(nameof(SlaPolicy), id);
        }
    }

    /// <summary>Reports which rule a policy breaks before writing, so the error names the field (the unique indexes still guard races).</summary>
    private async ValueTask CheckUniqueAsync(SlaPolicy policy, CancellationToken cancellationToken)
    {
        var kindKey = policy.Kind ?? string.Empty;
        var clash = await Policies(policy.TenantId)
            .Where(r => r.Id != policy.Id && (r.Name == policy.Name || (r.Priority == policy.Priority && r.KindKey == kindKey)))
            .Select(r => r.Name)
            .FirstOrDefaultAsync(cancellationToken).ConfigureAwait(false);
        if (clash is not null)
        {
            throw clash == policy.Name
                ? new DuplicateValueException(nameof(SlaPolicy.Name), policy.Name)
                : new DuplicateValueException(nameof(SlaPolicy.Priority), $"{policy.Priority}/{policy.Kind ?? "any kind"}");
        }
    }

    private async ValueTask SavePolicyAsync(SlaPolicy policy, long expectedVersion, CancellationToken cancellationToken)
    {
        try
        {
            await StoreWrites.SaveAsync(_context, nameof(SlaPolicy), policy.Id, expectedVersion, cancellationToken).ConfigureAwait(false);
        }
        catch (DbUpdateException ex) when (UniqueViolation.Is(ex))
        {
            throw new DuplicateValueException(nameof(SlaPolicy.Name), policy.Name, ex);
        }
    }
}
