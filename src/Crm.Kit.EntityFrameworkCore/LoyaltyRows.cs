using System.Text.Json;
using Crm.Kit.Loyalty;
using Crm.Kit.Segmentation;

namespace Crm.Kit.EntityFrameworkCore;

internal sealed class LoyaltyProgrammeRow : ICrmRow
{
    public string TenantId { get; set; } = string.Empty;

    public Guid Id { get; set; }

    public long Version { get; set; }

    public string Document { get; set; } = "{}";

    public long CreatedAt { get; set; }

    public long UpdatedAt { get; set; }

    public static LoyaltyProgrammeRow From(LoyaltyProgramme p) => new()
    {
        TenantId = p.TenantId,
        Id = p.Id,
        Version = p.Version,
        Document = JsonSerializer.Serialize(p.Definition, RowJson.Options),
        CreatedAt = p.CreatedAt.UtcTicks,
        UpdatedAt = p.UpdatedAt.UtcTicks,
    };

    public LoyaltyProgramme ToProgramme() => new()
    {
        TenantId = TenantId,
        Id = Id,
        Version = Version,
        Definition = JsonSerializer.Deserialize<LoyaltyProgrammeDefinition>(Document, RowJson.Options)
            ?? throw new InvalidOperationException($"The loyalty programme of tenant '{TenantId}' has an empty settings document."),
        CreatedAt = Ticks.ToTime(CreatedAt),
        UpdatedAt = Ticks.ToTime(UpdatedAt),
    };
}

internal sealed class LoyaltyAccountRow : ICrmRow
{
    public Guid Id { get; set; }

    public string TenantId { get; set; } = string.Empty;

    public long Version { get; set; }

    public Guid CustomerId { get; set; }

    public LoyaltyAccountStatus Status { get; set; }

    public long Balance { get; set; }

    public long PendingPoints { get; set; }

    public long PendingAsOf { get; set; }

    public long? NextActivationAt { get; set; }

    public long LifetimePoints { get; set; }

    public long EntryCount { get; set; }

    public string? Tier { get; set; }

    /// <summary><see cref="Tier"/> folded (<see cref="SegmentText.Fold"/>): what rules compare.</summary>
    public string? TierKey { get; set; }

    public long? TierSince { get; set; }

    public long? DowngradeDueAt { get; set; }

    public string TierHistory { get; set; } = "[]";

    public string ReferralCode { get; set; } = string.Empty;

    public Guid? ReferredByAccountId { get; set; }

    public long? ReferralRewardedAt { get; set; }

    public long EnrolledAt { get; set; }

    public long? ClosedAt { get; set; }

    public static LoyaltyAccountRow From(LoyaltyAccount a) => new()
    {
        Id = a.Id,
        TenantId = a.TenantId,
        Version = a.Version,
        CustomerId = a.CustomerId,
        Status = a.Status,
        Balance = a.Balance,
        PendingPoints = a.PendingPoints,
        PendingAsOf = a.PendingAsOf.UtcTicks,
        NextActivationAt = a.NextActivationAt?.UtcTicks,
        LifetimePoints = a.LifetimePoints,
        EntryCount = a.EntryCount,
        Tier = a.Tier,
        TierKey = SegmentText.Fold(a.Tier),
        TierSince = a.TierSince?.UtcTicks,
        DowngradeDueAt = a.DowngradeDueAt?.UtcTicks,
        TierHistory = JsonSerializer.Serialize(a.TierHistory, RowJson.Options),
        ReferralCode = a.ReferralCode,
        ReferredByAccountId = a.ReferredByAccountId,
        ReferralRewardedAt = a.ReferralRewardedAt?.UtcTicks,
        EnrolledAt = a.EnrolledAt.UtcTicks,
        ClosedAt = a.ClosedAt?.UtcTicks,
    };

    public LoyaltyAccount ToAccount() => new()
    {
        Id = Id,
        TenantId = TenantId,
        Version = Version,
        CustomerId = CustomerId,
        Status = Status,
        Balance = Balance,
        PendingPoints = PendingPoints,
        PendingAsOf = Ticks.ToTime(PendingAsOf),
        NextActivationAt = Ticks.ToTime(NextActivationAt),
        LifetimePoints = LifetimePoints,
        EntryCount = EntryCount,
        Tier = Tier,
        TierSince = Ticks.ToTime(TierSince),
        DowngradeDueAt = Ticks.ToTime(DowngradeDueAt),
        TierHistory = JsonSerializer.Deserialize<List<TierChange>>(TierHistory, RowJson.Options) ?? [],
        ReferralCode = ReferralCode,
        ReferredByAccountId = ReferredByAccountId,
        ReferralRewardedAt = Ticks.ToTime(ReferralRewardedAt),
        EnrolledAt = Ticks.ToTime(EnrolledAt),
        ClosedAt = Ticks.ToTime(ClosedAt),
    };
}

internal sealed class LedgerEntryRow : ICrmRow
{
    public Guid Id { get; set; }

    public string TenantId { get; set; } = string.Empty;

    public Guid AccountId { get; set; }

    public long Sequence { get; set; }

    public LedgerEntryKind Kind { get; set; }

    public long Points { get; set; }

    public long BalanceAfter { get; set; }

