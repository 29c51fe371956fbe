using Crm.Kit.Customers;
using Crm.Kit.EntityFrameworkCore;
using Crm.Kit.InMemory;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace Crm.Kit.Tests.DependencyInjection;

public sealed class WiringTests
{
    [Fact]
    public void In_memory_stores_are_the_default_and_calling_twice_registers_once()
    {
        var services = new ServiceCollection();
        services.AddCrmKit(o => o.ReportingCurrency = "EUR");
        services.AddCrmKit(o => o.DefaultPhoneRegion = "DE");

        Assert.Single(services, d => d.ServiceType == typeof(ICustomerStore));
        Assert.Single(services, d => d.ServiceType == typeof(CustomerManager));
        using var provider = services.BuildServiceProvider();
        Assert.IsType<InMemoryCustomerStore>(provider.GetRequiredService<ICustomerStore>());
        var options = provider.GetRequiredService<IOptions<CrmKitOptions>>().Value;
        Assert.Equal(("EUR", "DE"), (options.ReportingCurrency, options.DefaultPhoneRegion));
    }

    [Fact]
    public void Invalid_options_fail_at_start_up_naming_every_problem()
    {
        var services = new ServiceCollection();
        services.AddCrmKit(o =>
        {
            o.ReportingCurrency = "euro";
            o.DefaultPhoneRegion = "XX";
            o.MaxPageSize = 0;
        });
        using var provider = services.BuildServiceProvider();
        using var scope = provider.CreateScope();

        var error = Assert.Throws<OptionsValidationException>(() => scope.ServiceProvider.GetRequiredService<CustomerManager>());
        Assert.Contains(error.Failures, f => f.Contains("ReportingCurrency", StringComparison.Ordinal));
        Assert.Contains(error.Failures, f => f.Contains("DefaultPhoneRegion", StringComparison.Ordinal));
        Assert.Contains(error.Failures, f => f.Contains("MaxPageSize", StringComparison.Ordinal));
    }

    [Fact]
    public void Invalid_case_kinds_fail_at_start_up()
    {
        var services = new ServiceCollection();
        services.AddCrmKit().AddServiceCases(o =>
        {
            o.CaseKinds.Add(" ");
            o.CaseKinds.Add("COMPLAINT");
        });
        using var provider = services.BuildServiceProvider();
        using var scope = provider.CreateScope();

        var error = Assert.Throws<OptionsValidationException>(() => scope.ServiceProvider.GetRequiredService<Crm.Kit.Service.CaseManager>());
        Assert.Contains("' ' must be non-blank", error.Message, StringComparison.Ordinal);
        Assert.Contains("complaint listed more than once", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Entity_framework_stores_without_the_context_say_what_to_register()
    {
        var services = new ServiceCollection();
        services.AddCrmKit().AddEntityFrameworkStores<EntityFrameworkCore.TestCrmDbContext>();
        using var provider = services.BuildServiceProvider();
        using var scope = provider.CreateScope();

        var error = Assert.Throws<InvalidOperationException>(() => scope.ServiceProvider.GetRequiredService<ICustomerStore>());
        Assert.Contains("AddDbContext<TestCrmDbContext>", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_context_without_the_model_says_what_to_call()
    {
        var services = new ServiceCollection();
        services.AddDbContext<ContextWithoutCrmKit>(o => o.UseSqlite("Data Source=:memory:"));
        services.AddCrmKit().AddEntityFrameworkStores<ContextWithoutCrmKit>();
        using var provider = services.BuildServiceProvider();
        using var scope = provider.CreateScope();

        var error = Assert.Throws<InvalidOperationException>(() => scope.ServiceProvider.GetRequiredService<CustomerManager>());
        Assert.Contains("ApplyCrmKitModel", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Entity_framework_stores_replace_the_in_memory_default_in_either_order()
    {
        var services = new ServiceCollection();
        services.AddDbContext<EntityFrameworkCore.TestCrmDbContext>(o => o.UseSqlite("Data Source=:memory:"));
        services.AddCrmKit().AddEntityFrameworkStores<EntityFrameworkCore.TestCrmDbContext>();
        services.AddCrmKit();
        using var provider = services.BuildServiceProvider();
        using var scope = provider.CreateScope();

        Assert.IsType<EfCustomerStore<EntityFrameworkCore.TestCrmDbContext>>(scope.ServiceProvider.GetRequiredService<ICustomerStore>());
        Assert.IsType<EfUnitOfWork<EntityFrameworkCore.TestCrmDbContext>>(scope.ServiceProvider.GetRequiredService<ICrmUnitOfWork>());
    }

    [Fact]
    public void A_blank_tenant_is_refused() => Assert.Throws<ArgumentException>(() => new FixedTenantContext(" "));

    private sealed class ContextWithoutCrmKit(DbContextOptions<ContextWithoutCrmKit> options) : DbContext(options);
}
