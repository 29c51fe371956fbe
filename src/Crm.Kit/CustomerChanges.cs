using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Crm.Kit;

/// <summary>
/// Told after customers changed (their data, metrics, or a field a module contributes), once the change is
/// committed. Segmentation uses it to keep dynamic segment membership current.
/// </summary>
public interface ICustomerChangeObserver
{
    /// <summary>Reacts to the change. Failures are logged by the caller and do not undo the change.</summary>
    ValueTask CustomersChangedAsync(string tenantId, IReadOnlyList<Guid> customerIds, CancellationToken cancellationToken);
}

/// <summary>
/// Tells every <see cref="ICustomerChangeObserver"/> that customers changed. Managers call it after committing
/// and publishing their events; a module that keeps its own customer facts (points, scores) calls it too, so
/// that segments built on those facts follow them.
/// </summary>
public sealed class CustomerChangeNotifier
{
    private readonly ICustomerChangeObserver[] _observers;
    private readonly ILogger<CustomerChangeNotifier> _logger;

    /// <summary>Creates the notifier.</summary>
    public CustomerChangeNotifier(IEnumerable<ICustomerChangeObserver> observers, ILogger<CustomerChangeNotifier>? logger = null)
    {
        _observers = [.. observers ?? throw new ArgumentNullException(nameof(observers))];
        _logger = logger ?? NullLogger<CustomerChangeNotifier>.Instance;
    }

    /// <summary>
    /// Notifies observers. The change is already committed, so an observer's failure is logged, not thrown:
    /// the caller's change succeeded, and a scheduled re-evaluation repairs what the observer missed.
    /// </summary>
    public async ValueTask NotifyAsync(string tenantId, IReadOnlyList<Guid> customerIds, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(tenantId);
        ArgumentNullException.ThrowIfNull(customerIds);
        if (customerIds.Count == 0)
        {
            return;
        }

        foreach (var observer in _observers)
        {
            try
            {
                await observer.CustomersChangedAsync(tenantId, customerIds, cancellationToken).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is not OperationCanceledException)
            {
                CrmKitLog.ChangeObserverFailed(_logger, ex, observer.GetType().Name, customerIds.Count);
            }
        }
    }
}
