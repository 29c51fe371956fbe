using System.Text.RegularExpressions;

namespace Crm.Kit.Customers;

/// <summary>Validates a <see cref="CustomerDraft"/> and produces its normalised form.</summary>
internal static partial class CustomerDraftValidator
{
    public const int MaxNameLength = 200;
    public const int MaxContactPoints = 20;
    public const int MaxAddresses = 10;
    public const int MaxTags = 100;
    public const int MaxTagLength = 64;
    public const int MaxAttributes = 100;
    public const int MaxAttributeTextLength = 4000;
    public const int MaxAttributeListItems = 100;
    public const decimal MaxAttributeNumber = 1_000_000_000_000_000_000m;
    public const int MaxAttributeDecimals = 8;

    [GeneratedRegex("^[A-Za-z][A-Za-z0-9_.-]{0,63}$")]
    private static partial Regex AttributeKeyPattern();

    /// <summary>Whether <paramref name="key"/> is a well-formed custom attribute key.</summary>
    public static bool IsValidAttributeKey(string key) => AttributeKeyPattern().IsMatch(key);

    /// <summary>Checks every rule of a draft, throwing one exception listing all problems, and returns the normalised draft.</summary>
    public static CustomerDraft Normalize(CustomerDraft draft, CrmKitOptions options, bool creating, DateTimeOffset now)
    {
        ArgumentNullException.ThrowIfNull(draft);
        var errors = new ValidationErrorCollector();
        errors.Defined(nameof(draft.Kind), draft.Kind);

        var firstName = Clean(draft.FirstName);
        var lastName = Clean(draft.LastName);
        var companyName = Clean(draft.CompanyName);
        errors.Text(nameof(draft.FirstName), firstName, MaxNameLength);
        errors.Text(nameof(draft.LastName), lastName, MaxNameLength);
        errors.Text(nameof(draft.CompanyName), companyName, MaxNameLength);
        if (draft.Kind == CustomerKind.Company)
        {
            errors.Required(nameof(draft.CompanyName), companyName);
            if (draft.CompanyId is not null)
            {
                errors.Add(nameof(draft.CompanyId), "person-only", "can only be set on a person");
            }
        }
        else if (firstName is null && lastName is null && draft.Emails.Count == 0 && draft.Phones.Count == 0)
        {
            errors.Add(nameof(draft.LastName), "identifiable", "a person needs a name, an email address or a phone number");
        }

        var externalReference = Clean(draft.ExternalReference);
        errors.Text(nameof(draft.ExternalReference), externalReference, 200);
        var ownerId = Clean(draft.OwnerId);
        errors.Text(nameof(draft.OwnerId), ownerId, 200);

        var emails = NormalizeEmails(draft.Emails, errors);
        var phones = NormalizePhones(draft.Phones, options.DefaultPhoneRegion, errors);
        var addresses = NormalizeAddresses(draft.Addresses, errors);
        var tags = NormalizeTags(draft.Tags, errors);
        ValidateAttributes(draft.Attributes, errors);

        if (creating)
        {
            errors.Defined(nameof(draft.InitialStage), draft.InitialStage);
            ValidateConsent(nameof(draft.InitialConsent), draft.InitialConsent, errors, now, options.AllowedClockSkew);
        }

        errors.ThrowIfAny();
        return draft with
        {
            FirstName = firstName,
            LastName = lastName,
            CompanyName = companyName,
            ExternalReference = externalReference,
            OwnerId = ownerId,
            // Arrays and a compact map, not lists and dictionaries: a customer's collections are read often and
            // never grow in place, and the in-memory store keeps a million of them.
            Emails = emails.ToArray(),
            Phones = phones.ToArray(),
            Addresses = addresses.ToArray(),
            Tags = tags,
            Attributes = NormalizeAttributes(draft.Attributes),
            InitialConsent = draft.InitialConsent.ToArray(),
        };
    }

    public static void ValidateConsent(string field, IReadOnlyList<ConsentRecord> records, ValidationErrorCollector errors, DateTimeOffset now, TimeSpan allowedSkew)
    {
        ArgumentNullException.ThrowIfNull(records);
        for (var i = 0; i < records.Count; i++)
        {
            var path = $"{field}[{i}]";
            var record = records[i];
            errors.Defined(path + ".Channel", record.Channel);
            errors.Defined(path + ".Purpose", record.Purpose);
            errors.Required(path + ".Source", record.Source);
            errors.Text(path + ".Source", record.Source, 100);
            if (record.RecordedAt == default)
            {
                errors.Add(path + ".RecordedAt", "required", "must be set to when the customer gave or withdrew consent");
            }
            else
            {
                // The latest-dated statement wins, so a statement dated in the future would outrank every real one.
                errors.Happened(path + ".RecordedAt", record.RecordedAt, now, allowedSkew);
            }
        }
    }

