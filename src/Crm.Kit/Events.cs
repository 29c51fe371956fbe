using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Crm.Kit;

/// <summary>Something that happened in the CRM, published after the change that caused it was committed.</summary>
public abstract record CrmEvent
{
    /// <summary>The tenant the change belongs to.</summary>
    public required string TenantId { get; init; }

    /// <summary>When the change was committed, from the configured <see cref="TimeProvider"/>.</summary>
    public required DateTimeOffset OccurredAt { get; init; }
}

/// <summary>Handles one type of <see cref="CrmEvent"/> in process. Register handlers in DI; each is resolved per publish.</summary>
/// <typeparam name="TEvent">The event type handled.</typeparam>
public interface ICrmEventHandler<in TEvent>
    where TEvent : CrmEvent
{
    /// <summary>Handles the event. The change is already committed; throwing does not undo it.</summary>
    ValueTask HandleAsync(TEvent crmEvent, CancellationToken cancellationToken);
}

/// <summary>Delivers committed events. Replace it to forward events to a bus or an outbox.</summary>
public interface ICrmEventPublisher
{
    /// <summary>Publishes events in order. Called only after the change that raised them was committed.</summary>
    ValueTask PublishAsync(IReadOnlyList<CrmEvent> events, CancellationToken cancellationToken);
}

/// <summary>
/// The default publisher: calls every registered <see cref="ICrmEventHandler{TEvent}"/> for each event's type and
/// its base types, in registration order. A failing handler is logged and does not stop the others, because
/// the change it reacts to is already committed.
/// </summary>
public sealed class InProcessCrmEventPublisher : ICrmEventPublisher
{
    private readonly IServiceProvider _services;
    private readonly ILogger<InProcessCrmEventPublisher> _logger;

    /// <summary>Creates the publisher.</summary>
    public InProcessCrmEventPublisher(IServiceProvider services, ILogger<InProcessCrmEventPublisher>? logger = null)
    {
        _services = services;
        _logger = logger ?? NullLogger<InProcessCrmEventPublisher>.Instance;
    }

    /// <inheritdoc />
    public async ValueTask PublishAsync(IReadOnlyList<CrmEvent> events, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(events);
        foreach (var crmEvent in events)
        {
            for (var type = crmEvent.GetType(); type is not null && type != typeof(object); type = type.BaseType)
            {
                var handlerType = typeof(ICrmEventHandler<>).MakeGenericType(type);
                foreach (var handler in _services.GetServices(handlerType))
                {
                    try
                    {
                        var task = (ValueTask)handlerType.GetMethod(nameof(ICrmEventHandler<>.HandleAsync))!
                            .Invoke(handler, [crmEvent, cancellationToken])!;
                        await task.ConfigureAwait(false);
                    }
                    catch (Exception ex) when (ex is not OperationCanceledException)
                    {
                        CrmKitLog.EventHandlerFailed(_logger, ex, handler?.GetType().Name, crmEvent.GetType().Name);
                    }
                }
            }
        }
    }
}
