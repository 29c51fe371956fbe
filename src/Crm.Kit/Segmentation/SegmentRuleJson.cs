using System.Text.Json;
using System.Text.Json.Serialization;

namespace Crm.Kit.Segmentation;

/// <summary>
/// Reads and writes segment rules in the documented, versioned JSON format:
/// <c>{"version":1,"rule":{"all":[{"field":"orderCount","op":"greaterThan","value":3}]}}</c>.
/// Writing is canonical, so a rule read and written again gives the same text.
/// </summary>
public static class SegmentRuleJson
{
    /// <summary>The format version this library writes and reads.</summary>
    public const int CurrentVersion = 1;

    /// <summary>Largest document accepted, in characters.</summary>
    public const int MaxLength = 1_000_000;

    /// <summary>Writes a rule as a versioned document.</summary>
    public static string Serialize(SegmentRule rule)
    {
        ArgumentNullException.ThrowIfNull(rule);
        return JsonSerializer.Serialize(new RuleDocumentDto { Version = CurrentVersion, Rule = ToDto(rule) }, RuleJsonContext.Default.RuleDocumentDto);
    }

    /// <summary>
    /// Reads a versioned document and validates it against <paramref name="registry"/> (Crm.Kit's own fields when
    /// not given).
    /// </summary>
    /// <exception cref="CrmValidationException">Every problem found, each with its JSON path.</exception>
    /// <exception cref="JsonException">
    /// The text is not well-formed JSON (invalid UTF-16 and escaped lone surrogates included), or a property has a
    /// JSON type that cannot hold it.
    /// </exception>
    public static SegmentRule Parse(string json, SegmentFieldRegistry? registry = null) =>
        Parse(json, registry ?? SegmentFieldRegistry.Default, checkFields: true);

    /// <summary>
    /// Reads a rule a store wrote, checking its form but not its fields: a stored rule may name a field whose module
    /// is no longer registered, and reading it must not fail every other segment. <see cref="SegmentManager"/>
    /// checks each segment's fields when it evaluates it, and reports the one that fails on that segment.
    /// </summary>
    /// <exception cref="CrmValidationException">The document is not a rule in the documented format.</exception>
    /// <exception cref="JsonException">The text is not well-formed JSON.</exception>
    public static SegmentRule ReadStored(string json) => Parse(json, SegmentFieldRegistry.Default, checkFields: false);

    private static SegmentRule Parse(string json, SegmentFieldRegistry registry, bool checkFields)
    {
        ArgumentNullException.ThrowIfNull(json);
        var errors = new ValidationErrorCollector();
        if (json.Length > MaxLength)
        {
            throw new CrmValidationException("$", "max-length", $"a rule document may be at most {MaxLength} characters (was {json.Length})");
        }

        var document = Deserialize(json);
        if (document is null)
        {
            throw new CrmValidationException("$", "required", "a rule document is an object with 'version' and 'rule'");
        }

        Unknown(document.Extra, "$", errors);
        if (document.Version is not { } version)
        {
            errors.Add("$.version", "required", $"the format version is required (currently {CurrentVersion})");
        }
        else if (version != CurrentVersion)
        {
            errors.Add("$.version", "unsupported-version", $"version {version} is not supported; this library reads version {CurrentVersion}");
        }

        var walk = new SegmentRuleValidator.Walk(registry, errors, checkFields);
        var rule = Read(document.Rule, SegmentRuleValidator.RootPath, 1, walk);
        walk.Finish(SegmentRuleValidator.RootPath);
        errors.ThrowIfAny();
        return rule!;
    }

    // System.Text.Json refuses text that is not valid UTF-16 with exceptions other than JsonException (an
    // ArgumentException for a raw lone surrogate, an InvalidOperationException for an escaped one such as \ud800):
    // both mean the document is not well-formed, which is what JsonException documents.
    private static RuleDocumentDto? Deserialize(string json)
    {
        if (InputText.IndexOfLoneSurrogate(json) is >= 0 and var at)
        {
            throw new JsonException($"The rule document is not valid UTF-16 text: a lone surrogate {InputText.CodePointAt(json, at)} stands at position {at}.");
        }

        try
        {
            return JsonSerializer.Deserialize(json, RuleJsonContext.Default.RuleDocumentDto);
        }
        catch (InvalidOperationException e)
        {
            throw new JsonException("The rule document holds a string that is not valid Unicode (an escaped lone surrogate such as \\ud800): " + e.Message, e);
        }
    }

    // A value stays raw JSON until read here, so an escaped lone surrogate inside it surfaces only now.
    private static string StringOf(JsonElement element)
    {
        try
        {
            return element.GetString()!;
        }
        catch (InvalidOperationException e)
        {
            throw new JsonException("The rule document holds a string that is not valid Unicode (an escaped lone surrogate such as \\ud800): " + e.Message, e);
        }
    }

