using Crm.Kit.Orders;

namespace Crm.Kit.Customers;

/// <summary>A customer was created.</summary>
public sealed record CustomerCreated : CrmEvent
{
    /// <summary>The new customer.</summary>
    public required Customer Customer { get; init; }
}

/// <summary>A customer's details were changed.</summary>
public sealed record CustomerUpdated : CrmEvent
{
    /// <summary>The customer after the change.</summary>
    public required Customer Customer { get; init; }
}

/// <summary>A customer moved to another lifecycle stage.</summary>
public sealed record LifecycleStageChanged : CrmEvent
{
    /// <summary>The customer.</summary>
    public required Guid CustomerId { get; init; }

    /// <summary>The stage left.</summary>
    public required LifecycleStage From { get; init; }

    /// <summary>The stage entered.</summary>
    public required LifecycleStage To { get; init; }

    /// <summary>Why, for example <c>first-order</c>.</summary>
    public required string Reason { get; init; }
}

/// <summary>Consent was granted or withdrawn.</summary>
public sealed record ConsentChanged : CrmEvent
{
    /// <summary>The customer.</summary>
    public required Guid CustomerId { get; init; }

    /// <summary>The new consent record.</summary>
    public required ConsentRecord Consent { get; init; }
}

/// <summary>One customer was merged into another.</summary>
public sealed record CustomersMerged : CrmEvent
{
    /// <summary>The customer that remains.</summary>
    public required Guid SurvivorId { get; init; }

    /// <summary>The customer merged away; its id now resolves to the survivor.</summary>
    public required Guid MergedId { get; init; }
}

/// <summary>A customer's personal data was erased.</summary>
public sealed record CustomerErased : CrmEvent
{
    /// <summary>The customer.</summary>
    public required Guid CustomerId { get; init; }
}

/// <summary>An order was recorded (not raised again for an idempotent repeat).</summary>
public sealed record OrderRecorded : CrmEvent
{
    /// <summary>The order.</summary>
    public required Order Order { get; init; }
}

/// <summary>A refund was applied to an order.</summary>
public sealed record OrderRefunded : CrmEvent
{
    /// <summary>The order after the refund.</summary>
    public required Order Order { get; init; }

    /// <summary>The refund.</summary>
    public required OrderRefund Refund { get; init; }
}