    public string IdempotencyKey { get; set; } = string.Empty;

    public long At { get; set; }

    public string? Source { get; set; }

    public string? Reason { get; set; }

    public string? Actor { get; set; }

    public Guid? ReversesEntryId { get; set; }

    public Guid? OrderId { get; set; }

    public Guid? RewardId { get; set; }

    public long QualifyingPoints { get; set; }

    public decimal QualifyingSpend { get; set; }

    public long Shortfall { get; set; }

    /// <summary>The earn basis and lot draws, which are only ever read with the entry.</summary>
    public string? Document { get; set; }

    public static LedgerEntryRow From(LedgerEntry e) => new()
    {
        Id = e.Id,
        TenantId = e.TenantId,
        AccountId = e.AccountId,
        Sequence = e.Sequence,
        Kind = e.Kind,
        Points = e.Points,
        BalanceAfter = e.BalanceAfter,
        IdempotencyKey = e.IdempotencyKey,
        At = e.At.UtcTicks,
        Source = e.Source,
        Reason = e.Reason,
        Actor = e.Actor,
        ReversesEntryId = e.ReversesEntryId,
        OrderId = e.OrderId,
        RewardId = e.RewardId,
        QualifyingPoints = e.QualifyingPoints,
        QualifyingSpend = e.QualifyingSpend,
        Shortfall = e.Shortfall,
        Document = e.Basis is null && e.Draws.Count == 0 ? null : JsonSerializer.Serialize(new EntryDocument(e.Basis, e.Draws), RowJson.Options),
    };

    public LedgerEntry ToEntry()
    {
        var document = Document is null ? null : JsonSerializer.Deserialize<EntryDocument>(Document, RowJson.Options);
        return new LedgerEntry
        {
            Id = Id,
            TenantId = TenantId,
            AccountId = AccountId,
            Sequence = Sequence,
            Kind = Kind,
            Points = Points,
            BalanceAfter = BalanceAfter,
            IdempotencyKey = IdempotencyKey,
            At = Ticks.ToTime(At),
            Source = Source,
            Reason = Reason,
            Actor = Actor,
            ReversesEntryId = ReversesEntryId,
            OrderId = OrderId,
            RewardId = RewardId,
            QualifyingPoints = QualifyingPoints,
            QualifyingSpend = QualifyingSpend,
            Shortfall = Shortfall,
            Basis = document?.Basis,
            Draws = document?.Draws ?? [],
        };
    }
}

internal sealed record EntryDocument(EarnBasis? Basis, IReadOnlyList<LotDraw> Draws);

internal sealed class PointLotRow : ICrmRow
{
    public Guid Id { get; set; }

    public string TenantId { get; set; } = string.Empty;

    public Guid AccountId { get; set; }

    public long Points { get; set; }

    public long Remaining { get; set; }

    public long Expired { get; set; }

    /// <summary>Whether points remain: indexed, so that the open lots of a long-standing member are found without walking the spent ones.</summary>
    public bool Open { get; set; }

    public long EarnedAt { get; set; }

    public long AvailableAt { get; set; }

    public long? ExpiresAt { get; set; }

    public static PointLotRow From(PointLot l) => new()
    {
        Id = l.Id,
        TenantId = l.TenantId,
        AccountId = l.AccountId,
        Points = l.Points,
        Remaining = l.Remaining,
        Expired = l.Expired,
        Open = l.Remaining > 0,
        EarnedAt = l.EarnedAt.UtcTicks,
        AvailableAt = l.AvailableAt.UtcTicks,
        ExpiresAt = l.ExpiresAt?.UtcTicks,
    };

    public PointLot ToLot() => new()
    {
        Id = Id,
        TenantId = TenantId,
        AccountId = AccountId,
        Points = Points,
        Remaining = Remaining,
        Expired = Expired,
        EarnedAt = Ticks.ToTime(EarnedAt),
        AvailableAt = Ticks.ToTime(AvailableAt),
        ExpiresAt = Ticks.ToTime(ExpiresAt),
    };
}

internal sealed class LoyaltyRewardRow : ICrmRow
{
    public Guid Id { get; set; }

    public string TenantId { get; set; } = string.Empty;

    public long Version { get; set; }

    public string Name { get; set; } = string.Empty;

    public string? Description { get; set; }

    public long Cost { get; set; }

    public string? RequiredTier { get; set; }

    public int? Stock { get; set; }

    public bool Active { get; set; }

    public long CreatedAt { get; set; }

    public static LoyaltyRewardRow From(LoyaltyReward r) => new()
    {
        Id = r.Id,
        TenantId = r.TenantId,
        Version = r.Version,
        Name = r.Name,
        Description = r.Description,
        Cost = r.Cost,
        RequiredTier = r.RequiredTier,
        Stock = r.Stock,
        Active = r.Active,
        CreatedAt = r.CreatedAt.UtcTicks,
    };

    public LoyaltyReward ToReward() => new()
    {
        Id = Id,
        TenantId = TenantId,
        Version = Version,
        Name = Name,
        Description = Description,
        Cost = Cost,
        RequiredTier = RequiredTier,
        Stock = Stock,
        Active = Active,
        CreatedAt = Ticks.ToTime(CreatedAt),
    };
}