    private static string? Clean(string? value) => string.IsNullOrWhiteSpace(value) ? null : value.Trim();

    /// <summary>Why a contact point that looks right is refused: a character no one can see.</summary>
    private static string Invisible(string? value) =>
        value is not null && InputText.IndexOfInvisible(value) is >= 0 and var at
            ? $": it contains the invisible or control character {InputText.CodePointAt(value, at)} at position {at}"
            : string.Empty;

    private static List<EmailContact> NormalizeEmails(IReadOnlyList<EmailContact> emails, ValidationErrorCollector errors)
    {
        ArgumentNullException.ThrowIfNull(emails);
        errors.MaxCount(nameof(CustomerDraft.Emails), emails, MaxContactPoints);
        var result = new List<EmailContact>(emails.Count);
        for (var i = 0; i < emails.Count; i++)
        {
            var email = emails[i];
            if (!EmailAddresses.TryNormalize(email.Address, out var normalized))
            {
                errors.Add($"Emails[{i}]", "email-format", $"{InputText.Quote(email.Address)} is not a valid email address{Invisible(email.Address)}");
                continue;
            }

            errors.Text($"Emails[{i}].Label", email.Label, 50);
            if (!result.Exists(e => e.Address == normalized))
            {
                result.Add(new EmailContact(normalized, Clean(email.Label)));
            }
        }

        return result;
    }

    private static List<PhoneContact> NormalizePhones(IReadOnlyList<PhoneContact> phones, string region, ValidationErrorCollector errors)
    {
        ArgumentNullException.ThrowIfNull(phones);
        errors.MaxCount(nameof(CustomerDraft.Phones), phones, MaxContactPoints);
        var result = new List<PhoneContact>(phones.Count);
        for (var i = 0; i < phones.Count; i++)
        {
            var phone = phones[i];
            if (!PhoneNumbers.TryNormalize(phone.Number, region, out var e164))
            {
                errors.Add($"Phones[{i}]", "phone-format", $"{InputText.Quote(phone.Number)} is not a phone number (expected digits with an optional leading +, read in region {region}){Invisible(phone.Number)}");
                continue;
            }

            errors.Text($"Phones[{i}].Label", phone.Label, 50);
            if (!result.Exists(p => p.Number == e164))
            {
                result.Add(new PhoneContact(e164, Clean(phone.Label)));
            }
        }

        return result;
    }

    private static List<PostalAddress> NormalizeAddresses(IReadOnlyList<PostalAddress> addresses, ValidationErrorCollector errors)
    {
        ArgumentNullException.ThrowIfNull(addresses);
        errors.MaxCount(nameof(CustomerDraft.Addresses), addresses, MaxAddresses);
        var result = new List<PostalAddress>(addresses.Count);
        for (var i = 0; i < addresses.Count; i++)
        {
            var path = $"Addresses[{i}]";
            var address = addresses[i];
            if (address is null)
            {
                errors.Add(path, "required", "must not be null");
                continue;
            }

            errors.Required(path + ".Line1", address.Line1);
            errors.Text(path + ".Line1", address.Line1, 200);
            errors.Text(path + ".Line2", address.Line2, 200);
            errors.Required(path + ".City", address.City);
            errors.Text(path + ".City", address.City, 100);
            errors.Text(path + ".Region", address.Region, 100);
            errors.Text(path + ".PostalCode", address.PostalCode, 20);
            var country = address.CountryCode?.Trim().ToUpperInvariant();
            if (!CountryCodes.IsAssigned(country))
            {
                errors.Add(path + ".CountryCode", "country-code", $"{InputText.Quote(address.CountryCode)} is not an officially assigned ISO 3166-1 alpha-2 country code");
                continue;
            }

            result.Add(address with
            {
                Line1 = address.Line1?.Trim() ?? string.Empty,
                Line2 = Clean(address.Line2),
                City = address.City?.Trim() ?? string.Empty,
                Region = Clean(address.Region),
                PostalCode = Clean(address.PostalCode)?.ToUpperInvariant(),
                CountryCode = country,
                Label = Clean(address.Label),
            });
        }

        return result;
    }

