using Crm.Kit.Customers;
using Crm.Kit.Orders;
using Microsoft.Extensions.Options;

namespace Crm.Kit.Duplicates;

/// <summary>
/// What a merge will do, computed without changing anything. Apply it with <see cref="CustomerMerger.MergeAsync(MergePlan, CancellationToken)"/>;
/// it applies only if neither customer changed since the preview.
/// </summary>
/// <param name="Survivor">The customer that remains, as it is now.</param>
/// <param name="Duplicate">The customer to merge away, as it is now.</param>
/// <param name="Result">The survivor as it will be (metrics are recomputed from orders when applied).</param>
/// <param name="OrdersToMove">How many orders move to the survivor.</param>
/// <param name="InteractionsToMove">How many timeline entries move to the survivor.</param>
public sealed record MergePlan(Customer Survivor, Customer Duplicate, Customer Result, int OrdersToMove, int InteractionsToMove);

/// <summary>
/// Merges a duplicate customer into a survivor: contact points, tags, attributes and consent are combined
/// (the latest consent statement wins; the survivor's attribute wins a key both have; missing names, owner and
/// company are taken from the duplicate), orders, interactions and the records of registered modules (cases,
/// survey answers) move to the survivor, metrics are recomputed,
/// and the duplicate's id and external reference resolve to the survivor afterwards.
/// </summary>
public class CustomerMerger
{
    private readonly ICustomerStore _customers;
    private readonly IOrderStore _orders;
    private readonly IInteractionStore _interactions;
    private readonly CustomerManager _customerManager;
    private readonly ICrmUnitOfWork _unitOfWork;
    private readonly ICrmTenantContext _tenant;
    private readonly TimeProvider _time;
    private readonly ICrmEventPublisher _events;
    private readonly CustomerMetricsCalculator _metrics;
    private readonly Privacy.ICustomerDataParticipant[] _participants;

    /// <summary>Creates the merger; resolve it from DI.</summary>
    public CustomerMerger(
        ICustomerStore customers,
        IOrderStore orders,
        IInteractionStore interactions,
        CustomerManager customerManager,
        ICrmUnitOfWork unitOfWork,
        ICrmTenantContext tenant,
        TimeProvider time,
        ICrmEventPublisher events,
        ICurrencyConverter currencyConverter,
        IOptions<CrmKitOptions> options,
        IEnumerable<Privacy.ICustomerDataParticipant> participants)
    {
        _participants = [.. participants];
        _customers = customers;
        _orders = orders;
        _interactions = interactions;
        _customerManager = customerManager;
        _unitOfWork = unitOfWork;
        _tenant = tenant;
        _time = time;
        _events = events;
        _metrics = new CustomerMetricsCalculator(currencyConverter, options.Value);
    }

    /// <summary>Works out a merge without changing anything (a dry run).</summary>
    /// <exception cref="CrmValidationException">The two cannot be merged (same customer, different kinds, one already merged).</exception>
    public async Task<MergePlan> PreviewAsync(Guid survivorId, Guid duplicateId, CancellationToken cancellationToken = default)
    {
        var errors = new ValidationErrorCollector();
        if (survivorId == duplicateId)
        {
            errors.Add(nameof(duplicateId), "distinct", "a customer cannot be merged into itself");
            errors.ThrowIfAny();
        }

        var tenantId = _tenant.TenantId;
        var survivor = await _customers.FindByIdAsync(tenantId, survivorId, cancellationToken).ConfigureAwait(false) ?? throw new EntityNotFoundException(nameof(Customer), survivorId);
        var duplicate = await _customers.FindByIdAsync(tenantId, duplicateId, cancellationToken).ConfigureAwait(false) ?? throw new EntityNotFoundException(nameof(Customer), duplicateId);
        if (survivor.MergedIntoId is not null)
        {
            errors.Add(nameof(survivorId), "not-merged", $"customer {survivorId} was already merged into {survivor.MergedIntoId}");
        }

        if (duplicate.MergedIntoId is not null)
        {
            errors.Add(nameof(duplicateId), "not-merged", $"customer {duplicateId} was already merged into {duplicate.MergedIntoId}");
        }

        if (survivor.Kind != duplicate.Kind)
        {
            errors.Add(nameof(duplicateId), "same-kind", $"a {duplicate.Kind} cannot be merged into a {survivor.Kind}");
        }

        errors.ThrowIfAny();
        var orders = await CountAsync(_orders.StreamByCustomerAsync(tenantId, duplicateId, cancellationToken), cancellationToken).ConfigureAwait(false);
        var interactions = await CountAsync(_interactions.StreamByCustomerAsync(tenantId, duplicateId, cancellationToken), cancellationToken).ConfigureAwait(false);
        return new MergePlan(survivor, duplicate, Combine(survivor, duplicate), orders, interactions);
    }

