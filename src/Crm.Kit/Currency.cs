using System.Collections.Frozen;

namespace Crm.Kit;

/// <summary>ISO 4217 currency codes.</summary>
public static class CurrencyCodes
{
    // Active ISO 4217 alphabetic codes (list 1), including the fund and precious-metal codes hosts meet in practice.
    private static readonly FrozenSet<string> Known = FrozenSet.ToFrozenSet(
        """
        AED AFN ALL AMD ANG AOA ARS AUD AWG AZN BAM BBD BDT BGN BHD BIF BMD BND BOB BOV BRL BSD BTN BWP BYN BZD
        CAD CDF CHE CHF CHW CLF CLP CNY COP COU CRC CUC CUP CVE CZK DJF DKK DOP DZD EGP ERN ETB EUR FJD FKP GBP
        GEL GHS GIP GMD GNF GTQ GYD HKD HNL HTG HUF IDR ILS INR IQD IRR ISK JMD JOD JPY KES KGS KHR KMF KPW KRW
        KWD KYD KZT LAK LBP LKR LRD LSL LYD MAD MDL MGA MKD MMK MNT MOP MRU MUR MVR MWK MXN MXV MYR MZN NAD NGN
        NIO NOK NPR NZD OMR PAB PEN PGK PHP PKR PLN PYG QAR RON RSD RUB RWF SAR SBD SCR SDG SEK SGD SHP SLE SLL
        SOS SRD SSP STN SVC SYP SZL THB TJS TMT TND TOP TRY TTD TWD TZS UAH UGX USD USN UYI UYU UYW UZS VED VES
        VND VUV WST XAF XAG XAU XBA XBB XBC XBD XCD XCG XDR XOF XPD XPF XPT XSU XTS XUA XXX YER ZAR ZMW ZWG ZWL
        """.Split((char[])[' ', '\n', '\r'], StringSplitOptions.RemoveEmptyEntries),
        StringComparer.Ordinal);

    /// <summary>Whether <paramref name="code"/> is an active ISO 4217 code, written in upper case.</summary>
    public static bool IsValid(string? code) => code is { Length: 3 } && Known.Contains(code);
}

/// <summary>
/// Converts amounts into the reporting currency that customer metrics are kept in. Register one when orders
/// arrive in more than one currency; without it, an order in another currency is rejected with a clear error
/// rather than summed wrongly.
/// </summary>
public interface ICurrencyConverter
{
    /// <summary>
    /// Converts <paramref name="amount"/> from <paramref name="fromCurrency"/> into <paramref name="toCurrency"/>
    /// at <paramref name="asOf"/>. Returns <see langword="null"/> when no rate is known.
    /// </summary>
    ValueTask<decimal?> ConvertAsync(decimal amount, string fromCurrency, string toCurrency, DateTimeOffset asOf, CancellationToken cancellationToken);
}

/// <summary>The default converter: only same-currency amounts convert.</summary>
public sealed class SameCurrencyOnlyConverter : ICurrencyConverter
{
    /// <inheritdoc />
    public ValueTask<decimal?> ConvertAsync(decimal amount, string fromCurrency, string toCurrency, DateTimeOffset asOf, CancellationToken cancellationToken) =>
        ValueTask.FromResult<decimal?>(string.Equals(fromCurrency, toCurrency, StringComparison.Ordinal) ? amount : null);
}
