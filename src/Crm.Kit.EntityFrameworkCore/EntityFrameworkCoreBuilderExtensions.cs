using Crm.Kit;
using Crm.Kit.EntityFrameworkCore;
using Crm.Kit.Feedback;
using Crm.Kit.Insights;
using Crm.Kit.Loyalty;
using Crm.Kit.Orders;
using Crm.Kit.Sales;
using Crm.Kit.Segmentation;
using Crm.Kit.Service;
using System.Linq.Expressions;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection.Extensions;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>Wires Crm.Kit to the host's EF Core context.</summary>
public static class EntityFrameworkCoreBuilderExtensions
{
    /// <summary>
    /// Stores Crm.Kit data through <typeparamref name="TContext"/>, replacing the in-memory default. Register the
    /// context with <c>AddDbContext</c> and call <c>modelBuilder.ApplyCrmKitModel()</c> in its
    /// <c>OnModelCreating</c>; either omission fails with a message naming the fix when a store is first resolved.
    /// </summary>
    public static CrmKitBuilder AddEntityFrameworkStores<TContext>(this CrmKitBuilder builder)
        where TContext : DbContext
    {
        ArgumentNullException.ThrowIfNull(builder);
        var services = builder.Services;
        services.Replace(ServiceDescriptor.Scoped<ICustomerStore>(sp => new EfCustomerStore<TContext>(Context<TContext>(sp))));
        services.Replace(ServiceDescriptor.Scoped<IOrderStore>(sp => new EfOrderStore<TContext>(Context<TContext>(sp))));
        services.Replace(ServiceDescriptor.Scoped<IInteractionStore>(sp => new EfInteractionStore<TContext>(Context<TContext>(sp))));
        services.Replace(ServiceDescriptor.Scoped<ICrmUnitOfWork>(sp => new EfUnitOfWork<TContext>(Context<TContext>(sp))));
        services.Replace(ServiceDescriptor.Scoped<ISegmentStore>(sp => new EfSegmentStore<TContext>(Context<TContext>(sp))));
        services.Replace(ServiceDescriptor.Scoped<ISegmentEvaluator>(sp => new EfSegmentEvaluator<TContext>(
            Context<TContext>(sp), sp.GetRequiredService<SegmentRuleCompiler>(), sp.GetServices<IEfSegmentFieldBinding>())));
        services.Replace(ServiceDescriptor.Scoped<IPurchaseHistoryStore>(sp => new EfPurchaseHistoryStore<TContext>(Context<TContext>(sp))));
        services.Replace(ServiceDescriptor.Scoped<ICustomerInsightStore>(sp => new EfCustomerInsightStore<TContext>(Context<TContext>(sp))));
        services.Replace(ServiceDescriptor.Scoped<ILoyaltyStore>(sp => new EfLoyaltyStore<TContext>(Context<TContext>(sp))));
        services.Replace(ServiceDescriptor.Scoped<IServiceCaseStore>(sp => new EfServiceCaseStore<TContext>(Context<TContext>(sp))));
        services.Replace(ServiceDescriptor.Scoped<IFeedbackStore>(sp => new EfFeedbackStore<TContext>(Context<TContext>(sp))));
        services.Replace(ServiceDescriptor.Scoped<IPipelineStore>(sp => new EfPipelineStore<TContext>(Context<TContext>(sp))));
        services.Replace(ServiceDescriptor.Scoped<ILeadScoreStore>(sp => new EfLeadScoreStore<TContext>(Context<TContext>(sp))));
        services.TryAddEnumerable(ServiceDescriptor.Scoped<Crm.Kit.Privacy.IPhysicalErasure, SqlitePhysicalErasure<TContext>>());
        services.ConfigureDbContext<TContext>(options => options.AddInterceptors(
            SqliteSecureDeleteInterceptor.Instance, SqliteBusyCommandInterceptor.Instance, SqliteBusyTransactionInterceptor.Instance));
        foreach (var binding in InsightRowFields.Bindings().Concat(LoyaltyRowFields.Bindings()).Concat(FeedbackRowFields.Bindings()).Concat(LeadScoringModelConfiguration.Bindings()))
        {
            if (!services.Any(d => d.ServiceType == typeof(IEfSegmentFieldBinding) && d.ImplementationInstance is IEfSegmentFieldBinding b && b.FieldName == binding.FieldName))
            {
                services.AddSingleton(binding);
            }
        }

        return builder;
    }

    /// <summary>
    /// Binds a segment field a module contributes to SQL, so that rules using it run inside the database.
    /// <paramref name="bind"/> gets the host's context and returns <c>(string tenantId, Guid customerId) =&gt; value</c>.
    /// </summary>
    public static CrmKitBuilder AddEntityFrameworkSegmentField(this CrmKitBuilder builder, string fieldName, Func<DbContext, LambdaExpression> bind)
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentException.ThrowIfNullOrWhiteSpace(fieldName);
        ArgumentNullException.ThrowIfNull(bind);
        builder.Services.AddSingleton<IEfSegmentFieldBinding>(new DelegateSegmentFieldBinding(fieldName, bind));
        return builder;
    }

    private static TContext Context<TContext>(IServiceProvider services)
        where TContext : DbContext =>
        services.GetService<TContext>() ?? throw new InvalidOperationException(
            $"Crm.Kit is set to store data through {typeof(TContext).Name}, but {typeof(TContext).Name} is not registered. Call services.AddDbContext<{typeof(TContext).Name}>(...) as well.");
}
