using Crm.Kit.Service;
using Microsoft.EntityFrameworkCore;

namespace Crm.Kit.EntityFrameworkCore;

internal static class ServiceModel
{
    public static void Apply(ModelBuilder modelBuilder, string tablePrefix)
    {
        modelBuilder.Entity<ServiceCaseRow>(b =>
        {
            b.ToTable(tablePrefix + "cases");
            b.HasKey(r => r.Id);
            b.Property(r => r.Id).ValueGeneratedNever();
            b.Property(r => r.TenantId).HasMaxLength(100).IsRequired().IsConcurrencyToken();
            b.Property(r => r.Version).IsConcurrencyToken();
            b.Property(r => r.Kind).HasMaxLength(50).IsRequired();
            b.Property(r => r.Subject).HasMaxLength(CaseManager.MaxSubjectLength);
            b.Property(r => r.OwnerId).HasMaxLength(200);
            b.Property(r => r.Team).HasMaxLength(200);
            b.Property(r => r.History).IsRequired();
            b.HasIndex(r => new { r.TenantId, r.CustomerId, r.Id });
            // NextDueAt and BreachedAt are null for cases no longer active, so these two indexes hold only live work.
            b.HasIndex(r => new { r.TenantId, r.NextDueAt });
            b.HasIndex(r => new { r.TenantId, r.BreachedAt });
            b.HasIndex(r => new { r.TenantId, r.OwnerId, r.Active, r.QueueKey });
            b.HasIndex(r => new { r.TenantId, r.Team, r.Active, r.QueueKey });
        });

        modelBuilder.Entity<SlaPolicyRow>(b =>
        {
            b.ToTable(tablePrefix + "sla_policies");
            b.HasKey(r => r.Id);
            b.Property(r => r.Id).ValueGeneratedNever();
            b.Property(r => r.TenantId).HasMaxLength(100).IsRequired().IsConcurrencyToken();
            b.Property(r => r.Version).IsConcurrencyToken();
            b.Property(r => r.Name).HasMaxLength(200).IsRequired();
            b.Property(r => r.Kind).HasMaxLength(50);
            b.Property(r => r.KindKey).HasMaxLength(50).IsRequired();
            b.HasIndex(r => new { r.TenantId, r.Name }).IsUnique();
            b.HasIndex(r => new { r.TenantId, r.Priority, r.KindKey }).IsUnique();
        });

        modelBuilder.Entity<SurveyRow>(b =>
        {
            b.ToTable(tablePrefix + "surveys");
            b.HasKey(r => r.Id);
            b.Property(r => r.Id).ValueGeneratedNever();
            b.Property(r => r.TenantId).HasMaxLength(100).IsRequired().IsConcurrencyToken();
            b.Property(r => r.Version).IsConcurrencyToken();
            b.Property(r => r.Name).HasMaxLength(200).IsRequired();
            b.Property(r => r.Question).HasMaxLength(1000);
            b.Property(r => r.FollowUpOwnerId).HasMaxLength(200);
            b.HasIndex(r => new { r.TenantId, r.Name }).IsUnique();
        });

        modelBuilder.Entity<SurveyResponseRow>(b =>
        {
            b.ToTable(tablePrefix + "survey_responses");
            b.HasKey(r => r.Id);
            b.Property(r => r.Id).ValueGeneratedNever();
            b.Property(r => r.TenantId).HasMaxLength(100).IsRequired();
            b.Property(r => r.Reference).HasMaxLength(200);
            b.HasIndex(r => new { r.TenantId, r.SurveyId, r.Reference }).IsUnique();
            b.HasIndex(r => new { r.TenantId, r.CustomerId, r.RespondedAt, r.Id });
            b.HasIndex(r => new { r.TenantId, r.Kind, r.RespondedAt });
        });

        modelBuilder.Entity<LatestNpsRow>(b =>
        {
            b.ToTable(tablePrefix + "latest_nps");
            b.HasKey(r => new { r.TenantId, r.CustomerId });
            b.Property(r => r.TenantId).HasMaxLength(100);
            b.Property(r => r.CategoryKey).HasMaxLength(20).IsRequired();
            b.HasIndex(r => new { r.TenantId, r.CategoryKey });
        });
    }
}
