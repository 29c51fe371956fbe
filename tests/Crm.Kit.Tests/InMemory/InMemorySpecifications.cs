using Crm.Kit.InMemory;
using Crm.Kit.Testing.Specification;
using Microsoft.Extensions.DependencyInjection;

namespace Crm.Kit.Tests.InMemory;

/// <summary>A fresh in-memory database per test, shared by every host of that test.</summary>
public sealed class InMemorySpecificationStore : ISpecificationStore
{
    private readonly InMemoryCrmDatabase _database = new();

    public ValueTask InitializeAsync() => ValueTask.CompletedTask;

    public void AddStores(CrmKitBuilder builder) => builder.AddInMemoryStores(_database);

    public ValueTask DisposeAsync()
    {
        _database.Dispose();
        return ValueTask.CompletedTask;
    }
}

public sealed class InMemoryCustomerSpecification : CustomerSpecification
{
    protected override ISpecificationStore CreateStore() => new InMemorySpecificationStore();
}

public sealed class InMemoryOrderSpecification : OrderSpecification
{
    protected override ISpecificationStore CreateStore() => new InMemorySpecificationStore();
}

public sealed class InMemoryInteractionSpecification : InteractionSpecification
{
    protected override ISpecificationStore CreateStore() => new InMemorySpecificationStore();
}

public sealed class InMemoryDuplicateAndPrivacySpecification : DuplicateAndPrivacySpecification
{
    protected override ISpecificationStore CreateStore() => new InMemorySpecificationStore();
}

public sealed class InMemorySegmentSpecification : SegmentSpecification
{
    protected override ISpecificationStore CreateStore() => new InMemorySpecificationStore();
}

public sealed class InMemoryPurchaseHistorySpecification : PurchaseHistorySpecification
{
    protected override ISpecificationStore CreateStore() => new InMemorySpecificationStore();
}

public sealed class InMemoryCustomerInsightSpecification : CustomerInsightSpecification
{
    protected override ISpecificationStore CreateStore() => new InMemorySpecificationStore();
}

public sealed class InMemoryLoyaltySpecification : LoyaltySpecification
{
    // In memory a run takes milliseconds: many more interleavings than on a database.
    protected override int LedgerInterleavings => 300;

    protected override ISpecificationStore CreateStore() => new InMemorySpecificationStore();
}

public sealed class InMemoryServiceCaseSpecification : ServiceCaseSpecification
{
    protected override ISpecificationStore CreateStore() => new InMemorySpecificationStore();
}

public sealed class InMemoryFeedbackSpecification : FeedbackSpecification
{
    protected override ISpecificationStore CreateStore() => new InMemorySpecificationStore();
}

public sealed class InMemoryCustomer360Specification : Customer360Specification
{
    protected override ISpecificationStore CreateStore() => new InMemorySpecificationStore();
}

public sealed class InMemoryPipelineSpecification : PipelineSpecification
{
    protected override ISpecificationStore CreateStore() => new InMemorySpecificationStore();
}

public sealed class InMemoryLeadScoringSpecification : LeadScoringSpecification
{
    protected override ISpecificationStore CreateStore() => new InMemorySpecificationStore();
}
