namespace Crm.Kit.Loyalty;

/// <summary>A customer enrolled in (or came back to) the loyalty programme.</summary>
public sealed record LoyaltyMemberEnrolled : CrmEvent
{
    /// <summary>The account.</summary>
    public required LoyaltyAccount Account { get; init; }
}

/// <summary>A member left the loyalty programme.</summary>
public sealed record LoyaltyMemberUnenrolled : CrmEvent
{
    /// <summary>The account.</summary>
    public required LoyaltyAccount Account { get; init; }
}

/// <summary>An entry was appended to a member's ledger (earned, redeemed, expired, adjusted or reversed).</summary>
public sealed record PointsPosted : CrmEvent
{
    /// <summary>The member.</summary>
    public required Guid CustomerId { get; init; }

    /// <summary>The entry.</summary>
    public required LedgerEntry Entry { get; init; }
}

/// <summary>A member's tier changed.</summary>
public sealed record TierChanged : CrmEvent
{
    /// <summary>The member.</summary>
    public required Guid CustomerId { get; init; }

    /// <summary>The change.</summary>
    public required TierChange Change { get; init; }
}