    /// <summary>
    /// Applies a previewed merge in one transaction and publishes <see cref="CustomersMerged"/>.
    /// </summary>
    /// <exception cref="ConcurrencyConflictException">Either customer changed after the preview; preview again.</exception>
    public async Task<Customer> MergeAsync(MergePlan plan, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(plan);
        var tenantId = _tenant.TenantId;
        var now = _time.GetUtcNow();
        var survivorId = plan.Survivor.Id;
        var duplicateId = plan.Duplicate.Id;
        Customer survivor;
        var transaction = await _unitOfWork.BeginAsync(cancellationToken).ConfigureAwait(false);
        await using (transaction.ConfigureAwait(false))
        {
            var currentSurvivor = await _customers.FindByIdAsync(tenantId, survivorId, cancellationToken).ConfigureAwait(false);
            var currentDuplicate = await _customers.FindByIdAsync(tenantId, duplicateId, cancellationToken).ConfigureAwait(false);
            if (currentSurvivor?.Version != plan.Survivor.Version)
            {
                throw new ConcurrencyConflictException(nameof(Customer), survivorId, plan.Survivor.Version);
            }

            if (currentDuplicate?.Version != plan.Duplicate.Version)
            {
                throw new ConcurrencyConflictException(nameof(Customer), duplicateId, plan.Duplicate.Version);
            }

            await _orders.ReassignCustomerAsync(tenantId, duplicateId, survivorId, cancellationToken).ConfigureAwait(false);
            await _interactions.ReassignCustomerAsync(tenantId, duplicateId, survivorId, cancellationToken).ConfigureAwait(false);
            foreach (var participant in _participants)
            {
                await participant.ReassignAsync(tenantId, duplicateId, survivorId, cancellationToken).ConfigureAwait(false);
            }

            var metrics = await _metrics.ComputeAsync(_orders.StreamByCustomerAsync(tenantId, survivorId, cancellationToken), cancellationToken).ConfigureAwait(false);
            survivor = Combine(currentSurvivor, currentDuplicate) with { Metrics = metrics, Version = currentSurvivor.Version + 1, UpdatedAt = now };
            if (metrics.OrderCount > 0 && survivor.LifecycleStage < LifecycleStage.Customer)
            {
                survivor = CustomerManager.WithStage(survivor, LifecycleStage.Customer, "merge", now);
            }

            var tombstone = currentDuplicate with
            {
                MergedIntoId = survivorId,
                Emails = [],
                Phones = [],
                Metrics = CustomerMetrics.Empty,
                Version = currentDuplicate.Version + 1,
                UpdatedAt = now,
            };
            await _customers.UpdateAsync(tombstone, currentDuplicate.Version, cancellationToken).ConfigureAwait(false);
            await _customers.UpdateAsync(survivor, currentSurvivor.Version, cancellationToken).ConfigureAwait(false);
            await transaction.CommitAsync(cancellationToken).ConfigureAwait(false);
        }

        await _events.PublishAsync([new CustomersMerged { SurvivorId = survivorId, MergedId = duplicateId, TenantId = tenantId, OccurredAt = now }], cancellationToken).ConfigureAwait(false);
        await _customerManager.NotifyChangedAsync(tenantId, [survivorId, duplicateId], cancellationToken).ConfigureAwait(false);
        return survivor;
    }

    /// <summary>Previews and applies a merge in one call.</summary>
    public async Task<Customer> MergeAsync(Guid survivorId, Guid duplicateId, CancellationToken cancellationToken = default) =>
        await MergeAsync(await PreviewAsync(survivorId, duplicateId, cancellationToken).ConfigureAwait(false), cancellationToken).ConfigureAwait(false);

    private static Customer Combine(Customer survivor, Customer duplicate) => survivor with
    {
        FirstName = survivor.FirstName ?? duplicate.FirstName,
        LastName = survivor.LastName ?? duplicate.LastName,
        CompanyName = survivor.CompanyName ?? duplicate.CompanyName,
        CompanyId = survivor.CompanyId ?? duplicate.CompanyId,
        OwnerId = survivor.OwnerId ?? duplicate.OwnerId,
        Emails = [.. survivor.Emails.Concat(duplicate.Emails).DistinctBy(e => e.Address)],
        Phones = [.. survivor.Phones.Concat(duplicate.Phones).DistinctBy(p => p.Number)],
        Addresses = [.. survivor.Addresses.Concat(duplicate.Addresses).Distinct()],
        Tags = [.. survivor.Tags.Concat(duplicate.Tags).Distinct(StringComparer.OrdinalIgnoreCase).Order(StringComparer.OrdinalIgnoreCase)],
        Attributes = AttributeDictionary.From(duplicate.Attributes.Concat(survivor.Attributes)),
        ConsentHistory = [.. survivor.ConsentHistory.Concat(duplicate.ConsentHistory).Distinct().OrderBy(c => c.RecordedAt)],

        // The survivor keeps its own lifecycle history; the duplicate's stays on the merged-away record (and in exports).
    };

    private static async ValueTask<int> CountAsync<T>(IAsyncEnumerable<T> items, CancellationToken cancellationToken)
    {
        var count = 0;
        await foreach (var unused in items.WithCancellation(cancellationToken).ConfigureAwait(false))
        {
            count++;
        }

        return count;
    }
}
