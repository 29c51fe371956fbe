using Crm.Kit.InMemory;
using Microsoft.Extensions.DependencyInjection;
using Crm.Kit.Testing.Specification;

namespace Crm.Kit.Tests.InMemory;

// Each test class gets its own database; hosts within one test share it, so tenant isolation is really tested.
public sealed class InMemoryCustomerSpecification : CustomerSpecification, IDisposable
{
    private readonly InMemoryCrmDatabase _database = new();

    protected override void AddStores(CrmKitBuilder builder) => builder.AddInMemoryStores(_database);

    public void Dispose() => _database.Dispose();
}

public sealed class InMemoryOrderSpecification : OrderSpecification, IDisposable
{
    private readonly InMemoryCrmDatabase _database = new();

    protected override void AddStores(CrmKitBuilder builder) => builder.AddInMemoryStores(_database);

    public void Dispose() => _database.Dispose();
}

public sealed class InMemoryInteractionSpecification : InteractionSpecification, IDisposable
{
    private readonly InMemoryCrmDatabase _database = new();

    protected override void AddStores(CrmKitBuilder builder) => builder.AddInMemoryStores(_database);

    public void Dispose() => _database.Dispose();
}

public sealed class InMemoryDuplicateAndPrivacySpecification : DuplicateAndPrivacySpecification, IDisposable
{
    private readonly InMemoryCrmDatabase _database = new();

    protected override void AddStores(CrmKitBuilder builder) => builder.AddInMemoryStores(_database);

    public void Dispose() => _database.Dispose();
}
