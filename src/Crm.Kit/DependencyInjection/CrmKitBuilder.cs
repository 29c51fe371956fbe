using Crm.Kit;
using Crm.Kit.Customers;
using Crm.Kit.Duplicates;
using Crm.Kit.Feedback;
using Crm.Kit.InMemory;
using Crm.Kit.Insights;
using Crm.Kit.Interactions;
using Crm.Kit.Loyalty;
using Crm.Kit.Orders;
using Crm.Kit.Privacy;
using Crm.Kit.Sales;
using Crm.Kit.Segmentation;
using Crm.Kit.Service;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>Returned by <see cref="CrmKitServiceCollectionExtensions.AddCrmKit"/>; adapters add their extension methods to it.</summary>
public sealed class CrmKitBuilder
{
    internal CrmKitBuilder(IServiceCollection services) => Services = services;

    /// <summary>The service collection Crm.Kit is registered in.</summary>
    public IServiceCollection Services { get; }

    /// <summary>
    /// Uses the in-memory stores over <paramref name="database"/> (a new one when not given), replacing any
    /// stores registered before. Pass one database to several service providers to let them share data.
    /// </summary>
    public CrmKitBuilder AddInMemoryStores(InMemoryCrmDatabase? database = null)
    {
        Services.RemoveAll<InMemoryCrmDatabase>();
        if (database is null)
        {
            Services.AddSingleton<InMemoryCrmDatabase>();
        }
        else
        {
            Services.AddSingleton(database);
        }

        Services.Replace(ServiceDescriptor.Singleton<ICustomerStore, InMemoryCustomerStore>());
        Services.Replace(ServiceDescriptor.Singleton<IOrderStore, InMemoryOrderStore>());
        Services.Replace(ServiceDescriptor.Singleton<IInteractionStore, InMemoryInteractionStore>());
        Services.Replace(ServiceDescriptor.Singleton<ICrmUnitOfWork, InMemoryUnitOfWork>());
        Services.Replace(ServiceDescriptor.Singleton<ISegmentStore, InMemorySegmentStore>());
        Services.Replace(ServiceDescriptor.Singleton<ISegmentEvaluator, InMemorySegmentEvaluator>());
        Services.Replace(ServiceDescriptor.Scoped<IPurchaseHistoryStore, OrderScanPurchaseHistoryStore>());
        Services.RemoveAll<InMemoryCustomerInsightStore>();
        Services.AddSingleton<InMemoryCustomerInsightStore>();
        Services.Replace(ServiceDescriptor.Singleton<ICustomerInsightStore>(sp => sp.GetRequiredService<InMemoryCustomerInsightStore>()));
        Services.RemoveAll<InMemoryLoyaltyStore>();
        Services.AddSingleton<InMemoryLoyaltyStore>();
        Services.Replace(ServiceDescriptor.Singleton<ILoyaltyStore>(sp => sp.GetRequiredService<InMemoryLoyaltyStore>()));
        Services.Replace(ServiceDescriptor.Singleton<IServiceCaseStore, InMemoryServiceCaseStore>());
        Services.Replace(ServiceDescriptor.Singleton<IPipelineStore, InMemoryPipelineStore>());
        Services.RemoveAll<InMemoryLeadScoreStore>();
        Services.AddSingleton<InMemoryLeadScoreStore>();
        Services.Replace(ServiceDescriptor.Singleton<ILeadScoreStore>(sp => sp.GetRequiredService<InMemoryLeadScoreStore>()));
        Services.RemoveAll<InMemoryFeedbackStore>();
        Services.AddSingleton<InMemoryFeedbackStore>();
        Services.Replace(ServiceDescriptor.Singleton<IFeedbackStore>(sp => sp.GetRequiredService<InMemoryFeedbackStore>()));
        return this;
    }

    /// <summary>Configures segmentation (the zone days are read in, the compiled-rule cache).</summary>
    public CrmKitBuilder ConfigureSegmentation(Action<SegmentationOptions> configure)
    {
        ArgumentNullException.ThrowIfNull(configure);
        Services.Configure(configure);
        return this;
    }

