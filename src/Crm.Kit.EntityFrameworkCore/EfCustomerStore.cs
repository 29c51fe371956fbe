using System.Runtime.CompilerServices;
using Crm.Kit.Customers;
using Microsoft.EntityFrameworkCore.Metadata;
using Microsoft.EntityFrameworkCore;

namespace Crm.Kit.EntityFrameworkCore;

/// <summary>The EF Core <see cref="ICustomerStore"/>.</summary>
/// <typeparam name="TContext">The host's context, with <see cref="CrmKitModelBuilderExtensions.ApplyCrmKitModel"/> applied.</typeparam>
public sealed class EfCustomerStore<TContext> : ICustomerStore
    where TContext : DbContext
{

    // The hottest lookups are compiled: EF otherwise walks and hashes the LINQ expression tree on every call, which
    // costs more than the database's index seek. A compiled query binds to one model, and one context type can run
    // against several (SQLite in tests, PostgreSQL in production), so they are kept per model.
    private static readonly ConditionalWeakTable<IModel, CompiledLookups> LookupsByModel = new();

    private readonly TContext _context;
    private readonly CompiledLookups _lookups;

    /// <summary>Creates the store over the host's context.</summary>
    public EfCustomerStore(TContext context)
    {
        _context = ContextCheck.EnsureModel(context);
        _lookups = LookupsByModel.GetValue(context.Model, static _ => new CompiledLookups());
    }

    private Func<TContext, string, Guid, CancellationToken, Task<CustomerRow?>> ById => _lookups.ById;

    private Func<TContext, string, string, CancellationToken, Task<CustomerRow?>> ByExternalReference => _lookups.ByExternalReference;

    private Func<TContext, string, string, string, IAsyncEnumerable<CustomerRow>> ByKey => _lookups.ByKey;

    private sealed class CompiledLookups
    {
        public Func<TContext, string, Guid, CancellationToken, Task<CustomerRow?>> ById { get; } =
            EF.CompileAsyncQuery((TContext c, string tenantId, Guid id, CancellationToken _) =>
                c.Set<CustomerRow>().AsNoTracking().FirstOrDefault(r => r.TenantId == tenantId && r.Id == id));

        public Func<TContext, string, string, CancellationToken, Task<CustomerRow?>> ByExternalReference { get; } =
            EF.CompileAsyncQuery((TContext c, string tenantId, string reference, CancellationToken _) =>
                c.Set<CustomerRow>().AsNoTracking().FirstOrDefault(r => r.TenantId == tenantId && r.ExternalReference == reference));

        // "Id IN (key subquery)", not a join: without statistics SQLite plans the join as a walk over every customer
        // of the tenant probing the keys; the subquery form is a key seek and then primary-key seeks everywhere.
        public Func<TContext, string, string, string, IAsyncEnumerable<CustomerRow>> ByKey { get; } =
            EF.CompileAsyncQuery((TContext c, string tenantId, string kind, string value) =>
                c.Set<CustomerRow>().AsNoTracking().Where(r => r.TenantId == tenantId &&
                    c.Set<CustomerKeyRow>().Where(k => k.TenantId == tenantId && k.Kind == kind && k.Value == value).Select(k => k.CustomerId).Contains(r.Id)));
    }

    private IQueryable<CustomerRow> Rows(string tenantId) => _context.Set<CustomerRow>().AsNoTracking().Where(r => r.TenantId == tenantId);

    /// <inheritdoc />
    public async ValueTask<Customer?> FindByIdAsync(string tenantId, Guid id, CancellationToken cancellationToken) =>
        (await ById(_context, tenantId, id, cancellationToken).ConfigureAwait(false))?.ToCustomer();

    /// <inheritdoc />
    public async ValueTask<Customer?> FindByExternalReferenceAsync(string tenantId, string externalReference, CancellationToken cancellationToken) =>
        (await ByExternalReference(_context, tenantId, externalReference, cancellationToken).ConfigureAwait(false))?.ToCustomer();

    /// <inheritdoc />
    public ValueTask<IReadOnlyList<Customer>> FindByEmailAsync(string tenantId, string normalizedEmail, CancellationToken cancellationToken) =>
        FindByKeyAsync(tenantId, CustomerKeyRow.Email, normalizedEmail, cancellationToken);

    /// <inheritdoc />
    public ValueTask<IReadOnlyList<Customer>> FindByPhoneAsync(string tenantId, string e164Phone, CancellationToken cancellationToken) =>
        FindByKeyAsync(tenantId, CustomerKeyRow.Phone, e164Phone, cancellationToken);

    /// <inheritdoc />
    public async ValueTask<IReadOnlyList<Customer>> FindByNamePrefixAsync(string tenantId, string foldedPrefix, int limit, CancellationToken cancellationToken)
    {
        // A range on the key (prefix <= value < prefix + U+FFFF) is an index seek on every provider, unlike LIKE
        // under a non-C collation; name keys are folded to letters and digits, for which the range is exact.
        var upper = foldedPrefix + char.MaxValue;
        var ids = await _context.Set<CustomerKeyRow>().AsNoTracking()
            .Where(k => k.TenantId == tenantId && k.Kind == CustomerKeyRow.Name
                && k.Value.CompareTo(foldedPrefix) >= 0 && k.Value.CompareTo(upper) < 0)
            .OrderBy(k => k.Value).ThenBy(k => k.CustomerId)
            .Select(k => k.CustomerId)
            .Take(limit)
            .ToListAsync(cancellationToken).ConfigureAwait(false);
        return await LoadInOrderAsync(tenantId, ids, cancellationToken).ConfigureAwait(false);
    }

    /// <inheritdoc />
    public async ValueTask<IReadOnlyList<Customer>> ListAsync(string tenantId, Guid? afterId, int limit, CancellationToken cancellationToken)
    {
        var query = Rows(tenantId).Where(r => r.MergedIntoId == null);
        if (afterId is { } after)
        {
            query = query.Where(r => r.Id.CompareTo(after) > 0);
        }

        var rows = await query.OrderBy(r => r.Id).Take(limit).ToListAsync(cancellationToken).ConfigureAwait(false);
        return rows.ConvertAll(r => r.ToCustomer());
    }

    /// <inheritdoc />
    public IAsyncEnumerable<Customer> StreamAsync(string tenantId, CancellationToken cancellationToken) =>
        KeysetStream.ByIdAsync((after, limit, ct) => ListAsync(tenantId, after, limit, ct), c => c.Id, cancellationToken);

    /// <inheritdoc />
    public async ValueTask<IReadOnlyList<Customer>> FindMergedIntoAsync(string tenantId, Guid survivorId, CancellationToken cancellationToken)
    {
        var rows = await Rows(tenantId).Where(r => r.MergedIntoId == survivorId).ToListAsync(cancellationToken).ConfigureAwait(false);
        return rows.ConvertAll(r => r.ToCustomer());
    }

    /// <inheritdoc />
    public ValueTask CreateAsync(Customer customer, CancellationToken cancellationToken) =>
        new(StoreWrites.InTransactionAsync(_context, async () =>
        {
            _context.Add(CustomerRow.From(customer));
            _context.AddRange(CustomerKeyRow.For(customer));
            _context.AddRange(CustomerAttributeRow.For(customer));
            try
            {
                await StoreWrites.SaveAsync(_context, nameof(Customer), customer.Id, 0, cancellationToken).ConfigureAwait(false);
            }
            catch (DbUpdateException ex) when (UniqueViolation.Is(ex))
            {
                throw new DuplicateValueException(nameof(Customer.ExternalReference), customer.ExternalReference ?? string.Empty, ex);
            }

            return true;
        }, cancellationToken).AsTask());

    /// <inheritdoc />
    public ValueTask CreateManyAsync(IReadOnlyList<Customer> customers, CancellationToken cancellationToken) =>
        new(StoreWrites.InTransactionAsync(_context, async () =>
        {
            try
            {
                await RowBulkInserter.InsertAsync(_context, customers.Select(CustomerRow.From).ToList(), cancellationToken).ConfigureAwait(false);
                await RowBulkInserter.InsertAsync(_context, customers.SelectMany(CustomerKeyRow.For).ToList(), cancellationToken).ConfigureAwait(false);
                await RowBulkInserter.InsertAsync(_context, customers.SelectMany(CustomerAttributeRow.For).ToList(), cancellationToken).ConfigureAwait(false);
            }
            catch (System.Data.Common.DbException ex) when (UniqueViolation.Is(ex))
            {
                throw new DuplicateValueException(nameof(Customer.ExternalReference), "(one of the batch)", ex);
            }

            return true;
        }, cancellationToken).AsTask());

    /// <inheritdoc />
    public ValueTask UpdateAsync(Customer customer, long expectedVersion, CancellationToken cancellationToken) =>
        new(StoreWrites.InTransactionAsync(_context, async () =>
        {
            StoreWrites.AttachUpdate(_context, CustomerRow.From(customer), expectedVersion);
            try
            {
                await StoreWrites.SaveUpdateAsync(_context, nameof(Customer), customer.Id, expectedVersion, () => ExistsAsync(customer.TenantId, customer.Id, cancellationToken), cancellationToken).ConfigureAwait(false);
            }
            catch (DbUpdateException ex) when (UniqueViolation.Is(ex))
            {
                throw new DuplicateValueException(nameof(Customer.ExternalReference), customer.ExternalReference ?? string.Empty, ex);
            }

            // Keys follow the row: replace them in the same transaction.
            await _context.Set<CustomerKeyRow>().Where(k => k.TenantId == customer.TenantId && k.CustomerId == customer.Id)
                .ExecuteDeleteAsync(cancellationToken).ConfigureAwait(false);
            await _context.Set<CustomerAttributeRow>().Where(a => a.TenantId == customer.TenantId && a.CustomerId == customer.Id)
                .ExecuteDeleteAsync(cancellationToken).ConfigureAwait(false);
            _context.AddRange(CustomerKeyRow.For(customer));
            _context.AddRange(CustomerAttributeRow.For(customer));
            await StoreWrites.SaveAsync(_context, nameof(Customer), customer.Id, expectedVersion, cancellationToken).ConfigureAwait(false);
            return true;
        }, cancellationToken).AsTask());

    /// <inheritdoc />
    public async ValueTask ConfirmVersionAsync(string tenantId, Guid id, long expectedVersion, CancellationToken cancellationToken)
    {
        // An update that changes nothing still takes the row's write lock (PostgreSQL) or the database's (SQLite)
        // for the rest of the transaction, which is what holding a version means.
        var held = await _context.Set<CustomerRow>()
            .Where(r => r.TenantId == tenantId && r.Id == id && r.Version == expectedVersion)
            .ExecuteUpdateAsync(s => s.SetProperty(r => r.Version, r => r.Version), cancellationToken).ConfigureAwait(false);
        if (held == 0)
        {
            throw await ExistsAsync(tenantId, id, cancellationToken).ConfigureAwait(false)
                ? new ConcurrencyConflictException(nameof(Customer), id, expectedVersion)
                : new EntityNotFoundException(nameof(Customer), id);
        }
    }

    private async ValueTask<IReadOnlyList<Customer>> FindByKeyAsync(string tenantId, string kind, string value, CancellationToken cancellationToken)
    {
        var rows = new List<CustomerRow>();
        await foreach (var row in ByKey(_context, tenantId, kind, value).WithCancellation(cancellationToken).ConfigureAwait(false))
        {
            rows.Add(row);
        }

        rows.Sort((a, b) => a.Id.CompareTo(b.Id));
        return rows.ConvertAll(r => r.ToCustomer());
    }

    private async ValueTask<IReadOnlyList<Customer>> LoadInOrderAsync(string tenantId, List<Guid> ids, CancellationToken cancellationToken)
    {
        var distinct = ids.Distinct().ToList();
        var rows = await Rows(tenantId).Where(r => distinct.Contains(r.Id)).ToDictionaryAsync(r => r.Id, cancellationToken).ConfigureAwait(false);
        return ids.Where(rows.ContainsKey).Select(id => rows[id].ToCustomer()).ToList();
    }

    private async Task<bool> ExistsAsync(string tenantId, Guid id, CancellationToken cancellationToken) =>
        await Rows(tenantId).AnyAsync(r => r.Id == id, cancellationToken).ConfigureAwait(false);
}
