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

/// <summary>The EF Core <see cref="ILeadScoreStore"/>.</summary>
/// <typeparam name="TContext">The host's context, with <see cref="CrmKitModelBuilderExtensions.ApplyCrmKitModel"/> applied.</typeparam>
public sealed class EfLeadScoreStore<TContext> : ILeadScoreStore
    where TContext : DbContext
{
    private readonly TContext _context;

    /// <summary>Creates the store over the host's context.</summary>
    public EfLeadScoreStore(TContext context) => _context = ContextCheck.EnsureModel(context);

    private IQueryable<LeadScoreRow> Rows(string tenantId, Guid customerId) =>
        _context.Set<LeadScoreRow>().Where(r => r.TenantId == tenantId && r.CustomerId == customerId);

    /// <inheritdoc />
    public async ValueTask<LeadScore?> FindAsync(string tenantId, Guid customerId, CancellationToken cancellationToken) =>
        (await Rows(tenantId, customerId).AsNoTracking().FirstOrDefaultAsync(cancellationToken).ConfigureAwait(false))?.ToScore();

    /// <inheritdoc />
    public async ValueTask SaveAsync(LeadScore score, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(score);
        var row = LeadScoreRow.From(score);
        for (var tries = 0; ; tries++)
        {
            var updated = await Rows(row.TenantId, row.CustomerId).ExecuteUpdateAsync(
                s => s.SetProperty(r => r.Score, row.Score).SetProperty(r => r.Fit, row.Fit).SetProperty(r => r.Engagement, row.Engagement)
                    .SetProperty(r => r.Contributions, row.Contributions).SetProperty(r => r.ScoredAt, row.ScoredAt),
                cancellationToken).ConfigureAwait(false);
            if (updated > 0)
            {
                return;
            }

            try
            {
                _context.Add(row);
                await StoreWrites.SaveAsync(_context, nameof(LeadScore), row.CustomerId, 0, cancellationToken).ConfigureAwait(false);
                return;
            }
            catch (DbUpdateException ex) when (UniqueViolation.Is(ex) && tries == 0)
            {
                // Another scoring of the same customer inserted first: the last write wins, so update it.
                StoreWrites.DetachCrmRows(_context);
            }
        }
    }

    /// <inheritdoc />
    public async ValueTask<bool> DeleteAsync(string tenantId, Guid customerId, CancellationToken cancellationToken) =>
        await Rows(tenantId, customerId).ExecuteDeleteAsync(cancellationToken).ConfigureAwait(false) > 0;
}
