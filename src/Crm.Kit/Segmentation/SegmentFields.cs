using System.Collections.Frozen;
using System.Linq.Expressions;
using System.Text.Json;
using Crm.Kit.Customers;

namespace Crm.Kit.Segmentation;

/// <summary>The type of a segment field, which decides the operators a condition on it may use.</summary>
public enum SegmentValueType
{
    /// <summary>Text, compared case-insensitively.</summary>
    Text = 0,

    /// <summary>A number.</summary>
    Number = 1,

    /// <summary>A date or instant.</summary>
    Date = 2,

    /// <summary>True or false.</summary>
    Boolean = 3,

    /// <summary>One of a fixed set of names (for example a lifecycle stage).</summary>
    Choice = 4,

    /// <summary>A set of texts, such as tags, compared case-insensitively.</summary>
    TextList = 5,

    /// <summary>Membership of segments and static lists.</summary>
    Segment = 6,
}

/// <summary>Whether a date field holds instants or calendar days.</summary>
public enum SegmentDateKind
{
    /// <summary>Instants in time (stored as UTC ticks); days in conditions are read in the configured time zone.</summary>
    Instant = 0,

    /// <summary>Calendar days without a time or zone (stored as the ticks of their midnight).</summary>
    Day = 1,
}

/// <summary>
/// A field segment rules can test. Crm.Kit registers the customer fields; a module contributes its own (a
/// loyalty tier, a lead score) by registering an <see cref="ISegmentFieldProvider"/>. The field carries how to
/// read it from an in-memory <see cref="Customer"/>; an adapter that evaluates rules in its own query language
/// (the EF Core adapter) binds the same field name to its own columns.
/// </summary>
public sealed class SegmentField
{
    private SegmentField(string name, SegmentValueType type, string description, LambdaExpression? inMemory)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        ArgumentException.ThrowIfNullOrWhiteSpace(description);
        Name = name;
        Type = type;
        Description = description;
        InMemory = inMemory;
    }

    /// <summary>The name used in rules, for example <c>orderCount</c>.</summary>
    public string Name { get; }

    /// <summary>The field's type.</summary>
    public SegmentValueType Type { get; }

    /// <summary>What the field means, for admin screens and documentation.</summary>
    public string Description { get; }

    /// <summary>For <see cref="SegmentValueType.Choice"/>: the names allowed, in camel case.</summary>
    public IReadOnlyList<string> Choices { get; private init; } = [];

    /// <summary>For <see cref="SegmentValueType.Choice"/>: the enum type behind the names.</summary>
    public Type? ChoiceType { get; private init; }

    /// <summary>For <see cref="SegmentValueType.Date"/>: instants or days.</summary>
    public SegmentDateKind DateKind { get; private init; }

    /// <summary>
    /// How to read the field from a <see cref="Customer"/> (and, for fields that depend on the time, the current
    /// UTC ticks): a lambda <c>(Customer c)</c> or <c>(Customer c, long nowTicks)</c> returning the
    /// representation of <see cref="Type"/>: text as <see cref="string"/>; numbers as <see cref="int"/>,
    /// <see cref="long"/> or <see cref="decimal"/> (nullable when unset is possible); dates as nullable UTC ticks
    /// (<see cref="long"/>); booleans as <see cref="bool"/>; choices as their enum; text lists as
    /// <see cref="IReadOnlyList{T}"/> of <see cref="string"/>. <see langword="null"/> for fields no in-memory
    /// subject can read (segment membership).
    /// </summary>
    public LambdaExpression? InMemory { get; }

    /// <summary>Whether <see cref="InMemory"/> takes the current time as its second parameter.</summary>
    public bool DependsOnTime => InMemory?.Parameters.Count == 2;

    /// <summary>The CLR type <see cref="InMemory"/> returns.</summary>
    public Type? ValueClrType => InMemory?.ReturnType;

    /// <summary>A text field.</summary>
    public static SegmentField Text(string name, string description, Expression<Func<Customer, string?>> read) => new(name, SegmentValueType.Text, description, read);

    /// <summary>A whole-number field.</summary>
    public static SegmentField Number(string name, string description, Expression<Func<Customer, int>> read) => new(name, SegmentValueType.Number, description, read);

    /// <summary>A whole-number field that may be unset.</summary>
    public static SegmentField Number(string name, string description, Expression<Func<Customer, long?>> read) => new(name, SegmentValueType.Number, description, read);

    /// <summary>A decimal field.</summary>
    public static SegmentField Number(string name, string description, Expression<Func<Customer, decimal>> read) => new(name, SegmentValueType.Number, description, read);

    /// <summary>A decimal field that may be unset.</summary>
    public static SegmentField Number(string name, string description, Expression<Func<Customer, decimal?>> read) => new(name, SegmentValueType.Number, description, read);

    /// <summary>A whole-number field computed from the current time (UTC ticks), such as days since an event.</summary>
    public static SegmentField TimeDependentNumber(string name, string description, Expression<Func<Customer, long, long?>> read) => new(name, SegmentValueType.Number, description, read);

    /// <summary>A date field read as nullable UTC ticks (for days: the ticks of their midnight).</summary>
    public static SegmentField Date(string name, string description, SegmentDateKind kind, Expression<Func<Customer, long?>> read) =>
        new(name, SegmentValueType.Date, description, read) { DateKind = kind };

    /// <summary>A boolean field.</summary>
    public static SegmentField Boolean(string name, string description, Expression<Func<Customer, bool>> read) => new(name, SegmentValueType.Boolean, description, read);

    /// <summary>A choice field backed by an enum; rules name its members in camel case.</summary>
    public static SegmentField Choice<TEnum>(string name, string description, Expression<Func<Customer, TEnum>> read)
        where TEnum : struct, Enum =>
        new(name, SegmentValueType.Choice, description, read)
        {
            ChoiceType = typeof(TEnum),
            Choices = [.. Enum.GetNames<TEnum>().Select(JsonNamingPolicy.CamelCase.ConvertName)],
        };

    /// <summary>A text-list field, such as tags.</summary>
    public static SegmentField TextList(string name, string description, Expression<Func<Customer, IReadOnlyList<string>>> read) =>
        new(name, SegmentValueType.TextList, description, read);

    internal static SegmentField SegmentMembership() =>
        new(SegmentFieldNames.Segment, SegmentValueType.Segment, "Membership of a segment or static list, by id.", null);

    /// <summary>For a custom attribute field: the attribute key.</summary>
    internal string? AttributeKey { get; private init; }

    internal static SegmentField Attribute(string key, SegmentValueType type)
    {
        var name = SegmentFieldNames.AttributePrefix + key;
        return type switch
        {
            SegmentValueType.Text => new(name, type, $"Custom attribute '{key}' (text).", AttributeReader(nameof(SegmentAccess.AttributeText), key)) { AttributeKey = key },
            SegmentValueType.Number => new(name, type, $"Custom attribute '{key}' (number).", AttributeReader(nameof(SegmentAccess.AttributeNumber), key)) { AttributeKey = key },
            SegmentValueType.Date => new(name, type, $"Custom attribute '{key}' (date).", AttributeReader(nameof(SegmentAccess.AttributeDate), key)) { AttributeKey = key, DateKind = SegmentDateKind.Day },
            SegmentValueType.Boolean => new(name, type, $"Custom attribute '{key}' (boolean).", AttributeReader(nameof(SegmentAccess.AttributeBoolean), key)) { AttributeKey = key },
            SegmentValueType.TextList => new(name, type, $"Custom attribute '{key}' (list of text).", AttributeReader(nameof(SegmentAccess.AttributeList), key)) { AttributeKey = key },
            _ => throw new ArgumentOutOfRangeException(nameof(type), type, "Attributes are text, number, date, boolean or text list."),
        };
    }

    // A constant key rather than a captured one: see CoreSegmentFields.ConsentReader.
    private static LambdaExpression AttributeReader(string reader, string key)
    {
        var customer = Expression.Parameter(typeof(Customer), "c");
        return Expression.Lambda(
            Expression.Call(typeof(SegmentAccess), reader, null, Expression.Property(customer, nameof(Customer.Attributes)), Expression.Constant(key)), customer);
    }
}

