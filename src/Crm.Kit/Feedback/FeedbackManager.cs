using Crm.Kit.Customers;
using Crm.Kit.Interactions;
using Crm.Kit.Service;
using Microsoft.Extensions.Options;

namespace Crm.Kit.Feedback;

/// <summary>
/// Surveys (NPS, CSAT, CES), their answers, follow-up of unhappy customers, and the figures a service team
/// reports: net promoter score, satisfaction, effort.
/// </summary>
public class FeedbackManager
{
    private const int MaxNameLength = 200;
    private const int MaxCommentLength = 10_000;
    private static readonly TimeSpan MaxFollowUp = TimeSpan.FromDays(90);

    private readonly IFeedbackStore _store;
    private readonly IServiceCaseStore _cases;
    private readonly IOrderStore _orders;
    private readonly IInteractionStore _interactions;
    private readonly CustomerManager _customers;
    private readonly ICrmUnitOfWork _unitOfWork;
    private readonly ICrmTenantContext _tenant;
    private readonly TimeProvider _time;
    private readonly ICrmEventPublisher _events;
    private readonly CrmKitOptions _options;
    private readonly CrmKitInstrumentation _instrumentation;

    /// <summary>Creates the manager; resolve it from DI rather than constructing it.</summary>
    public FeedbackManager(
        IFeedbackStore store,
        IServiceCaseStore cases,
        IOrderStore orders,
        IInteractionStore interactions,
        CustomerManager customers,
        ICrmUnitOfWork unitOfWork,
        ICrmTenantContext tenant,
        TimeProvider time,
        ICrmEventPublisher events,
        IOptions<CrmKitOptions> options,
        CrmKitInstrumentation instrumentation)
    {
        _store = store;
        _cases = cases;
        _orders = orders;
        _interactions = interactions;
        _customers = customers;
        _unitOfWork = unitOfWork;
        _tenant = tenant;
        _time = time;
        _events = events;
        _options = options.Value;
        _instrumentation = instrumentation;
    }

    private string TenantId => _tenant.TenantId;

    /// <summary>Adds a survey.</summary>
    /// <exception cref="CrmValidationException">The draft breaks a rule; nothing was stored.</exception>
    /// <exception cref="DuplicateValueException">The name is taken.</exception>
    public async Task<Survey> CreateSurveyAsync(SurveyDraft draft, CancellationToken cancellationToken = default)
    {
        Validate(draft);
        var now = _time.GetUtcNow();
        var survey = Apply(new Survey { Id = CrmIds.NewId(now), TenantId = TenantId, Name = string.Empty, Version = 1, CreatedAt = now }, draft, now);
        await _store.CreateSurveyAsync(survey, cancellationToken).ConfigureAwait(false);
        return survey;
    }

    /// <summary>Replaces a survey's settings. Its kind cannot change once it has answers.</summary>
    /// <exception cref="ConcurrencyConflictException">It changed since <paramref name="expectedVersion"/>.</exception>
    public async Task<Survey> UpdateSurveyAsync(Guid id, long expectedVersion, SurveyDraft draft, CancellationToken cancellationToken = default)
    {
        Validate(draft);
        var current = await GetSurveyAsync(id, cancellationToken).ConfigureAwait(false);
        if (current.Version != expectedVersion)
        {
            throw new ConcurrencyConflictException(nameof(Survey), id, expectedVersion);
        }

        if (current.Kind != draft.Kind && await _store.HasResponsesAsync(TenantId, id, cancellationToken).ConfigureAwait(false))
        {
            throw new CrmValidationException(nameof(draft.Kind), "fixed-once-answered", $"survey {id} has answers on the {current.Kind} scale; create a new survey instead");
        }

        var updated = Apply(current, draft, _time.GetUtcNow()) with { Version = expectedVersion + 1 };
        await _store.UpdateSurveyAsync(updated, expectedVersion, cancellationToken).ConfigureAwait(false);
        return updated;
    }

