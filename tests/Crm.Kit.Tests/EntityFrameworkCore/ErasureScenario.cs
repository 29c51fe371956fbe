using Crm.Kit.Customers;
using Crm.Kit.Duplicates;
using Crm.Kit.Feedback;
using Crm.Kit.Interactions;
using Crm.Kit.Orders;
using Crm.Kit.Sales;
using Crm.Kit.Service;
using Microsoft.Extensions.DependencyInjection;

namespace Crm.Kit.Tests.EntityFrameworkCore;

/// <summary>
/// A customer whose personal data reaches every module, written and rewritten the way real use does, for the tests
/// that search a database's files for it after erasure.
/// </summary>
internal static class ErasureScenario
{
    /// <summary>Values only this customer's data holds: none may be readable after erasure.</summary>
    public static readonly string[] Secrets =
    [
        "zelda.quartermain", "+15035550199", "Quillfeather Lane 4242", "Quibbleton", "ZQX-EXT-REF-77", "attribute-secret-value",
        "INTERACTION-BODY-SECRET", "INTERACTION-SUBJECT-SECRET", "CASE-DESCRIPTION-SECRET", "CASE-SUBJECT-SECRET",
        "SURVEY-COMMENT-SECRET", "DEAL-TITLE-SECRET", "DEAL-ATTRIBUTE-SECRET", "Zeldabeth", "Quartermain-Smythe",
    ];

    /// <summary>Records the customer and its data, and returns the id to erase.</summary>
    /// <param name="sp">A scope's services, with the service, pipeline and feedback modules.</param>
    /// <param name="withMerge">Whether the values reach the erased customer through records merged into it.</param>
    /// <param name="cancel">Cancels.</param>
    public static async Task<Guid> RecordAsync(IServiceProvider sp, bool withMerge, CancellationToken cancel)
    {
        var customers = sp.GetRequiredService<CustomerManager>();
        var orders = sp.GetRequiredService<OrderManager>();
        var draft = new CustomerDraft
        {
            FirstName = "Zeldabeth",
            LastName = "Quartermain-Smythe",
            ExternalReference = "ZQX-EXT-REF-77",
            Emails = [new EmailContact("zelda.quartermain@example.com")],
            Phones = [new PhoneContact("+15035550199")],
            Addresses = [new PostalAddress("Quillfeather Lane 4242", null, "Quibbleton", null, "97201", "US")],
            Attributes = new Dictionary<string, AttributeValue> { ["note"] = AttributeValue.FromText("attribute-secret-value") },
        };
        var customer = await customers.CreateAsync(withMerge ? draft with { Emails = [new EmailContact("zelda.quartermain@other.example")], Phones = [] } : draft, cancel);
        if (withMerge)
        {
            // The values live on records merged into a survivor: erasing the survivor erases them too.
            var survivor = await customers.CreateAsync(new CustomerDraft { FirstName = "Survivor", Emails = [new EmailContact("survivor@example.com")] }, cancel);
            var duplicate = await customers.CreateAsync(draft with { ExternalReference = null }, cancel);
            await sp.GetRequiredService<CustomerMerger>().MergeAsync(survivor.Id, duplicate.Id, cancel);
            await sp.GetRequiredService<CustomerMerger>().MergeAsync(survivor.Id, customer.Id, cancel);
            customer = await customers.GetByIdAsync(survivor.Id, cancel);
        }

        // Every order and update rewrites the customer's row, leaving older copies of it behind.
        for (var i = 0; i < 5; i++)
        {
            await orders.RecordAsync(new OrderDraft { CustomerId = customer.Id, Reference = $"o-{i}", Currency = "USD", Lines = [new OrderLine("S-1", "Seeds", "Garden", 1, 5m)] }, cancel);
        }

        customer = await customers.GetByIdAsync(customer.Id, cancel);
        await customers.UpdateAsync(customer.Id, customer.Version, customer.ToDraft() with { OwnerId = "sam" }, cancel);
        var interactions = sp.GetRequiredService<InteractionManager>();
        var note = await interactions.RecordAsync(new InteractionDraft { CustomerId = customer.Id, Kind = InteractionKind.Note, Subject = "INTERACTION-SUBJECT-SECRET", Body = "INTERACTION-BODY-SECRET " + new string('x', 6000) }, cancel);
        await interactions.UpdateAsync(note.Id, note.Version, new InteractionDraft { CustomerId = customer.Id, Kind = InteractionKind.Note, Subject = "INTERACTION-SUBJECT-SECRET", Body = "INTERACTION-BODY-SECRET, edited " + new string('y', 6000) }, cancel);
        await sp.GetRequiredService<CaseManager>().OpenAsync(new CaseDraft { CustomerId = customer.Id, Subject = "CASE-SUBJECT-SECRET", Description = "CASE-DESCRIPTION-SECRET", OpenedBy = "sam" }, cancel);
        var feedback = sp.GetRequiredService<FeedbackManager>();
        var survey = await feedback.CreateSurveyAsync(new SurveyDraft { Name = "NPS", Kind = SurveyKind.Nps, Question = "Recommend us?" }, cancel);
        await feedback.RecordResponseAsync(new SurveyResponseDraft { SurveyId = survey.Id, CustomerId = customer.Id, Score = 3, Comment = "SURVEY-COMMENT-SECRET" }, cancel);
        var pipelines = sp.GetRequiredService<PipelineManager>();
        var pipeline = await pipelines.CreatePipelineAsync(new PipelineDraft { Name = "Sales", Stages = [new StageDraft("Open", 0.5m), new StageDraft("Won", 1m)] }, cancel);
        await pipelines.CreateDealAsync(new DealDraft
        {
            PipelineId = pipeline.Id, CustomerId = customer.Id, Title = "DEAL-TITLE-SECRET", Currency = "USD", Amount = 10m,
            Attributes = new Dictionary<string, AttributeValue> { ["contact"] = AttributeValue.FromText("DEAL-ATTRIBUTE-SECRET") },
        }, "sam", cancel);
        return customer.Id;
    }

    /// <summary>Which secrets each named file's bytes hold, as "secret in file".</summary>
    public static List<string> Find(IEnumerable<(string Name, byte[] Bytes)> files) =>
    [
        .. from secret in Secrets
           from file in files
           where file.Bytes.AsSpan().IndexOf(System.Text.Encoding.UTF8.GetBytes(secret)) >= 0
           select $"{secret} in {file.Name}",
    ];
}
