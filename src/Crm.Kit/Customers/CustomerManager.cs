using System.Runtime.CompilerServices;
using Crm.Kit.InMemory;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;

namespace Crm.Kit.Customers;

/// <summary>
/// Creates, finds and changes customers: validates and normalises input, enforces uniqueness of the external
/// reference, keeps lifecycle and consent history, bumps versions and publishes events after each change.
/// Every call acts for the tenant given by <see cref="ICrmTenantContext"/>.
/// </summary>
public class CustomerManager
{
    private readonly ICustomerStore _store;
    private readonly InMemoryCustomerStore? _inMemoryStore;
    private readonly ICrmTenantContext _tenant;
    private readonly string? _fixedTenantId;
    private readonly TimeProvider _time;
    private readonly ICrmEventPublisher _events;
    private readonly CrmKitInstrumentation _instrumentation;
    private readonly ILogger _logger;
    private readonly CustomerChangeNotifier? _changes;

    /// <summary>Creates the manager; resolve it from DI rather than constructing it.</summary>
    public CustomerManager(
        ICustomerStore store,
        ICrmTenantContext tenant,
        TimeProvider time,
        ICrmEventPublisher events,
        IOptions<CrmKitOptions> options,
        CrmKitInstrumentation instrumentation,
        ILogger<CustomerManager>? logger = null,
        CustomerChangeNotifier? changes = null)
    {
        _changes = changes;
        _store = store;
        // The built-in in-memory store answers reads synchronously; calling it directly (a sealed type, so the call
        // inlines) keeps the hottest read free of interface dispatch and ValueTask plumbing.
        _inMemoryStore = store as InMemoryCustomerStore;
        _tenant = tenant;
        // A fixed tenant never changes, so it is read once; any other context is asked on every call.
        _fixedTenantId = (tenant as FixedTenantContext)?.TenantId;
        _time = time;
        _events = events;
        Options = options.Value;
        _instrumentation = instrumentation;
        _logger = logger ?? NullLogger<CustomerManager>.Instance;
    }

    /// <summary>The validated options in force.</summary>
    protected CrmKitOptions Options { get; }

    private string TenantId => _fixedTenantId ?? _tenant.TenantId;

    /// <summary>Creates a customer from a draft.</summary>
    /// <exception cref="CrmValidationException">The draft breaks a rule; nothing was stored.</exception>
    public async Task<Customer> CreateAsync(CustomerDraft draft, CancellationToken cancellationToken = default)
    {
        using var activity = _instrumentation.ActivitySource.StartActivity("Crm.Kit.CreateCustomer");
        var now = _time.GetUtcNow();
        var normalized = CustomerDraftValidator.Normalize(draft, Options, creating: true, now);
        await CheckReferencesAsync(normalized, currentId: null, cancellationToken).ConfigureAwait(false);
        var customer = NewCustomer(normalized, now);

        try
        {
            await _store.CreateAsync(customer, cancellationToken).ConfigureAwait(false);
        }
        catch (DuplicateValueException ex)
        {
            throw new CrmValidationException(nameof(CustomerDraft.ExternalReference), "unique", ex.Message);
        }

        _instrumentation.CustomersCreated.Add(1);
        CrmKitLog.CustomerCreated(_logger, customer.Id, customer.TenantId);
        await PublishAsync(new CustomerCreated { Customer = customer, TenantId = TenantId, OccurredAt = now }, cancellationToken).ConfigureAwait(false);
        await NotifyChangedAsync(customer.TenantId, [customer.Id], cancellationToken).ConfigureAwait(false);
        return customer;
    }

    /// <summary>The largest batch <see cref="CreateManyAsync"/> accepts.</summary>
    public const int MaxBatchSize = 10_000;

