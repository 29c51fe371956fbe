using System.Collections.Frozen;
using System.Globalization;
using System.Text;

namespace Crm.Kit;

/// <summary>
/// Normalises phone numbers to E.164 (<c>+</c> and up to 15 digits). This is structural normalisation: it applies
/// the region's country calling code, international prefix and trunk prefix, and checks the length E.164 allows;
/// it does not check a number against each country's numbering plan.
/// </summary>
public static class PhoneNumbers
{
    private sealed record Region(string CallingCode, string? TrunkPrefix, string InternationalPrefix);

    // Region -> calling code, trunk prefix (dropped from national numbers) and international dialling prefix.
    private static readonly FrozenDictionary<string, Region> Regions = BuildRegions();

    private static FrozenDictionary<string, Region> BuildRegions()
    {
        var regions = new Dictionary<string, Region>(StringComparer.Ordinal);
        void Add(string codes, string callingCode, string? trunk = "0", string international = "00")
        {
            foreach (var code in codes.Split(' '))
            {
                regions[code] = new Region(callingCode, trunk, international);
            }
        }

        Add("US CA PR GU VI AS MP", "1", "1", "011");
        Add("BS", "1", "1", "011"); Add("JM", "1", "1", "011"); Add("TT", "1", "1", "011");
        Add("GB GG JE IM", "44"); Add("IE", "353"); Add("FR", "33"); Add("DE", "49"); Add("AT", "43");
        Add("CH", "41"); Add("NL", "31"); Add("BE", "32"); Add("LU", "352", null); Add("ES", "34", null);
        Add("PT", "351", null); Add("IT", "39", null); Add("SM", "378", null); Add("VA", "39", null);
        Add("DK", "45", null); Add("NO", "47", null); Add("SE", "46"); Add("FI", "358"); Add("IS", "354", null);
        Add("PL", "48", null); Add("CZ", "420", null); Add("SK", "421"); Add("HU", "36", "06"); Add("RO", "40");
        Add("BG", "359"); Add("GR", "30", null); Add("CY", "357", null); Add("MT", "356", null); Add("SI", "386");
        Add("HR", "385"); Add("RS", "381"); Add("BA", "387"); Add("ME", "382"); Add("MK", "389"); Add("AL", "355");
        Add("EE", "372", null); Add("LV", "371", null); Add("LT", "370", "8"); Add("UA", "380"); Add("MD", "373");
        Add("TR", "90"); Add("IL", "972"); Add("AE", "971"); Add("SA", "966"); Add("QA", "974", null);
        Add("EG", "20"); Add("MA", "212"); Add("TN", "216", null); Add("ZA", "27"); Add("NG", "234"); Add("KE", "254");
        Add("GH", "233"); Add("IN", "91"); Add("PK", "92"); Add("BD", "880"); Add("LK", "94"); Add("CN", "86");
        Add("HK", "852", null, "001"); Add("TW", "886"); Add("JP", "81", "0", "010"); Add("KR", "82", "0", "001");
        Add("SG", "65", null, "000"); Add("MY", "60"); Add("TH", "66", "0", "001"); Add("VN", "84"); Add("PH", "63");
        Add("ID", "62", "0", "001"); Add("AU", "61", "0", "0011"); Add("NZ", "64"); Add("MX", "52", null);
        Add("BR", "55", "0", "0021"); Add("AR", "54"); Add("CL", "56", null, "00"); Add("CO", "57", null, "009");
        Add("PE", "51"); Add("UY", "598"); Add("VE", "58"); Add("KZ", "7", "8", "810"); Add("RU", "7", "8", "810");
        return regions.ToFrozenDictionary(StringComparer.Ordinal);
    }

    /// <summary>Whether <paramref name="region"/> is a region code this normaliser knows.</summary>
    public static bool IsKnownRegion(string? region) => region is not null && Regions.ContainsKey(region);

    /// <summary>
    /// Normalises <paramref name="input"/> to E.164. Numbers starting with <c>+</c> or the region's international
    /// prefix are taken as international; others as national numbers of <paramref name="defaultRegion"/>.
    /// </summary>
    /// <returns><see langword="true"/> and the E.164 form, or <see langword="false"/> when the input is not a phone number.</returns>
    public static bool TryNormalize(string? input, string defaultRegion, out string e164)
    {
        e164 = string.Empty;
        if (string.IsNullOrWhiteSpace(input) || input.Length > 64 || !Regions.TryGetValue(defaultRegion, out var region))
        {
            return false;
        }

        // "+44 (0)20 …" is a common way to show a trunk prefix that is dropped when dialling from abroad.
        var trimmed = input.Replace("(0)", string.Empty, StringComparison.Ordinal).AsSpan().Trim();
        if (trimmed.IsEmpty)
        {
            return false;
        }

        var international = trimmed[0] == '+';
        Span<char> digits = stackalloc char[64];
        var count = 0;
        for (var i = international ? 1 : 0; i < trimmed.Length; i++)
        {
            var c = trimmed[i];
            if (char.IsAsciiDigit(c))
            {
                digits[count++] = c;
            }
            else if (c is not (' ' or '-' or '.' or '(' or ')' or '/'))
            {
                return false;
            }
        }

        ReadOnlySpan<char> number = digits[..count];
        if (!international)
        {
            if (number.StartsWith(region.InternationalPrefix))
            {
                number = number[region.InternationalPrefix.Length..];
            }
            else
            {
                if (region.TrunkPrefix is { } trunk && number.StartsWith(trunk))
                {
                    number = number[trunk.Length..];
                }

                e164 = "+" + region.CallingCode + number.ToString();
                return IsPlausible(e164);
            }
        }

        e164 = "+" + number.ToString();
        return IsPlausible(e164);
    }

