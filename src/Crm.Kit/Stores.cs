using Crm.Kit.Customers;
using Crm.Kit.Interactions;
using Crm.Kit.Orders;

namespace Crm.Kit;

/// <summary>A keyset position in a listing ordered by a time and then an id.</summary>
/// <param name="At">The time of the last item seen.</param>
/// <param name="Id">The id of the last item seen.</param>
public readonly record struct KeysetPosition(DateTimeOffset At, Guid Id);

/// <summary>
/// Persists customers. Stores persist and look up; they do not decide: validation, normalisation, versions and
/// events belong to <see cref="CustomerManager"/>. Every method is scoped to one tenant and must never read or
/// change another tenant's records. Lookups by email, phone, name and reference must use an index.
/// </summary>
public interface ICustomerStore
{
    /// <summary>The customer with this id (merged-away customers included), or <see langword="null"/>.</summary>
    ValueTask<Customer?> FindByIdAsync(string tenantId, Guid id, CancellationToken cancellationToken);

    /// <summary>The customer with this external reference (merged-away customers included), or <see langword="null"/>.</summary>
    ValueTask<Customer?> FindByExternalReferenceAsync(string tenantId, string externalReference, CancellationToken cancellationToken);

    /// <summary>Live customers (not merged away) with this normalised email address.</summary>
    ValueTask<IReadOnlyList<Customer>> FindByEmailAsync(string tenantId, string normalizedEmail, CancellationToken cancellationToken);

    /// <summary>Live customers with this E.164 phone number.</summary>
    ValueTask<IReadOnlyList<Customer>> FindByPhoneAsync(string tenantId, string e164Phone, CancellationToken cancellationToken);

    /// <summary>
    /// Live customers with a name key (see <see cref="CustomerSearchKeys.NameKeys"/>) starting with
    /// <paramref name="foldedPrefix"/>, ordered by that key and then id, at most <paramref name="limit"/>.
    /// </summary>
    ValueTask<IReadOnlyList<Customer>> FindByNamePrefixAsync(string tenantId, string foldedPrefix, int limit, CancellationToken cancellationToken);

    /// <summary>Live customers ordered by id, after <paramref name="afterId"/> when given, at most <paramref name="limit"/>.</summary>
    ValueTask<IReadOnlyList<Customer>> ListAsync(string tenantId, Guid? afterId, int limit, CancellationToken cancellationToken);

    /// <summary>Every live customer of the tenant, ordered by id, read in batches rather than all at once.</summary>
    IAsyncEnumerable<Customer> StreamAsync(string tenantId, CancellationToken cancellationToken);

    /// <summary>The customers merged directly into <paramref name="survivorId"/> (one hop, not chains).</summary>
    ValueTask<IReadOnlyList<Customer>> FindMergedIntoAsync(string tenantId, Guid survivorId, CancellationToken cancellationToken);

    /// <summary>Adds a new customer. Throws <see cref="DuplicateValueException"/> when its external reference is taken.</summary>
    ValueTask CreateAsync(Customer customer, CancellationToken cancellationToken);

    /// <summary>
    /// Adds many new customers at once, all or none. Throws <see cref="DuplicateValueException"/> when any
    /// external reference is taken, and then adds none.
    /// </summary>
    ValueTask CreateManyAsync(IReadOnlyList<Customer> customers, CancellationToken cancellationToken);

    /// <summary>
    /// Replaces the stored customer when its stored version equals <paramref name="expectedVersion"/>; otherwise
    /// throws <see cref="ConcurrencyConflictException"/> and changes nothing.
    /// </summary>
    ValueTask UpdateAsync(Customer customer, long expectedVersion, CancellationToken cancellationToken);

    /// <summary>
    /// Throws <see cref="ConcurrencyConflictException"/> unless the stored customer has
    /// <paramref name="expectedVersion"/>, and (inside a transaction) keeps other writers from changing it until
    /// the transaction ends, as an update would. Segment membership is written under it, so that a decision
    /// taken on one version of a customer can never be stored after a newer version's.
    /// </summary>
    ValueTask ConfirmVersionAsync(string tenantId, Guid id, long expectedVersion, CancellationToken cancellationToken);
}

/// <summary>Persists orders. Tenant-scoped like every store.</summary>
public interface IOrderStore
{
    /// <summary>The order with this id, or <see langword="null"/>.</summary>
    ValueTask<Order?> FindByIdAsync(string tenantId, Guid id, CancellationToken cancellationToken);

