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

    // Event types (and base types) this scope has no handler for, so that most events skip resolving an empty
    // handler list; concurrent in case a host publishes from parallel calls in one scope.
    private System.Collections.Concurrent.ConcurrentDictionary<EventDispatcher, bool>? _unhandled;

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
        for (var i = 0; i < events.Count; i++)
        {
            var crmEvent = events[i];
            foreach (var dispatcher in EventDispatcher.For(crmEvent.GetType()))
            {
                if (_unhandled is { } unhandled && unhandled.ContainsKey(dispatcher))
                {
                    continue;
                }

                if (!await dispatcher.DispatchAsync(_services, crmEvent, _logger, cancellationToken).ConfigureAwait(false))
                {
                    // Registrations cannot change once the provider is built: no handler now means none for this scope.
                    (_unhandled ??= new()).TryAdd(dispatcher, true);
                }
            }
        }
    }
}

/// <summary>
/// Calls the handlers registered for one event type. Built once per type and cached, so publishing resolves the
/// handlers through DI and calls them directly, without making generic types or invoking methods by reflection
/// for every event.
/// </summary>
internal abstract class EventDispatcher
{
    private static readonly System.Collections.Concurrent.ConcurrentDictionary<Type, EventDispatcher[]> Chains = new();

    /// <summary>The dispatchers for an event's type and each of its base types up to <see cref="CrmEvent"/>, in that order.</summary>
    public static EventDispatcher[] For(Type eventType) => Chains.GetOrAdd(eventType, static type =>
    {
        List<EventDispatcher> chain = [];
        for (var current = type; current is not null && current != typeof(object); current = current.BaseType)
        {
            chain.Add((EventDispatcher)Activator.CreateInstance(typeof(EventDispatcher<>).MakeGenericType(current))!);
        }

        return [.. chain];
    });

    /// <summary>Calls the handlers; returns whether any is registered.</summary>
    public abstract ValueTask<bool> DispatchAsync(IServiceProvider services, CrmEvent crmEvent, ILogger logger, CancellationToken cancellationToken);
}

/// <summary>Calls every registered <see cref="ICrmEventHandler{TEvent}"/>, logging (not rethrowing) a failure.</summary>
internal sealed class EventDispatcher<TEvent> : EventDispatcher
    where TEvent : CrmEvent
{
    public override async ValueTask<bool> DispatchAsync(IServiceProvider services, CrmEvent crmEvent, ILogger logger, CancellationToken cancellationToken)
    {
        var typed = (TEvent)crmEvent;
        var any = false;
        foreach (var handler in services.GetServices<ICrmEventHandler<TEvent>>())
        {
            any = true;
            try
            {
                await handler.HandleAsync(typed, cancellationToken).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is not OperationCanceledException)
            {
                CrmKitLog.EventHandlerFailed(logger, ex, handler.GetType().Name, crmEvent.GetType().Name);
            }
        }

        return any;
    }
}