    /// <summary>
    /// Adds the loyalty module: <see cref="LoyaltyManager"/>, earning when orders are recorded and reversing when
    /// they are refunded, and the <c>loyalty.*</c> segment fields. Create the tenant's programme with
    /// <see cref="LoyaltyManager.CreateProgrammeAsync"/> before enrolling members.
    /// </summary>
    public CrmKitBuilder AddLoyalty()
    {
        Services.TryAddScoped<LoyaltyManager>();
        Services.TryAddEnumerable(ServiceDescriptor.Scoped<ICrmEventHandler<OrderRecorded>, LoyaltyOrderHandler>());
        Services.TryAddEnumerable(ServiceDescriptor.Scoped<ICrmEventHandler<OrderRefunded>, LoyaltyOrderHandler>());
        Services.TryAddEnumerable(ServiceDescriptor.Scoped<ICustomer360Contributor, LoyaltyContributor>());
        return AddSegmentFields<LoyaltyFields>();
    }

    /// <summary>
    /// Adds service cases: <see cref="CaseManager"/> with SLA policies and breach detection, first responses
    /// detected from interactions linked to a case, links to cases checked when interactions are recorded, open
    /// cases in the customer 360 view, and cases in customer export, merge and erasure.
    /// </summary>
    /// <param name="configure">Adds case kinds beyond complaint, request and question.</param>
    public CrmKitBuilder AddServiceCases(Action<ServiceOptions>? configure = null)
    {
        var options = Services.AddOptions<ServiceOptions>();
        if (configure is not null)
        {
            options.Configure(configure);
        }

        options.ValidateOnStart();
        Services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<ServiceOptions>, ServiceOptionsValidator>());
        Services.TryAddScoped<CaseManager>();
        Services.TryAddEnumerable(ServiceDescriptor.Scoped<ICrmEventHandler<InteractionRecorded>, CaseInteractionHandler>());
        Services.TryAddEnumerable(ServiceDescriptor.Scoped<IInteractionLinkValidator, CaseLinkValidator>());
        Services.TryAddEnumerable(ServiceDescriptor.Scoped<ICustomer360Contributor, CasesContributor>());
        Services.TryAddEnumerable(ServiceDescriptor.Scoped<ICustomerDataParticipant, CaseDataParticipant>());
        return this;
    }

    /// <summary>
    /// Adds the sales pipeline: <see cref="PipelineManager"/> with pipelines, stages, deals and their history,
    /// links to deals checked when interactions are recorded (and counted as deal activity), open deals in the
    /// customer 360 view, and deals in customer export and merge.
    /// </summary>
    public CrmKitBuilder AddPipeline()
    {
        Services.TryAddScoped<PipelineManager>();
        Services.TryAddEnumerable(ServiceDescriptor.Scoped<ICrmEventHandler<InteractionRecorded>, DealInteractionHandler>());
        Services.TryAddEnumerable(ServiceDescriptor.Scoped<IInteractionLinkValidator, DealLinkValidator>());
        Services.TryAddEnumerable(ServiceDescriptor.Scoped<ICustomer360Contributor, DealsContributor>());
        Services.TryAddEnumerable(ServiceDescriptor.Scoped<ICustomerDataParticipant, DealDataParticipant>());
        return this;
    }

    /// <summary>
    /// Adds lead scoring: the model in <paramref name="configure"/> (validated at start-up) scores customers on fit
    /// and engagement, keeps each score with its explanation, contributes it as the <c>lead.score</c> segment field
    /// and qualifies leads that reach its thresholds. Resolve <see cref="LeadScoringManager"/>.
    /// </summary>
    /// <param name="configure">Sets the fit rules, engagement rules and thresholds.</param>
    public CrmKitBuilder AddLeadScoring(Action<LeadScoringOptions> configure)
    {
        ArgumentNullException.ThrowIfNull(configure);
        Services.AddOptions<LeadScoringOptions>().Configure(configure).ValidateOnStart();
        Services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<LeadScoringOptions>, LeadScoringOptionsValidator>());
        Services.TryAddScoped<LeadScoringManager>();
        Services.TryAddEnumerable(ServiceDescriptor.Scoped<ICustomerChangeObserver, LeadScoreObserver>());
        Services.TryAddEnumerable(ServiceDescriptor.Scoped<ICrmEventHandler<InteractionRecorded>, LeadScoreInteractionHandler>());
        Services.TryAddEnumerable(ServiceDescriptor.Scoped<ICustomerDataParticipant, LeadScoreDataParticipant>());
        return AddSegmentFields<LeadScoreFields>();
    }

    /// <summary>
    /// Adds feedback: <see cref="FeedbackManager"/> with NPS, CSAT and CES surveys, follow-up tasks for negative
    /// answers, the latest answers in the customer 360 view, answers in customer export, merge and erasure, and
    /// the <c>feedback.*</c> segment fields.
    /// </summary>
    public CrmKitBuilder AddFeedback()
    {
        Services.TryAddScoped<FeedbackManager>();
        Services.TryAddEnumerable(ServiceDescriptor.Scoped<ICustomer360Contributor, FeedbackContributor>());
        Services.TryAddEnumerable(ServiceDescriptor.Scoped<ICustomerDataParticipant, FeedbackDataParticipant>());
        return AddSegmentFields<FeedbackFields>();
    }

    /// <summary>Registers a module's segment fields, so that rules can use them.</summary>
    public CrmKitBuilder AddSegmentFields<TProvider>()
        where TProvider : class, ISegmentFieldProvider
    {
        Services.TryAddEnumerable(ServiceDescriptor.Singleton<ISegmentFieldProvider, TProvider>());
        return this;
    }
}

