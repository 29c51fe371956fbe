using Microsoft.EntityFrameworkCore;

namespace Crm.Kit.EntityFrameworkCore;

internal static class PipelineModel
{
    public static void Apply(ModelBuilder modelBuilder, string tablePrefix)
    {
        modelBuilder.Entity<PipelineRow>(b =>
        {
            b.ToTable(tablePrefix + "pipelines");
            b.HasKey(r => r.Id);
            b.Property(r => r.Id).ValueGeneratedNever();
            b.Property(r => r.TenantId).HasMaxLength(100).IsRequired().IsConcurrencyToken();
            b.Property(r => r.Version).IsConcurrencyToken();
            b.Property(r => r.Name).HasMaxLength(200).IsRequired();
            b.Property(r => r.Document).IsRequired();
            b.HasIndex(r => new { r.TenantId, r.Name }).IsUnique();
        });

        modelBuilder.Entity<DealRow>(b =>
        {
            b.ToTable(tablePrefix + "deals");
            b.HasKey(r => r.Id);
            b.Property(r => r.Id).ValueGeneratedNever();
            b.Property(r => r.TenantId).HasMaxLength(100).IsRequired().IsConcurrencyToken();
            b.Property(r => r.Version).IsConcurrencyToken();
            b.Property(r => r.Title).HasMaxLength(300).IsRequired();
            b.Property(r => r.OwnerId).HasMaxLength(200);
            b.Property(r => r.Amount).HasPrecision(28, 8);
            b.Property(r => r.Currency).HasMaxLength(3).IsRequired();
            b.Property(r => r.LostReason).HasMaxLength(200);
            b.Property(r => r.Source).HasMaxLength(100);
            b.Property(r => r.Document).IsRequired();
            b.HasIndex(r => new { r.TenantId, r.CustomerId, r.Id });
            b.HasIndex(r => new { r.TenantId, r.StageId, r.Status, r.LastActivityAt });

            // Covers the forecast: its GROUP BY reads this index in order and never touches the table.
            b.HasIndex(r => new { r.TenantId, r.PipelineId, r.Status, r.StageId, r.ExpectedCloseMonth, r.Currency, r.Amount });
            b.HasIndex(r => new { r.TenantId, r.PipelineId, r.CreatedAt });
            b.HasIndex(r => new { r.TenantId, r.PipelineId, r.ClosedAt });
        });

        modelBuilder.Entity<DealHistoryRow>(b =>
        {
            b.ToTable(tablePrefix + "deal_history");
            b.HasKey(r => r.Id);
            b.Property(r => r.Id).ValueGeneratedNever();
            b.Property(r => r.TenantId).HasMaxLength(100).IsRequired();
            b.Property(r => r.Actor).HasMaxLength(200).IsRequired();
            b.HasIndex(r => new { r.TenantId, r.DealId, r.Sequence }).IsUnique();
            b.HasIndex(r => new { r.TenantId, r.PipelineId, r.At });

            // The median of a stage's stays reads this index in order instead of sorting the stays.
            b.HasIndex(r => new { r.TenantId, r.FromStageId, r.TimeInStage });
        });
    }
}
