using System.Text.Json;
using Crm.Kit.Feedback;
using Crm.Kit.Segmentation;
using Crm.Kit.Service;
using Microsoft.EntityFrameworkCore;

namespace Crm.Kit.EntityFrameworkCore;

internal sealed class ServiceCaseRow : ICrmRow
{
    public Guid Id { get; set; }

    public string TenantId { get; set; } = string.Empty;

    public long Version { get; set; }

    public Guid CustomerId { get; set; }

    public string Kind { get; set; } = string.Empty;

    public string? Subject { get; set; }

    public string? Description { get; set; }

    public CaseChannel Channel { get; set; }

    public CasePriority Priority { get; set; }

    public string? OwnerId { get; set; }

    public string? Team { get; set; }

    public CaseStatus Status { get; set; }

    /// <summary>Not resolved or closed: what every queue and SLA query filters on.</summary>
    public bool Active { get; set; }

    public long? NextDueAt { get; set; }

    /// <summary>The next due time, or the largest value when there is none, so that a queue sorts undue cases last with a plain index.</summary>
    public long QueueKey { get; set; }

    /// <summary>While the case is active, when its first breach was recorded; null otherwise. Indexed for the breached list.</summary>
    public long? BreachedAt { get; set; }

    public Guid? PolicyId { get; set; }

    public long? FirstResponseDueAt { get; set; }

    public long? FirstRespondedAt { get; set; }

    public long? ResolutionDueAt { get; set; }

    public long? FirstResponseBreachedAt { get; set; }

    public long? ResolutionBreachedAt { get; set; }

    public string History { get; set; } = "[]";

    public long CreatedAt { get; set; }

    public long? ResolvedAt { get; set; }

    public long? ClosedAt { get; set; }

    public long UpdatedAt { get; set; }

    public static ServiceCaseRow From(ServiceCase c) => new()
    {
        Id = c.Id,
        TenantId = c.TenantId,
        Version = c.Version,
        CustomerId = c.CustomerId,
        Kind = c.Kind,
        Subject = c.Subject,
        Description = c.Description,
        Channel = c.Channel,
        Priority = c.Priority,
        OwnerId = c.OwnerId,
        Team = c.Team,
        Status = c.Status,
        Active = c.IsActive,
        NextDueAt = c.NextDueAt?.UtcTicks,
        QueueKey = c.NextDueAt?.UtcTicks ?? long.MaxValue,
        BreachedAt = c.IsActive ? Earliest(c.Sla.FirstResponseBreachedAt, c.Sla.ResolutionBreachedAt)?.UtcTicks : null,
        PolicyId = c.Sla.PolicyId,
        FirstResponseDueAt = c.Sla.FirstResponseDueAt?.UtcTicks,
        FirstRespondedAt = c.Sla.FirstRespondedAt?.UtcTicks,
        ResolutionDueAt = c.Sla.ResolutionDueAt?.UtcTicks,
        FirstResponseBreachedAt = c.Sla.FirstResponseBreachedAt?.UtcTicks,
        ResolutionBreachedAt = c.Sla.ResolutionBreachedAt?.UtcTicks,
        History = JsonSerializer.Serialize(c.History, RowJson.Options),
        CreatedAt = c.CreatedAt.UtcTicks,
        ResolvedAt = c.ResolvedAt?.UtcTicks,
        ClosedAt = c.ClosedAt?.UtcTicks,
        UpdatedAt = c.UpdatedAt.UtcTicks,
    };

    private static DateTimeOffset? Earliest(DateTimeOffset? a, DateTimeOffset? b) => a is null ? b : b is null || a < b ? a : b;

    public ServiceCase ToCase() => new()
    {
        Id = Id,
        TenantId = TenantId,
        Version = Version,
        CustomerId = CustomerId,
        Kind = Kind,
        Subject = Subject,
        Description = Description,
        Channel = Channel,
        Priority = Priority,
        OwnerId = OwnerId,
        Team = Team,
        Status = Status,
        History = JsonSerializer.Deserialize<List<CaseStatusChange>>(History, RowJson.Options) ?? [],
        Sla = new CaseSla
        {
            PolicyId = PolicyId,
            FirstResponseDueAt = Ticks.ToTime(FirstResponseDueAt),
            FirstRespondedAt = Ticks.ToTime(FirstRespondedAt),
            ResolutionDueAt = Ticks.ToTime(ResolutionDueAt),
            FirstResponseBreachedAt = Ticks.ToTime(FirstResponseBreachedAt),
            ResolutionBreachedAt = Ticks.ToTime(ResolutionBreachedAt),
        },
        CreatedAt = Ticks.ToTime(CreatedAt),
        ResolvedAt = Ticks.ToTime(ResolvedAt),
        ClosedAt = Ticks.ToTime(ClosedAt),
        UpdatedAt = Ticks.ToTime(UpdatedAt),
    };
}