/// <summary>Registers Crm.Kit.</summary>
public static class CrmKitServiceCollectionExtensions
{
    /// <summary>
    /// Registers Crm.Kit's managers with in-memory stores as the default (an adapter such as
    /// <c>AddEntityFrameworkStores</c> replaces them). Safe to call more than once: later calls only add option
    /// configuration. Options are validated when the first manager is resolved, with every problem listed.
    /// </summary>
    public static CrmKitBuilder AddCrmKit(this IServiceCollection services, Action<CrmKitOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(services);
        var options = services.AddOptions<CrmKitOptions>();
        if (configure is not null)
        {
            options.Configure(configure);
        }

        options.ValidateOnStart();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<CrmKitOptions>, CrmKitOptionsValidator>());

        services.TryAddSingleton(TimeProvider.System);
        services.TryAddSingleton<ICrmTenantContext>(new FixedTenantContext());
        services.TryAddSingleton<CrmKitInstrumentation>();
        services.TryAddSingleton<ICurrencyConverter, SameCurrencyOnlyConverter>();
        services.TryAddScoped<ICrmEventPublisher, InProcessCrmEventPublisher>();

        if (!services.Any(d => d.ServiceType == typeof(ICustomerStore)))
        {
            new CrmKitBuilder(services).AddInMemoryStores();
        }

        services.TryAddScoped<CustomerManager>();
        services.TryAddScoped<OrderManager>();
        services.TryAddScoped<InteractionManager>();
        services.TryAddScoped<DuplicateFinder>();
        services.TryAddScoped<CustomerMerger>();
        services.TryAddScoped<CustomerPrivacy>();
        services.AddOptions<Customer360Options>().ValidateOnStart();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<Customer360Options>, Customer360OptionsValidator>());
        services.TryAddScoped<Customer360Service>();

        services.AddOptions<SegmentationOptions>().ValidateOnStart();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<SegmentationOptions>, SegmentationOptionsValidator>());
        services.TryAddSingleton<SegmentFieldRegistry>();
        services.TryAddSingleton<SegmentRuleCompiler>();
        services.TryAddScoped<SegmentManager>();
        services.TryAddScoped<CustomerChangeNotifier>();
        services.TryAddEnumerable(ServiceDescriptor.Scoped<ICustomerChangeObserver, SegmentMembershipObserver>());
        return new CrmKitBuilder(services);
    }
}
