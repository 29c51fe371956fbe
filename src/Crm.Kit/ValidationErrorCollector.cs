namespace Crm.Kit;

/// <summary>Collects every broken rule of one input, then throws them together.</summary>
internal sealed class ValidationErrorCollector
{
    private List<ValidationError>? _errors;

    public bool HasErrors => _errors is { Count: > 0 };

    public IReadOnlyList<ValidationError> Errors => _errors ?? [];

    /// <summary>Whether any error was reported at <paramref name="path"/> or below it.</summary>
    public bool HasErrorsAt(string path) => _errors?.Any(e => e.Field.StartsWith(path, StringComparison.Ordinal)) == true;

    public void Add(string field, string rule, string message) =>
        (_errors ??= []).Add(new ValidationError(field, rule, message));

    public void Required(string field, string? value)
    {
        if (string.IsNullOrWhiteSpace(value))
        {
            Add(field, "required", "is required and must not be blank");
        }
    }

    /// <summary>
    /// Checks a text field: at most <paramref name="max"/> characters, and only characters every store can keep
    /// (PostgreSQL's text cannot hold U+0000, and no UTF-8 column can hold half of a surrogate pair).
    /// </summary>
    public void Text(string field, string? value, int max)
    {
        if (value is null)
        {
            return;
        }

        if (value.Length > max)
        {
            Add(field, "max-length", $"must be at most {max} characters (was {value.Length})");
        }
        else if (InputText.IndexOfUnstorable(value) is >= 0 and var at)
        {
            Add(field, "text-encoding", $"must be valid Unicode text without U+0000; {InputText.CodePointAt(value, at)} stands at position {at}");
        }
    }

    public void MaxCount<T>(string field, IReadOnlyCollection<T>? items, int max)
    {
        if (items is not null && items.Count > max)
        {
            Add(field, "max-count", $"must hold at most {max} items (was {items.Count})");
        }
    }

    public void Defined<TEnum>(string field, TEnum value)
        where TEnum : struct, Enum
    {
        if (!Enum.IsDefined(value))
        {
            Add(field, "defined-value", $"'{value}' is not a defined {typeof(TEnum).Name}");
        }
    }

    /// <summary>
    /// Checks a time that records something that has happened: not before <see cref="TimeRanges.Earliest"/>, and not
    /// later than now plus the allowed clock skew.
    /// </summary>
    public void Happened(string field, DateTimeOffset value, DateTimeOffset now, TimeSpan allowedSkew)
    {
        if (value < TimeRanges.Earliest)
        {
            Add(field, "time-range", $"must not lie before {TimeRanges.Earliest:yyyy-MM-dd} (was {value:O})");
        }
        else if (value > now + allowedSkew)
        {
            Add(field, "not-future", $"records something that has happened, so it may lie at most {allowedSkew} after now (was {value:O}, now {now:O})");
        }
    }

    /// <summary>Checks a planned time: not before <see cref="TimeRanges.Earliest"/>, and at most <see cref="TimeRanges.PlanningHorizon"/> ahead.</summary>
    public void Planned(string field, DateTimeOffset value, DateTimeOffset now)
    {
        if (value < TimeRanges.Earliest || value > now + TimeRanges.PlanningHorizon)
        {
            Add(field, "time-range", $"must lie between {TimeRanges.Earliest:yyyy-MM-dd} and 100 years from now (was {value:O})");
        }
    }

    /// <summary>Checks a planned day, as <see cref="Planned(string, DateTimeOffset, DateTimeOffset)"/> does for its start.</summary>
    public void Planned(string field, DateOnly value, DateTimeOffset now) =>
        Planned(field, new DateTimeOffset(value.ToDateTime(TimeOnly.MinValue), TimeSpan.Zero), now);

    public void ThrowIfAny()
    {
        if (_errors is { Count: > 0 })
        {
            throw new CrmValidationException(_errors);
        }
    }
}
