namespace Crm.Kit.Loyalty;

/// <summary>A reward in the catalogue, bought with points.</summary>
public sealed record LoyaltyReward
{
    /// <summary>The id.</summary>
    public required Guid Id { get; init; }

    /// <summary>The owning tenant.</summary>
    public required string TenantId { get; init; }

    /// <summary>The optimistic-concurrency version; a redemption that takes stock increments it.</summary>
    public long Version { get; init; }

    /// <summary>The name.</summary>
    public required string Name { get; init; }

    /// <summary>A description for members.</summary>
    public string? Description { get; init; }

    /// <summary>The cost in points; at least 1.</summary>
    public long Cost { get; init; }

    /// <summary>The lowest tier that may redeem it, or <see langword="null"/> for every member.</summary>
    public string? RequiredTier { get; init; }

    /// <summary>How many are left, or <see langword="null"/> for unlimited.</summary>
    public int? Stock { get; init; }

    /// <summary>Whether it can be redeemed; retired rewards stay for the history of their redemptions.</summary>
    public bool Active { get; init; } = true;

    /// <summary>When it was added.</summary>
    public DateTimeOffset CreatedAt { get; init; }
}

/// <summary>A reward to add or the new settings of one.</summary>
public sealed record LoyaltyRewardDraft
{
    /// <summary>The name; required.</summary>
    public required string Name { get; init; }

    /// <summary>A description for members.</summary>
    public string? Description { get; init; }

    /// <summary>The cost in points; at least 1.</summary>
    public long Cost { get; init; }

    /// <summary>The lowest tier that may redeem it.</summary>
    public string? RequiredTier { get; init; }

    /// <summary>How many are available, or <see langword="null"/> for unlimited.</summary>
    public int? Stock { get; init; }

    /// <summary>Whether it can be redeemed.</summary>
    public bool Active { get; init; } = true;
}