    private static SegmentRule? Read(RuleNodeDto? node, string path, int depth, SegmentRuleValidator.Walk walk)
    {
        var errors = walk.Errors;
        if (node is null)
        {
            errors.Add(path, "required", "must be a group (all, any or none) or a condition (field and op)");
            return null;
        }

        Unknown(node.Extra, path, errors);
        var groups = (node.All is null ? 0 : 1) + (node.Any is null ? 0 : 1) + (node.None is null ? 0 : 1);
        var isCondition = node.Field is not null || node.Op is not null;
        if (groups + (isCondition ? 1 : 0) != 1)
        {
            errors.Add(path, "node-kind", "must be exactly one of: a group (all, any or none) or a condition (field and op)");
            return null;
        }

        if (groups == 1)
        {
            var (kind, children) = node.All is not null ? (RuleGroupKind.All, node.All) : node.Any is not null ? (RuleGroupKind.Any, node.Any) : (RuleGroupKind.None, node.None!);
            if (!walk.EnterGroup(path, depth, children.Count))
            {
                return null;
            }

            var rules = new SegmentRule[children.Count];
            var complete = true;
            for (var i = 0; i < children.Count; i++)
            {
                var child = Read(children[i], $"{path}.{SegmentRuleValidator.GroupName(kind)}[{i}]", depth + 1, walk);
                complete &= child is not null;
                rules[i] = child!;
            }

            return complete ? new RuleGroup(kind, rules) : null;
        }

        return ReadCondition(node, path, walk);
    }

    private static RuleCondition? ReadCondition(RuleNodeDto node, string path, SegmentRuleValidator.Walk walk)
    {
        var errors = walk.Errors;
        var ok = true;
        if (node.Field is null)
        {
            errors.Add(path + ".field", "required", "a condition needs a field");
            ok = false;
        }

        RuleOperator op = default;
        if (node.Op is null)
        {
            errors.Add(path + ".op", "required", "a condition needs an operator");
            ok = false;
        }
        else if (!TryEnum(node.Op, out op))
        {
            errors.Add(path + ".op", "unknown-operator", $"{InputText.Quote(node.Op)} is not an operator; known: {string.Join(", ", Enum.GetValues<RuleOperator>().Select(Names.Operator))}");
            ok = false;
        }

        RelativeDateUnit? unit = null;
        if (node.Unit is not null)
        {
            if (TryEnum<RelativeDateUnit>(node.Unit, out var parsedUnit))
            {
                unit = parsedUnit;
            }
            else
            {
                errors.Add(path + ".unit", "unknown-unit", $"{InputText.Quote(node.Unit)} is not a unit; use days, weeks or months");
                ok = false;
            }
        }

        SegmentValueType? type = null;
        if (node.Type is not null)
        {
            if (TryEnum<SegmentValueType>(node.Type, out var parsedType))
            {
                type = parsedType;
            }
            else
            {
                errors.Add(path + ".type", "unknown-type", $"{InputText.Quote(node.Type)} is not a type; use text, number, date, boolean or textList");
                ok = false;
            }
        }

        if (node.Value is not null && node.Values is not null)
        {
            errors.Add(path, "value-and-values", "give either 'value' or 'values', not both");
            ok = false;
        }

        var values = new List<RuleValue>();
        if (node.Value is { } single)
        {
            ok &= ReadValue(single, path + ".value", values, errors);
        }
        else if (node.Values is { } many)
        {
            if (many.Count > SegmentRuleValidator.MaxValues)
            {
                errors.Add(path + ".values", "max-count", $"a condition may list at most {SegmentRuleValidator.MaxValues} values (got {many.Count})");
                return null;
            }

            for (var i = 0; i < many.Count; i++)
            {
                ok &= ReadValue(many[i], $"{path}.values[{i}]", values, errors);
            }
        }

        if (!ok)
        {
            return null;
        }

        var condition = new RuleCondition(node.Field!, op, values) { Amount = node.Amount, Unit = unit, ValueType = type };
        walk.Condition(condition, path);
        return condition;
    }

    private static bool ReadValue(JsonElement element, string path, List<RuleValue> values, ValidationErrorCollector errors)
    {
        switch (element.ValueKind)
        {
            case JsonValueKind.String:
                values.Add(RuleValue.FromText(StringOf(element)));
                return true;
            case JsonValueKind.Number when element.TryGetDecimal(out var number):
                values.Add(RuleValue.FromNumber(number));
                return true;
            case JsonValueKind.Number:
                errors.Add(path, "number-range", "the number is too large or too precise for a decimal");
                return false;
            case JsonValueKind.True or JsonValueKind.False:
                values.Add(RuleValue.FromBoolean(element.GetBoolean()));
                return true;
            default:
                errors.Add(path, "value-type", $"must be a string, a number or a boolean, not {element.ValueKind.ToString().ToLowerInvariant()}");
                return false;
        }
    }