/// <summary>Names of the fields Crm.Kit registers, and the patterns of keyed fields.</summary>
public static class SegmentFieldNames
{
    /// <summary>Person or company.</summary>
    public const string Kind = "kind";

    /// <summary>The lifecycle stage.</summary>
    public const string LifecycleStage = "lifecycleStage";

    /// <summary>When the customer was created.</summary>
    public const string CreatedAt = "createdAt";

    /// <summary>Country code of the first postal address.</summary>
    public const string Country = "country";

    /// <summary>City of the first postal address.</summary>
    public const string City = "city";

    /// <summary>Postcode of the first postal address.</summary>
    public const string PostalCode = "postalCode";

    /// <summary>The owner's user id.</summary>
    public const string Owner = "owner";

    /// <summary>The company name.</summary>
    public const string CompanyName = "companyName";

    /// <summary>Tags.</summary>
    public const string Tags = "tags";

    /// <summary>Orders counted in the metrics.</summary>
    public const string OrderCount = "orderCount";

    /// <summary>Total spent.</summary>
    public const string TotalSpent = "totalSpent";

    /// <summary>Average order value.</summary>
    public const string AverageOrderValue = "averageOrderValue";

    /// <summary>First order time.</summary>
    public const string FirstOrderAt = "firstOrderAt";

