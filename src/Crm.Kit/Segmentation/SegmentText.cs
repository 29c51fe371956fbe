using System.Runtime.CompilerServices;
using Crm.Kit.Customers;

namespace Crm.Kit.Segmentation;

/// <summary>
/// The one case-folding rule segments use, so that a comparison made in memory and one made by a database over a
/// stored folded column agree exactly: each UTF-16 character is lower-cased with the invariant culture.
/// Adapters store text fields folded with <see cref="Fold"/>; values in rules are folded the same way.
/// </summary>
public static class SegmentText
{
    /// <summary>Folds text for comparison; <see langword="null"/> and empty text stay <see langword="null"/>.</summary>
    public static string? Fold(string? text)
    {
        if (string.IsNullOrEmpty(text))
        {
            return null;
        }

        return string.Create(text.Length, text, static (span, source) =>
        {
            for (var i = 0; i < span.Length; i++)
            {
                span[i] = char.ToLowerInvariant(source[i]);
            }
        });
    }

    // The comparisons below fold the stored side one character at a time, so evaluating a rule allocates nothing.

    internal static bool EqualsFolded(string? raw, string folded) =>
        raw is not null && raw.Length == folded.Length && MatchesAt(raw, folded, 0);

    internal static bool StartsWithFolded(string? raw, string folded) =>
        raw is not null && raw.Length >= folded.Length && MatchesAt(raw, folded, 0);

    internal static bool EndsWithFolded(string? raw, string folded) =>
        raw is not null && raw.Length >= folded.Length && MatchesAt(raw, folded, raw.Length - folded.Length);

    internal static bool ContainsFolded(string? raw, string folded)
    {
        if (raw is null || raw.Length < folded.Length)
        {
            return false;
        }

        for (var start = 0; start <= raw.Length - folded.Length; start++)
        {
            if (MatchesAt(raw, folded, start))
            {
                return true;
            }
        }

        return false;
    }

    internal static bool InFolded(string? raw, string[] folded)
    {
        if (raw is null)
        {
            return false;
        }

        foreach (var value in folded)
        {
            if (EqualsFolded(raw, value))
            {
                return true;
            }
        }

        return false;
    }

    internal static bool IsSet(string? raw) => !string.IsNullOrEmpty(raw);

    internal static bool ListHasAny(IReadOnlyList<string>? list, string[] folded)
    {
        if (list is null)
        {
            return false;
        }

        for (var i = 0; i < list.Count; i++)
        {
            if (InFolded(list[i], folded))
            {
                return true;
            }
        }

        return false;
    }

    internal static bool ListHasAll(IReadOnlyList<string>? list, string[] folded)
    {
        foreach (var value in folded)
        {
            if (!ListHasAny(list, [value]))
            {
                return false;
            }
        }

        return true;
    }

    internal static bool ListIsSet(IReadOnlyList<string>? list) => list is { Count: > 0 };

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static bool MatchesAt(string raw, string folded, int start)
    {
        for (var i = 0; i < folded.Length; i++)
        {
            if (char.ToLowerInvariant(raw[start + i]) != folded[i])
            {
                return false;
            }
        }

        return true;
    }
}

/// <summary>Readers the in-memory field definitions use; kept small so compiled rules inline them.</summary>
internal static class SegmentAccess
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static long? Ticks(DateTimeOffset? time) => time is { } t ? t.UtcTicks : null;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static long? DaysSince(DateTimeOffset? time, long nowTicks) => time is { } t ? (nowTicks - t.UtcTicks) / TimeSpan.TicksPerDay : null;

    public static string? AttributeText(IReadOnlyDictionary<string, AttributeValue> attributes, string key) =>
        attributes.TryGetValue(key, out var value) && value.Kind == AttributeKind.Text ? value.Text : null;

    public static decimal? AttributeNumber(IReadOnlyDictionary<string, AttributeValue> attributes, string key) =>
        attributes.TryGetValue(key, out var value) && value.Kind == AttributeKind.Number ? value.Number : null;

    public static long? AttributeDate(IReadOnlyDictionary<string, AttributeValue> attributes, string key) =>
        attributes.TryGetValue(key, out var value) && value.Kind == AttributeKind.Date ? DayTicks(value.Date) : null;

    public static bool? AttributeBoolean(IReadOnlyDictionary<string, AttributeValue> attributes, string key) =>
        attributes.TryGetValue(key, out var value) && value.Kind == AttributeKind.Boolean ? value.Boolean : null;

    public static IReadOnlyList<string>? AttributeList(IReadOnlyDictionary<string, AttributeValue> attributes, string key) =>
        attributes.TryGetValue(key, out var value) && value.Kind == AttributeKind.TextList ? value.TextList : null;

    /// <summary>A calendar day as the ticks of its midnight: how day-valued fields are stored and compared.</summary>
    public static long DayTicks(DateOnly day) => day.DayNumber * TimeSpan.TicksPerDay;
}
