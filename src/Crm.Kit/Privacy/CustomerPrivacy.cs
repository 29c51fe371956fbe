using System.Text.Json;
using System.Text.Json.Serialization;
using Crm.Kit.Customers;
using Crm.Kit.Interactions;
using Crm.Kit.Orders;

namespace Crm.Kit.Privacy;

/// <summary>Everything Crm.Kit holds about one customer.</summary>
/// <param name="Customer">The customer.</param>
/// <param name="MergedRecords">Customers merged into this one, which still hold their external reference.</param>
/// <param name="Orders">Every order.</param>
/// <param name="Interactions">Every interaction.</param>
/// <param name="ExportedAt">When the export was made.</param>
public sealed record CustomerDataExport(Customer Customer, IReadOnlyList<Customer> MergedRecords, IReadOnlyList<Order> Orders, IReadOnlyList<Interaction> Interactions, DateTimeOffset ExportedAt)
{
    /// <summary>What each registered module holds (service cases, survey answers), by section name.</summary>
    public IReadOnlyDictionary<string, object> Modules { get; init; } = new Dictionary<string, object>();
}

/// <summary>
/// Data-subject rights: export everything held about a customer, and erase their personal data while keeping
/// the non-personal facts (order amounts and dates, interaction kinds and times) that analytics rely on.
/// </summary>
public class CustomerPrivacy
{
    private static readonly JsonSerializerOptions ExportJson = new(JsonSerializerDefaults.Web)
    {
        WriteIndented = true,
        Converters = { new JsonStringEnumConverter(JsonNamingPolicy.CamelCase) },
    };

    private readonly ICustomerStore _customers;
    private readonly IOrderStore _orders;
    private readonly IInteractionStore _interactions;
    private readonly CustomerManager _customerManager;
    private readonly ICrmUnitOfWork _unitOfWork;
    private readonly ICrmTenantContext _tenant;
    private readonly TimeProvider _time;
    private readonly ICrmEventPublisher _events;
    private readonly ICustomerDataParticipant[] _participants;
    private readonly IPhysicalErasure[] _physical;

    /// <summary>Creates the service; resolve it from DI.</summary>
    public CustomerPrivacy(ICustomerStore customers, IOrderStore orders, IInteractionStore interactions, CustomerManager customerManager, ICrmUnitOfWork unitOfWork, ICrmTenantContext tenant, TimeProvider time, ICrmEventPublisher events, IEnumerable<ICustomerDataParticipant> participants, IEnumerable<IPhysicalErasure> physical)
    {
        _participants = [.. participants];
        _physical = [.. physical];
        _customers = customers;
        _orders = orders;
        _interactions = interactions;
        _customerManager = customerManager;
        _unitOfWork = unitOfWork;
        _tenant = tenant;
        _time = time;
        _events = events;
    }

    /// <summary>Collects everything held about a customer (following merges to the survivor).</summary>
    public async Task<CustomerDataExport> ExportAsync(Guid customerId, CancellationToken cancellationToken = default)
    {
        var customer = await _customerManager.GetByIdAsync(customerId, cancellationToken).ConfigureAwait(false);
        var tenantId = _tenant.TenantId;
        var merged = await MergedChainAsync(customer.Id, cancellationToken).ConfigureAwait(false);
        var orders = await ToListAsync(_orders.StreamByCustomerAsync(tenantId, customer.Id, cancellationToken), cancellationToken).ConfigureAwait(false);
        var interactions = await ToListAsync(_interactions.StreamByCustomerAsync(tenantId, customer.Id, cancellationToken), cancellationToken).ConfigureAwait(false);
        var modules = new Dictionary<string, object>(StringComparer.Ordinal);
        foreach (var participant in _participants)
        {
            modules[participant.Name] = await participant.ExportAsync(tenantId, customer.Id, cancellationToken).ConfigureAwait(false);
        }

        return new CustomerDataExport(customer, merged, orders, interactions, _time.GetUtcNow()) { Modules = modules };
    }

