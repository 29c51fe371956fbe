using System.Globalization;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace Crm.Kit.Customers;

/// <summary>The type of a custom attribute.</summary>
public enum AttributeKind
{
    /// <summary>Free text.</summary>
    Text = 0,

    /// <summary>A decimal number.</summary>
    Number = 1,

    /// <summary>True or false.</summary>
    Boolean = 2,

    /// <summary>A calendar date.</summary>
    Date = 3,

    /// <summary>A list of text values.</summary>
    TextList = 4,
}

/// <summary>A typed custom attribute value. Create one with the static factory methods.</summary>
[JsonConverter(typeof(AttributeValueJsonConverter))]
public sealed class AttributeValue : IEquatable<AttributeValue>
{
    private static readonly AttributeValue True = new(AttributeKind.Boolean, null, 0m, 1);
    private static readonly AttributeValue False = new(AttributeKind.Boolean, null, 0m, 0);

    // One slot per kind of payload rather than one per kind of value: the text or the list share a reference,
    // the date (as a day number) and the flag share an int. A value is 48 bytes instead of 64, which a million
    // customers with an attribute or two notice.
    private readonly AttributeKind _kind;
    private readonly int _dayOrFlag;
    private readonly object? _textOrList;
    private readonly decimal _number;

    private AttributeValue(AttributeKind kind, object? textOrList, decimal number, int dayOrFlag)
    {
        _kind = kind;
        _textOrList = textOrList;
        _number = number;
        _dayOrFlag = dayOrFlag;
    }

    /// <summary>The type of the value.</summary>
    public AttributeKind Kind => _kind;

    /// <summary>The text, when <see cref="Kind"/> is <see cref="AttributeKind.Text"/>.</summary>
    public string? Text => _textOrList as string;

    /// <summary>The number, when <see cref="Kind"/> is <see cref="AttributeKind.Number"/>.</summary>
    public decimal Number => _number;

    /// <summary>The flag, when <see cref="Kind"/> is <see cref="AttributeKind.Boolean"/>.</summary>
    public bool Boolean => _kind == AttributeKind.Boolean && _dayOrFlag != 0;

    /// <summary>The date, when <see cref="Kind"/> is <see cref="AttributeKind.Date"/>.</summary>
    public DateOnly Date => _kind == AttributeKind.Date ? DateOnly.FromDayNumber(_dayOrFlag) : default;

    /// <summary>The values, when <see cref="Kind"/> is <see cref="AttributeKind.TextList"/>; empty otherwise.</summary>
    public IReadOnlyList<string> TextList => _kind == AttributeKind.TextList ? (string[])_textOrList! : [];

    /// <summary>A text value.</summary>
    public static AttributeValue FromText(string value) => new(AttributeKind.Text, value ?? throw new ArgumentNullException(nameof(value)), 0m, 0);

    /// <summary>A number value.</summary>
    public static AttributeValue FromNumber(decimal value) => new(AttributeKind.Number, null, value, 0);

    /// <summary>A boolean value.</summary>
    public static AttributeValue FromBoolean(bool value) => value ? True : False;

    /// <summary>A date value.</summary>
    public static AttributeValue FromDate(DateOnly value) => new(AttributeKind.Date, null, 0m, value.DayNumber);

    /// <summary>A list of text values.</summary>
    public static AttributeValue FromTextList(IEnumerable<string> values) =>
        new(AttributeKind.TextList, (values ?? throw new ArgumentNullException(nameof(values))).ToArray(), 0m, 0);

    /// <inheritdoc />
    public bool Equals(AttributeValue? other) =>
        other is not null && Kind == other.Kind && Text == other.Text && Number == other.Number &&
        Boolean == other.Boolean && Date == other.Date && TextList.SequenceEqual(other.TextList);

    /// <inheritdoc />
    public override bool Equals(object? obj) => Equals(obj as AttributeValue);

    /// <inheritdoc />
    public override int GetHashCode() => HashCode.Combine(Kind, Text, Number, Boolean, Date, TextList.Count);

    /// <inheritdoc />
    public override string ToString() => Kind switch
    {
        AttributeKind.Text => Text!,
        AttributeKind.Number => Number.ToString(CultureInfo.InvariantCulture),
        AttributeKind.Boolean => Boolean ? "true" : "false",
        AttributeKind.Date => Date.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture),
        _ => string.Join(", ", TextList),
    };
}

/// <summary>Writes an attribute as <c>{"kind":"number","value":12.5}</c>, so stored and exported JSON keeps the type.</summary>
internal sealed class AttributeValueJsonConverter : JsonConverter<AttributeValue>
{
    public override AttributeValue Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options)
    {
        using var document = JsonDocument.ParseValue(ref reader);
        var root = document.RootElement;
        if (!root.TryGetProperty("kind", out var kindElement) || !root.TryGetProperty("value", out var value) ||
            !Enum.TryParse<AttributeKind>(kindElement.GetString(), ignoreCase: true, out var kind))
        {
            throw new JsonException("An attribute value needs a 'kind' (text, number, boolean, date, textList) and a 'value'.");
        }

        return kind switch
        {
            AttributeKind.Text => AttributeValue.FromText(value.GetString() ?? throw new JsonException("A text attribute needs a string value.")),
            AttributeKind.Number => AttributeValue.FromNumber(value.GetDecimal()),
            AttributeKind.Boolean => AttributeValue.FromBoolean(value.GetBoolean()),
            AttributeKind.Date => AttributeValue.FromDate(DateOnly.ParseExact(value.GetString()!, "yyyy-MM-dd", CultureInfo.InvariantCulture)),
            _ => AttributeValue.FromTextList(value.EnumerateArray().Select(e => e.GetString() ?? string.Empty)),
        };
    }

    public override void Write(Utf8JsonWriter writer, AttributeValue value, JsonSerializerOptions options)
    {
        writer.WriteStartObject();
        writer.WriteString("kind", JsonNamingPolicy.CamelCase.ConvertName(value.Kind.ToString()));
        writer.WritePropertyName("value");
        switch (value.Kind)
        {
            case AttributeKind.Text: writer.WriteStringValue(value.Text); break;
            case AttributeKind.Number: writer.WriteNumberValue(value.Number); break;
            case AttributeKind.Boolean: writer.WriteBooleanValue(value.Boolean); break;
            case AttributeKind.Date: writer.WriteStringValue(value.Date.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture)); break;
            default:
                writer.WriteStartArray();
                foreach (var item in value.TextList)
                {
                    writer.WriteStringValue(item);
                }

                writer.WriteEndArray();
                break;
        }

        writer.WriteEndObject();
    }
}