    private static string[] NormalizeTags(IReadOnlyList<string> tags, ValidationErrorCollector errors)
    {
        ArgumentNullException.ThrowIfNull(tags);
        errors.MaxCount(nameof(CustomerDraft.Tags), tags, MaxTags);
        var result = new SortedSet<string>(StringComparer.OrdinalIgnoreCase);
        for (var i = 0; i < tags.Count; i++)
        {
            var tag = Clean(tags[i]);
            if (tag is null)
            {
                errors.Add($"Tags[{i}]", "required", "must not be blank");
            }
            else if (tag.Length > MaxTagLength || InputText.IndexOfUnstorable(tag) >= 0)
            {
                errors.Text($"Tags[{i}]", tag, MaxTagLength);
            }
            else
            {
                result.Add(tag);
            }
        }

        return result.Count == 0 ? [] : [.. result];
    }

    /// <summary>
    /// The one place that decides what a blank value means for every store: blank text, and blank items of a text
    /// list, are no value. A text attribute that is blank, or a list with no item left, is not kept at all, so
    /// "is set" and "is not set" read the same in memory and in SQL, and splitting an empty multi-select (which
    /// gives <c>[""]</c>) sets nothing.
    /// </summary>
    internal static AttributeDictionary NormalizeAttributes(IReadOnlyDictionary<string, AttributeValue> attributes)
    {
        if (!attributes.Values.Any(IsBlankOrHoldsBlanks))
        {
            return AttributeDictionary.From(attributes);
        }

        var kept = new List<KeyValuePair<string, AttributeValue>>(attributes.Count);
        foreach (var (key, value) in attributes)
        {
            if (value.Kind == AttributeKind.Text && string.IsNullOrWhiteSpace(value.Text))
            {
                continue;
            }

            if (value.Kind == AttributeKind.TextList)
            {
                var items = value.TextList.Where(item => !string.IsNullOrWhiteSpace(item)).ToArray();
                if (items.Length > 0)
                {
                    kept.Add(new(key, items.Length == value.TextList.Count ? value : AttributeValue.FromTextList(items)));
                }

                continue;
            }

            kept.Add(new(key, value));
        }

        return AttributeDictionary.From(kept);
    }

    private static bool IsBlankOrHoldsBlanks(AttributeValue value) => value.Kind switch
    {
        AttributeKind.Text => string.IsNullOrWhiteSpace(value.Text),
        AttributeKind.TextList => value.TextList.Count == 0 || value.TextList.Any(string.IsNullOrWhiteSpace),
        _ => false,
    };

    internal static void ValidateAttributes(IReadOnlyDictionary<string, AttributeValue> attributes, ValidationErrorCollector errors)
    {
        ArgumentNullException.ThrowIfNull(attributes);
        if (attributes.Count > MaxAttributes)
        {
            errors.Add(nameof(CustomerDraft.Attributes), "max-count", $"must hold at most {MaxAttributes} attributes (was {attributes.Count})");
        }

        foreach (var (key, value) in attributes)
        {
            var path = $"Attributes[{InputText.Prefix(key)}]";
            if (!AttributeKeyPattern().IsMatch(key))
            {
                errors.Add(path, "attribute-key", "keys start with a letter and hold at most 64 letters, digits, '_', '.' or '-'");
            }

            if (value is null)
            {
                errors.Add(path, "required", "must not be null");
            }
            else if (value.Kind == AttributeKind.Text)
            {
                errors.Text(path, value.Text, MaxAttributeTextLength);
            }
            else if (value.Kind == AttributeKind.Number)
            {
                // Databases keep attribute numbers as numeric(28, 8): what fits there is what every store keeps alike.
                if (decimal.Abs(value.Number) >= MaxAttributeNumber || decimal.Round(value.Number, MaxAttributeDecimals) != value.Number)
                {
                    errors.Add(path, "number-range", $"must be below 10^18 in size with at most {MaxAttributeDecimals} decimal places");
                }
            }
            else if (value.Kind == AttributeKind.TextList)
            {
                errors.MaxCount(path, value.TextList, MaxAttributeListItems);
                if (value.TextList.Any(item => item is null || item.Length > MaxTagLength * 4 || InputText.IndexOfUnstorable(item) >= 0))
                {
                    errors.Add(path, "list-item", $"items must not be null, must be valid Unicode text without U+0000 and must be at most {MaxTagLength * 4} characters");
                }
            }
        }
    }
}