    /// <summary>
    /// Creates many customers at once (an import), all or none. Every draft is validated first; errors name the
    /// draft by its index, for example <c>[12].Emails[0]</c>. External references must be unique within the
    /// batch and the tenant.
    /// </summary>
    /// <exception cref="CrmValidationException">Any draft breaks a rule; nothing was stored.</exception>
    public async Task<IReadOnlyList<Customer>> CreateManyAsync(IReadOnlyList<CustomerDraft> drafts, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(drafts);
        using var activity = _instrumentation.ActivitySource.StartActivity("Crm.Kit.CreateCustomers");
        var errors = new ValidationErrorCollector();
        errors.MaxCount(nameof(drafts), drafts, MaxBatchSize);
        errors.ThrowIfAny();

        var normalized = new CustomerDraft[drafts.Count];
        var references = new Dictionary<string, int>(StringComparer.Ordinal);
        var companies = new HashSet<Guid>();
        for (var i = 0; i < drafts.Count; i++)
        {
            try
            {
                normalized[i] = CustomerDraftValidator.Normalize(drafts[i], Options, creating: true, _time.GetUtcNow());
            }
            catch (CrmValidationException ex)
            {
                foreach (var error in ex.Errors)
                {
                    errors.Add($"[{i}].{error.Field}", error.Rule, error.Message);
                }

                continue;
            }

            if (normalized[i].ExternalReference is { } reference && !references.TryAdd(reference, i))
            {
                errors.Add($"[{i}].ExternalReference", "unique", $"{InputText.Quote(reference)} is also used by draft [{references[reference]}]");
            }

            if (normalized[i].CompanyId is { } companyId)
            {
                companies.Add(companyId);
            }
        }

        errors.ThrowIfAny();
        foreach (var companyId in companies)
        {
            if (await FindCompanyAsync(companyId, cancellationToken).ConfigureAwait(false) is null)
            {
                errors.Add("CompanyId", "company-exists", $"{companyId} is not a company customer in this tenant");
            }
        }

        errors.ThrowIfAny();
        var now = _time.GetUtcNow();
        var customers = Array.ConvertAll(normalized, draft => NewCustomer(draft, now));
        try
        {
            await _store.CreateManyAsync(customers, cancellationToken).ConfigureAwait(false);
        }
        catch (DuplicateValueException ex)
        {
            throw await NameTakenReferencesAsync(customers, ex, cancellationToken).ConfigureAwait(false);
        }

        _instrumentation.CustomersCreated.Add(customers.Length);
        await _events.PublishAsync([.. customers.Select(c => new CustomerCreated { Customer = c, TenantId = TenantId, OccurredAt = now })], cancellationToken).ConfigureAwait(false);
        await NotifyChangedAsync(TenantId, Array.ConvertAll(customers, c => c.Id), cancellationToken).ConfigureAwait(false);
        return customers;
    }

    /// <summary>
    /// The customer with this id. An id that was merged away resolves to the customer it was merged into;
    /// returns <see langword="null"/> when there is none in the current tenant.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public ValueTask<Customer?> FindByIdAsync(Guid id, CancellationToken cancellationToken = default)
    {
        // Kept tiny so that it inlines into the caller: a live customer from the in-memory store comes back with
        // no call, no await and no allocation. Everything else takes the general path.
        if (_inMemoryStore is { } inMemory && inMemory.TryFindLive(TenantId, id, out var found))
        {
            return new ValueTask<Customer?>(found);
        }

        return FindByIdThroughStoreAsync(id, cancellationToken);
    }

    /// <summary>The customer with this id, or <see cref="EntityNotFoundException"/>.</summary>
    public async ValueTask<Customer> GetByIdAsync(Guid id, CancellationToken cancellationToken = default) =>
        await FindByIdAsync(id, cancellationToken).ConfigureAwait(false) ?? throw new EntityNotFoundException(nameof(Customer), id);