    /// <summary>The survey with this id.</summary>
    /// <exception cref="EntityNotFoundException">There is none.</exception>
    public async Task<Survey> GetSurveyAsync(Guid id, CancellationToken cancellationToken = default) =>
        await _store.FindSurveyAsync(TenantId, id, cancellationToken).ConfigureAwait(false) ?? throw new EntityNotFoundException(nameof(Survey), id);

    /// <summary>One page of the tenant's surveys, by id.</summary>
    public async Task<Page<Survey>> ListSurveysAsync(string? continuationToken = null, int pageSize = 100, CancellationToken cancellationToken = default)
    {
        var after = ContinuationTokens.DecodeId(continuationToken);
        ContinuationTokens.CheckPageSize(pageSize, _options);
        var items = await _store.ListSurveysAsync(TenantId, after, pageSize + 1, cancellationToken).ConfigureAwait(false);
        return ContinuationTokens.ToPage(items, pageSize, s => ContinuationTokens.Encode(s.Id));
    }

    /// <summary>
    /// Records an answer. A negative answer to a survey with a <see cref="FollowUpPolicy"/> also creates a task
    /// for the customer's owner (or the policy's fallback owner), linked to the answer's case, in the same
    /// transaction. An answer with a <see cref="SurveyResponseDraft.Reference"/> already recorded returns the
    /// first answer and changes nothing.
    /// </summary>
    /// <exception cref="CrmValidationException">The answer breaks a rule (score off the scale, unknown or inactive survey, case or order of another customer); nothing was stored.</exception>
    public async Task<SurveyResponse> RecordResponseAsync(SurveyResponseDraft draft, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(draft);
        var now = _time.GetUtcNow();
        var survey = await ValidateAsync(draft, now, cancellationToken).ConfigureAwait(false);
        var reference = string.IsNullOrWhiteSpace(draft.Reference) ? null : draft.Reference.Trim();
        if (reference is not null && await _store.FindResponseByReferenceAsync(TenantId, survey.Id, reference, cancellationToken).ConfigureAwait(false) is { } earlier)
        {
            return earlier;
        }

        var customer = await _customers.GetByIdAsync(draft.CustomerId, cancellationToken).ConfigureAwait(false);
        var response = new SurveyResponse
        {
            Id = CrmIds.NewId(now),
            TenantId = TenantId,
            SurveyId = survey.Id,
            Kind = survey.Kind,
            CustomerId = customer.Id,
            Score = draft.Score,
            Sentiment = SurveyScale.Sentiment(survey.Kind, draft.Score),
            Comment = string.IsNullOrWhiteSpace(draft.Comment) ? null : draft.Comment.Trim(),
            CaseId = draft.CaseId,
            OrderId = draft.OrderId,
            Reference = reference,
            RespondedAt = (draft.RespondedAt ?? now).ToUniversalTime(),
            RecordedAt = now,
        };
        Interaction? task = null;
        if (survey.FollowUp is { } followUp && response.Sentiment == FeedbackSentiment.Negative)
        {
            task = new Interaction
            {
                Id = CrmIds.NewId(now),
                TenantId = TenantId,
                Version = 1,
                CustomerId = customer.Id,
                Kind = InteractionKind.Task,
                Subject = $"Follow up: {survey.Kind.ToString().ToUpperInvariant()} {response.Score} on \"{survey.Name}\"",
                OwnerId = customer.OwnerId ?? followUp.FallbackOwnerId,
                DueAt = now + followUp.DueWithin,
                CaseId = response.CaseId,
                OccurredAt = now,
                CreatedAt = now,
            };
            response = response with { FollowUpTaskId = task.Id };
        }

        try
        {
            await ConcurrencyRetry.RunAsync(_options.ConcurrencyRetryLimit, _instrumentation, async () =>
            {
                var transaction = await _unitOfWork.BeginAsync(cancellationToken).ConfigureAwait(false);
                await using (transaction.ConfigureAwait(false))
                {
                    await _store.CreateResponseAsync(response, cancellationToken).ConfigureAwait(false);
                    if (task is not null)
                    {
                        await _interactions.CreateAsync(task, cancellationToken).ConfigureAwait(false);
                    }

                    await transaction.CommitAsync(cancellationToken).ConfigureAwait(false);
                }

                return true;
            }).ConfigureAwait(false);
        }
        catch (DuplicateValueException) when (reference is not null)
        {
            // A concurrent delivery of the same answer got in first: return what it recorded.
            return await _store.FindResponseByReferenceAsync(TenantId, survey.Id, reference, cancellationToken).ConfigureAwait(false)
                ?? throw new InvalidOperationException($"The answer with reference {InputText.Quote(reference)} was reported as recorded but cannot be read.");
        }

        List<CrmEvent> events = [new FeedbackReceived { Response = response, TenantId = TenantId, OccurredAt = now }];
        if (task is not null)
        {
            events.Add(new InteractionRecorded { Interaction = task, TenantId = TenantId, OccurredAt = now });
        }

        await _events.PublishAsync(events, cancellationToken).ConfigureAwait(false);
        if (survey.Kind == SurveyKind.Nps)
        {
            await _customers.NotifyChangedAsync(TenantId, [customer.Id], cancellationToken).ConfigureAwait(false);
        }

        return response;
    }

