using Crm.Kit.Customers;
using Crm.Kit.InMemory;
using Crm.Kit.Privacy;
using Microsoft.Extensions.DependencyInjection;
using Xunit;

namespace Crm.Kit.Tests.InMemory;

/// <summary>The in-memory customer store keeps one copy of a name its customers share, and none once nobody holds it.</summary>
public sealed class SharedStringsTests
{
    private static CancellationToken Cancel => TestContext.Current.CancellationToken;

    [Fact]
    public async Task Customers_share_one_copy_of_a_name_and_it_goes_with_the_last_holder()
    {
        var database = new InMemoryCrmDatabase();
        await using var provider = new ServiceCollection().AddCrmKit().AddInMemoryStores(database).Services.BuildServiceProvider();
        await using var scope = provider.CreateAsyncScope();
        var customers = scope.ServiceProvider.GetRequiredService<CustomerManager>();
        var privacy = scope.ServiceProvider.GetRequiredService<CustomerPrivacy>();

        // Built at run time, so that the two drafts hold different string instances with the same text.
        var family = string.Concat("Brzęczy", "szczykiewicz");
        var first = await customers.CreateAsync(new CustomerDraft { FirstName = "Zofia", LastName = family }, Cancel);
        var second = await customers.CreateAsync(new CustomerDraft { FirstName = "Jan", LastName = string.Concat("Brzęczy", "szczykiewicz") }, Cancel);
        var shared = database.Customers[first.TenantId].Index.Shared;

        Assert.Same((await customers.GetByIdAsync(first.Id, Cancel)).LastName, (await customers.GetByIdAsync(second.Id, Cancel)).LastName);
        Assert.Equal(family, (await customers.GetByIdAsync(second.Id, Cancel)).LastName);
        Assert.True(shared.IsHeld(family));

        await privacy.EraseAsync(first.Id, Cancel);
        Assert.True(shared.IsHeld(family));
        Assert.False(shared.IsHeld("Zofia"));

        // A renamed customer lets go of the old name too.
        var renamed = await customers.UpdateAsync(second.Id, second.Version, second.ToDraft() with { LastName = "Nowak" }, Cancel);
        Assert.Equal("Nowak", renamed.LastName);
        Assert.False(shared.IsHeld(family));
        Assert.True(shared.IsHeld("Nowak"));
        Assert.True(shared.IsHeld("Jan"));
    }
}