    /// <summary>The export as indented JSON (camelCase names, enums as strings), ready to hand to the customer.</summary>
    public async Task<string> ExportAsJsonAsync(Guid customerId, CancellationToken cancellationToken = default) =>
        JsonSerializer.Serialize(await ExportAsync(customerId, cancellationToken).ConfigureAwait(false), ExportJson);

    /// <summary>
    /// Erases a customer's personal data: names, contact points, addresses, external reference and custom
    /// attributes of the customer and of every record merged into it, the subject and body of every
    /// interaction, and the free text registered modules hold (case descriptions, survey comments). Orders, metrics, tags, lifecycle and consent history stay. Afterwards the old email,
    /// phone and external reference find nothing.
    /// </summary>
    public async Task<Customer> EraseAsync(Guid customerId, CancellationToken cancellationToken = default)
    {
        var tenantId = _tenant.TenantId;
        var now = _time.GetUtcNow();
        Customer erased;
        var transaction = await _unitOfWork.BeginAsync(cancellationToken).ConfigureAwait(false);
        await using (transaction.ConfigureAwait(false))
        {
            foreach (var physical in _physical)
            {
                await physical.PrepareAsync(cancellationToken).ConfigureAwait(false);
            }

            var customer = await _customerManager.GetByIdAsync(customerId, cancellationToken).ConfigureAwait(false);
            foreach (var record in await MergedChainAsync(customer.Id, cancellationToken).ConfigureAwait(false))
            {
                await _customers.UpdateAsync(Scrub(record, now), record.Version, cancellationToken).ConfigureAwait(false);
            }

            erased = Scrub(customer, now);
            await _customers.UpdateAsync(erased, customer.Version, cancellationToken).ConfigureAwait(false);
            await _interactions.EraseTextAsync(tenantId, customer.Id, cancellationToken).ConfigureAwait(false);
            foreach (var participant in _participants)
            {
                await participant.EraseAsync(tenantId, customer.Id, cancellationToken).ConfigureAwait(false);
            }

            await transaction.CommitAsync(cancellationToken).ConfigureAwait(false);
        }

        foreach (var physical in _physical)
        {
            await physical.CompleteAsync(cancellationToken).ConfigureAwait(false);
        }

        await _events.PublishAsync([new CustomerErased { CustomerId = erased.Id, TenantId = tenantId, OccurredAt = now }], cancellationToken).ConfigureAwait(false);
        await _customerManager.NotifyChangedAsync(tenantId, [erased.Id], cancellationToken).ConfigureAwait(false);
        return erased;
    }

    private static Customer Scrub(Customer customer, DateTimeOffset now) => customer with
    {
        FirstName = null,
        LastName = null,
        CompanyName = null,
        ExternalReference = null,
        Emails = [],
        Phones = [],
        Addresses = [],
        Attributes = AttributeDictionary.Empty,
        ErasedAt = now,
        UpdatedAt = now,
        Version = customer.Version + 1,
    };

    private async ValueTask<List<Customer>> MergedChainAsync(Guid survivorId, CancellationToken cancellationToken)
    {
        var result = new List<Customer>();
        var pending = new Queue<Guid>([survivorId]);
        while (pending.TryDequeue(out var id) && result.Count < 10_000)
        {
            foreach (var merged in await _customers.FindMergedIntoAsync(_tenant.TenantId, id, cancellationToken).ConfigureAwait(false))
            {
                result.Add(merged);
                pending.Enqueue(merged.Id);
            }
        }

        return result;
    }

    private static async ValueTask<List<T>> ToListAsync<T>(IAsyncEnumerable<T> items, CancellationToken cancellationToken)
    {
        var list = new List<T>();
        await foreach (var item in items.WithCancellation(cancellationToken).ConfigureAwait(false))
        {
            list.Add(item);
        }

        return list;
    }
}