    /// <summary>One page of a customer's answers, newest first.</summary>
    public async Task<Page<SurveyResponse>> GetResponsesOfCustomerAsync(Guid customerId, string? continuationToken = null, int pageSize = 50, CancellationToken cancellationToken = default)
    {
        var before = ContinuationTokens.DecodePosition(continuationToken);
        ContinuationTokens.CheckPageSize(pageSize, _options);
        var items = await _store.ListResponsesByCustomerAsync(TenantId, customerId, before, pageSize + 1, cancellationToken).ConfigureAwait(false);
        return ContinuationTokens.ToPage(items, pageSize, r => ContinuationTokens.Encode(new KeysetPosition(r.RespondedAt, r.Id)));
    }

    /// <summary>The customer's latest NPS answer, or <see langword="null"/>.</summary>
    public async Task<LatestNps?> GetLatestNpsAsync(Guid customerId, CancellationToken cancellationToken = default) =>
        await _store.FindLatestNpsAsync(TenantId, customerId, cancellationToken).ConfigureAwait(false);

    /// <summary>
    /// Summarises the answers of one kind in a period (optionally of one survey, or of a segment's members):
    /// the count per score, and from it the NPS, average and share of positive answers. Counted in the store.
    /// </summary>
    /// <exception cref="CrmValidationException">The period is empty, or the survey is of another kind.</exception>
    public async Task<FeedbackSummary> SummarizeAsync(FeedbackQuery query, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(query);
        var errors = new ValidationErrorCollector();
        errors.Defined(nameof(query.Kind), query.Kind);
        if (query.To <= query.From)
        {
            errors.Add(nameof(query.To), "after-from", $"must be after From ({query.From:O}); was {query.To:O}");
        }

        errors.ThrowIfAny();
        if (query.SurveyId is { } surveyId && (await GetSurveyAsync(surveyId, cancellationToken).ConfigureAwait(false)).Kind != query.Kind)
        {
            throw new CrmValidationException(nameof(query.SurveyId), "same-kind", $"survey {surveyId} is not a {query.Kind} survey");
        }

        var counts = await _store.CountScoresAsync(TenantId, query, cancellationToken).ConfigureAwait(false);
        var min = SurveyScale.Min(query.Kind);
        var distribution = new long[SurveyScale.Max(query.Kind) - min + 1];
        foreach (var (score, count) in counts)
        {
            distribution[score - min] += count;
        }

        return new FeedbackSummary { Kind = query.Kind, Distribution = distribution };
    }

