using System.Linq.Expressions;
using System.Reflection;
using Crm.Kit.Customers;
using Crm.Kit.InMemory;
using Crm.Kit.Segmentation;

namespace Crm.Kit.Feedback;

/// <summary>
/// Contributes a customer's latest NPS answer as segment fields, so that rules such as
/// "<c>feedback.npsCategory</c> equals detractor" select unhappy customers. Registered by <c>AddFeedback()</c>.
/// Customers who never answered an NPS survey have both fields unset. In memory the fields read the in-memory
/// feedback store; the EF Core adapter binds them to its latest-NPS table, so rules using them run in SQL.
/// </summary>
public sealed class FeedbackFields : ISegmentFieldProvider
{
    /// <summary>The latest NPS score, 0–10.</summary>
    public const string Nps = "feedback.nps";

    /// <summary>The latest NPS group: <c>promoter</c>, <c>passive</c> or <c>detractor</c>.</summary>
    public const string NpsCategory = "feedback.npsCategory";

    private static readonly MethodInfo FindMethod = typeof(InMemoryFeedbackStore).GetMethod(nameof(InMemoryFeedbackStore.FindLatestNps))!;

    private readonly InMemoryFeedbackStore _inMemory;

    /// <summary>Creates the provider; in-memory rules read <paramref name="inMemory"/>.</summary>
    public FeedbackFields(InMemoryFeedbackStore inMemory) => _inMemory = inMemory ?? throw new ArgumentNullException(nameof(inMemory));

    /// <summary>The names of every field contributed.</summary>
    public static IReadOnlyList<string> Names { get; } = [Nps, NpsCategory];

    /// <summary>The text a category is stored and compared as.</summary>
    public static string CategoryText(NpsCategory category) => category switch
    {
        Feedback.NpsCategory.Promoter => "promoter",
        Feedback.NpsCategory.Passive => "passive",
        _ => "detractor",
    };

    /// <inheritdoc />
    public IEnumerable<SegmentField> GetFields()
    {
        yield return SegmentField.Number(Nps, "The customer's latest NPS score (0–10); unset for customers who never answered.", Read<long?>(nameof(FeedbackAccess.Nps)));
        yield return SegmentField.Text(NpsCategory, "The customer's latest NPS group: promoter (9–10), passive (7–8) or detractor (0–6).", Read<string?>(nameof(FeedbackAccess.NpsCategory)));
    }

    private Expression<Func<Customer, T>> Read<T>(string reader) => StoreFieldReader.Read<T>(_inMemory, FindMethod, typeof(FeedbackAccess), reader);
}

/// <summary>Readers the in-memory feedback fields use. Public only because compiled rules call them.</summary>
[System.ComponentModel.EditorBrowsable(System.ComponentModel.EditorBrowsableState.Never)]
public static class FeedbackAccess
{
    /// <summary>The latest score, or null.</summary>
    public static long? Nps(LatestNps? latest) => latest?.Score;

    /// <summary>The latest group, or null.</summary>
    public static string? NpsCategory(LatestNps? latest) => latest is null ? null : FeedbackFields.CategoryText(latest.Category);
}