internal sealed class SlaPolicyRow : ICrmRow
{
    public Guid Id { get; set; }

    public string TenantId { get; set; } = string.Empty;

    public long Version { get; set; }

    public string Name { get; set; } = string.Empty;

    public CasePriority Priority { get; set; }

    public string? Kind { get; set; }

    /// <summary>The kind, or an empty string for "any kind": a unique index treats NULLs as distinct, so it needs a value.</summary>
    public string KindKey { get; set; } = string.Empty;

    public long FirstResponseTarget { get; set; }

    public long ResolutionTarget { get; set; }

    public string? BusinessHours { get; set; }

    public long CreatedAt { get; set; }

    public long UpdatedAt { get; set; }

    public static SlaPolicyRow From(SlaPolicy p) => new()
    {
        Id = p.Id,
        TenantId = p.TenantId,
        Version = p.Version,
        Name = p.Name,
        Priority = p.Priority,
        Kind = p.Kind,
        KindKey = p.Kind ?? string.Empty,
        FirstResponseTarget = p.FirstResponseTarget.Ticks,
        ResolutionTarget = p.ResolutionTarget.Ticks,
        BusinessHours = p.BusinessHours is null ? null : JsonSerializer.Serialize(p.BusinessHours, RowJson.Options),
        CreatedAt = p.CreatedAt.UtcTicks,
        UpdatedAt = p.UpdatedAt.UtcTicks,
    };

    public SlaPolicy ToPolicy() => new()
    {
        Id = Id,
        TenantId = TenantId,
        Version = Version,
        Name = Name,
        Priority = Priority,
        Kind = Kind,
        FirstResponseTarget = TimeSpan.FromTicks(FirstResponseTarget),
        ResolutionTarget = TimeSpan.FromTicks(ResolutionTarget),
        BusinessHours = BusinessHours is null ? null : JsonSerializer.Deserialize<BusinessHours>(BusinessHours, RowJson.Options),
        CreatedAt = Ticks.ToTime(CreatedAt),
        UpdatedAt = Ticks.ToTime(UpdatedAt),
    };
}

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

/// <summary>How the <c>feedback.*</c> segment fields read from the latest-NPS table.</summary>
internal static class FeedbackRowFields
{
    public static IEnumerable<IEfSegmentFieldBinding> Bindings()
    {
        yield return CustomerRowBinding.Bind(FeedbackFields.Nps, (LatestNpsRow r) => (long?)r.Score);
        yield return CustomerRowBinding.Bind(FeedbackFields.NpsCategory, (LatestNpsRow r) => r.CategoryKey);
    }
}

