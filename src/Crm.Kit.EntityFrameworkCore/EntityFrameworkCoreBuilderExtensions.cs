using Crm.Kit;
using Crm.Kit.EntityFrameworkCore;
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
        return builder;
    }

    private static TContext Context<TContext>(IServiceProvider services)
        where TContext : DbContext =>
        services.GetService<TContext>() ?? throw new InvalidOperationException(
            $"Crm.Kit is set to store data through {typeof(TContext).Name}, but {typeof(TContext).Name} is not registered. Call services.AddDbContext<{typeof(TContext).Name}>(...) as well.");
}
