using Crm.Kit.Testing.Specification;
using Microsoft.Extensions.DependencyInjection;

namespace Crm.Kit.Tests.EntityFrameworkCore;

public sealed class PostgresCustomerSpecification : CustomerSpecification
{
    private readonly PostgresTestDatabase _database = new();

    protected override void AddStores(CrmKitBuilder builder) => EfStores.Add(builder, _database);

    public override async ValueTask InitializeAsync() => await _database.InitializeAsync();

    public override async ValueTask DisposeAsync()
    {
        await base.DisposeAsync();
        await _database.DisposeAsync();
    }
}

public sealed class PostgresOrderSpecification : OrderSpecification
{
    private readonly PostgresTestDatabase _database = new();

    protected override void AddStores(CrmKitBuilder builder) => EfStores.Add(builder, _database);

    public override async ValueTask InitializeAsync() => await _database.InitializeAsync();

    public override async ValueTask DisposeAsync()
    {
        await base.DisposeAsync();
        await _database.DisposeAsync();
    }
}

public sealed class PostgresInteractionSpecification : InteractionSpecification
{
    private readonly PostgresTestDatabase _database = new();

    protected override void AddStores(CrmKitBuilder builder) => EfStores.Add(builder, _database);

    public override async ValueTask InitializeAsync() => await _database.InitializeAsync();

    public override async ValueTask DisposeAsync()
    {
        await base.DisposeAsync();
        await _database.DisposeAsync();
    }
}

public sealed class PostgresDuplicateAndPrivacySpecification : DuplicateAndPrivacySpecification
{
    private readonly PostgresTestDatabase _database = new();

    protected override void AddStores(CrmKitBuilder builder) => EfStores.Add(builder, _database);

    public override async ValueTask InitializeAsync() => await _database.InitializeAsync();

    public override async ValueTask DisposeAsync()
    {
        await base.DisposeAsync();
        await _database.DisposeAsync();
    }
}
