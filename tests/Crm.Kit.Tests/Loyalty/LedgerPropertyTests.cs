using Crm.Kit.Customers;
using Crm.Kit.Loyalty;
using Crm.Kit.Orders;
using Crm.Kit.Testing;
using CsCheck;
using Microsoft.Extensions.DependencyInjection;

namespace Crm.Kit.Tests.Loyalty;

/// <summary>
/// Whatever mix of earnings, orders, refunds, redemptions, reversals, adjustments, expiry runs and passing time a
/// member sees — repeated keys and refused requests included — after every step the balance equals the ledger sum
/// and the points left in the lots, no entry ever took it below zero, and available plus pending equals it.
/// </summary>
public sealed class LedgerPropertyTests
{
    private enum Op
    {
        Earn,
        Order,
        Refund,
        Redeem,
        Reverse,
        Adjust,
        Expire,
        Wait,
    }

    private sealed record Step(Op Op, int Amount, int Key);

    private static readonly Gen<Step> StepGen =
        Gen.Select(Gen.Enum<Op>(), Gen.Int[-200, 400], Gen.Int[0, 6]).Select((op, amount, key) => new Step(op, amount, key));

    [Fact]
    public void The_balance_always_equals_the_ledger_and_the_lots()
    {
        StepGen.Array[1, 40].Sample(steps => RunAsync(steps).GetAwaiter().GetResult(), iter: 80);
    }

    private static async Task RunAsync(Step[] steps)
    {
        var clock = new ManualTimeProvider(new DateTimeOffset(2026, 1, 1, 0, 0, 0, TimeSpan.Zero));
        var services = new ServiceCollection();
        services.AddSingleton<TimeProvider>(clock);
        services.AddCrmKit().AddLoyalty();
        await using var provider = services.BuildServiceProvider();
        await using var scope = provider.CreateAsyncScope();
        var sp = scope.ServiceProvider;
        var loyalty = sp.GetRequiredService<LoyaltyManager>();
        var orders = sp.GetRequiredService<OrderManager>();
        await loyalty.CreateProgrammeAsync(new LoyaltyProgrammeDefinition
        {
            Name = "Club",
            Currency = "USD",
            Earning = new EarnRules { PointsPerStep = 3, SpendStep = 2.5m },
            Expiry = PointExpiry.MonthsAfterEarning(2),
            ActivationDelayDays = 5,
        });
        var customer = await sp.GetRequiredService<CustomerManager>().CreateAsync(new CustomerDraft { FirstName = "Prop", LastName = "Erty" });
        await loyalty.EnrolAsync(customer.Id);
        var store = sp.GetRequiredService<ILoyaltyStore>();
        var entries = new List<LedgerEntry>();

        for (var i = 0; i < steps.Length; i++)
        {
            var (op, amount, key) = steps[i];
            var points = Math.Abs(amount) + 1;
            try
            {
                switch (op)
                {
                    case Op.Earn:
                        entries.Add(await loyalty.EarnAsync(customer.Id, points, "e-" + key));
                        break;
                    case Op.Order:
                        await orders.RecordAsync(new OrderDraft { CustomerId = customer.Id, Reference = "o-" + key, Currency = "USD", PlacedAt = clock.GetUtcNow(), Lines = [new OrderLine("A", "A", null, 1 + key % 3, points / 7m)] });
                        break;
                    case Op.Refund:
                        if (await orders.FindByReferenceAsync("o-" + key) is { NetTotal: > 0m } order)
                        {
                            await orders.RefundAsync(order.Id, new RefundRequest { Reference = "r-" + i, Amount = Math.Min(order.NetTotal, points / 100m) });
                        }

                        break;
                    case Op.Redeem:
                        entries.Add(await loyalty.RedeemAsync(customer.Id, points, "x-" + key));
                        break;
                    case Op.Reverse:
                        if (entries.Count > 0)
                        {
                            await loyalty.ReverseAsync(entries[key % entries.Count].Id, "v-" + i);
                        }

                        break;
                    case Op.Adjust:
                        await loyalty.AdjustAsync(customer.Id, amount == 0 ? 1 : amount, "a-" + key, "correction", "tester");
                        break;
                    case Op.Expire:
                        await loyalty.ExpirePointsAsync();
                        break;
                    default:
                        clock.Advance(TimeSpan.FromDays(points % 40));
                        break;
                }
            }
            catch (InsufficientPointsException)
            {
            }
            catch (CrmValidationException ex) when (ex.Errors.All(e => e.Rule is "already-reversed" or "reversible-kind"))
            {
            }

            var account = (await loyalty.FindAccountAsync(customer.Id))!;
            var ledger = await store.ListEntriesAsync(account.TenantId, account.Id, null, 10_000, default);
            Assert.Equal(account.EntryCount, ledger.Count);
            Assert.Equal(account.Balance, ledger.Sum(e => e.Points));
            Assert.All(ledger, e => Assert.True(e.BalanceAfter >= 0));
            var lots = await store.ListOpenLotsAsync(account.TenantId, account.Id, null, 10_000, default);
            Assert.Equal(account.Balance, lots.Sum(l => l.Remaining));
            var balance = (await loyalty.GetBalanceAsync(customer.Id))!;
            Assert.Equal(balance.Balance, balance.Available + balance.Pending);
            Assert.Equal(lots.Where(l => l.AvailableAt > clock.GetUtcNow()).Sum(l => l.Remaining), balance.Pending);
        }
    }
}
