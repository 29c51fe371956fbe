using Crm.Kit.Customers;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;

namespace Crm.Kit.Orders;

/// <summary>
/// Records orders and refunds. Recording is idempotent on the host's order reference; the order, the
/// customer's metrics and a first-order lifecycle move are written in one transaction, retried when a
/// concurrent change to the same customer wins the race, so concurrent orders never lose a metric update.
/// </summary>
public class OrderManager
{
    private const int MaxLines = 1000;

    private readonly IOrderStore _orders;
    private readonly ICustomerStore _customers;
    private readonly CustomerManager _customerManager;
    private readonly ICrmUnitOfWork _unitOfWork;
    private readonly ICrmTenantContext _tenant;
    private readonly TimeProvider _time;
    private readonly ICrmEventPublisher _events;
    private readonly CrmKitOptions _options;
    private readonly CrmKitInstrumentation _instrumentation;
    private readonly CustomerMetricsCalculator _metrics;
    private readonly ILogger _logger;

    /// <summary>Creates the manager; resolve it from DI rather than constructing it.</summary>
    public OrderManager(
        IOrderStore orders,
        ICustomerStore customers,
        CustomerManager customerManager,
        ICrmUnitOfWork unitOfWork,
        ICrmTenantContext tenant,
        TimeProvider time,
        ICrmEventPublisher events,
        ICurrencyConverter currencyConverter,
        IOptions<CrmKitOptions> options,
        CrmKitInstrumentation instrumentation,
        ILogger<OrderManager>? logger = null)
    {
        _orders = orders;
        _customers = customers;
        _customerManager = customerManager;
        _unitOfWork = unitOfWork;
        _tenant = tenant;
        _time = time;
        _events = events;
        _options = options.Value;
        _instrumentation = instrumentation;
        _metrics = new CustomerMetricsCalculator(currencyConverter, _options);
        _logger = logger ?? NullLogger<OrderManager>.Instance;
    }

    private string TenantId => _tenant.TenantId;

