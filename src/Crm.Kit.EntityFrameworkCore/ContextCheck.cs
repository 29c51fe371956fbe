using Microsoft.EntityFrameworkCore;

namespace Crm.Kit.EntityFrameworkCore;

/// <summary>Checks that the host's context includes the Crm.Kit model.</summary>
internal static class ContextCheck
{
    public static TContext EnsureModel<TContext>(TContext context)
        where TContext : DbContext
    {
        ArgumentNullException.ThrowIfNull(context);
        if (context.Model.FindEntityType(typeof(CustomerRow)) is null)
        {
            throw new InvalidOperationException(
                $"{typeof(TContext).Name} does not include the Crm.Kit model. Call modelBuilder.ApplyCrmKitModel() in {typeof(TContext).Name}.OnModelCreating.");
        }

        return context;
    }
}
