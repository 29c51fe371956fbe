using Crm.Kit.Feedback;

namespace Crm.Kit.EntityFrameworkCore;

internal sealed class SurveyRow : ICrmRow
{
    public Guid Id { get; set; }

    public string TenantId { get; set; } = string.Empty;

    public long Version { get; set; }

    public string Name { get; set; } = string.Empty;

    public SurveyKind Kind { get; set; }

    public string? Question { get; set; }

    public string? FollowUpOwnerId { get; set; }

    public long? FollowUpWithin { get; set; }

    public bool IsActive { get; set; }

    public long CreatedAt { get; set; }

    public long UpdatedAt { get; set; }

    public static SurveyRow From(Survey s) => new()
    {
        Id = s.Id,
        TenantId = s.TenantId,
        Version = s.Version,
        Name = s.Name,
        Kind = s.Kind,
        Question = s.Question,
        FollowUpOwnerId = s.FollowUp?.FallbackOwnerId,
        FollowUpWithin = s.FollowUp?.DueWithin.Ticks,
        IsActive = s.IsActive,
        CreatedAt = s.CreatedAt.UtcTicks,
        UpdatedAt = s.UpdatedAt.UtcTicks,
    };

    public Survey ToSurvey() => new()
    {
        Id = Id,
        TenantId = TenantId,
        Version = Version,
        Name = Name,
        Kind = Kind,
        Question = Question,
        FollowUp = FollowUpOwnerId is { } owner && FollowUpWithin is { } within ? new FollowUpPolicy(owner, TimeSpan.FromTicks(within)) : null,
        IsActive = IsActive,
        CreatedAt = Ticks.ToTime(CreatedAt),
        UpdatedAt = Ticks.ToTime(UpdatedAt),
    };
}

internal sealed class SurveyResponseRow : ICrmRow
{
    public Guid Id { get; set; }

    public string TenantId { get; set; } = string.Empty;

    public Guid SurveyId { get; set; }

    public SurveyKind Kind { get; set; }

    public Guid CustomerId { get; set; }

    public int Score { get; set; }

    public FeedbackSentiment Sentiment { get; set; }

    public string? Comment { get; set; }

    public Guid? CaseId { get; set; }

    public Guid? OrderId { get; set; }

    public string? Reference { get; set; }

    public long RespondedAt { get; set; }

    public long RecordedAt { get; set; }

    public Guid? FollowUpTaskId { get; set; }

    public static SurveyResponseRow From(SurveyResponse r) => new()
    {
        Id = r.Id,
        TenantId = r.TenantId,
        SurveyId = r.SurveyId,
        Kind = r.Kind,
        CustomerId = r.CustomerId,
        Score = r.Score,
        Sentiment = r.Sentiment,
        Comment = r.Comment,
        CaseId = r.CaseId,
        OrderId = r.OrderId,
        Reference = r.Reference,
        RespondedAt = r.RespondedAt.UtcTicks,
        RecordedAt = r.RecordedAt.UtcTicks,
        FollowUpTaskId = r.FollowUpTaskId,
    };

    public SurveyResponse ToResponse() => new()
    {
        Id = Id,
        TenantId = TenantId,
        SurveyId = SurveyId,
        Kind = Kind,
        CustomerId = CustomerId,
        Score = Score,
        Sentiment = Sentiment,
        Comment = Comment,
        CaseId = CaseId,
        OrderId = OrderId,
        Reference = Reference,
        RespondedAt = Ticks.ToTime(RespondedAt),
        RecordedAt = Ticks.ToTime(RecordedAt),
        FollowUpTaskId = FollowUpTaskId,
    };
}

/// <summary>A customer's latest NPS answer: one row per customer, which the <c>feedback.*</c> segment fields read.</summary>
internal sealed class LatestNpsRow : ICrmRow
{
    public string TenantId { get; set; } = string.Empty;

    public Guid CustomerId { get; set; }

    public int Score { get; set; }

    public string CategoryKey { get; set; } = string.Empty;

    public long RespondedAt { get; set; }

    public Guid ResponseId { get; set; }

    public static LatestNpsRow From(string tenantId, SurveyResponseRow r) => new()
    {
        TenantId = tenantId,
        CustomerId = r.CustomerId,
        Score = r.Score,
        CategoryKey = FeedbackFields.CategoryText(SurveyScale.Category(r.Score)),
        RespondedAt = r.RespondedAt,
        ResponseId = r.Id,
    };

    public LatestNps ToLatest() => new(CustomerId, Score, Ticks.ToTime(RespondedAt), ResponseId);
}

/// <summary>How the <c>feedback.*</c> segment fields read from the latest-NPS table.</summary>
internal static class FeedbackRowFields
{
    public static IEnumerable<IEfSegmentFieldBinding> Bindings()
    {
        yield return CustomerRowBinding.Bind(FeedbackFields.Nps, (LatestNpsRow r) => (long?)r.Score);
        yield return CustomerRowBinding.Bind(FeedbackFields.NpsCategory, (LatestNpsRow r) => r.CategoryKey);
    }
}
