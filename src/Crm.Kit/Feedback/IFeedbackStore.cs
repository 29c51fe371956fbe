namespace Crm.Kit.Feedback;

/// <summary>
/// Persists surveys and their answers, and each customer's latest NPS answer. Tenant-scoped like every store.
/// Summaries are counted in the store (grouped by score), never by loading every answer.
/// </summary>
public interface IFeedbackStore
{
    /// <summary>The survey with this id, or <see langword="null"/>.</summary>
    ValueTask<Survey?> FindSurveyAsync(string tenantId, Guid id, CancellationToken cancellationToken);

    /// <summary>Surveys ordered by id, after <paramref name="afterId"/> when given, at most <paramref name="limit"/>.</summary>
    ValueTask<IReadOnlyList<Survey>> ListSurveysAsync(string tenantId, Guid? afterId, int limit, CancellationToken cancellationToken);

    /// <summary>Adds a survey. Throws <see cref="DuplicateValueException"/> (field <c>Name</c>) when the name is taken.</summary>
    ValueTask CreateSurveyAsync(Survey survey, CancellationToken cancellationToken);

    /// <summary>Replaces a survey when its version matches (else <see cref="ConcurrencyConflictException"/>); the name stays unique.</summary>
    ValueTask UpdateSurveyAsync(Survey survey, long expectedVersion, CancellationToken cancellationToken);

    /// <summary>Whether the survey has any answer.</summary>
    ValueTask<bool> HasResponsesAsync(string tenantId, Guid surveyId, CancellationToken cancellationToken);

    /// <summary>
    /// Adds an answer and, for an NPS answer newer than the customer's latest, makes it the latest — both or
    /// neither. Throws <see cref="DuplicateValueException"/> (field <c>Reference</c>) when the survey already has an
    /// answer with the same reference, and <see cref="ConcurrencyConflictException"/> when a concurrent answer
    /// of the same customer got in the way (try again).
    /// </summary>
    ValueTask CreateResponseAsync(SurveyResponse response, CancellationToken cancellationToken);

    /// <summary>The answer with this id, or <see langword="null"/>.</summary>
    ValueTask<SurveyResponse?> FindResponseAsync(string tenantId, Guid id, CancellationToken cancellationToken);

    /// <summary>The survey's answer with this reference, or <see langword="null"/>.</summary>
    ValueTask<SurveyResponse?> FindResponseByReferenceAsync(string tenantId, Guid surveyId, string reference, CancellationToken cancellationToken);

    /// <summary>A customer's answers newest first (by answer time, then id), before <paramref name="before"/> when given, at most <paramref name="limit"/>.</summary>
    ValueTask<IReadOnlyList<SurveyResponse>> ListResponsesByCustomerAsync(string tenantId, Guid customerId, KeysetPosition? before, int limit, CancellationToken cancellationToken);

    /// <summary>The customer's latest NPS answer, or <see langword="null"/>.</summary>
    ValueTask<LatestNps?> FindLatestNpsAsync(string tenantId, Guid customerId, CancellationToken cancellationToken);

    /// <summary>
    /// How many answers of <see cref="FeedbackQuery.Kind"/> gave each score, for answers in
    /// [<see cref="FeedbackQuery.From"/>, <see cref="FeedbackQuery.To"/>), restricted to the survey and to the
    /// segment's stored members when given. Scores without answers may be left out.
    /// </summary>
    ValueTask<IReadOnlyDictionary<int, long>> CountScoresAsync(string tenantId, FeedbackQuery query, CancellationToken cancellationToken);

    /// <summary>Moves every answer of <paramref name="fromCustomerId"/> to <paramref name="toCustomerId"/> (a merge) and works out the survivor's latest NPS again; returns how many moved.</summary>
    ValueTask<int> ReassignCustomerAsync(string tenantId, Guid fromCustomerId, Guid toCustomerId, CancellationToken cancellationToken);

    /// <summary>Clears the comment of every answer of a customer (erasure); returns how many changed.</summary>
    ValueTask<int> EraseTextAsync(string tenantId, Guid customerId, CancellationToken cancellationToken);
}
