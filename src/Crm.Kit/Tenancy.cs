namespace Crm.Kit;

/// <summary>
/// Supplies the tenant every Crm.Kit call acts for. Hosts with several tenants register their own
/// implementation (usually scoped, reading the tenant from the request); the default is a single tenant.
/// </summary>
public interface ICrmTenantContext
{
    /// <summary>The current tenant's id. Never null or blank.</summary>
    string TenantId { get; }
}

/// <summary>The default tenant context: one fixed tenant for the whole application.</summary>
/// <param name="tenantId">The tenant id; <c>default</c> when not given.</param>
public sealed class FixedTenantContext(string tenantId = FixedTenantContext.DefaultTenantId) : ICrmTenantContext
{
    /// <summary>The tenant id used by single-tenant applications.</summary>
    public const string DefaultTenantId = "default";

    /// <inheritdoc />
    public string TenantId { get; } = string.IsNullOrWhiteSpace(tenantId)
        ? throw new ArgumentException("A tenant id must not be blank.", nameof(tenantId))
        : tenantId;
}