    /// <summary>The customer with this external reference (following merges), or <see langword="null"/>.</summary>
    public async ValueTask<Customer?> FindByExternalReferenceAsync(string externalReference, CancellationToken cancellationToken = default)
    {
        if (string.IsNullOrWhiteSpace(externalReference))
        {
            throw new CrmValidationException(nameof(externalReference), "required", "is required and must not be blank");
        }

        var customer = await _store.FindByExternalReferenceAsync(TenantId, externalReference.Trim(), cancellationToken).ConfigureAwait(false);
        return customer?.MergedIntoId is null ? customer : await ResolveMergedAsync(customer, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Customers with this email address, compared case-insensitively.</summary>
    public ValueTask<IReadOnlyList<Customer>> FindByEmailAsync(string email, CancellationToken cancellationToken = default)
    {
        if (!EmailAddresses.TryNormalize(email, out var normalized))
        {
            throw new CrmValidationException(nameof(email), "email-format", $"{InputText.Quote(email)} is not a valid email address");
        }

        return _store.FindByEmailAsync(TenantId, normalized, cancellationToken);
    }

    /// <summary>Customers with this phone number, written in any common format.</summary>
    public ValueTask<IReadOnlyList<Customer>> FindByPhoneAsync(string phone, CancellationToken cancellationToken = default)
    {
        if (!PhoneNumbers.TryNormalize(phone, Options.DefaultPhoneRegion, out var e164))
        {
            throw new CrmValidationException(nameof(phone), "phone-format", $"{InputText.Quote(phone)} is not a phone number");
        }

        return _store.FindByPhoneAsync(TenantId, e164, cancellationToken);
    }

    /// <summary>
    /// Customers whose given, family, company or full name starts with <paramref name="prefix"/>, ignoring case,
    /// accents, spaces and punctuation. Each customer appears once.
    /// </summary>
    public async ValueTask<IReadOnlyList<Customer>> SearchByNameAsync(string prefix, int limit = 20, CancellationToken cancellationToken = default)
    {
        var folded = SearchKeys.Fold(prefix);
        if (folded.Length == 0)
        {
            throw new CrmValidationException(nameof(prefix), "required", "must contain at least one letter or digit");
        }

        ContinuationTokens.CheckPageSize(limit, Options);
        // A customer matches through up to three keys; ask for enough rows to fill the limit with distinct customers.
        var rows = await _store.FindByNamePrefixAsync(TenantId, folded, limit * 3, cancellationToken).ConfigureAwait(false);
        return rows.DistinctBy(c => c.Id).Take(limit).ToList();
    }

    /// <summary>One page of the tenant's customers in creation order.</summary>
    public async ValueTask<Page<Customer>> ListAsync(string? continuationToken = null, int pageSize = 100, CancellationToken cancellationToken = default)
    {
        var after = ContinuationTokens.DecodeId(continuationToken);
        ContinuationTokens.CheckPageSize(pageSize, Options);
        var items = await _store.ListAsync(TenantId, after, pageSize + 1, cancellationToken).ConfigureAwait(false);
        return ContinuationTokens.ToPage(items, pageSize, c => ContinuationTokens.Encode(c.Id));
    }

    /// <summary>Every customer of the tenant, streamed in creation order.</summary>
    public IAsyncEnumerable<Customer> StreamAsync(CancellationToken cancellationToken = default) => _store.StreamAsync(TenantId, cancellationToken);

    /// <summary>Replaces the editable details of a customer.</summary>
    /// <param name="id">The customer.</param>
    /// <param name="expectedVersion">The version the change is based on.</param>
    /// <param name="draft">The new details, usually from <see cref="Customer.ToDraft"/> with changes.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    /// <exception cref="ConcurrencyConflictException">The customer changed since <paramref name="expectedVersion"/>.</exception>
    public async Task<Customer> UpdateAsync(Guid id, long expectedVersion, CustomerDraft draft, CancellationToken cancellationToken = default)
    {
        var normalized = CustomerDraftValidator.Normalize(draft, Options, creating: false, _time.GetUtcNow());
        var current = await GetLiveAsync(id, cancellationToken).ConfigureAwait(false);
        await CheckReferencesAsync(normalized, id, cancellationToken).ConfigureAwait(false);
        var updated = await SaveAsync(current, expectedVersion, c => Apply(c, normalized), cancellationToken).ConfigureAwait(false);
        await PublishAsync(new CustomerUpdated { Customer = updated, TenantId = TenantId, OccurredAt = updated.UpdatedAt }, cancellationToken).ConfigureAwait(false);
        await NotifyChangedAsync(updated.TenantId, [updated.Id], cancellationToken).ConfigureAwait(false);
        return updated;
    }

    /// <summary>Moves a customer to another lifecycle stage and records it in the history.</summary>
    public async Task<Customer> ChangeLifecycleStageAsync(Guid id, long expectedVersion, LifecycleStage stage, string reason = "manual", CancellationToken cancellationToken = default)
    {
        var errors = new ValidationErrorCollector();
        errors.Defined(nameof(stage), stage);
        errors.Required(nameof(reason), reason);
        errors.Text(nameof(reason), reason, 100);
        errors.ThrowIfAny();

        var current = await GetLiveAsync(id, cancellationToken).ConfigureAwait(false);
        if (current.LifecycleStage == stage)
        {
            return current;
        }

        var updated = await SaveAsync(current, expectedVersion, c => WithStage(c, stage, reason, _time.GetUtcNow()), cancellationToken).ConfigureAwait(false);
        await PublishAsync(new LifecycleStageChanged { CustomerId = id, From = current.LifecycleStage, To = stage, Reason = reason, TenantId = TenantId, OccurredAt = updated.UpdatedAt }, cancellationToken).ConfigureAwait(false);
        await NotifyChangedAsync(updated.TenantId, [updated.Id], cancellationToken).ConfigureAwait(false);
        return updated;
    }

    /// <summary>
    /// Records a consent grant or withdrawal. Consent changes are never lost to a concurrent edit: the call
    /// re-reads and retries on a version conflict, because the newest statement of the customer must win.
    /// </summary>
    public async Task<Customer> RecordConsentAsync(Guid id, ConsentRecord consent, CancellationToken cancellationToken = default)
    {
        var errors = new ValidationErrorCollector();
        CustomerDraftValidator.ValidateConsent(nameof(consent), [consent], errors, _time.GetUtcNow(), Options.AllowedClockSkew);
        errors.ThrowIfAny();

        var updated = await ConcurrencyRetry.RunAsync(Options.ConcurrencyRetryLimit, _instrumentation, async () =>
        {
            var current = await GetLiveAsync(id, cancellationToken).ConfigureAwait(false);
            return await SaveAsync(current, current.Version, c => c with { ConsentHistory = InsertByTime(c.ConsentHistory, consent).ToArray() }, cancellationToken).ConfigureAwait(false);
        }).ConfigureAwait(false);
        await PublishAsync(new ConsentChanged { CustomerId = updated.Id, Consent = consent, TenantId = TenantId, OccurredAt = updated.UpdatedAt }, cancellationToken).ConfigureAwait(false);
        await NotifyChangedAsync(updated.TenantId, [updated.Id], cancellationToken).ConfigureAwait(false);
        return updated;
    }

    // The batch was rolled back; find which drafts' references are taken, so the error names them.
    private async ValueTask<CrmValidationException> NameTakenReferencesAsync(Customer[] batch, DuplicateValueException clash, CancellationToken cancellationToken)
    {
        var errors = new ValidationErrorCollector();
        try
        {
            for (var i = 0; i < batch.Length; i++)
            {
                if (batch[i].ExternalReference is { } reference &&
                    await _store.FindByExternalReferenceAsync(TenantId, reference, cancellationToken).ConfigureAwait(false) is { } holder)
                {
                    errors.Add($"[{i}].ExternalReference", "unique", $"{InputText.Quote(reference)} already belongs to customer {holder.MergedIntoId ?? holder.Id}");
                }
            }
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            // Inside a host transaction the database may refuse further reads until it ends; say what we know.
        }

        if (!errors.HasErrors)
        {
            errors.Add(nameof(CustomerDraft.ExternalReference), "unique", clash.Message);
        }

        return new CrmValidationException(errors.Errors);
    }

    private Customer NewCustomer(CustomerDraft normalized, DateTimeOffset now) => Apply(
        new Customer
        {
            Id = CrmIds.NewId(now),
            TenantId = TenantId,
            Version = 1,
            LifecycleStage = normalized.InitialStage,
            LifecycleHistory = new[] { new LifecycleStageChange(normalized.InitialStage, now, "created") },
            ConsentHistory = normalized.InitialConsent.Count == 0 ? [] : normalized.InitialConsent.OrderBy(c => c.RecordedAt).ToArray(),
            CreatedAt = now,
            UpdatedAt = now,
        },
        normalized);

    internal static Customer WithStage(Customer customer, LifecycleStage stage, string reason, DateTimeOffset at) => customer with
    {
        LifecycleStage = stage,
        LifecycleHistory = customer.LifecycleHistory.Append(new LifecycleStageChange(stage, at, reason)).ToArray(),
    };

    // Keeps consent history ordered by the time the customer made each statement, so "latest wins" holds even for late-arriving records.
    internal static IEnumerable<ConsentRecord> InsertByTime(IReadOnlyList<ConsentRecord> history, ConsentRecord record) =>
        history.Append(record).OrderBy(r => r.RecordedAt);

    private async ValueTask<Customer> GetLiveAsync(Guid id, CancellationToken cancellationToken)
    {
        var customer = await _store.FindByIdAsync(TenantId, id, cancellationToken).ConfigureAwait(false)
            ?? throw new EntityNotFoundException(nameof(Customer), id);
        if (customer.MergedIntoId is { } survivor)
        {
            throw new CrmValidationException("id", "not-merged", $"customer {id} was merged into {survivor}; change the survivor instead");
        }

        return customer;
    }

    private async ValueTask<Customer> SaveAsync(Customer current, long expectedVersion, Func<Customer, Customer> change, CancellationToken cancellationToken)
    {
        if (current.Version != expectedVersion)
        {
            _instrumentation.ConcurrencyConflicts.Add(1);
            throw new ConcurrencyConflictException(nameof(Customer), current.Id, expectedVersion);
        }

        var updated = change(current) with { Version = expectedVersion + 1, UpdatedAt = _time.GetUtcNow() };
        try
        {
            await _store.UpdateAsync(updated, expectedVersion, cancellationToken).ConfigureAwait(false);
        }
        catch (DuplicateValueException ex)
        {
            throw new CrmValidationException(nameof(CustomerDraft.ExternalReference), "unique", ex.Message);
        }

        return updated;
    }

    private static Customer Apply(Customer customer, CustomerDraft draft) => customer with
    {
        Kind = draft.Kind,
        FirstName = draft.FirstName,
        LastName = draft.LastName,
        CompanyName = draft.CompanyName,
        CompanyId = draft.CompanyId,
        ExternalReference = draft.ExternalReference,
        Emails = draft.Emails,
        Phones = draft.Phones,
        Addresses = draft.Addresses,
        Tags = draft.Tags,
        Attributes = draft.Attributes,
        OwnerId = draft.OwnerId,
    };

    private async ValueTask CheckReferencesAsync(CustomerDraft draft, Guid? currentId, CancellationToken cancellationToken)
    {
        var errors = new ValidationErrorCollector();
        if (draft.ExternalReference is { } reference)
        {
            var holder = await _store.FindByExternalReferenceAsync(TenantId, reference, cancellationToken).ConfigureAwait(false);
            if (holder is not null && holder.Id != currentId)
            {
                errors.Add(nameof(draft.ExternalReference), "unique", $"{InputText.Quote(reference)} already belongs to customer {holder.MergedIntoId ?? holder.Id}");
            }
        }

        if (draft.CompanyId is { } companyId)
        {
            var company = await FindCompanyAsync(companyId, cancellationToken).ConfigureAwait(false);
            if (company is null)
            {
                errors.Add(nameof(draft.CompanyId), "company-exists", $"{companyId} is not a company customer in this tenant");
            }
            else if (company.Id == currentId)
            {
                errors.Add(nameof(draft.CompanyId), "not-self", "a customer cannot belong to itself");
            }
        }

        errors.ThrowIfAny();
    }

    /// <summary>The company customer with this id (following merges), or null when there is none or it is a person.</summary>
    private async ValueTask<Customer?> FindCompanyAsync(Guid id, CancellationToken cancellationToken) =>
        await FindByIdAsync(id, cancellationToken).ConfigureAwait(false) is { Kind: CustomerKind.Company } company ? company : null;

    private async ValueTask<Customer?> FindByIdThroughStoreAsync(Guid id, CancellationToken cancellationToken)
    {
        var customer = await _store.FindByIdAsync(TenantId, id, cancellationToken).ConfigureAwait(false);
        return customer?.MergedIntoId is null ? customer : await ResolveMergedAsync(customer, cancellationToken).ConfigureAwait(false);
    }

    private async ValueTask<Customer?> ResolveMergedAsync(Customer customer, CancellationToken cancellationToken)
    {
        // Merges can chain (A into B, later B into C); the hop limit guards against a corrupted cycle.
        for (var hops = 0; customer.MergedIntoId is { } next && hops < 64; hops++)
        {
            var survivor = await _store.FindByIdAsync(TenantId, next, cancellationToken).ConfigureAwait(false);
            if (survivor is null)
            {
                return null;
            }

            customer = survivor;
        }

        return customer.MergedIntoId is null ? customer : null;
    }

    private ValueTask PublishAsync(CrmEvent crmEvent, CancellationToken cancellationToken) => _events.PublishAsync([crmEvent], cancellationToken);

    /// <summary>Tells change observers (segment membership) about committed changes; managers sharing this one call it too.</summary>
    internal ValueTask NotifyChangedAsync(string tenantId, IReadOnlyList<Guid> customerIds, CancellationToken cancellationToken) =>
        _changes is null ? ValueTask.CompletedTask : _changes.NotifyAsync(tenantId, customerIds, cancellationToken);
}
