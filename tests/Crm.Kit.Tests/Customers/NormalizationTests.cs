using System.Globalization;
using Crm.Kit.Customers;
using CsCheck;
using Microsoft.Extensions.DependencyInjection;

namespace Crm.Kit.Tests.Customers;

public sealed class NormalizationTests
{
    [Theory]
    [InlineData("(415) 555-0134", "US", "+14155550134")]
    [InlineData("1-415-555-0134", "US", "+14155550134")]
    [InlineData("011 44 20 7946 0018", "US", "+442079460018")]
    [InlineData("020 7946 0018", "GB", "+442079460018")]
    [InlineData("+44 (0)20 7946 0018", "GB", "+442079460018")]
    [InlineData("+49 (0)30 123456", "US", "+4930123456")]
    [InlineData("0044 20 7946 0018", "DE", "+442079460018")]
    [InlineData("030 123456", "DE", "+4930123456")]
    [InlineData("06 12 34 56 78", "FR", "+33612345678")]
    [InlineData("06 1234 5678", "IT", "+390612345678")]
    [InlineData("8 (495) 123-45-67", "RU", "+74951234567")]
    [InlineData("(02) 9876 5432", "AU", "+61298765432")]
    public void Phones_normalise_to_E164(string input, string region, string expected)
    {
        Assert.True(PhoneNumbers.TryNormalize(input, region, out var e164));
        Assert.Equal(expected, e164);
    }

    [Theory]
    [InlineData("")]
    [InlineData("call me")]
    [InlineData("12")]
    [InlineData("+0 123 456 789")]
    [InlineData("+1234567890123456")]
    [InlineData("415-555-0134 ext 5")]
    public void Not_phone_numbers_are_rejected(string input) => Assert.False(PhoneNumbers.TryNormalize(input, "US", out _));

    [Theory]
    [InlineData(" Ana.Lima@Example.COM ", "ana.lima@example.com")]
    [InlineData("josé@bücher.example", "josé@xn--bcher-kva.example")]
    [InlineData("a+tag@sub.example.org", "a+tag@sub.example.org")]
    public void Emails_normalise(string input, string expected)
    {
        Assert.True(EmailAddresses.TryNormalize(input, out var normalized));
        Assert.Equal(expected, normalized);
    }

    [Theory]
    [InlineData("plainaddress")]
    [InlineData("@example.com")]
    [InlineData("a@b")]
    [InlineData("a@@b.com")]
    [InlineData("a b@c.com")]
    [InlineData("a@b..com")]
    [InlineData("a@.b.com")]
    public void Not_emails_are_rejected(string input) => Assert.False(EmailAddresses.TryNormalize(input, out _));

    /// <summary>Every code point no reader can see: controls, format characters, separators, private use, unassigned, lone surrogates.</summary>
    private static IEnumerable<string> InvisibleCharacters()
    {
        for (var cp = 0; cp <= 0x10FFFF; cp++)
        {
            if (cp is >= 0xD800 and <= 0xDFFF)
            {
                if (cp is 0xD800 or 0xDBFF or 0xDC00 or 0xDFFF)
                {
                    yield return ((char)cp).ToString();
                }

                continue;
            }

            var category = CharUnicodeInfo.GetUnicodeCategory(cp);
            // Private-use and unassigned planes are vast; every BMP code point of them, and a sample beyond.
            var sampled = cp < 0x10000 || category is UnicodeCategory.Format or UnicodeCategory.Control || cp % 4099 == 0;
            if (sampled && category is UnicodeCategory.Control or UnicodeCategory.Format or UnicodeCategory.LineSeparator
                or UnicodeCategory.ParagraphSeparator or UnicodeCategory.PrivateUse or UnicodeCategory.OtherNotAssigned)
            {
                yield return char.ConvertFromUtf32(cp);
            }
        }
    }

    [Fact]
    public void Contact_points_holding_an_invisible_or_control_character_are_refused_wherever_it_stands()
    {
        var checkedCount = 0;
        foreach (var hidden in InvisibleCharacters())
        {
            // Inside the address or number; at either end too, unless it is white space, which trimming removes.
            string[] emails = ["ana" + hidden + ".lima@example.com", "ana.lima@exam" + hidden + "ple.com", "ana.lima@example.com" + hidden, hidden + "ana.lima@example.com"];
            string[] phones = ["+44 20 7946" + hidden + " 0018", "+4420794" + hidden + "60018"];
            var atEnds = !string.IsNullOrWhiteSpace(hidden);
            foreach (var email in atEnds ? emails : emails[..2])
            {
                Assert.False(EmailAddresses.TryNormalize(email, out _), $"{InputText.CodePointAt(hidden, 0)} accepted in an email");
            }

            foreach (var phone in phones)
            {
                Assert.False(PhoneNumbers.TryNormalize(phone, "GB", out _), $"{InputText.CodePointAt(hidden, 0)} accepted in a phone number");
            }

            checkedCount++;
        }

        // The categories are large: the zero-width space, the right-to-left override and the byte-order mark among them.
        Assert.True(checkedCount > 5_000, $"only {checkedCount} characters checked");
        Assert.False(EmailAddresses.TryNormalize("ana\u200b.lima@example.com", out _));
        Assert.False(EmailAddresses.TryNormalize("ana.lima@example.com\u202e", out _));
        Assert.False(EmailAddresses.TryNormalize("\ufeffana.lima@example.com", out _));
    }