/// <summary>The EF Core <see cref="IServiceCaseStore"/>.</summary>
/// <typeparam name="TContext">The host's context, with <see cref="CrmKitModelBuilderExtensions.ApplyCrmKitModel"/> applied.</typeparam>
public sealed class EfServiceCaseStore<TContext> : IServiceCaseStore
    where TContext : DbContext
{
    private readonly TContext _context;

    /// <summary>Creates the store over the host's context.</summary>
    public EfServiceCaseStore(TContext context) => _context = ContextCheck.EnsureModel(context);

    private IQueryable<ServiceCaseRow> Cases(string tenantId) => _context.Set<ServiceCaseRow>().AsNoTracking().Where(r => r.TenantId == tenantId);

    private IQueryable<SlaPolicyRow> Policies(string tenantId) => _context.Set<SlaPolicyRow>().AsNoTracking().Where(r => r.TenantId == tenantId);

    /// <inheritdoc />
    public async ValueTask<ServiceCase?> FindByIdAsync(string tenantId, Guid id, CancellationToken cancellationToken) =>
        (await Cases(tenantId).FirstOrDefaultAsync(r => r.Id == id, cancellationToken).ConfigureAwait(false))?.ToCase();

    /// <inheritdoc />
    public async ValueTask CreateAsync(ServiceCase serviceCase, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(serviceCase);
        _context.Add(ServiceCaseRow.From(serviceCase));
        await StoreWrites.SaveAsync(_context, nameof(ServiceCase), serviceCase.Id, 0, cancellationToken).ConfigureAwait(false);
    }

    /// <inheritdoc />
    public async ValueTask UpdateAsync(ServiceCase serviceCase, long expectedVersion, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(serviceCase);
        StoreWrites.AttachUpdate(_context, ServiceCaseRow.From(serviceCase), expectedVersion);
        await StoreWrites.SaveUpdateAsync(_context, nameof(ServiceCase), serviceCase.Id, expectedVersion, () => Cases(serviceCase.TenantId).AnyAsync(r => r.Id == serviceCase.Id, cancellationToken), cancellationToken).ConfigureAwait(false);
    }

    /// <inheritdoc />
    public async ValueTask<IReadOnlyList<ServiceCase>> ListByCustomerAsync(string tenantId, Guid customerId, bool activeOnly, Guid? beforeId, int limit, CancellationToken cancellationToken)
    {
        var query = Cases(tenantId).Where(r => r.CustomerId == customerId);
        if (activeOnly)
        {
            query = query.Where(r => r.Active);
        }

        if (beforeId is { } before)
        {
            query = query.Where(r => r.Id.CompareTo(before) < 0);
        }

        var rows = await query.OrderByDescending(r => r.Id).Take(limit).ToListAsync(cancellationToken).ConfigureAwait(false);
        return rows.ConvertAll(r => r.ToCase());
    }

    /// <inheritdoc />
    public async ValueTask<IReadOnlyList<ServiceCase>> ListQueueAsync(string tenantId, string? ownerId, string? team, int limit, CancellationToken cancellationToken)
    {
        var query = Cases(tenantId).Where(r => r.Active);
        if (ownerId is not null)
        {
            query = query.Where(r => r.OwnerId == ownerId);
        }

        if (team is not null)
        {
            query = query.Where(r => r.Team == team);
        }

        var rows = await query.OrderBy(r => r.QueueKey).ThenBy(r => r.Id).Take(limit).ToListAsync(cancellationToken).ConfigureAwait(false);
        return rows.ConvertAll(r => r.ToCase());
    }

    /// <inheritdoc />
    public async ValueTask<IReadOnlyList<ServiceCase>> ListDueAsync(string tenantId, DateTimeOffset from, DateTimeOffset before, int limit, CancellationToken cancellationToken)
    {
        var fromTicks = from.UtcTicks;
        var beforeTicks = before.UtcTicks;
        var rows = await Cases(tenantId)
            .Where(r => r.NextDueAt >= fromTicks && r.NextDueAt < beforeTicks)
            .OrderBy(r => r.NextDueAt).ThenBy(r => r.Id)
            .Take(limit)
            .ToListAsync(cancellationToken).ConfigureAwait(false);
        return rows.ConvertAll(r => r.ToCase());
    }

    /// <inheritdoc />
    public async ValueTask<IReadOnlyList<ServiceCase>> ListBreachedAsync(string tenantId, DateTimeOffset asOf, Guid? afterId, int limit, CancellationToken cancellationToken)
    {
        var ticks = asOf.UtcTicks;
        // Both sides are ranges on their own index (a recorded breach is never later than now), so the database
        // can answer each from its index and merge them.
        var query = Cases(tenantId).Where(r => r.BreachedAt <= ticks || r.NextDueAt < ticks);
        if (afterId is { } after)
        {
            query = query.Where(r => r.Id.CompareTo(after) > 0);
        }

        var rows = await query.OrderBy(r => r.Id).Take(limit).ToListAsync(cancellationToken).ConfigureAwait(false);
        return rows.ConvertAll(r => r.ToCase());
    }

    /// <inheritdoc />
    public async ValueTask<int> ReassignCustomerAsync(string tenantId, Guid fromCustomerId, Guid toCustomerId, CancellationToken cancellationToken) =>
        await _context.Set<ServiceCaseRow>().Where(r => r.TenantId == tenantId && r.CustomerId == fromCustomerId)
            .ExecuteUpdateAsync(s => s.SetProperty(r => r.CustomerId, toCustomerId).SetProperty(r => r.Version, r => r.Version + 1), cancellationToken)
            .ConfigureAwait(false);

    /// <inheritdoc />
    public async ValueTask<int> EraseTextAsync(string tenantId, Guid customerId, CancellationToken cancellationToken)
    {
        // Status notes live inside the history document, so the rows are rewritten rather than updated in SQL.
        var rows = await _context.Set<ServiceCaseRow>().Where(r => r.TenantId == tenantId && r.CustomerId == customerId).ToListAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            foreach (var row in rows)
            {
                var scrubbed = row.ToCase() with { Subject = null, Description = null };
                row.Subject = null;
                row.Description = null;
                row.History = JsonSerializer.Serialize(scrubbed.History.Select(h => h with { Note = null }), RowJson.Options);
                row.Version++;
            }

            await _context.SaveChangesAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (DbUpdateConcurrencyException ex)
        {
            throw new ConcurrencyConflictException(nameof(ServiceCase), rows.Count > 0 ? rows[0].Id : Guid.Empty, 0, ex);
        }
        finally
        {
            StoreWrites.DetachCrmRows(_context);
        }

        return rows.Count;
    }

    /// <inheritdoc />
    public async ValueTask<IReadOnlyList<SlaPolicy>> ListPoliciesAsync(string tenantId, CancellationToken cancellationToken)
    {
        var rows = await Policies(tenantId).OrderBy(r => r.Id).ToListAsync(cancellationToken).ConfigureAwait(false);
        return rows.ConvertAll(r => r.ToPolicy());
    }

    /// <inheritdoc />
    public async ValueTask CreatePolicyAsync(SlaPolicy policy, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(policy);
        await CheckUniqueAsync(policy, cancellationToken).ConfigureAwait(false);
        _context.Add(SlaPolicyRow.From(policy));
        await SavePolicyAsync(policy, 0, cancellationToken).ConfigureAwait(false);
    }

    /// <inheritdoc />
    public async ValueTask UpdatePolicyAsync(SlaPolicy policy, long expectedVersion, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(policy);
        await CheckUniqueAsync(policy, cancellationToken).ConfigureAwait(false);
        StoreWrites.AttachUpdate(_context, SlaPolicyRow.From(policy), expectedVersion);
        await SavePolicyAsync(policy, expectedVersion, cancellationToken).ConfigureAwait(false);
    }

    /// <inheritdoc />
    public async ValueTask DeletePolicyAsync(string tenantId, Guid id, long expectedVersion, CancellationToken cancellationToken)
    {
        var deleted = await _context.Set<SlaPolicyRow>().Where(r => r.TenantId == tenantId && r.Id == id && r.Version == expectedVersion)
            .ExecuteDeleteAsync(cancellationToken).ConfigureAwait(false);
        if (deleted == 0)
        {
            throw await Policies(tenantId).AnyAsync(r => r.Id == id, cancellationToken).ConfigureAwait(false)
                ? new ConcurrencyConflictException(nameof(SlaPolicy), id, expectedVersion)
                : new EntityNotFoundException(nameof(SlaPolicy), id);
        }
    }

    /// <summary>Reports which rule a policy breaks before writing, so the error names the field (the unique indexes still guard races).</summary>
    private async ValueTask CheckUniqueAsync(SlaPolicy policy, CancellationToken cancellationToken)
    {
        var kindKey = policy.Kind ?? string.Empty;
        var clash = await Policies(policy.TenantId)
            .Where(r => r.Id != policy.Id && (r.Name == policy.Name || (r.Priority == policy.Priority && r.KindKey == kindKey)))
            .Select(r => r.Name)
            .FirstOrDefaultAsync(cancellationToken).ConfigureAwait(false);
        if (clash is not null)
        {
            throw clash == policy.Name
                ? new DuplicateValueException(nameof(SlaPolicy.Name), policy.Name)
                : new DuplicateValueException(nameof(SlaPolicy.Priority), $"{policy.Priority}/{policy.Kind ?? "any kind"}");
        }
    }

    private async ValueTask SavePolicyAsync(SlaPolicy policy, long expectedVersion, CancellationToken cancellationToken)
    {
        try
        {
            await StoreWrites.SaveAsync(_context, nameof(SlaPolicy), policy.Id, expectedVersion, cancellationToken).ConfigureAwait(false);
        }
        catch (DbUpdateException ex) when (UniqueViolation.Is(ex))
        {
            throw new DuplicateValueException(nameof(SlaPolicy.Name), policy.Name, ex);
        }
    }
}

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
