using System.Linq.Expressions;
using Crm.Kit.Insights;
using Crm.Kit.Segmentation;
using Microsoft.EntityFrameworkCore;

namespace Crm.Kit.EntityFrameworkCore;

internal sealed class CustomerInsightRow : ICrmRow
{
    public string TenantId { get; set; } = string.Empty;

    public Guid CustomerId { get; set; }

    public long ComputedAt { get; set; }

    public int AsOf { get; set; }

    public string Currency { get; set; } = string.Empty;

    public int? RecencyScore { get; set; }

    public int? FrequencyScore { get; set; }

    public int? MonetaryScore { get; set; }

    /// <summary>The three scores as one code, stored so that rules on it compare a column.</summary>
    public string? RfmScore { get; set; }

    public string? RfmSegment { get; set; }

    /// <summary><see cref="RfmSegment"/> folded (<see cref="SegmentText.Fold"/>): what rules compare.</summary>
    public string? RfmSegmentKey { get; set; }

    public decimal? ChurnRisk { get; set; }

    public bool AtRisk { get; set; }

    public decimal? ProbabilityAlive { get; set; }

    public decimal? PredictedLifetimeValue { get; set; }

    public void CopyFrom(CustomerInsight insight)
    {
        CustomerId = insight.CustomerId;
        ComputedAt = insight.ComputedAt.UtcTicks;
        AsOf = insight.AsOf.DayNumber;
        Currency = insight.Currency;
        RecencyScore = insight.RecencyScore;
        FrequencyScore = insight.FrequencyScore;
        MonetaryScore = insight.MonetaryScore;
        RfmScore = insight.RfmScore;
        RfmSegment = insight.RfmSegment;
        RfmSegmentKey = SegmentText.Fold(insight.RfmSegment);
        ChurnRisk = insight.ChurnRisk;
        AtRisk = insight.AtRisk;
        ProbabilityAlive = insight.ProbabilityAlive;
        PredictedLifetimeValue = insight.PredictedLifetimeValue;
    }

    public CustomerInsight ToInsight() => new()
    {
        CustomerId = CustomerId,
        ComputedAt = Ticks.ToTime(ComputedAt),
        AsOf = DateOnly.FromDayNumber(AsOf),
        Currency = Currency,
        RecencyScore = RecencyScore,
        FrequencyScore = FrequencyScore,
        MonetaryScore = MonetaryScore,
        RfmSegment = RfmSegment,
        ChurnRisk = ChurnRisk,
        AtRisk = AtRisk,
        ProbabilityAlive = ProbabilityAlive,
        PredictedLifetimeValue = PredictedLifetimeValue,
    };
}

/// <summary>The EF Core <see cref="ICustomerInsightStore"/>: one row per customer in the insight table.</summary>
/// <typeparam name="TContext">The host's context, with <see cref="CrmKitModelBuilderExtensions.ApplyCrmKitModel"/> applied.</typeparam>
public sealed class EfCustomerInsightStore<TContext> : ICustomerInsightStore
    where TContext : DbContext
{
    private const int InsertRaceRetries = 3;
    private readonly TContext _context;

    /// <summary>Creates the store.</summary>
    public EfCustomerInsightStore(TContext context) => _context = ContextCheck.EnsureModel(context);

    /// <inheritdoc />
    public async ValueTask<CustomerInsight?> FindAsync(string tenantId, Guid customerId, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(tenantId);
        var row = await _context.Set<CustomerInsightRow>().AsNoTracking()
            .FirstOrDefaultAsync(r => r.TenantId == tenantId && r.CustomerId == customerId, cancellationToken).ConfigureAwait(false);
        return row?.ToInsight();
    }

    /// <inheritdoc />
    public async ValueTask UpsertAsync(string tenantId, IReadOnlyList<CustomerInsight> insights, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(tenantId);
        CustomerInsight.Validate(insights);
        if (insights.Count == 0)
        {
            return;
        }

        // Two writers inserting the same new customer collide on the key; the loser reads the winner's row and
        // decides again, so the newer snapshot wins either way.
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                await StoreWrites.InTransactionAsync(_context, async () =>
                {
                    await WriteAsync(tenantId, insights, cancellationToken).ConfigureAwait(false);
                    return true;
                }, cancellationToken).ConfigureAwait(false);
                return;
            }
            catch (DbUpdateException ex) when (attempt < InsertRaceRetries && _context.Database.CurrentTransaction is null && UniqueViolation.Is(ex))
            {
            }
        }
    }

    private async Task WriteAsync(string tenantId, IReadOnlyList<CustomerInsight> insights, CancellationToken cancellationToken)
    {
        var ids = insights.Select(i => i.CustomerId).ToArray();
        var stored = await _context.Set<CustomerInsightRow>()
            .Where(r => r.TenantId == tenantId && ids.Contains(r.CustomerId))
            .ToDictionaryAsync(r => r.CustomerId, cancellationToken).ConfigureAwait(false);
        foreach (var insight in insights)
        {
            if (stored.TryGetValue(insight.CustomerId, out var row))
            {
                if (row.ComputedAt <= insight.ComputedAt.UtcTicks)
                {
                    row.CopyFrom(insight);
                }
            }
            else
            {
                var added = new CustomerInsightRow { TenantId = tenantId };
                added.CopyFrom(insight);
                _context.Add(added);
            }
        }

        try
        {
            await _context.SaveChangesAsync(cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            StoreWrites.DetachCrmRows(_context);
        }
    }

    /// <inheritdoc />
    public async ValueTask<int> RemoveComputedBeforeAsync(string tenantId, DateTimeOffset computedAt, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(tenantId);
        var before = computedAt.UtcTicks;
        return await _context.Set<CustomerInsightRow>()
            .Where(r => r.TenantId == tenantId && r.ComputedAt < before)
            .ExecuteDeleteAsync(cancellationToken).ConfigureAwait(false);
    }
}

/// <summary>Binds <see cref="CustomerInsightFields"/> to the insight table, so rules using them run in SQL.</summary>
internal static class InsightRowFields
{
    public static IEnumerable<IEfSegmentFieldBinding> Bindings()
    {
        yield return CustomerRowBinding.Bind(CustomerInsightFields.Recency, (CustomerInsightRow r) => (long?)r.RecencyScore);
        yield return CustomerRowBinding.Bind(CustomerInsightFields.Frequency, (CustomerInsightRow r) => (long?)r.FrequencyScore);
        yield return CustomerRowBinding.Bind(CustomerInsightFields.Monetary, (CustomerInsightRow r) => (long?)r.MonetaryScore);
        yield return CustomerRowBinding.Bind(CustomerInsightFields.RfmScore, (CustomerInsightRow r) => r.RfmScore);
        yield return CustomerRowBinding.Bind(CustomerInsightFields.RfmSegment, (CustomerInsightRow r) => r.RfmSegmentKey);
        yield return CustomerRowBinding.Bind(CustomerInsightFields.ChurnRisk, (CustomerInsightRow r) => r.ChurnRisk);
        yield return CustomerRowBinding.Bind(CustomerInsightFields.AtRisk, (CustomerInsightRow r) => r.AtRisk);
        yield return CustomerRowBinding.Bind(CustomerInsightFields.ProbabilityAlive, (CustomerInsightRow r) => r.ProbabilityAlive);
        yield return CustomerRowBinding.Bind(CustomerInsightFields.PredictedLifetimeValue, (CustomerInsightRow r) => r.PredictedLifetimeValue);
    }
}