    // E.164 allows at most 15 digits; no country code starts with 0, and no real subscriber number is shorter than 7 digits in all.
    private static bool IsPlausible(string e164) => e164.Length is >= 8 and <= 16 && e164[1] != '0';
}

/// <summary>Normalises email addresses for case-insensitive lookup.</summary>
public static class EmailAddresses
{
    private static readonly IdnMapping Idn = new();

    /// <summary>
    /// Trims, checks the shape of an address (one <c>@</c>, a local part of at most 64 characters, a domain
    /// with a dot and valid labels, at most 254 characters in all, no white space and no invisible character such
    /// as a zero-width space or a direction override), converts an internationalised domain to its ASCII form and
    /// lower-cases the whole address.
    /// </summary>
    public static bool TryNormalize(string? input, out string normalized)
    {
        normalized = string.Empty;
        if (string.IsNullOrWhiteSpace(input))
        {
            return false;
        }

        var address = input.Trim();
        var at = address.IndexOf('@', StringComparison.Ordinal);
        if (at <= 0 || at != address.LastIndexOf('@') || at == address.Length - 1 || at > 64)
        {
            return false;
        }

        // Invisible characters (zero-width spaces, direction overrides, …) would make two addresses that read the
        // same compare different, so duplicates would go unnoticed: such an address is not accepted at all.
        if (InputText.IndexOfInvisible(address) >= 0)
        {
            return false;
        }

        foreach (var c in address)
        {
            if (char.IsWhiteSpace(c) || c is '<' or '>' or '(' or ')' or ',' or ';' or ':' or '\\' or '"' or '[' or ']')
            {
                return false;
            }
        }

        string domain;
        var rawDomain = address.AsSpan(at + 1);
        if (Ascii.IsValid(rawDomain))
        {
            // Nearly every domain is ASCII already: check its labels directly instead of running IDN mapping.
            if (!IsAsciiHostName(rawDomain))
            {
                return false;
            }

            domain = rawDomain.ToString();
        }
        else
        {
            try
            {
                domain = Idn.GetAscii(rawDomain.ToString());
            }
            catch (ArgumentException)
            {
                return false;
            }
        }

        if (!domain.Contains('.', StringComparison.Ordinal) || domain.StartsWith('.') || domain.EndsWith('.') || domain.Contains("..", StringComparison.Ordinal))
        {
            return false;
        }

        normalized = string.Concat(address.AsSpan(0, at + 1), domain).ToLowerInvariant();
        return normalized.Length <= 254;
    }

    // Host-name rules (RFC 1123): labels of 1-63 letters, digits or hyphens, not starting or ending with a hyphen.
    private static bool IsAsciiHostName(ReadOnlySpan<char> domain)
    {
        if (domain.Length is 0 or > 253)
        {
            return false;
        }

        foreach (var range in domain.Split('.'))
        {
            var label = domain[range];
            if (label.Length is 0 or > 63 || label[0] == '-' || label[^1] == '-')
            {
                return false;
            }

            foreach (var c in label)
            {
                if (!char.IsAsciiLetterOrDigit(c) && c != '-')
                {
                    return false;
                }
            }
        }

        return true;
    }
}

/// <summary>Folds names and postcodes into search keys: no accents, upper case, letters and digits only.</summary>
public static class SearchKeys
{
    /// <summary>
    /// Folds <paramref name="text"/> for prefix search: accents removed, upper-cased with the invariant culture,
    /// anything but letters and digits dropped. <c>"Zoë O'Brien"</c> becomes <c>"ZOEOBRIEN"</c>.
    /// </summary>
    public static string Fold(string? text)
    {
        if (string.IsNullOrEmpty(text))
        {
            return string.Empty;
        }

        var decomposed = text.Normalize(NormalizationForm.FormD);
        var builder = new StringBuilder(decomposed.Length);
        foreach (var c in decomposed)
        {
            if (char.IsLetterOrDigit(c))
            {
                builder.Append(char.ToUpperInvariant(c));
            }
        }

        return builder.ToString();
    }
}