    /// <summary>
    /// Records an order for a customer, updates the customer's metrics, and moves a customer who had not bought
    /// before to <see cref="LifecycleStage.Customer"/> (a churned one to <see cref="LifecycleStage.WonBack"/>).
    /// Recording a reference that is already recorded returns the original order and changes nothing.
    /// </summary>
    /// <exception cref="CrmValidationException">The draft breaks a rule; nothing was stored.</exception>
    public async Task<Order> RecordAsync(OrderDraft draft, CancellationToken cancellationToken = default)
    {
        using var activity = _instrumentation.ActivitySource.StartActivity("Crm.Kit.RecordOrder");
        Validate(draft, _time.GetUtcNow(), _options.AllowedClockSkew);
        var reference = draft.Reference.Trim();
        var existing = await _orders.FindByReferenceAsync(TenantId, reference, cancellationToken).ConfigureAwait(false);
        if (existing is not null)
        {
            return existing;
        }

        var now = _time.GetUtcNow();
        var placedAt = (draft.PlacedAt ?? now).ToUniversalTime();
        var lines = draft.Lines.Select(l => l with { Sku = l.Sku.Trim(), ProductName = l.ProductName.Trim(), Category = string.IsNullOrWhiteSpace(l.Category) ? null : l.Category.Trim() }).ToArray();
        var orderId = CrmIds.NewId(now);

        // Convert before the transaction: a converter may do I/O, and an unknown rate must fail before anything is written.
        var reportingAmount = await _metrics.ToReportingAsync(lines.Sum(l => l.LineTotal), draft.Currency, placedAt, nameof(draft.Currency), cancellationToken).ConfigureAwait(false);

        var outcome = await ConcurrencyRetry.RunAsync(_options.ConcurrencyRetryLimit, _instrumentation, async () =>
        {
            // Resolved on every attempt: if the customer is merged away meanwhile, the order belongs to the survivor.
            var customer = await _customerManager.FindByIdAsync(draft.CustomerId, cancellationToken).ConfigureAwait(false)
                ?? throw new CrmValidationException(nameof(draft.CustomerId), "customer-exists", $"{draft.CustomerId} is not a customer in this tenant");
            var order = new Order
            {
                Id = orderId,
                TenantId = TenantId,
                Version = 1,
                CustomerId = customer.Id,
                Reference = reference,
                Currency = draft.Currency,
                Channel = string.IsNullOrWhiteSpace(draft.Channel) ? null : draft.Channel.Trim(),
                PlacedAt = placedAt,
                Lines = lines,
                CreatedAt = now,
            };

            var transaction = await _unitOfWork.BeginAsync(cancellationToken).ConfigureAwait(false);
            await using var transactionScope = transaction.ConfigureAwait(false);
            var current = await _customers.FindByIdAsync(TenantId, customer.Id, cancellationToken).ConfigureAwait(false)
                ?? throw new EntityNotFoundException(nameof(Customer), customer.Id);
            if (current.MergedIntoId is not null)
            {
                // Merged between the lookup and the transaction: a lost race like any other, so try again.
                throw new ConcurrencyConflictException(nameof(Customer), current.Id, customer.Version);
            }

            try
            {
                await _orders.CreateAsync(order, cancellationToken).ConfigureAwait(false);
            }
            catch (DuplicateValueException)
            {
                // Another caller recorded the same reference first: this call is a repeat of theirs.
                return (Order: (Order?)null, Customer: current, StageChanged: false);
            }

            var updated = current with
            {
                Metrics = CustomerMetricsCalculator.Add(current.Metrics, reportingAmount, order.PlacedAt),
                Version = current.Version + 1,
                UpdatedAt = now,
            };
            var nextStage = StageAfterOrder(current.LifecycleStage);
            if (nextStage != current.LifecycleStage)
            {
                updated = CustomerManager.WithStage(updated, nextStage, "first-order", now);
            }

            await _customers.UpdateAsync(updated, current.Version, cancellationToken).ConfigureAwait(false);
            await transaction.CommitAsync(cancellationToken).ConfigureAwait(false);
            return (Order: (Order?)order, Customer: current, StageChanged: nextStage != current.LifecycleStage);
        }).ConfigureAwait(false);

        if (outcome.Order is null)
        {
            return await _orders.FindByReferenceAsync(TenantId, reference, cancellationToken).ConfigureAwait(false)
                ?? throw new InvalidOperationException($"Order reference {InputText.Quote(reference)} was reported as taken but cannot be read back.");
        }

        var recorded = outcome.Order;
        _instrumentation.OrdersRecorded.Add(1);
        CrmKitLog.OrderRecorded(_logger, recorded.Id, recorded.Reference, recorded.CustomerId);
        List<CrmEvent> events = [new OrderRecorded { Order = recorded, TenantId = TenantId, OccurredAt = now }];
        if (outcome.StageChanged)
        {
            events.Add(new LifecycleStageChanged { CustomerId = recorded.CustomerId, From = outcome.Customer.LifecycleStage, To = StageAfterOrder(outcome.Customer.LifecycleStage), Reason = "first-order", TenantId = TenantId, OccurredAt = now });
        }

        await _events.PublishAsync(events, cancellationToken).ConfigureAwait(false);
        await _customerManager.NotifyChangedAsync(TenantId, [recorded.CustomerId], cancellationToken).ConfigureAwait(false);
        return recorded;
    }

