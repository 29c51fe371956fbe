using Crm.Kit.Testing.Specification;
using Microsoft.Extensions.DependencyInjection;

namespace Crm.Kit.Tests.EntityFrameworkCore;

public sealed class SqliteCustomerSpecification : CustomerSpecification
{
    private readonly SqliteTestDatabase _database = new();

    protected override void AddStores(CrmKitBuilder builder) => EfStores.Add(builder, _database);

    public override async ValueTask InitializeAsync() => await _database.InitializeAsync();

    public override async ValueTask DisposeAsync()
    {
        await base.DisposeAsync();
        await _database.DisposeAsync();
    }
}

public sealed class SqliteOrderSpecification : OrderSpecification
{
    private readonly SqliteTestDatabase _database = new();

    protected override void AddStores(CrmKitBuilder builder) => EfStores.Add(builder, _database);

    public override async ValueTask InitializeAsync() => await _database.InitializeAsync();

    public override async ValueTask DisposeAsync()
    {
        await base.DisposeAsync();
        await _database.DisposeAsync();
    }
}

public sealed class SqliteInteractionSpecification : InteractionSpecification
{
    private readonly SqliteTestDatabase _database = new();

    protected override void AddStores(CrmKitBuilder builder) => EfStores.Add(builder, _database);

    public override async ValueTask InitializeAsync() => await _database.InitializeAsync();

    public override async ValueTask DisposeAsync()
    {
        await base.DisposeAsync();
        await _database.DisposeAsync();
    }
}

public sealed class SqliteDuplicateAndPrivacySpecification : DuplicateAndPrivacySpecification
{
    private readonly SqliteTestDatabase _database = new();

    protected override void AddStores(CrmKitBuilder builder) => EfStores.Add(builder, _database);

    public override async ValueTask InitializeAsync() => await _database.InitializeAsync();

    public override async ValueTask DisposeAsync()
    {
        await base.DisposeAsync();
        await _database.DisposeAsync();
    }
}
