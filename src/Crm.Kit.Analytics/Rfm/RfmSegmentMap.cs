using Crm.Kit.Insights;

namespace Crm.Kit.Analytics;

/// <summary>An inclusive range of scores from 1 to 5.</summary>
/// <param name="Min">The lowest score in the range.</param>
/// <param name="Max">The highest score in the range.</param>
public readonly record struct ScoreRange(int Min, int Max)
{
    /// <summary>Every score, 1 to 5.</summary>
    public static ScoreRange Any { get; } = new(1, 5);

    /// <summary>Whether <paramref name="score"/> lies in the range.</summary>
    public bool Contains(int score) => score >= Min && score <= Max;

    /// <inheritdoc />
    public override string ToString() => Min == Max ? $"{Min}" : $"{Min}-{Max}";
}

/// <summary>A named RFM segment: the score cells it claims.</summary>
/// <param name="Name">The segment's name.</param>
/// <param name="Recency">Recency scores claimed.</param>
/// <param name="Frequency">Frequency scores claimed.</param>
/// <param name="Monetary">Monetary scores claimed.</param>
public sealed record RfmSegmentRule(string Name, ScoreRange Recency, ScoreRange Frequency, ScoreRange Monetary)
{
    /// <summary>Whether the scores fall in this segment's ranges.</summary>
    public bool Matches(int recency, int frequency, int monetary) =>
        Recency.Contains(recency) && Frequency.Contains(frequency) && Monetary.Contains(monetary);
}

/// <summary>
/// Names RFM score cells. Rules are tried in order and the first match names the cell, but a map is accepted only
/// when that order does not matter in the way that hurts: every one of the 125 (R, F, M) cells must be claimed, and
/// every rule must win at least one cell — a rule shadowed by earlier ones (as four of the eleven in the common
/// vignette table are) is a mistake in the map, and the constructor says which.
/// </summary>
public sealed class RfmSegmentMap
{
    private readonly string[] _cells = new string[125];

    /// <summary>Builds and checks a map.</summary>
    /// <exception cref="CrmValidationException">A range is outside 1–5, a name is blank or repeated, a cell is unclaimed, or a rule never wins.</exception>
    public RfmSegmentMap(IEnumerable<RfmSegmentRule> rules)
    {
        ArgumentNullException.ThrowIfNull(rules);
        var list = rules.ToList();
        Rules = list;
        var errors = new List<ValidationError>();
        var names = new HashSet<string>(StringComparer.Ordinal);
        for (var i = 0; i < Rules.Count; i++)
        {
            var rule = Rules[i];
            if (string.IsNullOrWhiteSpace(rule.Name) || !names.Add(rule.Name))
            {
                errors.Add(new ValidationError($"rules[{i}].Name", "unique-name", $"Segment names must be non-blank and unique; '{rule.Name}' is not."));
            }
            else if (rule.Name.Length > CustomerInsight.MaxSegmentNameLength)
            {
                errors.Add(new ValidationError($"rules[{i}].Name", "max-length", $"Segment names are stored with each customer's insight, so at most {CustomerInsight.MaxSegmentNameLength} characters; '{rule.Name[..20]}…' has {rule.Name.Length}."));
            }

            foreach (var (range, field) in new[] { (rule.Recency, "Recency"), (rule.Frequency, "Frequency"), (rule.Monetary, "Monetary") })
            {
                if (range.Min < 1 || range.Max > 5 || range.Min > range.Max)
                {
                    errors.Add(new ValidationError($"rules[{i}].{field}", "range", $"Score ranges lie within 1-5 with min ≤ max; {range.Min}-{range.Max} does not."));
                }
            }
        }

        if (errors.Count == 0)
        {
            var wins = new int[Rules.Count];
            var unclaimed = new List<string>();
            for (var r = 1; r <= 5; r++)
            {
                for (var f = 1; f <= 5; f++)
                {
                    for (var m = 1; m <= 5; m++)
                    {
                        var index = list.FindIndex(rule => rule.Matches(r, f, m));
                        if (index < 0)
                        {
                            unclaimed.Add($"{r}{f}{m}");
                        }
                        else
                        {
                            wins[index]++;
                            _cells[Cell(r, f, m)] = Rules[index].Name;
                        }
                    }
                }
            }

            if (unclaimed.Count > 0)
            {
                errors.Add(new ValidationError("rules", "covers-every-cell", $"{unclaimed.Count} score cells match no segment, for example RFM {string.Join(", ", unclaimed.Take(5))}."));
            }

            for (var i = 0; i < Rules.Count; i++)
            {
                if (wins[i] == 0)
                {
                    errors.Add(new ValidationError($"rules[{i}]", "reachable", $"'{Rules[i].Name}' never applies: every cell it claims is taken by an earlier rule."));
                }
            }
        }

        if (errors.Count > 0)
        {
            throw new CrmValidationException(errors);
        }
    }

    /// <summary>
    /// The map used unless a host supplies its own: the widespread R×F grid, whose ten rules partition the 25 (R, F)
    /// cells exactly (the monetary score does not affect the segment).
    /// </summary>
    public static RfmSegmentMap Default { get; } = new(
    [
        new("Champions", new(5, 5), new(4, 5), ScoreRange.Any),
        new("Loyal Customers", new(3, 4), new(4, 5), ScoreRange.Any),
        new("Potential Loyalists", new(4, 5), new(2, 3), ScoreRange.Any),
        new("New Customers", new(5, 5), new(1, 1), ScoreRange.Any),
        new("Promising", new(4, 4), new(1, 1), ScoreRange.Any),
        new("Need Attention", new(3, 3), new(3, 3), ScoreRange.Any),
        new("About To Sleep", new(3, 3), new(1, 2), ScoreRange.Any),
        new("Can't Lose Them", new(1, 2), new(5, 5), ScoreRange.Any),
        new("At Risk", new(1, 2), new(3, 4), ScoreRange.Any),
        new("Hibernating", new(1, 2), new(1, 2), ScoreRange.Any),
    ]);

    /// <summary>The rules, in the order they are tried.</summary>
    public IReadOnlyList<RfmSegmentRule> Rules { get; }

    /// <summary>The segment of a score cell.</summary>
    public string Classify(int recency, int frequency, int monetary)
    {
        if (recency is < 1 or > 5 || frequency is < 1 or > 5 || monetary is < 1 or > 5)
        {
            throw new CrmValidationException("scores", "range", $"RFM scores lie within 1-5; {recency}{frequency}{monetary} does not.");
        }

        return _cells[Cell(recency, frequency, monetary)];
    }

    private static int Cell(int r, int f, int m) => ((r - 1) * 25) + ((f - 1) * 5) + (m - 1);
}