    /// <summary>Last order time.</summary>
    public const string LastOrderAt = "lastOrderAt";

    /// <summary>Whole days since the last order (unset without orders).</summary>
    public const string DaysSinceLastOrder = "daysSinceLastOrder";

    /// <summary>Membership of segments and static lists.</summary>
    public const string Segment = "segment";

    /// <summary>The prefix of custom attribute fields: <c>attributes.plan</c>.</summary>
    public const string AttributePrefix = "attributes.";

    /// <summary>The prefix of consent fields: <c>consent.email.marketing</c>.</summary>
    public const string ConsentPrefix = "consent.";

    /// <summary>The consent field for a channel and purpose, for example <c>consent.email.marketing</c>.</summary>
    public static string Consent(ContactChannel channel, ConsentPurpose purpose) =>
        ConsentPrefix + JsonNamingPolicy.CamelCase.ConvertName(channel.ToString()) + "." + JsonNamingPolicy.CamelCase.ConvertName(purpose.ToString());
}

/// <summary>Contributes segment fields. Register implementations in DI; the registry collects them all at start-up.</summary>
public interface ISegmentFieldProvider
{
    /// <summary>The fields contributed.</summary>
    IEnumerable<SegmentField> GetFields();
}

/// <summary>The customer fields Crm.Kit itself offers.</summary>
internal sealed class CoreSegmentFields : ISegmentFieldProvider
{
    public IEnumerable<SegmentField> GetFields()
    {
        yield return SegmentField.Choice<CustomerKind>(SegmentFieldNames.Kind, "Person or company.", c => c.Kind);
        yield return SegmentField.Choice<LifecycleStage>(SegmentFieldNames.LifecycleStage, "The current lifecycle stage.", c => c.LifecycleStage);
        yield return SegmentField.Date(SegmentFieldNames.CreatedAt, "When the customer was created.", SegmentDateKind.Instant, c => c.CreatedAt.UtcTicks);
        yield return SegmentField.Text(SegmentFieldNames.Country, "ISO country code of the first postal address.", c => c.Addresses.Count == 0 ? null : c.Addresses[0].CountryCode);
        yield return SegmentField.Text(SegmentFieldNames.City, "City of the first postal address.", c => c.Addresses.Count == 0 ? null : c.Addresses[0].City);
        yield return SegmentField.Text(SegmentFieldNames.PostalCode, "Postcode of the first postal address.", c => c.Addresses.Count == 0 ? null : c.Addresses[0].PostalCode);
        yield return SegmentField.Text(SegmentFieldNames.Owner, "The owner's user id.", c => c.OwnerId);
        yield return SegmentField.Text(SegmentFieldNames.CompanyName, "The company's name, or the employer named on a person.", c => c.CompanyName);
        yield return SegmentField.TextList(SegmentFieldNames.Tags, "Tags.", c => c.Tags);
        yield return SegmentField.Number(SegmentFieldNames.OrderCount, "Orders recorded and not fully refunded.", c => c.Metrics.OrderCount);
        yield return SegmentField.Number(SegmentFieldNames.TotalSpent, "Order totals less refunds, in the reporting currency.", c => c.Metrics.TotalSpent);
        yield return SegmentField.Number(SegmentFieldNames.AverageOrderValue, "Total spent divided by order count.", c => c.Metrics.AverageOrderValue);
        yield return SegmentField.Date(SegmentFieldNames.FirstOrderAt, "When the first counted order was placed.", SegmentDateKind.Instant, c => SegmentAccess.Ticks(c.Metrics.FirstOrderAt));
        yield return SegmentField.Date(SegmentFieldNames.LastOrderAt, "When the latest counted order was placed.", SegmentDateKind.Instant, c => SegmentAccess.Ticks(c.Metrics.LastOrderAt));
        yield return SegmentField.TimeDependentNumber(SegmentFieldNames.DaysSinceLastOrder, "Whole days since the latest order; not set without orders.", (c, now) => SegmentAccess.DaysSince(c.Metrics.LastOrderAt, now));
        foreach (var channel in Enum.GetValues<ContactChannel>())
        {
            foreach (var purpose in Enum.GetValues<ConsentPurpose>())
            {
                var name = SegmentFieldNames.Consent(channel, purpose);
                yield return SegmentField.Boolean(name, $"Whether the customer may be contacted by {channel} for {purpose} now.", ConsentReader(channel, purpose));
            }
        }

        yield return SegmentField.SegmentMembership();
    }

