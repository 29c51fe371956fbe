using System.Globalization;
using Crm.Kit;
using Crm.Kit.Customers;
using Crm.Kit.Loyalty;
using Crm.Kit.Orders;
using Microsoft.Extensions.DependencyInjection;

/// <summary>
/// Section 9 of the QuickStart: a loyalty programme. Enrol a customer, earn from an order (5 points per whole
/// 2.50, double on shoes), redeem a reward, refund part of the order, and read the statement.
/// </summary>
internal static class LoyaltySection
{
    public static async Task RunAsync()
    {
        var services = new ServiceCollection();
        services.AddCrmKit(o => o.ReportingCurrency = "EUR").AddLoyalty();
        await using var provider = services.BuildServiceProvider();
        await using var scope = provider.CreateAsyncScope();
        var customers = scope.ServiceProvider.GetRequiredService<CustomerManager>();
        var orders = scope.ServiceProvider.GetRequiredService<OrderManager>();
        var loyalty = scope.ServiceProvider.GetRequiredService<LoyaltyManager>();

        await loyalty.CreateProgrammeAsync(new LoyaltyProgrammeDefinition
        {
            Name = "Green Thumb Club",
            PointName = "leaves",
            Currency = "EUR",
            Earning = new EarnRules
            {
                PointsPerStep = 5,
                SpendStep = 2.50m,
                CategoryMultipliers = new Dictionary<string, decimal> { ["Shoes"] = 2m },
                ExcludedCategories = ["Gift cards"],
            },
            Expiry = PointExpiry.MonthsAfterEarning(24),
            Bonuses = new EventBonuses { SignUp = 50 },
            Tiers = new TierPolicy { Levels = [new TierLevel("Sprout", 0m), new TierLevel("Oak", 500m, 1.5m)] },
        });
        var mug = await loyalty.CreateRewardAsync(new LoyaltyRewardDraft { Name = "Enamel mug", Cost = 200, Stock = 25 });

        var lena = await customers.CreateAsync(new CustomerDraft { FirstName = "Lena", LastName = "Berg", Emails = [new EmailContact("lena@example.com")] });
        await loyalty.EnrolAsync(lena.Id);
        Console.WriteLine($"Lena joins and gets the sign-up bonus: {(await loyalty.GetBalanceAsync(lena.Id))!.Balance} leaves");

        var order = await orders.RecordAsync(new OrderDraft
        {
            CustomerId = lena.Id,
            Reference = "shop-9001",
            Currency = "EUR",
            Lines =
            [
                new OrderLine("BOOT-38", "Garden boots", "Shoes", 1, 49.90m),     // weighs 99.80 (double)
                new OrderLine("SEED-TOM", "Tomato seeds", "Seeds", 2, 3.50m),     // weighs 7.00
                new OrderLine("GIFT-25", "Gift card", "Gift cards", 1, 25.00m),   // excluded: weighs nothing
                // 106.80 is 42 whole steps of 2.50: 210 points
            ],
        });
        Console.WriteLine($"Order {order.Reference} ({order.Total.ToString("0.00", CultureInfo.InvariantCulture)} EUR) earns: {(await loyalty.GetBalanceAsync(lena.Id))!.Balance - 50} leaves (5 per whole 2.50, boots double, gift card excluded)");

        await loyalty.RedeemRewardAsync(lena.Id, mug.Id, idempotencyKey: "basket-17");
        await loyalty.RedeemRewardAsync(lena.Id, mug.Id, idempotencyKey: "basket-17");   // a retried request: applied once
        Console.WriteLine($"Redeems an {mug.Name} for {mug.Cost} (the retried request changed nothing); stock left: {(await loyalty.FindRewardAsync(mug.Id))!.Stock}");

        await orders.RefundAsync(order.Id, new RefundRequest { Reference = "ret-1", Lines = [new RefundedLine("SEED-TOM", 2)] });
        Console.WriteLine("Returns the seeds: their share of the order's points is taken back, at the rates of the day of purchase");

        var statement = await loyalty.GetStatementAsync(lena.Id);
        Console.WriteLine($"Statement — balance {statement.Balance.Balance}, available {statement.Balance.Available}, tier {statement.Balance.Tier}:");
        foreach (var entry in statement.Entries.Items.Reverse())
        {
            Console.WriteLine($"  #{entry.Sequence} {entry.Kind,-8} {entry.Points,5:+#;-#;0}  balance {entry.BalanceAfter,4}  {entry.Source}{(entry.Reason is null ? "" : " — " + entry.Reason)}");
        }

        foreach (var expiry in statement.UpcomingExpiries)
        {
            Console.WriteLine($"  {expiry.Points} leaves expire on {expiry.ExpiresAt:yyyy-MM-dd} unless spent first");
        }

        var progress = await loyalty.GetTierProgressAsync(lena.Id);
        Console.WriteLine($"Tier {progress.Tier}: {progress.ToNextTier} qualifying leaves to {progress.NextTier}");
    }
}