    [Fact]
    public async Task A_customer_with_an_invisible_character_in_an_email_or_phone_is_refused_with_the_character_named()
    {
        var services = new ServiceCollection();
        services.AddCrmKit();
        await using var provider = services.BuildServiceProvider();
        var customers = provider.GetRequiredService<CustomerManager>();
        var error = await Assert.ThrowsAsync<CrmValidationException>(() => customers.CreateAsync(new CustomerDraft
        {
            FirstName = "Ana",
            Emails = [new EmailContact("ana\u200b@example.com")],
            Phones = [new PhoneContact("+44 20 7946\u202e0018")],
        }, TestContext.Current.CancellationToken));

        Assert.Collection(
            error.Errors,
            e => Assert.Equal(("Emails[0]", "email-format", true), (e.Field, e.Rule, e.Message.Contains("U+200B at position 3", StringComparison.Ordinal))),
            e => Assert.Equal(("Phones[0]", "phone-format", true), (e.Field, e.Rule, e.Message.Contains("U+202E", StringComparison.Ordinal))));
    }

    [Fact]
    public void Only_officially_assigned_country_codes_are_countries()
    {
        var userAssigned = new List<string> { "AA", "ZZ" };
        for (var c = 'M'; c <= 'Z'; c++)
        {
            userAssigned.Add("Q" + c);
        }

        for (var c = 'A'; c <= 'Z'; c++)
        {
            userAssigned.Add("X" + c);
        }

        Assert.Equal(249, CountryCodes.All.Count);
        Assert.All(userAssigned, code => Assert.False(CountryCodes.IsAssigned(code), code));
        Assert.All(["DE", "US", "GB", "QA", "AX", "SS", "BQ"], code => Assert.True(CountryCodes.IsAssigned(code), code));
        Assert.All(["de", "D", "DEU", "", " DE", null], code => Assert.False(CountryCodes.IsAssigned(code)));

        // Every region the phone normaliser knows is a country.
        for (var a = 'A'; a <= 'Z'; a++)
        {
            for (var b = 'A'; b <= 'Z'; b++)
            {
                var code = new string([a, b]);
                Assert.True(!PhoneNumbers.IsKnownRegion(code) || CountryCodes.IsAssigned(code), code);
            }
        }
    }

    [Fact]
    public void Quoted_input_is_short_and_stays_valid_text()
    {
        Gen.String[0, 5000].Sample(text =>
        {
            var quoted = InputText.Quote(text);
            Assert.True(quoted.Length <= InputText.QuotedLength + 40, quoted);
            // Cutting never splits a surrogate pair: valid text stays valid.
            Assert.True(InputText.IndexOfLoneSurrogate(text) >= 0 || InputText.IndexOfLoneSurrogate(quoted) < 0, quoted);
        });
        var pair = new string('a', InputText.QuotedLength - 1) + "\U0001F600" + new string('b', 100);
        Assert.Equal(-1, InputText.IndexOfLoneSurrogate(InputText.Quote(pair)));
    }

    [Fact]
    public void Normalising_twice_changes_nothing()
    {
        Gen.String.Sample(text =>
        {
            if (PhoneNumbers.TryNormalize(text, "GB", out var once))
            {
                Assert.True(PhoneNumbers.TryNormalize(once, "GB", out var twice));
                Assert.Equal(once, twice);
            }

            if (EmailAddresses.TryNormalize(text, out var email))
            {
                Assert.True(EmailAddresses.TryNormalize(email, out var again));
                Assert.Equal(email, again);
            }

            Assert.Equal(SearchKeys.Fold(text), SearchKeys.Fold(SearchKeys.Fold(text)));
        });
    }

    [Fact]
    public void Folded_keys_keep_prefixes()
    {
        // Prefix search relies on this: whatever a user types first, its folded form prefixes the folded whole.
        Gen.Select(Gen.String, Gen.String).Sample((head, tail) =>
            Assert.StartsWith(SearchKeys.Fold(head), SearchKeys.Fold(head + tail), StringComparison.Ordinal));
    }

    [Fact]
    public void Generated_phone_numbers_round_trip_through_every_known_region()
    {
        Gen.Select(Gen.Int[1, 999], Gen.Long[1_000_000, 99_999_999_999]).Sample((country, subscriber) =>
        {
            var e164 = $"+{country}{subscriber}";
            if (e164.Length > 16)
            {
                return;
            }

            foreach (var region in new[] { "US", "GB", "DE", "JP", "AU", "BR" })
            {
                Assert.True(PhoneNumbers.TryNormalize(e164, region, out var normalized));
                Assert.Equal(e164, normalized);
            }
        });
    }
}
