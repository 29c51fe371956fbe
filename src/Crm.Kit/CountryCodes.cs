using System.Collections.Frozen;

namespace Crm.Kit;

/// <summary>
/// The officially assigned ISO 3166-1 alpha-2 country codes. Codes that ISO leaves to users (<c>AA</c>,
/// <c>QM</c>–<c>QZ</c>, <c>XA</c>–<c>XZ</c>, <c>ZZ</c>), reserved codes and unassigned pairs of letters are not
/// countries and are refused wherever a country is asked for.
/// </summary>
public static class CountryCodes
{
    // The 249 codes ISO 3166-1 assigns, by first letter.
    private static readonly FrozenSet<string> Assigned = string.Join(' ',
        "AD AE AF AG AI AL AM AO AQ AR AS AT AU AW AX AZ",
        "BA BB BD BE BF BG BH BI BJ BL BM BN BO BQ BR BS BT BV BW BY BZ",
        "CA CC CD CF CG CH CI CK CL CM CN CO CR CU CV CW CX CY CZ",
        "DE DJ DK DM DO DZ",
        "EC EE EG EH ER ES ET",
        "FI FJ FK FM FO FR",
        "GA GB GD GE GF GG GH GI GL GM GN GP GQ GR GS GT GU GW GY",
        "HK HM HN HR HT HU",
        "ID IE IL IM IN IO IQ IR IS IT",
        "JE JM JO JP",
        "KE KG KH KI KM KN KP KR KW KY KZ",
        "LA LB LC LI LK LR LS LT LU LV LY",
        "MA MC MD ME MF MG MH MK ML MM MN MO MP MQ MR MS MT MU MV MW MX MY MZ",
        "NA NC NE NF NG NI NL NO NP NR NU NZ",
        "OM",
        "PA PE PF PG PH PK PL PM PN PR PS PT PW PY",
        "QA",
        "RE RO RS RU RW",
        "SA SB SC SD SE SG SH SI SJ SK SL SM SN SO SR SS ST SV SX SY SZ",
        "TC TD TF TG TH TJ TK TL TM TN TO TR TT TV TW TZ",
        "UA UG UM US UY UZ",
        "VA VC VE VG VI VN VU",
        "WF WS",
        "YE YT",
        "ZA ZM ZW").Split(' ').ToFrozenSet(StringComparer.Ordinal);

    /// <summary>Every officially assigned code, in upper case.</summary>
    public static IReadOnlyCollection<string> All => Assigned;

    /// <summary>
    /// Whether <paramref name="code"/> is an officially assigned alpha-2 code, written in upper case as stored
    /// (<c>DE</c>, not <c>de</c>).
    /// </summary>
    public static bool IsAssigned([System.Diagnostics.CodeAnalysis.NotNullWhen(true)] string? code) => code is { Length: 2 } && Assigned.Contains(code);
}
