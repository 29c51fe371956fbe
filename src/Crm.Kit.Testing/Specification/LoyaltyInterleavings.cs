using Crm.Kit.Loyalty;
using Crm.Kit.Orders;
using Microsoft.Extensions.DependencyInjection;
using Xunit;

namespace Crm.Kit.Testing.Specification;

/// <summary>The ledger under random interleavings of every loyalty operation (part of <see cref="LoyaltySpecification"/>).</summary>
public abstract partial class LoyaltySpecification
{
    private enum LedgerOp
    {
        Earn,
        Order,
        Refund,
        Redeem,
        CancelRedemption,
        Adjust,
        Expire,
        Wait,
        EvaluateTiers,
    }

    private sealed record LedgerStep(LedgerOp Op, int Amount, int Key);

    /// <summary>How many random interleavings <see cref="Every_interleaving_keeps_the_ledger_exact_and_refunded_points_gone"/> runs.</summary>
    protected virtual int LedgerInterleavings => 24;

    /// <summary>
    /// Random interleavings of earning (with and without an activation delay), orders, full and partial refunds,
    /// redemptions and their cancellation, adjustments, expiry runs, passing time and tier evaluation, run on two
    /// members side by side. After every step, for each: the balance equals the ledger sum and the lots, never went
    /// below zero, and available plus pending equals it; and no credit's lot holds more than what its reversals left
    /// of it, so points earned from refunded value are never available again. Each run ends with a refund and a
    /// cancellation, in one order for the first member and the other for the second: both end in the same state.
    /// </summary>
    [Fact]
    public virtual async Task Every_interleaving_keeps_the_ledger_exact_and_refunded_points_gone()
    {
        for (var run = 0; run < LedgerInterleavings; run++)
        {
            var random = new Random(run);
            var steps = Enumerable.Range(0, random.Next(3, 28)).Select(_ => new LedgerStep((LedgerOp)random.Next(9), random.Next(1, 400), random.Next(0, 5))).ToList();
            var finalRefund = new LedgerStep(LedgerOp.Refund, random.Next(0, 2) == 0 ? 400 : random.Next(1, 200), random.Next(0, 5));
            var finalCancel = new LedgerStep(LedgerOp.CancelRedemption, 0, random.Next(0, 5));
            var delay = random.Next(2) == 0 ? 0 : 5;
            try
            {
                await InterleaveAsync(steps, finalRefund, finalCancel, delay);
            }
            catch (Exception ex) when (ex is not OperationCanceledException)
            {
                throw new Xunit.Sdk.XunitException($"Run {run} (activation delay {delay} days) failed after [{string.Join(", ", steps)}] then {finalRefund} and {finalCancel}: {ex.Message}", ex);
            }
        }
    }

    private async Task InterleaveAsync(List<LedgerStep> steps, LedgerStep finalRefund, LedgerStep finalCancel, int activationDelayDays)
    {
        var host = await LoyaltyHostAsync(new LoyaltyProgrammeDefinition
        {
            Name = "Club",
            Currency = "USD",
            Earning = new EarnRules { PointsPerStep = 3, SpendStep = 2.5m },
            Expiry = PointExpiry.MonthsAfterEarning(2),
            ActivationDelayDays = activationDelayDays,
            Tiers = new TierPolicy { Levels = [new TierLevel("Silver", 0m), new TierLevel("Gold", 300m)] },
        });
        Member[] members = [new(await MemberAsync(host), "a"), new(await MemberAsync(host), "b")];
        foreach (var step in steps)
        {
            foreach (var member in members)
            {
                await ApplyAsync(host, member, step);
                await AssertRefundedPointsGoneAsync(host, member.CustomerId);
            }

            // Lots are used oldest first, and lots of one instant in id order, which differs between the members:
            // a second between steps gives every lot its own instant, so the two members' lots can be compared.
            Clock.Advance(TimeSpan.FromSeconds(1));
        }

        // The same refund and cancellation, in both orders.
        foreach (var (member, pair) in new[] { (members[0], new[] { finalRefund, finalCancel }), (members[1], new[] { finalCancel, finalRefund }) })
        {
            foreach (var step in pair)
            {
                await ApplyAsync(host, member, step);
                await AssertRefundedPointsGoneAsync(host, member.CustomerId);
            }
        }

        var refundFirst = await FinalStateAsync(host, members[0].CustomerId);
        var cancelFirst = await FinalStateAsync(host, members[1].CustomerId);
        Assert.True(refundFirst == cancelFirst, $"refund, then cancellation: {refundFirst}\ncancellation, then refund: {cancelFirst}" + await LedgersAsync(host, members));
    }

    private sealed record Member(Guid CustomerId, string Name)
    {
        public List<LedgerEntry> Redemptions { get; } = [];

        public int Count { get; set; }
    }

