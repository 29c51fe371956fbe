using Crm.Kit;
using Crm.Kit.Analytics;
using Crm.Kit.Insights;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>Adds customer analytics to Crm.Kit.</summary>
public static class AnalyticsBuilderExtensions
{
    /// <summary>
    /// Registers <see cref="CustomerAnalytics"/> (scoped) with its options, validated at start-up, and contributes the
    /// stored insight figures as segment fields (<see cref="CustomerInsightFields"/>).
    /// </summary>
    public static CrmKitBuilder AddAnalytics(this CrmKitBuilder builder, Action<AnalyticsOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(builder);
        var options = builder.Services.AddOptions<AnalyticsOptions>();
        if (configure is not null)
        {
            options.Configure(configure);
        }

        options.ValidateOnStart();
        builder.Services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<AnalyticsOptions>, AnalyticsOptionsValidator>());
        builder.Services.TryAddScoped<CustomerAnalytics>();
        return builder.AddSegmentFields<CustomerInsightFields>();
    }
}
