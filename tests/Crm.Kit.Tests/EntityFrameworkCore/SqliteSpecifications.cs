using Crm.Kit.Testing.Specification;

namespace Crm.Kit.Tests.EntityFrameworkCore;

public sealed class SqliteCustomerSpecification : CustomerSpecification
{
    protected override ISpecificationStore CreateStore() => new SqliteTestDatabase();
}

public sealed class SqliteOrderSpecification : OrderSpecification
{
    protected override ISpecificationStore CreateStore() => new SqliteTestDatabase();
}

public sealed class SqliteInteractionSpecification : InteractionSpecification
{
    protected override ISpecificationStore CreateStore() => new SqliteTestDatabase();
}

public sealed class SqliteDuplicateAndPrivacySpecification : DuplicateAndPrivacySpecification
{
    protected override ISpecificationStore CreateStore() => new SqliteTestDatabase();
}

public sealed class SqliteSegmentSpecification : SegmentSpecification
{
    protected override ISpecificationStore CreateStore() => new SqliteTestDatabase();
}

public sealed class SqlitePurchaseHistorySpecification : PurchaseHistorySpecification
{
    protected override ISpecificationStore CreateStore() => new SqliteTestDatabase();
}

public sealed class SqliteCustomerInsightSpecification : CustomerInsightSpecification
{
    protected override ISpecificationStore CreateStore() => new SqliteTestDatabase();
}

public sealed class SqliteLoyaltySpecification : LoyaltySpecification
{
    protected override ISpecificationStore CreateStore() => new SqliteTestDatabase();
}

/// <summary>The loyalty specification with a pooled context, which the EF stores' posting path must work with too.</summary>
public sealed class SqlitePooledContextLoyaltySpecification : LoyaltySpecification
{
    protected override ISpecificationStore CreateStore() => new SqliteTestDatabase { PooledContext = true };
}

public sealed class SqliteServiceCaseSpecification : ServiceCaseSpecification
{
    protected override ISpecificationStore CreateStore() => new SqliteTestDatabase();
}

public sealed class SqliteFeedbackSpecification : FeedbackSpecification
{
    protected override ISpecificationStore CreateStore() => new SqliteTestDatabase();
}

public sealed class SqliteCustomer360Specification : Customer360Specification
{
    protected override ISpecificationStore CreateStore() => new SqliteTestDatabase();
}

public sealed class SqlitePipelineSpecification : PipelineSpecification
{
    protected override ISpecificationStore CreateStore() => new SqliteTestDatabase();
}

public sealed class SqliteLeadScoringSpecification : LeadScoringSpecification
{
    protected override ISpecificationStore CreateStore() => new SqliteTestDatabase();
}