    private async Task<Survey> ValidateAsync(SurveyResponseDraft draft, DateTimeOffset now, CancellationToken cancellationToken)
    {
        var errors = new ValidationErrorCollector();
        if (draft.SurveyId == Guid.Empty)
        {
            errors.Add(nameof(draft.SurveyId), "required", "is required");
        }

        if (draft.CustomerId == Guid.Empty)
        {
            errors.Add(nameof(draft.CustomerId), "required", "is required");
        }

        errors.Text(nameof(draft.Comment), draft.Comment, MaxCommentLength);
        errors.Text(nameof(draft.Reference), draft.Reference, MaxNameLength);
        if (draft.RespondedAt is { } respondedAt)
        {
            errors.Happened(nameof(draft.RespondedAt), respondedAt, now, _options.AllowedClockSkew);
        }

        errors.ThrowIfAny();
        var survey = await _store.FindSurveyAsync(TenantId, draft.SurveyId, cancellationToken).ConfigureAwait(false);
        if (survey is null)
        {
            errors.Add(nameof(draft.SurveyId), "survey-exists", $"{draft.SurveyId} is not a survey in this tenant");
        }
        else if (!survey.IsActive)
        {
            errors.Add(nameof(draft.SurveyId), "active", $"survey '{survey.Name}' no longer takes answers");
        }
        else if (draft.Score < SurveyScale.Min(survey.Kind) || draft.Score > SurveyScale.Max(survey.Kind))
        {
            errors.Add(nameof(draft.Score), "scale", $"a {survey.Kind} score is from {SurveyScale.Min(survey.Kind)} to {SurveyScale.Max(survey.Kind)} (was {draft.Score})");
        }

        var customer = await _customers.FindByIdAsync(draft.CustomerId, cancellationToken).ConfigureAwait(false);
        if (customer is null || customer.MergedIntoId is not null)
        {
            errors.Add(nameof(draft.CustomerId), "customer-exists", $"{draft.CustomerId} is not a live customer in this tenant");
        }

        if (draft.CaseId is { } caseId && await _cases.FindByIdAsync(TenantId, caseId, cancellationToken).ConfigureAwait(false) is var serviceCase &&
            (serviceCase is null || serviceCase.CustomerId != customer?.Id))
        {
            errors.Add(nameof(draft.CaseId), "customer-case", $"{caseId} is not a case of customer {draft.CustomerId}");
        }

        if (draft.OrderId is { } orderId && await _orders.FindByIdAsync(TenantId, orderId, cancellationToken).ConfigureAwait(false) is var order &&
            (order is null || order.CustomerId != customer?.Id))
        {
            errors.Add(nameof(draft.OrderId), "customer-order", $"{orderId} is not an order of customer {draft.CustomerId}");
        }

        errors.ThrowIfAny();
        return survey!;
    }

    private static void Validate(SurveyDraft draft)
    {
        ArgumentNullException.ThrowIfNull(draft);
        var errors = new ValidationErrorCollector();
        errors.Required(nameof(draft.Name), draft.Name);
        errors.Text(nameof(draft.Name), draft.Name, MaxNameLength);
        errors.Defined(nameof(draft.Kind), draft.Kind);
        errors.Text(nameof(draft.Question), draft.Question, 1_000);
        if (draft.FollowUp is { } followUp)
        {
            errors.Required("FollowUp.FallbackOwnerId", followUp.FallbackOwnerId);
            errors.Text("FollowUp.FallbackOwnerId", followUp.FallbackOwnerId, MaxNameLength);
            if (followUp.DueWithin <= TimeSpan.Zero || followUp.DueWithin > MaxFollowUp)
            {
                errors.Add("FollowUp.DueWithin", "range", $"must be more than zero and at most {MaxFollowUp.TotalDays} days (was {followUp.DueWithin})");
            }
        }

        errors.ThrowIfAny();
    }

    private static Survey Apply(Survey survey, SurveyDraft draft, DateTimeOffset now) => survey with
    {
        Name = draft.Name!.Trim(),
        Kind = draft.Kind,
        Question = string.IsNullOrWhiteSpace(draft.Question) ? null : draft.Question.Trim(),
        FollowUp = draft.FollowUp is { } f ? f with { FallbackOwnerId = f.FallbackOwnerId.Trim() } : null,
        IsActive = draft.IsActive,
        UpdatedAt = now,
    };
}
