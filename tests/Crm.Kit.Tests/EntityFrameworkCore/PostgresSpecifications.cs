using Crm.Kit.Testing.Specification;

namespace Crm.Kit.Tests.EntityFrameworkCore;

public sealed class PostgresCustomerSpecification : CustomerSpecification
{
    protected override ISpecificationStore CreateStore() => new PostgresTestDatabase();
}

public sealed class PostgresOrderSpecification : OrderSpecification
{
    protected override ISpecificationStore CreateStore() => new PostgresTestDatabase();
}

public sealed class PostgresInteractionSpecification : InteractionSpecification
{
    protected override ISpecificationStore CreateStore() => new PostgresTestDatabase();
}

public sealed class PostgresDuplicateAndPrivacySpecification : DuplicateAndPrivacySpecification
{
    protected override ISpecificationStore CreateStore() => new PostgresTestDatabase();
}

public sealed class PostgresSegmentSpecification : SegmentSpecification
{
    protected override ISpecificationStore CreateStore() => new PostgresTestDatabase();
}

public sealed class PostgresPurchaseHistorySpecification : PurchaseHistorySpecification
{
    protected override ISpecificationStore CreateStore() => new PostgresTestDatabase();
}

public sealed class PostgresCustomerInsightSpecification : CustomerInsightSpecification
{
    protected override ISpecificationStore CreateStore() => new PostgresTestDatabase();
}

public sealed class PostgresLoyaltySpecification : LoyaltySpecification
{
    protected override ISpecificationStore CreateStore() => new PostgresTestDatabase();
}

public sealed class PostgresServiceCaseSpecification : ServiceCaseSpecification
{
    protected override ISpecificationStore CreateStore() => new PostgresTestDatabase();
}

public sealed class PostgresFeedbackSpecification : FeedbackSpecification
{
    protected override ISpecificationStore CreateStore() => new PostgresTestDatabase();
}

public sealed class PostgresCustomer360Specification : Customer360Specification
{
    protected override ISpecificationStore CreateStore() => new PostgresTestDatabase();
}

public sealed class PostgresPipelineSpecification : PipelineSpecification
{
    protected override ISpecificationStore CreateStore() => new PostgresTestDatabase();
}

public sealed class PostgresLeadScoringSpecification : LeadScoringSpecification
{
    protected override ISpecificationStore CreateStore() => new PostgresTestDatabase();
}
