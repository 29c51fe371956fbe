using Crm.Kit.Customers;
using Crm.Kit.Interactions;
using Crm.Kit.Orders;
using Crm.Kit.Segmentation;
using Crm.Kit.Service;
using Microsoft.Extensions.DependencyInjection;

namespace Crm.Kit.Tests.Customers;

/// <summary>
/// A megabyte of input in any field gives a short error: messages quote at most a prefix of what was sent, so an
/// error never repeats a request body into a log or a response.
/// </summary>
public sealed class LongInputTests
{
    private const int MaxMessage = 2_000;
    private static readonly string Huge = new('x', 1_000_000);

    private static CancellationToken Cancel => TestContext.Current.CancellationToken;

    private static void AssertShort(CrmException error)
    {
        Assert.True(error.Message.Length < MaxMessage, $"a message of {error.Message.Length:N0} characters: {error.Message[..Math.Min(300, error.Message.Length)]}");
        if (error is CrmValidationException validation)
        {
            Assert.All(validation.Errors, e => Assert.True(e.Field.Length + e.Message.Length < 500, e.Field.Length + e.Message.Length + " characters"));
        }
    }

    [Fact]
    public async Task Every_error_about_a_huge_value_quotes_a_short_prefix()
    {
        var services = new ServiceCollection();
        services.AddCrmKit().AddServiceCases();
        await using var provider = services.BuildServiceProvider();
        await using var scope = provider.CreateAsyncScope();
        var customers = scope.ServiceProvider.GetRequiredService<CustomerManager>();
        var orders = scope.ServiceProvider.GetRequiredService<OrderManager>();
        var interactions = scope.ServiceProvider.GetRequiredService<InteractionManager>();
        var cases = scope.ServiceProvider.GetRequiredService<CaseManager>();
        var segments = scope.ServiceProvider.GetRequiredService<SegmentManager>();

        AssertShort(await Assert.ThrowsAsync<CrmValidationException>(() => customers.CreateAsync(new CustomerDraft
        {
            FirstName = Huge,
            LastName = Huge,
            ExternalReference = Huge,
            Emails = [new EmailContact(Huge + "@example.com", Huge)],
            Phones = [new PhoneContact(Huge, Huge)],
            Addresses = [new PostalAddress(Huge, Huge, Huge, Huge, Huge, Huge)],
            Tags = [Huge],
            Attributes = new Dictionary<string, AttributeValue> { [Huge] = AttributeValue.FromText(Huge), ["list"] = AttributeValue.FromTextList([Huge]) },
            OwnerId = Huge,
        }, Cancel)));

        var customer = await customers.CreateAsync(new CustomerDraft { FirstName = "Ana" }, Cancel);
        AssertShort(await Assert.ThrowsAsync<CrmValidationException>(() => orders.RecordAsync(new OrderDraft
        {
            CustomerId = customer.Id,
            Reference = Huge,
            Currency = Huge,
            Channel = Huge,
            Lines = [new OrderLine(Huge, Huge, Huge, 1, 1m), new OrderLine(Huge, Huge, Huge, 1, 1m)],
        }, Cancel)));
        var order = await orders.RecordAsync(new OrderDraft { CustomerId = customer.Id, Reference = "o-1", Currency = "USD", Lines = [new OrderLine("S-1", "Seeds", "Garden", 1, 2m)] }, Cancel);
        AssertShort(await Assert.ThrowsAsync<CrmValidationException>(() => orders.RefundAsync(order.Id, new RefundRequest { Reference = Huge, Lines = [new RefundedLine(Huge, 1)] }, Cancel)));

        AssertShort(await Assert.ThrowsAsync<CrmValidationException>(() => interactions.RecordAsync(new InteractionDraft
        {
            CustomerId = customer.Id,
            Subject = Huge,
            Body = Huge + Huge,
            OwnerId = Huge,
        }, Cancel)));

        AssertShort(await Assert.ThrowsAsync<CrmValidationException>(() => cases.OpenAsync(new CaseDraft
        {
            CustomerId = customer.Id,
            Kind = Huge,
            Subject = Huge,
            Description = Huge,
            OwnerId = Huge,
            Team = Huge,
        }, Cancel)));

        AssertShort(await Assert.ThrowsAsync<CrmValidationException>(() => segments.CreateAsync(SegmentDraft.Dynamic(Huge, Rule.Field("city").EqualTo(Huge)), Cancel)));
        AssertShort(Assert.Throws<CrmValidationException>(() => segments.ParseRule($$$"""{"version":1,"rule":{"field":"{{{Huge[..900_000]}}}","op":"{{{Huge[..50_000]}}}","unit":"{{{Huge[..10_000]}}}","{{{Huge[..20_000]}}}":1}}""")));
    }
}