    /// <summary>The order with this host reference, or <see langword="null"/>.</summary>
    ValueTask<Order?> FindByReferenceAsync(string tenantId, string reference, CancellationToken cancellationToken);

    /// <summary>A customer's orders, newest placed first, before <paramref name="before"/> when given.</summary>
    ValueTask<IReadOnlyList<Order>> ListByCustomerAsync(string tenantId, Guid customerId, KeysetPosition? before, int limit, CancellationToken cancellationToken);

    /// <summary>Every order of a customer, oldest placed first.</summary>
    IAsyncEnumerable<Order> StreamByCustomerAsync(string tenantId, Guid customerId, CancellationToken cancellationToken);

    /// <summary>Every order of the tenant, ordered by id, read in batches.</summary>
    IAsyncEnumerable<Order> StreamAsync(string tenantId, CancellationToken cancellationToken);

    /// <summary>Adds an order. Throws <see cref="DuplicateValueException"/> when its reference is taken.</summary>
    ValueTask CreateAsync(Order order, CancellationToken cancellationToken);

    /// <summary>Replaces the order when its stored version equals <paramref name="expectedVersion"/>; otherwise throws <see cref="ConcurrencyConflictException"/>.</summary>
    ValueTask UpdateAsync(Order order, long expectedVersion, CancellationToken cancellationToken);

    /// <summary>Moves every order of <paramref name="fromCustomerId"/> to <paramref name="toCustomerId"/> (bumping their versions); returns how many moved.</summary>
    ValueTask<int> ReassignCustomerAsync(string tenantId, Guid fromCustomerId, Guid toCustomerId, CancellationToken cancellationToken);
}

/// <summary>Persists interactions (the customer timeline). Tenant-scoped like every store.</summary>
public interface IInteractionStore
{
    /// <summary>The interaction with this id, or <see langword="null"/>.</summary>
    ValueTask<Interaction?> FindByIdAsync(string tenantId, Guid id, CancellationToken cancellationToken);

    /// <summary>A customer's timeline, newest first (by time, then id), before <paramref name="before"/> when given.</summary>
    ValueTask<IReadOnlyList<Interaction>> ListByCustomerAsync(string tenantId, Guid customerId, KeysetPosition? before, int limit, CancellationToken cancellationToken);

    /// <summary>Open tasks of an owner due before <paramref name="asOf"/>, soonest due first.</summary>
    ValueTask<IReadOnlyList<Interaction>> ListOverdueTasksAsync(string tenantId, string ownerId, DateTimeOffset asOf, int limit, CancellationToken cancellationToken);

    /// <summary>The interactions linked to a deal, newest first (by time, then id), before <paramref name="before"/> when given.</summary>
    ValueTask<IReadOnlyList<Interaction>> ListByDealAsync(string tenantId, Guid dealId, KeysetPosition? before, int limit, CancellationToken cancellationToken);

    /// <summary>Open tasks linked to a deal, soonest due first (then by id); tasks without a due time come last.</summary>
    ValueTask<IReadOnlyList<Interaction>> ListOpenTasksByDealAsync(string tenantId, Guid dealId, int limit, CancellationToken cancellationToken);

    /// <summary>Every interaction of a customer, oldest first.</summary>
    IAsyncEnumerable<Interaction> StreamByCustomerAsync(string tenantId, Guid customerId, CancellationToken cancellationToken);

    /// <summary>Adds an interaction.</summary>
    ValueTask CreateAsync(Interaction interaction, CancellationToken cancellationToken);

    /// <summary>Replaces the interaction when its stored version equals <paramref name="expectedVersion"/>; otherwise throws <see cref="ConcurrencyConflictException"/>.</summary>
    ValueTask UpdateAsync(Interaction interaction, long expectedVersion, CancellationToken cancellationToken);

    /// <summary>Moves every interaction of <paramref name="fromCustomerId"/> to <paramref name="toCustomerId"/>; returns how many moved.</summary>
    ValueTask<int> ReassignCustomerAsync(string tenantId, Guid fromCustomerId, Guid toCustomerId, CancellationToken cancellationToken);

    /// <summary>Clears subject and body of every interaction of the customer (bumping versions); returns how many changed.</summary>
    ValueTask<int> EraseTextAsync(string tenantId, Guid customerId, CancellationToken cancellationToken);
}