    /// <summary>
    /// Refunds all or part of an order and recomputes the customer's metrics. Repeating a refund reference
    /// returns the order unchanged.
    /// </summary>
    /// <exception cref="CrmValidationException">The refund exceeds what is left, names an unknown SKU, or breaks another rule.</exception>
    public async Task<Order> RefundAsync(Guid orderId, RefundRequest request, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(request);
        var errors = new ValidationErrorCollector();
        errors.Required(nameof(request.Reference), request.Reference);
        errors.Text(nameof(request.Reference), request.Reference, 100);
        errors.Text(nameof(request.Reason), request.Reason, 500);
        if (request.Amount is not null && request.Lines.Count > 0)
        {
            errors.Add(nameof(request.Amount), "one-of", "give either lines or an amount, not both");
        }

        if (request.Amount is <= 0m)
        {
            errors.Add(nameof(request.Amount), "positive", "must be greater than zero");
        }

        errors.ThrowIfAny();
        var now = _time.GetUtcNow();
        var result = await ConcurrencyRetry.RunAsync(_options.ConcurrencyRetryLimit, _instrumentation, async () =>
        {
            var order = await _orders.FindByIdAsync(TenantId, orderId, cancellationToken).ConfigureAwait(false)
                ?? throw new EntityNotFoundException(nameof(Order), orderId);
            var reference = request.Reference.Trim();
            if (order.Refunds.Any(r => r.Reference == reference))
            {
                return (Order: order, Refund: (OrderRefund?)null);
            }

            var refund = BuildRefund(order, request with { Reference = reference }, now);
            var refunded = order with { Refunds = [.. order.Refunds, refund], Version = order.Version + 1 };

            var transaction = await _unitOfWork.BeginAsync(cancellationToken).ConfigureAwait(false);
            await using var transactionScope = transaction.ConfigureAwait(false);
            await _orders.UpdateAsync(refunded, order.Version, cancellationToken).ConfigureAwait(false);
            var customer = await _customers.FindByIdAsync(TenantId, order.CustomerId, cancellationToken).ConfigureAwait(false)
                ?? throw new EntityNotFoundException(nameof(Customer), order.CustomerId);
            var metrics = await _metrics.ComputeAsync(_orders.StreamByCustomerAsync(TenantId, order.CustomerId, cancellationToken), cancellationToken).ConfigureAwait(false);
            await _customers.UpdateAsync(customer with { Metrics = metrics, Version = customer.Version + 1, UpdatedAt = now }, customer.Version, cancellationToken).ConfigureAwait(false);
            await transaction.CommitAsync(cancellationToken).ConfigureAwait(false);
            return (Order: refunded, Refund: (OrderRefund?)refund);
        }).ConfigureAwait(false);

        if (result.Refund is not null)
        {
            await _events.PublishAsync([new OrderRefunded { Order = result.Order, Refund = result.Refund, TenantId = TenantId, OccurredAt = now }], cancellationToken).ConfigureAwait(false);
            await _customerManager.NotifyChangedAsync(TenantId, [result.Order.CustomerId], cancellationToken).ConfigureAwait(false);
        }

        return result.Order;
    }

    /// <summary>The order with this id, or <see langword="null"/>.</summary>
    public ValueTask<Order?> FindByIdAsync(Guid id, CancellationToken cancellationToken = default) => _orders.FindByIdAsync(TenantId, id, cancellationToken);

    /// <summary>The order with this host reference, or <see langword="null"/>.</summary>
    public ValueTask<Order?> FindByReferenceAsync(string reference, CancellationToken cancellationToken = default)
    {
        if (string.IsNullOrWhiteSpace(reference))
        {
            throw new CrmValidationException(nameof(reference), "required", "is required and must not be blank");
        }

        return _orders.FindByReferenceAsync(TenantId, reference.Trim(), cancellationToken);
    }

    /// <summary>One page of a customer's orders, newest first.</summary>
    public async ValueTask<Page<Order>> ListForCustomerAsync(Guid customerId, string? continuationToken = null, int pageSize = 50, CancellationToken cancellationToken = default)
    {
        var before = ContinuationTokens.DecodePosition(continuationToken);
        ContinuationTokens.CheckPageSize(pageSize, _options);
        var customer = await _customerManager.FindByIdAsync(customerId, cancellationToken).ConfigureAwait(false);
        if (customer is null)
        {
            return new Page<Order>([], null);
        }

        var items = await _orders.ListByCustomerAsync(TenantId, customer.Id, before, pageSize + 1, cancellationToken).ConfigureAwait(false);
        return ContinuationTokens.ToPage(items, pageSize, o => ContinuationTokens.Encode(new KeysetPosition(o.PlacedAt, o.Id)));
    }

    /// <summary>The stage a customer moves to when an order is recorded.</summary>
    internal static LifecycleStage StageAfterOrder(LifecycleStage stage) => stage switch
    {
        < LifecycleStage.Customer => LifecycleStage.Customer,
        LifecycleStage.Churned => LifecycleStage.WonBack,
        _ => stage,
    };

