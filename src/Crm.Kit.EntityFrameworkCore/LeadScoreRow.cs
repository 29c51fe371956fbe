using System.Text.Json;
using Crm.Kit.Sales;
using Microsoft.EntityFrameworkCore;

namespace Crm.Kit.EntityFrameworkCore;

/// <summary>A customer's latest lead score: one row per customer, which the <c>lead.score</c> segment field reads.</summary>
internal sealed class LeadScoreRow : ICrmRow
{
    public string TenantId { get; set; } = string.Empty;

    public Guid CustomerId { get; set; }

    public int Score { get; set; }

    public int Fit { get; set; }

    public int Engagement { get; set; }

    /// <summary>The explanation: always read with the score, never queried apart.</summary>
    public string Contributions { get; set; } = "[]";

    public long ScoredAt { get; set; }

    public static LeadScoreRow From(LeadScore s) => new()
    {
        TenantId = s.TenantId,
        CustomerId = s.CustomerId,
        Score = s.Score,
        Fit = s.Fit,
        Engagement = s.Engagement,
        Contributions = JsonSerializer.Serialize(s.Contributions, RowJson.Options),
        ScoredAt = s.ScoredAt.UtcTicks,
    };

    public LeadScore ToScore() => new()
    {
        TenantId = TenantId,
        CustomerId = CustomerId,
        Score = Score,
        Fit = Fit,
        Engagement = Engagement,
        Contributions = JsonSerializer.Deserialize<List<ScoreContribution>>(Contributions, RowJson.Options) ?? [],
        ScoredAt = Ticks.ToTime(ScoredAt),
    };
}

internal static class LeadScoringModelConfiguration
{
    public static void Apply(ModelBuilder modelBuilder, string tablePrefix) =>
        modelBuilder.Entity<LeadScoreRow>(b =>
        {
            b.ToTable(tablePrefix + "lead_scores");
            b.HasKey(r => new { r.TenantId, r.CustomerId });
            b.Property(r => r.TenantId).HasMaxLength(100);
            b.Property(r => r.Contributions).IsRequired();
            b.HasIndex(r => new { r.TenantId, r.Score });
        });

    /// <summary>How the <c>lead.score</c> segment field reads from the scores table.</summary>
    public static IEnumerable<IEfSegmentFieldBinding> Bindings()
    {
        yield return CustomerRowBinding.Bind(LeadScoreFields.Score, (LeadScoreRow r) => (long?)r.Score);
    }
}
