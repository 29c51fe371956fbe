using Crm.Kit.Customers;
using Crm.Kit.Duplicates;
using Crm.Kit.Testing;
using Microsoft.Extensions.DependencyInjection;
using Xunit;

namespace Crm.Kit.Tests.InMemory;

/// <summary>
/// The in-memory read by id answers without reading the customer when it was never merged away; these pin down
/// that merges, and merges rolled back, still come out right through that shortcut.
/// </summary>
public sealed class InMemoryReadByIdTests
{
    private static CancellationToken Cancel => TestContext.Current.CancellationToken;

    [Fact]
    public async Task A_merged_away_id_resolves_to_the_survivor_and_a_rolled_back_merge_leaves_the_customer_live()
    {
        await using var provider = new ServiceCollection().AddCrmKit().Services.BuildServiceProvider();
        await using var scope = provider.CreateAsyncScope();
        var customers = scope.ServiceProvider.GetRequiredService<CustomerManager>();
        var merger = scope.ServiceProvider.GetRequiredService<CustomerMerger>();
        var unitOfWork = scope.ServiceProvider.GetRequiredService<ICrmUnitOfWork>();
        var faker = new CrmFaker(seed: 7);
        var survivor = await customers.CreateAsync(faker.Person(), Cancel);
        var duplicate = await customers.CreateAsync(faker.Person(), Cancel);

        await using (await unitOfWork.BeginAsync(Cancel))
        {
            await merger.MergeAsync(survivor.Id, duplicate.Id, Cancel);
            Assert.Equal(survivor.Id, (await customers.FindByIdAsync(duplicate.Id, Cancel))?.Id);
        }

        var afterRollback = await customers.FindByIdAsync(duplicate.Id, Cancel);
        Assert.Equal(duplicate.Id, afterRollback?.Id);
        Assert.Null(afterRollback?.MergedIntoId);

        await merger.MergeAsync(survivor.Id, duplicate.Id, Cancel);
        Assert.Equal(survivor.Id, (await customers.FindByIdAsync(duplicate.Id, Cancel))?.Id);
        Assert.Equal(survivor.Id, (await customers.FindByIdAsync(survivor.Id, Cancel))?.Id);
        Assert.Null(await customers.FindByIdAsync(Guid.CreateVersion7(), Cancel));
    }
}
