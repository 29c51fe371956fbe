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

    public void MaxLength(string field, string? value, int max)
    {
        if (value is not null && value.Length > max)
        {
            Add(field, "max-length", $"must be at most {max} characters (was {value.Length})");
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

    public void ThrowIfAny()
    {
        if (_errors is { Count: > 0 })
        {
            throw new CrmValidationException(_errors);
        }
    }
}