    private async Task ApplyAsync(CrmTestHost host, Member member, LedgerStep step)
    {
        var (op, amount, key) = step;
        var name = $"{member.Name}-{++member.Count}";
        try
        {
            switch (op)
            {
                case LedgerOp.Earn:
                    await host.Loyalty.EarnAsync(member.CustomerId, amount, $"{member.Name}-e-{key}", cancellationToken: Cancel);
                    break;
                case LedgerOp.Order:
                    await host.Orders.RecordAsync(new OrderDraft
                    {
                        CustomerId = member.CustomerId, Reference = $"{member.Name}-o-{key}", Currency = "USD", PlacedAt = Clock.GetUtcNow(),
                        Lines = [new OrderLine("A", "A", null, 1 + (key % 3), amount / 7m)],
                    }, Cancel);
                    break;
                case LedgerOp.Refund:
                    if (await host.Orders.FindByReferenceAsync($"{member.Name}-o-{key}", Cancel) is { NetTotal: > 0m } order)
                    {
                        await host.Orders.RefundAsync(order.Id, new RefundRequest { Reference = "r-" + name, Amount = Math.Min(order.NetTotal, amount / 10m) }, Cancel);
                    }

                    break;
                case LedgerOp.Redeem:
                    member.Redemptions.Add(await host.Loyalty.RedeemAsync(member.CustomerId, amount, $"{member.Name}-x-{key}", cancellationToken: Cancel));
                    break;
                case LedgerOp.CancelRedemption:
                    if (member.Redemptions.Count > 0)
                    {
                        await host.Loyalty.ReverseAsync(member.Redemptions[key % member.Redemptions.Count].Id, "c-" + name, cancellationToken: Cancel);
                    }

                    break;
                case LedgerOp.Adjust:
                    await host.Loyalty.AdjustAsync(member.CustomerId, key % 2 == 0 ? amount : -amount, $"{member.Name}-a-{key}", "correction", "tester", Cancel);
                    break;
                case LedgerOp.Expire:
                    await host.Loyalty.ExpirePointsAsync(cancellationToken: Cancel);
                    break;
                case LedgerOp.EvaluateTiers:
                    await host.Loyalty.EvaluateTiersAsync(Cancel);
                    break;
                default:
                    // Both members live through the same time: it passes after the second has taken the step.
                    if (member.Name == "b")
                    {
                        Clock.Advance(TimeSpan.FromDays(amount % 40));
                    }

                    break;
            }
        }
        catch (InsufficientPointsException)
        {
        }
        catch (CrmValidationException ex) when (ex.Errors.All(e => e.Rule is "already-reversed"))
        {
        }
    }

    /// <summary>
    /// The ledger explains the balance, and no credit's own lot holds more than its reversals left of it: points
    /// earned from refunded (or otherwise reversed) value are never available again.
    /// </summary>
    private static async Task AssertRefundedPointsGoneAsync(CrmTestHost host, Guid customerId)
    {
        var entries = await AssertLedgerExplainsBalanceAsync(host, customerId);
        var balance = (await host.Loyalty.GetBalanceAsync(customerId, Cancel))!;
        Assert.Equal(balance.Balance, balance.Available + balance.Pending);
        var credits = entries.Where(e => e.Points > 0 && e.Kind != LedgerEntryKind.Reverse).ToDictionary(e => e.Id);
        var requested = entries
            .Where(e => e.Kind == LedgerEntryKind.Reverse && e.Points <= 0 && e.ReversesEntryId is { } id && credits.ContainsKey(id))
            .GroupBy(e => e.ReversesEntryId!.Value)
            .ToDictionary(g => g.Key, g => g.Sum(e => -e.Points + e.Shortfall));
        if (requested.Count == 0)
        {
            return;
        }

        var lots = await host.Services.GetRequiredService<ILoyaltyStore>().FindLotsAsync(host.TenantId, [.. requested.Keys], Cancel);
        foreach (var lot in lots)
        {
            var left = credits[lot.Id].Points - requested[lot.Id];
            Assert.True(lot.Remaining <= Math.Max(0, left), $"lot {lot.Id} holds {lot.Remaining} points, but its reversals left only {left} of its {lot.Points}");
        }
    }

    /// <summary>Both members' ledgers, one entry a line, lots and entries named by sequence: what a failure shows.</summary>
    private static async Task<string> LedgersAsync(CrmTestHost host, Member[] members)
    {
        var text = new System.Text.StringBuilder();
        foreach (var m in members)
        {
            var entries = await AssertLedgerExplainsBalanceAsync(host, m.CustomerId);
            text.Append("\nledger of ").Append(m.Name).Append(':');
            foreach (var e in entries)
            {
                text.Append(System.Globalization.CultureInfo.InvariantCulture, $"\n {e.Sequence} {e.Kind} {e.Points} sf={e.Shortfall} rev={(e.ReversesEntryId is { } r ? entries.First(x => x.Id == r).Sequence : 0)} key={e.IdempotencyKey} draws=[{string.Join(",", e.Draws.Select(d => $"{entries.First(x => x.Id == d.LotId).Sequence}:{d.Points}"))}]");
            }
        }

        return text.ToString();
    }

    private static async Task<string> FinalStateAsync(CrmTestHost host, Guid customerId)
    {
        var account = (await host.Loyalty.FindAccountAsync(customerId, Cancel))!;
        var balance = (await host.Loyalty.GetBalanceAsync(customerId, Cancel))!;
        var store = host.Services.GetRequiredService<ILoyaltyStore>();
        var lots = await store.ListOpenLotsAsync(host.TenantId, account.Id, null, 10_000, Cancel);
        var shape = lots.Where(l => l.Remaining > 0)
            .Select(l => $"{l.EarnedAt:O}/{l.AvailableAt:O}/{l.ExpiresAt:O}/{l.Points}:{l.Remaining}")
            .Order(StringComparer.Ordinal);
        return $"balance {balance.Balance}, available {balance.Available}, pending {balance.Pending}, lifetime {account.LifetimePoints}, tier {account.Tier}; lots {string.Join(" ", shape)}";
    }
}