    private static OrderRefund BuildRefund(Order order, RefundRequest request, DateTimeOffset now)
    {
        var remaining = order.NetTotal;
        if (request.Lines.Count == 0)
        {
            var amount = request.Amount ?? remaining;
            if (remaining <= 0m)
            {
                throw new CrmValidationException(nameof(request.Amount), "refundable", $"order {order.Reference} is already fully refunded");
            }

            if (amount > remaining)
            {
                throw new CrmValidationException(nameof(request.Amount), "max-refund", $"{amount} exceeds the {remaining} {order.Currency} not yet refunded on order {order.Reference}");
            }

            return new OrderRefund(request.Reference, amount, now, request.Reason, []);
        }

        var errors = new ValidationErrorCollector();
        var refundedBySku = order.Refunds.SelectMany(r => r.Lines).GroupBy(l => l.Sku, StringComparer.Ordinal)
            .ToDictionary(g => g.Key, g => g.Sum(l => l.Quantity), StringComparer.Ordinal);
        var total = 0m;
        for (var i = 0; i < request.Lines.Count; i++)
        {
            var line = request.Lines[i];
            var ordered = order.Lines.FirstOrDefault(l => l.Sku == line?.Sku);
            if (line is null || ordered is null)
            {
                errors.Add($"Lines[{i}].Sku", "on-order", $"{InputText.Quote(line?.Sku)} is not a SKU on order {InputText.Quote(order.Reference)}");
                continue;
            }

            var left = ordered.Quantity - refundedBySku.GetValueOrDefault(line.Sku);
            if (line.Quantity < 1 || line.Quantity > left)
            {
                errors.Add($"Lines[{i}].Quantity", "refundable-quantity", $"must be between 1 and {left}, the quantity of {InputText.Quote(line.Sku)} not yet refunded");
                continue;
            }

            refundedBySku[line.Sku] = refundedBySku.GetValueOrDefault(line.Sku) + line.Quantity;
            total += line.Quantity * ordered.UnitPrice;
        }

        if (!errors.HasErrors && total > remaining)
        {
            errors.Add(nameof(request.Lines), "max-refund", $"the lines are worth {total}, more than the {remaining} {order.Currency} not yet refunded");
        }

        errors.ThrowIfAny();
        return new OrderRefund(request.Reference, total, now, request.Reason, [.. request.Lines]);
    }

    private static void Validate(OrderDraft draft, DateTimeOffset now, TimeSpan allowedSkew)
    {
        ArgumentNullException.ThrowIfNull(draft);
        var errors = new ValidationErrorCollector();
        if (draft.CustomerId == Guid.Empty)
        {
            errors.Add(nameof(draft.CustomerId), "required", "is required");
        }

        if (draft.PlacedAt is { } placedAt)
        {
            errors.Happened(nameof(draft.PlacedAt), placedAt, now, allowedSkew);
        }

        errors.Required(nameof(draft.Reference), draft.Reference);
        errors.Text(nameof(draft.Reference), draft.Reference?.Trim(), 100);
        if (!CurrencyCodes.IsValid(draft.Currency))
        {
            errors.Add(nameof(draft.Currency), "iso-4217", $"{InputText.Quote(draft.Currency)} is not an ISO 4217 currency code in upper case");
        }

        errors.Text(nameof(draft.Channel), draft.Channel, 50);
        ArgumentNullException.ThrowIfNull(draft.Lines);
        if (draft.Lines.Count == 0)
        {
            errors.Add(nameof(draft.Lines), "not-empty", "an order needs at least one line");
        }

        errors.MaxCount(nameof(draft.Lines), draft.Lines, MaxLines);
        var skus = new HashSet<string>(StringComparer.Ordinal);
        for (var i = 0; i < draft.Lines.Count; i++)
        {
            var path = $"Lines[{i}]";
            var line = draft.Lines[i];
            if (line is null)
            {
                errors.Add(path, "required", "must not be null");
                continue;
            }

            errors.Required(path + ".Sku", line.Sku);
            errors.Text(path + ".Sku", line.Sku, 100);
            errors.Required(path + ".ProductName", line.ProductName);
            errors.Text(path + ".ProductName", line.ProductName, 200);
            errors.Text(path + ".Category", line.Category, 100);
            if (line.Quantity is < 1 or > 1_000_000)
            {
                errors.Add(path + ".Quantity", "range", $"must be between 1 and 1000000 (was {line.Quantity})");
            }

            if (line.UnitPrice is < 0m or > 1_000_000_000m)
            {
                errors.Add(path + ".UnitPrice", "range", $"must be between 0 and 1000000000 (was {line.UnitPrice})");
            }

            if (!string.IsNullOrWhiteSpace(line.Sku) && !skus.Add(line.Sku.Trim()))
            {
                errors.Add(path + ".Sku", "unique-sku", $"{InputText.Quote(line.Sku)} appears on more than one line; put the total quantity on one line");
            }
        }

        errors.ThrowIfAny();
    }
}