    // Built from constants rather than a C# lambda, which would capture channel and purpose in a compiler-generated
    // closure class; compiled rules reading non-public types compile ten times slower. The read goes through
    // SegmentAccess.HasConsent, which is not inlined, so the consent lookup is not compiled into every rule.
    private static Expression<Func<Customer, bool>> ConsentReader(ContactChannel channel, ConsentPurpose purpose)
    {
        var customer = Expression.Parameter(typeof(Customer), "c");
        return Expression.Lambda<Func<Customer, bool>>(
            Expression.Call(typeof(SegmentAccess), nameof(SegmentAccess.HasConsent), null, customer, Expression.Constant(channel), Expression.Constant(purpose)), customer);
    }
}

/// <summary>
/// Every field rules may use: Crm.Kit's own and those of registered <see cref="ISegmentFieldProvider"/>s, plus
/// custom attributes (<c>attributes.&lt;key&gt;</c>, typed by the condition).
/// </summary>
public sealed class SegmentFieldRegistry
{
    private readonly FrozenDictionary<string, SegmentField> _fields;

    /// <summary>Builds the registry; names must be unique across providers.</summary>
    public SegmentFieldRegistry(IEnumerable<ISegmentFieldProvider> providers)
    {
        ArgumentNullException.ThrowIfNull(providers);
        var fields = new Dictionary<string, SegmentField>(StringComparer.Ordinal);
        foreach (var field in new CoreSegmentFields().GetFields().Concat(providers.SelectMany(p => p.GetFields())))
        {
            if (field.Name.StartsWith(SegmentFieldNames.AttributePrefix, StringComparison.Ordinal))
            {
                throw new InvalidOperationException($"Segment field '{field.Name}' uses the reserved prefix '{SegmentFieldNames.AttributePrefix}'.");
            }

            if (!fields.TryAdd(field.Name, field))
            {
                throw new InvalidOperationException($"Segment field '{field.Name}' is registered twice; field names must be unique.");
            }
        }

        _fields = fields.ToFrozenDictionary(StringComparer.Ordinal);
    }

    /// <summary>The registered fields (attributes excluded: they are resolved per condition).</summary>
    public IEnumerable<SegmentField> Fields => _fields.Values;

    /// <summary>A registry with only Crm.Kit's own fields.</summary>
    public static SegmentFieldRegistry Default { get; } = new([]);

    /// <summary>Finds a field by name; for <c>attributes.&lt;key&gt;</c>, <paramref name="attributeType"/> gives its type.</summary>
    public SegmentField? Find(string name, SegmentValueType? attributeType = null)
    {
        ArgumentNullException.ThrowIfNull(name);
        if (name.StartsWith(SegmentFieldNames.AttributePrefix, StringComparison.Ordinal))
        {
            var key = name[SegmentFieldNames.AttributePrefix.Length..];
            return attributeType is { } type && IsAttributeType(type) && CustomerDraftValidator.IsValidAttributeKey(key)
                ? SegmentField.Attribute(key, type)
                : null;
        }

        return _fields.GetValueOrDefault(name);
    }

    internal static bool IsAttributeType(SegmentValueType type) =>
        type is SegmentValueType.Text or SegmentValueType.Number or SegmentValueType.Date or SegmentValueType.Boolean or SegmentValueType.TextList;
}

/// <summary>
/// Builds the in-memory reader of a module's field: <c>c =&gt; Access.Reader(store.Find(c.TenantId, c.Id))</c>. It is
/// built from a constant store and a public static reader rather than written as a C# lambda, which would capture
/// the store in a compiler-generated closure class: compiled rules that touch non-public types compile ten times slower.
/// </summary>
internal static class StoreFieldReader
{
    /// <param name="store">The module's in-memory store.</param>
    /// <param name="find">Its public <c>(string tenantId, Guid customerId)</c> lookup.</param>
    /// <param name="access">The public static class holding the readers.</param>
    /// <param name="reader">The name of the reader, which takes what <paramref name="find"/> returns.</param>
    public static Expression<Func<Customer, T>> Read<T>(object store, System.Reflection.MethodInfo find, Type access, string reader)
    {
        var customer = Expression.Parameter(typeof(Customer), "c");
        var found = Expression.Call(Expression.Constant(store), find, Expression.Property(customer, nameof(Customer.TenantId)), Expression.Property(customer, nameof(Customer.Id)));
        return Expression.Lambda<Func<Customer, T>>(Expression.Call(access, reader, null, found), customer);
    }
}
