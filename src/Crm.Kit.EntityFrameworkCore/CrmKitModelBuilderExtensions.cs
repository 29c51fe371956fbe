using Crm.Kit.EntityFrameworkCore;
using Crm.Kit.Insights;

namespace Microsoft.EntityFrameworkCore;

/// <summary>Adds Crm.Kit's tables to a host's own <see cref="DbContext"/> model.</summary>
public static class CrmKitModelBuilderExtensions
{
    /// <summary>
    /// Applies the Crm.Kit model: customers, their lookup keys, orders and interactions, with per-tenant unique
    /// indexes and concurrency tokens. Call it from <c>OnModelCreating</c>; then create the schema with
    /// migrations (<c>dotnet ef migrations add AddCrmKit</c>) or <c>Database.EnsureCreated()</c>.
    /// </summary>
    /// <param name="modelBuilder">The host context's model builder.</param>
    /// <param name="tablePrefix">Prepended to every table name; default <c>crm_</c>.</param>
    public static ModelBuilder ApplyCrmKitModel(this ModelBuilder modelBuilder, string tablePrefix = "crm_")
    {
        ArgumentNullException.ThrowIfNull(modelBuilder);
        ArgumentNullException.ThrowIfNull(tablePrefix);

        modelBuilder.Entity<CustomerRow>(b =>
        {
            b.ToTable(tablePrefix + "customers");
            b.HasKey(r => r.Id);
            b.Property(r => r.Id).ValueGeneratedNever();
            b.Property(r => r.TenantId).HasMaxLength(100).IsRequired().IsConcurrencyToken();
            b.Property(r => r.Version).IsConcurrencyToken();
            b.Property(r => r.FirstName).HasMaxLength(200);
            b.Property(r => r.LastName).HasMaxLength(200);
            b.Property(r => r.CompanyName).HasMaxLength(200);
            b.Property(r => r.ExternalReference).HasMaxLength(200);
            b.Property(r => r.OwnerId).HasMaxLength(200);
            b.Property(r => r.TotalSpent).HasPrecision(28, 8);
            b.Property(r => r.AverageOrderValue).HasPrecision(28, 8);
            b.Property(r => r.Document).IsRequired();
            b.Property(r => r.CountryKey).HasMaxLength(10);
            b.Property(r => r.CityKey).HasMaxLength(200);
            b.Property(r => r.PostalCodeKey).HasMaxLength(50);
            b.Property(r => r.OwnerKey).HasMaxLength(200);
            b.Property(r => r.CompanyKey).HasMaxLength(200);
            b.HasIndex(r => new { r.TenantId, r.ExternalReference }).IsUnique();
            b.HasIndex(r => new { r.TenantId, r.Id });
            b.HasIndex(r => new { r.TenantId, r.MergedIntoId });
        });

        modelBuilder.Entity<CustomerKeyRow>(b =>
        {
            b.ToTable(tablePrefix + "customer_keys");
            b.HasKey(r => new { r.TenantId, r.Kind, r.Value, r.CustomerId });
            b.Property(r => r.TenantId).HasMaxLength(100);
            b.Property(r => r.Kind).HasMaxLength(1);
            b.Property(r => r.Value).HasMaxLength(400);
            b.HasIndex(r => r.CustomerId);
        });

        modelBuilder.Entity<CustomerAttributeRow>(b =>
        {
            b.ToTable(tablePrefix + "customer_attributes");
            b.HasKey(r => new { r.TenantId, r.CustomerId, r.Key, r.Ordinal });
            b.Property(r => r.TenantId).HasMaxLength(100);
            b.Property(r => r.Key).HasMaxLength(64);
            b.Property(r => r.Text).HasMaxLength(4000);
            b.Property(r => r.Number).HasPrecision(28, 8);
            b.HasIndex(r => new { r.TenantId, r.Key, r.Kind });
        });

        modelBuilder.Entity<SegmentRow>(b =>
        {
            b.ToTable(tablePrefix + "segments");
            b.HasKey(r => r.Id);
            b.Property(r => r.Id).ValueGeneratedNever();
            b.Property(r => r.TenantId).HasMaxLength(100).IsRequired().IsConcurrencyToken();
            b.Property(r => r.Version).IsConcurrencyToken();
            b.Property(r => r.Name).HasMaxLength(200).IsRequired();
            b.Property(r => r.Description).HasMaxLength(2000);
            b.Property(r => r.EvaluationError).HasMaxLength(1000);
            b.HasIndex(r => new { r.TenantId, r.Name }).IsUnique();
            b.HasIndex(r => new { r.TenantId, r.Kind });
        });

        modelBuilder.Entity<SegmentMemberRow>(b =>
        {
            b.ToTable(tablePrefix + "segment_members");
            b.HasKey(r => new { r.TenantId, r.SegmentId, r.CustomerId });
            b.Property(r => r.TenantId).HasMaxLength(100);
            b.HasIndex(r => new { r.TenantId, r.CustomerId, r.SegmentId });
        });

        modelBuilder.Entity<CustomerInsightRow>(b =>
        {
            b.ToTable(tablePrefix + "customer_insights");
            b.HasKey(r => new { r.TenantId, r.CustomerId });
            b.Property(r => r.TenantId).HasMaxLength(100);
            b.Property(r => r.Currency).HasMaxLength(3).IsRequired();
            b.Property(r => r.RfmScore).HasMaxLength(3);
            b.Property(r => r.RfmSegment).HasMaxLength(CustomerInsight.MaxSegmentNameLength);
            b.Property(r => r.RfmSegmentKey).HasMaxLength(CustomerInsight.MaxSegmentNameLength);
            b.Property(r => r.ChurnRisk).HasPrecision(28, 8);
            b.Property(r => r.ProbabilityAlive).HasPrecision(28, 8);
            b.Property(r => r.PredictedLifetimeValue).HasPrecision(28, 8);
            b.HasIndex(r => new { r.TenantId, r.ComputedAt });
        });

        LoyaltyModel.Apply(modelBuilder, tablePrefix);
        ServiceModel.Apply(modelBuilder, tablePrefix);
        PipelineModel.Apply(modelBuilder, tablePrefix);
        LeadScoringModelConfiguration.Apply(modelBuilder, tablePrefix);

        modelBuilder.Entity<OrderRow>(b =>
        {
            b.ToTable(tablePrefix + "orders");
            b.HasKey(r => r.Id);
            b.Property(r => r.Id).ValueGeneratedNever();
            b.Property(r => r.TenantId).HasMaxLength(100).IsRequired().IsConcurrencyToken();
            b.Property(r => r.Version).IsConcurrencyToken();
            b.Property(r => r.Reference).HasMaxLength(100).IsRequired();
            b.Property(r => r.Currency).HasMaxLength(3).IsRequired();
            b.Property(r => r.Channel).HasMaxLength(50);
            b.Property(r => r.Total).HasPrecision(28, 8);
            b.Property(r => r.RefundedTotal).HasPrecision(28, 8);
            b.Property(r => r.Document).IsRequired();
            b.HasIndex(r => new { r.TenantId, r.Reference }).IsUnique();
            b.HasIndex(r => new { r.TenantId, r.CustomerId, r.PlacedAt, r.Id });
            b.HasIndex(r => new { r.TenantId, r.Id });
        });

        modelBuilder.Entity<InteractionRow>(b =>
        {
            b.ToTable(tablePrefix + "interactions");
            b.HasKey(r => r.Id);
            b.Property(r => r.Id).ValueGeneratedNever();
            b.Property(r => r.TenantId).HasMaxLength(100).IsRequired().IsConcurrencyToken();
            b.Property(r => r.Version).IsConcurrencyToken();
            b.Property(r => r.Subject).HasMaxLength(500);
            b.Property(r => r.OwnerId).HasMaxLength(200);
            b.HasIndex(r => new { r.TenantId, r.CustomerId, r.OccurredAt, r.Id });
            b.HasIndex(r => new { r.TenantId, r.OwnerId, r.CompletedAt, r.DueAt });
            b.HasIndex(r => new { r.TenantId, r.DealId, r.OccurredAt, r.Id });
        });

        return modelBuilder;
    }
}
