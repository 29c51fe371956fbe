using Crm.Kit.Loyalty;
using Microsoft.EntityFrameworkCore;

namespace Crm.Kit.EntityFrameworkCore;

/// <summary>The loyalty tables of the Crm.Kit model.</summary>
internal static class LoyaltyModel
{
    public static void Apply(ModelBuilder modelBuilder, string tablePrefix)
    {
        modelBuilder.Entity<LoyaltyProgrammeRow>(b =>
        {
            b.ToTable(tablePrefix + "loyalty_programmes");
            b.HasKey(r => r.TenantId);
            b.Property(r => r.TenantId).HasMaxLength(100);
            b.Property(r => r.Version).IsConcurrencyToken();
            b.Property(r => r.Document).IsRequired();
        });

        modelBuilder.Entity<LoyaltyAccountRow>(b =>
        {
            b.ToTable(tablePrefix + "loyalty_accounts");
            b.HasKey(r => r.Id);
            b.Property(r => r.Id).ValueGeneratedNever();
            b.Property(r => r.TenantId).HasMaxLength(100).IsRequired().IsConcurrencyToken();
            b.Property(r => r.Version).IsConcurrencyToken();
            b.Property(r => r.Tier).HasMaxLength(100);
            b.Property(r => r.TierKey).HasMaxLength(100);
            b.Property(r => r.ReferralCode).HasMaxLength(20).IsRequired();
            b.Property(r => r.TierHistory).IsRequired();
            b.HasIndex(r => new { r.TenantId, r.CustomerId }).IsUnique();
            b.HasIndex(r => new { r.TenantId, r.ReferralCode }).IsUnique();
            b.HasIndex(r => new { r.TenantId, r.Id });
        });

        modelBuilder.Entity<LedgerEntryRow>(b =>
        {
            b.ToTable(tablePrefix + "loyalty_entries");
            b.HasKey(r => r.Id);
            b.Property(r => r.Id).ValueGeneratedNever();
            b.Property(r => r.TenantId).HasMaxLength(100).IsRequired();
            b.Property(r => r.IdempotencyKey).HasMaxLength(LoyaltyValidation.MaxKeyLength + 100).IsRequired();
            b.Property(r => r.Source).HasMaxLength(100);
            b.Property(r => r.Reason).HasMaxLength(500);
            b.Property(r => r.Actor).HasMaxLength(200);
            b.Property(r => r.QualifyingSpend).HasPrecision(28, 8);
            b.HasIndex(r => new { r.TenantId, r.AccountId, r.IdempotencyKey }).IsUnique();
            b.HasIndex(r => new { r.TenantId, r.AccountId, r.Sequence }).IsUnique();
            b.HasIndex(r => new { r.TenantId, r.AccountId, r.ReversesEntryId });
            b.HasIndex(r => new { r.TenantId, r.AccountId, r.At });
        });

        modelBuilder.Entity<PointLotRow>(b =>
        {
            b.ToTable(tablePrefix + "loyalty_lots");
            b.HasKey(r => r.Id);
            b.Property(r => r.Id).ValueGeneratedNever();
            b.Property(r => r.TenantId).HasMaxLength(100).IsRequired();
            b.HasIndex(r => new { r.TenantId, r.AccountId, r.Open, r.EarnedAt, r.Id });
            b.HasIndex(r => new { r.TenantId, r.AccountId, r.Open, r.AvailableAt });
            b.HasIndex(r => new { r.TenantId, r.AccountId, r.Open, r.ExpiresAt });
            b.HasIndex(r => new { r.TenantId, r.Open, r.ExpiresAt });
        });

        modelBuilder.Entity<LoyaltyRewardRow>(b =>
        {
            b.ToTable(tablePrefix + "loyalty_rewards");
            b.HasKey(r => r.Id);
            b.Property(r => r.Id).ValueGeneratedNever();
            b.Property(r => r.TenantId).HasMaxLength(100).IsRequired().IsConcurrencyToken();
            b.Property(r => r.Version).IsConcurrencyToken();
            b.Property(r => r.Name).HasMaxLength(200).IsRequired();
            b.Property(r => r.Description).HasMaxLength(2000);
            b.Property(r => r.RequiredTier).HasMaxLength(100);
            b.HasIndex(r => new { r.TenantId, r.Id });
        });
    }
}

/// <summary>Binds <see cref="LoyaltyFields"/> to the account table, so rules using them run in SQL.</summary>
internal static class LoyaltyRowFields
{
    public static IEnumerable<IEfSegmentFieldBinding> Bindings()
    {
        yield return CustomerRowBinding.Bind(LoyaltyFields.Points, (LoyaltyAccountRow r) => (long?)r.Balance);
        yield return CustomerRowBinding.Bind(LoyaltyFields.LifetimePoints, (LoyaltyAccountRow r) => (long?)r.LifetimePoints);
        yield return CustomerRowBinding.Bind(LoyaltyFields.Tier, (LoyaltyAccountRow r) => r.TierKey);
        yield return CustomerRowBinding.Bind(LoyaltyFields.Member, (LoyaltyAccountRow r) => r.Status == LoyaltyAccountStatus.Active);
    }
}
