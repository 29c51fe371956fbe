using Crm.Kit.Feedback;
using Microsoft.EntityFrameworkCore;

namespace Crm.Kit.EntityFrameworkCore;

/// <summary>The EF Core <see cref="IFeedbackStore"/>.</summary>
/// <typeparam name="TContext">The host's context, with <see cref="CrmKitModelBuilderExtensions.ApplyCrmKitModel"/> applied.</typeparam>
public sealed class EfFeedbackStore<TContext> : IFeedbackStore
    where TContext : DbContext
{
    private readonly TContext _context;

    /// <summary>Creates the store over the host's context.</summary>
    public EfFeedbackStore(TContext context) => _context = ContextCheck.EnsureModel(context);

    private IQueryable<SurveyRow> Surveys(string tenantId) => _context.Set<SurveyRow>().AsNoTracking().Where(r => r.TenantId == tenantId);

    private IQueryable<SurveyResponseRow> Responses(string tenantId) => _context.Set<SurveyResponseRow>().AsNoTracking().Where(r => r.TenantId == tenantId);

    /// <inheritdoc />
    public async ValueTask<Survey?> FindSurveyAsync(string tenantId, Guid id, CancellationToken cancellationToken) =>
        (await Surveys(tenantId).FirstOrDefaultAsync(r => r.Id == id, cancellationToken).ConfigureAwait(false))?.ToSurvey();

    /// <inheritdoc />
    public async ValueTask<IReadOnlyList<Survey>> ListSurveysAsync(string tenantId, Guid? afterId, int limit, CancellationToken cancellationToken)
    {
        var query = Surveys(tenantId);
        if (afterId is { } after)
        {
            query = query.Where(r => r.Id.CompareTo(after) > 0);
        }

        var rows = await query.OrderBy(r => r.Id).Take(limit).ToListAsync(cancellationToken).ConfigureAwait(false);
        return rows.ConvertAll(r => r.ToSurvey());
    }

    /// <inheritdoc />
    public async ValueTask CreateSurveyAsync(Survey survey, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(survey);
        _context.Add(SurveyRow.From(survey));
        await SaveSurveyAsync(survey, 0, cancellationToken).ConfigureAwait(false);
    }

    /// <inheritdoc />
    public async ValueTask UpdateSurveyAsync(Survey survey, long expectedVersion, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(survey);
        StoreWrites.AttachUpdate(_context, SurveyRow.From(survey), expectedVersion);
        await SaveSurveyAsync(survey, expectedVersion, cancellationToken).ConfigureAwait(false);
    }

    private async ValueTask SaveSurveyAsync(Survey survey, long expectedVersion, CancellationToken cancellationToken)
    {
        try
        {
            await StoreWrites.SaveAsync(_context, nameof(Survey), survey.Id, expectedVersion, cancellationToken).ConfigureAwait(false);
        }
        catch (DbUpdateException ex) when (UniqueViolation.Is(ex))
        {
            throw new DuplicateValueException(nameof(Survey.Name), survey.Name, ex);
        }
    }

    /// <inheritdoc />
    public async ValueTask<bool> HasResponsesAsync(string tenantId, Guid surveyId, CancellationToken cancellationToken) =>
        await Responses(tenantId).AnyAsync(r => r.SurveyId == surveyId, cancellationToken).ConfigureAwait(false);

    /// <inheritdoc />
    public async ValueTask CreateResponseAsync(SurveyResponse response, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(response);
        await StoreWrites.InTransactionAsync(_context, async () =>
        {
            var row = SurveyResponseRow.From(response);
            _context.Add(row);
            try
            {
                await StoreWrites.SaveAsync(_context, nameof(SurveyResponse), response.Id, 0, cancellationToken).ConfigureAwait(false);
            }
            catch (DbUpdateException ex) when (UniqueViolation.Is(ex))
            {
                throw new DuplicateValueException(nameof(SurveyResponse.Reference), response.Reference ?? response.Id.ToString(), ex);
            }

            if (response.Kind == SurveyKind.Nps)
            {
                await OfferLatestAsync(response.TenantId, row, cancellationToken).ConfigureAwait(false);
            }

            return true;
        }, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// Makes <paramref name="row"/> the customer's latest NPS answer unless a later one is stored. The update is one
    /// conditional statement; only a customer's first answer inserts, and two first answers racing make one
    /// insert fail, reported as a concurrency conflict so the caller tries again (then taking the update path).
    /// </summary>
    private async ValueTask OfferLatestAsync(string tenantId, SurveyResponseRow row, CancellationToken cancellationToken)
    {
        var latest = LatestNpsRow.From(tenantId, row);
        var updated = await _context.Set<LatestNpsRow>()
            .Where(r => r.TenantId == tenantId && r.CustomerId == row.CustomerId &&
                (r.RespondedAt < latest.RespondedAt || (r.RespondedAt == latest.RespondedAt && r.ResponseId.CompareTo(latest.ResponseId) < 0)))
            .ExecuteUpdateAsync(
                s => s.SetProperty(r => r.Score, latest.Score).SetProperty(r => r.CategoryKey, latest.CategoryKey)
                    .SetProperty(r => r.RespondedAt, latest.RespondedAt).SetProperty(r => r.ResponseId, latest.ResponseId),
                cancellationToken).ConfigureAwait(false);
        if (updated > 0 || await _context.Set<LatestNpsRow>().AnyAsync(r => r.TenantId == tenantId && r.CustomerId == row.CustomerId, cancellationToken).ConfigureAwait(false))
        {
            return;
        }

        _context.Add(latest);
        try
        {
            await StoreWrites.SaveAsync(_context, nameof(LatestNps), row.CustomerId, 0, cancellationToken).ConfigureAwait(false);
        }
        catch (DbUpdateException ex) when (UniqueViolation.Is(ex))
        {
            throw new ConcurrencyConflictException(nameof(LatestNps), row.CustomerId, 0, ex);
        }
    }

    /// <inheritdoc />
    public async ValueTask<SurveyResponse?> FindResponseAsync(string tenantId, Guid id, CancellationToken cancellationToken) =>
        (await Responses(tenantId).FirstOrDefaultAsync(r => r.Id == id, cancellationToken).ConfigureAwait(false))?.ToResponse();

    /// <inheritdoc />
    public async ValueTask<SurveyResponse?> FindResponseByReferenceAsync(string tenantId, Guid surveyId, string reference, CancellationToken cancellationToken) =>
        (await Responses(tenantId).FirstOrDefaultAsync(r => r.SurveyId == surveyId && r.Reference == reference, cancellationToken).ConfigureAwait(false))?.ToResponse();

    /// <inheritdoc />
    public async ValueTask<IReadOnlyList<SurveyResponse>> ListResponsesByCustomerAsync(string tenantId, Guid customerId, KeysetPosition? before, int limit, CancellationToken cancellationToken)
    {
        var rows = await NewestFirst.PageAsync(Responses(tenantId).Where(r => r.CustomerId == customerId), r => r.RespondedAt, r => r.Id, before, limit, cancellationToken).ConfigureAwait(false);
        return rows.ConvertAll(r => r.ToResponse());
    }

    /// <inheritdoc />
    public async ValueTask<LatestNps?> FindLatestNpsAsync(string tenantId, Guid customerId, CancellationToken cancellationToken) =>
        (await _context.Set<LatestNpsRow>().AsNoTracking().FirstOrDefaultAsync(r => r.TenantId == tenantId && r.CustomerId == customerId, cancellationToken).ConfigureAwait(false))?.ToLatest();

    /// <inheritdoc />
    public async ValueTask<IReadOnlyDictionary<int, long>> CountScoresAsync(string tenantId, FeedbackQuery query, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(query);
        var from = query.From.UtcTicks;
        var to = query.To.UtcTicks;
        var kind = query.Kind;
        var answers = Responses(tenantId).Where(r => r.Kind == kind && r.RespondedAt >= from && r.RespondedAt < to);
        if (query.SurveyId is { } surveyId)
        {
            answers = answers.Where(r => r.SurveyId == surveyId);
        }

        if (query.SegmentId is { } segmentId)
        {
            var members = _context.Set<SegmentMemberRow>().AsNoTracking();
            answers = answers.Where(r => members.Any(m => m.TenantId == tenantId && m.SegmentId == segmentId && m.CustomerId == r.CustomerId));
        }

        var counts = await answers.GroupBy(r => r.Score).Select(g => new { Score = g.Key, Count = g.LongCount() }).ToListAsync(cancellationToken).ConfigureAwait(false);
        return counts.ToDictionary(c => c.Score, c => c.Count);
    }

    /// <inheritdoc />
    public async ValueTask<int> ReassignCustomerAsync(string tenantId, Guid fromCustomerId, Guid toCustomerId, CancellationToken cancellationToken) =>
        await StoreWrites.InTransactionAsync(_context, async () =>
        {
            var moved = await _context.Set<SurveyResponseRow>().Where(r => r.TenantId == tenantId && r.CustomerId == fromCustomerId)
                .ExecuteUpdateAsync(s => s.SetProperty(r => r.CustomerId, toCustomerId), cancellationToken).ConfigureAwait(false);
            await _context.Set<LatestNpsRow>().Where(r => r.TenantId == tenantId && (r.CustomerId == fromCustomerId || r.CustomerId == toCustomerId))
                .ExecuteDeleteAsync(cancellationToken).ConfigureAwait(false);
            var latest = await Responses(tenantId).Where(r => r.CustomerId == toCustomerId && r.Kind == SurveyKind.Nps)
                .OrderByDescending(r => r.RespondedAt).ThenByDescending(r => r.Id)
                .FirstOrDefaultAsync(cancellationToken).ConfigureAwait(false);
            if (latest is not null)
            {
                _context.Add(LatestNpsRow.From(tenantId, latest));
                await StoreWrites.SaveAsync(_context, nameof(LatestNps), toCustomerId, 0, cancellationToken).ConfigureAwait(false);
            }

            return moved;
        }, cancellationToken).ConfigureAwait(false);

    /// <inheritdoc />
    public async ValueTask<int> EraseTextAsync(string tenantId, Guid customerId, CancellationToken cancellationToken) =>
        await _context.Set<SurveyResponseRow>().Where(r => r.TenantId == tenantId && r.CustomerId == customerId)
            .ExecuteUpdateAsync(s => s.SetProperty(r => r.Comment, (string?)null), cancellationToken)
            .ConfigureAwait(false);
}
