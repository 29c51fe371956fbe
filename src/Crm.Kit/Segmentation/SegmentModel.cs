using Crm.Kit.Customers;

namespace Crm.Kit.Segmentation;

/// <summary>Whether a segment's members follow a rule or are listed by hand.</summary>
public enum SegmentKind
{
    /// <summary>Members are the customers matching <see cref="Segment.Rule"/>, kept up to date as customers change.</summary>
    Dynamic = 0,

    /// <summary>A static list: members are added and removed explicitly.</summary>
    Static = 1,
}

/// <summary>A named group of customers: dynamic (a rule) or static (a list).</summary>
public sealed record Segment
{
    /// <summary>The id.</summary>
    public required Guid Id { get; init; }

    /// <summary>The owning tenant.</summary>
    public required string TenantId { get; init; }

    /// <summary>The optimistic-concurrency version.</summary>
    public long Version { get; init; }

    /// <summary>The name, unique per tenant.</summary>
    public required string Name { get; init; }

    /// <summary>An optional description.</summary>
    public string? Description { get; init; }

    /// <summary>Dynamic or static.</summary>
    public SegmentKind Kind { get; init; }

    /// <summary>For a dynamic segment, its rule; <see langword="null"/> for a static list.</summary>
    public SegmentRule? Rule { get; init; }

    /// <summary>When the segment was created.</summary>
    public DateTimeOffset CreatedAt { get; init; }

    /// <summary>When the segment last changed.</summary>
    public DateTimeOffset UpdatedAt { get; init; }

    /// <summary>
    /// Why the last evaluation of this dynamic segment failed (for example, its rule names a field whose module is
    /// no longer registered), or <see langword="null"/> when it succeeded. A failing segment is left out of membership
    /// updates and re-evaluation, which go on for every other segment; the next successful evaluation clears it.
    /// </summary>
    public string? EvaluationError { get; init; }

    /// <summary>When <see cref="EvaluationError"/> was recorded.</summary>
    public DateTimeOffset? EvaluationFailedAt { get; init; }
}

/// <summary>What a caller sets on a segment.</summary>
public sealed record SegmentDraft
{
    /// <summary>The name, unique per tenant, at most 200 characters.</summary>
    public required string Name { get; init; }

    /// <summary>An optional description, at most 2,000 characters.</summary>
    public string? Description { get; init; }

    /// <summary>The rule of a dynamic segment; leave <see langword="null"/> for a static list.</summary>
    public SegmentRule? Rule { get; init; }

    /// <summary>A dynamic segment.</summary>
    public static SegmentDraft Dynamic(string name, SegmentRule rule, string? description = null) =>
        new() { Name = name, Rule = rule ?? throw new ArgumentNullException(nameof(rule)), Description = description };

    /// <summary>A static list.</summary>
    public static SegmentDraft Static(string name, string? description = null) => new() { Name = name, Description = description };
}

/// <summary>A customer became a member of a segment (published once per transition).</summary>
public sealed record SegmentEntered : CrmEvent
{
    /// <summary>The segment.</summary>
    public required Guid SegmentId { get; init; }

    /// <summary>The customer.</summary>
    public required Guid CustomerId { get; init; }
}

/// <summary>A customer stopped being a member of a segment (published once per transition).</summary>
public sealed record SegmentExited : CrmEvent
{
    /// <summary>The segment.</summary>
    public required Guid SegmentId { get; init; }

    /// <summary>The customer.</summary>
    public required Guid CustomerId { get; init; }
}

/// <summary>What a full re-evaluation changed.</summary>
/// <param name="SegmentsEvaluated">Dynamic segments evaluated.</param>
/// <param name="Entered">Memberships gained.</param>
/// <param name="Exited">Memberships lost.</param>
public sealed record SegmentReevaluation(int SegmentsEvaluated, long Entered, long Exited)
{
    /// <summary>The dynamic segments whose evaluation failed and were left as they were (see <see cref="Segment.EvaluationError"/>).</summary>
    public IReadOnlyList<Guid> Failed { get; init; } = [];

    /// <summary>Equal when the counts are equal and the same segments failed, in the same order.</summary>
    public bool Equals(SegmentReevaluation? other) =>
        other is not null && (SegmentsEvaluated, Entered, Exited) == (other.SegmentsEvaluated, other.Entered, other.Exited) && Failed.SequenceEqual(other.Failed);

    /// <inheritdoc />
    public override int GetHashCode() => HashCode.Combine(SegmentsEvaluated, Entered, Exited, Failed.Count);

    /// <inheritdoc />
    public override string ToString() => $"{SegmentsEvaluated} evaluated, {Entered} entered, {Exited} exited, {Failed.Count} failed";
}

/// <summary>A rule's result before it is saved.</summary>
/// <param name="Count">How many live customers match now.</param>
/// <param name="Sample">The first matching customers, by id.</param>
public sealed record SegmentPreview(long Count, IReadOnlyList<Customer> Sample);
