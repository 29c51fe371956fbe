using CsCheck;

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