    private static void Unknown(Dictionary<string, JsonElement>? extra, string path, ValidationErrorCollector errors)
    {
        if (extra is null)
        {
            return;
        }

        foreach (var name in extra.Keys.Take(10))
        {
            errors.Add($"{path}.{InputText.Prefix(name)}", "unknown-property", "is not part of the rule format");
        }
    }

    private static bool TryEnum<TEnum>(string text, out TEnum value)
        where TEnum : struct, Enum
    {
        // Names only: Enum.TryParse would also accept numbers, and "3" is not an operator.
        foreach (var candidate in Enum.GetValues<TEnum>())
        {
            if (string.Equals(candidate.ToString(), text, StringComparison.OrdinalIgnoreCase))
            {
                value = candidate;
                return true;
            }
        }

        value = default;
        return false;
    }

    private static RuleNodeDto ToDto(SegmentRule rule)
    {
        switch (rule)
        {
            case RuleGroup group:
                var children = group.Rules.Select(ToDto).ToList();
                return group.Kind switch
                {
                    RuleGroupKind.All => new RuleNodeDto { All = children! },
                    RuleGroupKind.Any => new RuleNodeDto { Any = children! },
                    _ => new RuleNodeDto { None = children! },
                };
            case RuleCondition condition:
                var single = Operators.ValueCount(condition.Operator).Max == 1 && condition.Values.Count == 1;
                return new RuleNodeDto
                {
                    Field = condition.Field,
                    Op = Names.Operator(condition.Operator),
                    Type = condition.ValueType is { } type ? Names.Type(type) : null,
                    Value = single ? ToElement(condition.Values[0]) : null,
                    Values = single || condition.Values.Count == 0 ? null : condition.Values.Select(ToElement).ToList(),
                    Amount = condition.Amount,
                    Unit = condition.Unit is { } unit ? Names.Unit(unit) : null,
                };
            default:
                throw new ArgumentException($"Unknown rule node {rule.GetType().Name}.", nameof(rule));
        }
    }

    private static JsonElement ToElement(RuleValue value) => value.Kind switch
    {
        RuleValueKind.Text => JsonSerializer.SerializeToElement(value.Text!, RuleJsonContext.Default.String),
        RuleValueKind.Number => JsonSerializer.SerializeToElement(value.Number, RuleJsonContext.Default.Decimal),
        _ => JsonSerializer.SerializeToElement(value.Boolean, RuleJsonContext.Default.Boolean),
    };
}

internal sealed class RuleDocumentDto
{
    [JsonPropertyOrder(0)]
    public int? Version { get; set; }

    [JsonPropertyOrder(1)]
    public RuleNodeDto? Rule { get; set; }

    [JsonExtensionData]
    public Dictionary<string, JsonElement>? Extra { get; set; }
}

internal sealed class RuleNodeDto
{
    [JsonPropertyOrder(0)]
    public List<RuleNodeDto?>? All { get; set; }

    [JsonPropertyOrder(1)]
    public List<RuleNodeDto?>? Any { get; set; }

    [JsonPropertyOrder(2)]
    public List<RuleNodeDto?>? None { get; set; }

    [JsonPropertyOrder(3)]
    public string? Field { get; set; }

    [JsonPropertyOrder(4)]
    public string? Op { get; set; }

    [JsonPropertyOrder(5)]
    public string? Type { get; set; }

    [JsonPropertyOrder(6)]
    public JsonElement? Value { get; set; }

    [JsonPropertyOrder(7)]
    public List<JsonElement>? Values { get; set; }

    [JsonPropertyOrder(8)]
    public int? Amount { get; set; }

    [JsonPropertyOrder(9)]
    public string? Unit { get; set; }

    [JsonExtensionData]
    public Dictionary<string, JsonElement>? Extra { get; set; }
}

// MaxDepth well above the 32 groups a rule may nest (each group costs two JSON levels), so that the validator,
// not the reader, reports a rule nested too deep - with its path.
[JsonSourceGenerationOptions(JsonSerializerDefaults.Web, DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull, MaxDepth = 160)]
[JsonSerializable(typeof(RuleDocumentDto))]
[JsonSerializable(typeof(string))]
[JsonSerializable(typeof(decimal))]
[JsonSerializable(typeof(bool))]
internal sealed partial class RuleJsonContext : JsonSerializerContext;
