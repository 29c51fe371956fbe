using System.Collections.Concurrent;
using Crm.Kit.Customers;
using Crm.Kit.Duplicates;
using Crm.Kit.Interactions;
using Crm.Kit.Orders;
using Crm.Kit.Privacy;
using Microsoft.Extensions.DependencyInjection;

namespace Crm.Kit.Testing.Specification;

/// <summary>Records every event published, for assertions.</summary>
public sealed class RecordedEvents : ICrmEventHandler<CrmEvent>
{
    private readonly ConcurrentQueue<CrmEvent> _events = new();

    /// <summary>Everything published so far, in order.</summary>
    public IReadOnlyList<CrmEvent> All => [.. _events];

    /// <summary>The events of one type.</summary>
    public IReadOnlyList<T> Of<T>()
        where T : CrmEvent => [.. _events.OfType<T>()];

    /// <inheritdoc />
    public ValueTask HandleAsync(CrmEvent crmEvent, CancellationToken cancellationToken)
    {
        _events.Enqueue(crmEvent);
        return ValueTask.CompletedTask;
    }
}

/// <summary>
/// One tenant's view of Crm.Kit through real DI: a service provider configured like a host would, with the
/// adapter under test, a manual clock and an event recorder. Each <see cref="CreateScopeAsync"/> gives fresh
/// scoped managers, as a web request would.
/// </summary>
public sealed class CrmTestHost : IAsyncDisposable
{
    private readonly ServiceProvider _provider;
    private readonly AsyncServiceScope _scope;

    internal CrmTestHost(ServiceProvider provider, string tenantId)
    {
        _provider = provider;
        TenantId = tenantId;
        _scope = provider.CreateAsyncScope();
    }

    /// <summary>The tenant this host acts for.</summary>
    public string TenantId { get; }

    /// <summary>The scoped services of the default scope.</summary>
    public IServiceProvider Services => _scope.ServiceProvider;

    /// <summary>Events published through this host.</summary>
    public RecordedEvents Events => _provider.GetRequiredService<RecordedEvents>();

    /// <summary>The customer manager.</summary>
    public CustomerManager Customers => Services.GetRequiredService<CustomerManager>();

    /// <summary>The order manager.</summary>
    public OrderManager Orders => Services.GetRequiredService<OrderManager>();

    /// <summary>The interaction manager.</summary>
    public InteractionManager Interactions => Services.GetRequiredService<InteractionManager>();

    /// <summary>The duplicate finder.</summary>
    public DuplicateFinder Duplicates => Services.GetRequiredService<DuplicateFinder>();

    /// <summary>The merger.</summary>
    public CustomerMerger Merger => Services.GetRequiredService<CustomerMerger>();

    /// <summary>Export and erasure.</summary>
    public CustomerPrivacy Privacy => Services.GetRequiredService<CustomerPrivacy>();

    /// <summary>Segments and static lists.</summary>
    public Segmentation.SegmentManager Segments => Services.GetRequiredService<Segmentation.SegmentManager>();

    /// <summary>The loyalty manager (the host must register the module with <c>AddLoyalty()</c>).</summary>
    public Loyalty.LoyaltyManager Loyalty => Services.GetRequiredService<Loyalty.LoyaltyManager>();

    /// <summary>The case manager (the host must register the module with <c>AddServiceCases()</c>).</summary>
    public Service.CaseManager Cases => Services.GetRequiredService<Service.CaseManager>();

    /// <summary>The feedback manager (the host must register the module with <c>AddFeedback()</c>).</summary>
    public Feedback.FeedbackManager Feedback => Services.GetRequiredService<Feedback.FeedbackManager>();

    /// <summary>The pipeline manager (the host must register the module with <c>AddPipeline()</c>).</summary>
    public Sales.PipelineManager Pipelines => Services.GetRequiredService<Sales.PipelineManager>();

    /// <summary>The customer 360 view.</summary>
    public Customer360Service Customer360 => Services.GetRequiredService<Customer360Service>();

    /// <summary>A new scope, for work that must not share scoped state (such as a DbContext) with other work.</summary>
    public AsyncServiceScope CreateScopeAsync() => _provider.CreateAsyncScope();

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        await _scope.DisposeAsync();
        await _provider.DisposeAsync();
    }
}
