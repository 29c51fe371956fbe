using Crm.Kit.Loyalty;
using Crm.Kit.Orders;
using Crm.Kit.Segmentation;
using Microsoft.Extensions.DependencyInjection;
using Xunit;

namespace Crm.Kit.Testing.Specification;

/// <summary>
/// <see cref="ILoyaltyStore"/> through <see cref="LoyaltyManager"/>: earning with its rounding, multipliers, caps and
/// promotions; refunds at the original rates; idempotency; oldest-first redemption that never overdraws; pending
/// points; expiry by lot; tiers; rewards; referrals; segment fields; tenant isolation; and a concurrency run whose
/// ledger must still add up exactly.
/// </summary>
public abstract partial class LoyaltySpecification : CrmSpecification
{
    /// <summary>Operations each of the eight workers of the concurrency test performs.</summary>
    protected virtual int OperationsPerWorker => 1000;

    /// <summary>5 points per whole 2.50 step: a 3.00 order earns 5 points, not 6.</summary>
    [Fact]
    public virtual async Task Orders_earn_whole_steps_with_multipliers_exclusions_minimum_and_cap()
    {
        var host = await LoyaltyHostAsync(Programme() with
        {
            Earning = new EarnRules
            {
                PointsPerStep = 5,
                SpendStep = 2.50m,
                MinimumOrder = 2m,
                MaxPointsPerOrder = 400,
                CategoryMultipliers = new Dictionary<string, decimal> { ["Shoes"] = 2m },
                SkuMultipliers = new Dictionary<string, decimal> { ["SHOE-PROMO"] = 3m },
                ExcludedCategories = ["Gift Cards"],
            },
        });
        var customer = await MemberAsync(host);

        Assert.Equal(5, (await EarnOrderAsync(host, customer, "o-1", ("TEE", "Tops", 1, 3.00m)))!.Points);
        Assert.Equal(10, (await EarnOrderAsync(host, customer, "o-2", ("RUN", "shoes", 1, 3.00m)))!.Points);
        Assert.Equal(15, (await EarnOrderAsync(host, customer, "o-3", ("SHOE-PROMO", "Shoes", 1, 3.00m)))!.Points);
        Assert.Equal(5, (await EarnOrderAsync(host, customer, "o-4", ("TEE", "Tops", 1, 2.50m), ("CARD", "Gift Cards", 1, 100m)))!.Points);
        Assert.Null(await EarnOrderAsync(host, customer, "o-5", ("TEE", "Tops", 1, 1.99m), ("CARD", "Gift Cards", 1, 100m)));
        Assert.Equal(400, (await EarnOrderAsync(host, customer, "o-6", ("TEE", "Tops", 1, 1000m)))!.Points);

        var balance = await host.Loyalty.GetBalanceAsync(customer, Cancel);
        Assert.Equal(435, balance!.Balance);
        Assert.Equal(435, balance.LifetimePoints);
        await AssertLedgerExplainsBalanceAsync(host, customer);
    }

    /// <summary>A refund takes back the refunded share at the rates the order earned with, whatever the programme says now.</summary>
    [Fact]
    public virtual async Task Refunds_reverse_proportionally_at_the_rates_of_the_day()
    {
        var host = await LoyaltyHostAsync(Programme() with { Earning = new EarnRules { PointsPerStep = 10, SpendStep = 1m } });
        var customer = await MemberAsync(host);
        var earned = await EarnOrderAsync(host, customer, "o-1", ("A", "Tops", 4, 10m), ("B", "Tops", 1, 60m));
        Assert.Equal(1000, earned!.Points);

        var programme = (await host.Loyalty.GetProgrammeAsync(Cancel))!;
        await host.Loyalty.UpdateProgrammeAsync(programme.Definition with { Earning = new EarnRules { PointsPerStep = 1, SpendStep = 1m } }, programme.Version, Cancel);

        var order = await host.Orders.FindByReferenceAsync("o-1", Cancel);
        await host.Orders.RefundAsync(order!.Id, new RefundRequest { Reference = "r-1", Lines = [new RefundedLine("A", 1)] }, Cancel);
        Assert.Equal(900, (await host.Loyalty.GetBalanceAsync(customer, Cancel))!.Balance);

        // Repeating the catch-up changes nothing; refunding the rest takes back exactly what is left.
        await host.Loyalty.ReverseForRefundsAsync(order.Id, Cancel);
        Assert.Equal(900, (await host.Loyalty.GetBalanceAsync(customer, Cancel))!.Balance);
        await host.Orders.RefundAsync(order.Id, new RefundRequest { Reference = "r-2" }, Cancel);
        var balance = await host.Loyalty.GetBalanceAsync(customer, Cancel);
        Assert.Equal((0L, 0L), (balance!.Balance, balance.LifetimePoints));
        await AssertLedgerExplainsBalanceAsync(host, customer);
    }

    /// <summary>Points already spent cannot be taken back: the balance stays at zero and the shortfall is recorded.</summary>
    [Fact]
    public virtual async Task A_refund_after_redemption_never_makes_the_balance_negative()
    {
        var host = await LoyaltyHostAsync(Programme());
        var customer = await MemberAsync(host);
        await EarnOrderAsync(host, customer, "o-1", ("A", "Tops", 1, 100m));
        await host.Loyalty.RedeemAsync(customer, 80, "spend", cancellationToken: Cancel);

        var order = await host.Orders.FindByReferenceAsync("o-1", Cancel);
        await host.Orders.RefundAsync(order!.Id, new RefundRequest { Reference = "r-1" }, Cancel);
        var statement = await host.Loyalty.GetStatementAsync(customer, cancellationToken: Cancel);
        var reversal = statement.Entries.Items[0];
        Assert.Equal((LedgerEntryKind.Reverse, -20L, 80L, 0L), (reversal.Kind, reversal.Points, reversal.Shortfall, reversal.BalanceAfter));
        await AssertLedgerExplainsBalanceAsync(host, customer);
    }

    /// <summary>
    /// Earn 100 from an order, redeem 60, refund the order in full and cancel the redemption: whichever of the refund
    /// and the cancellation comes first, the member ends with no points, since all 100 came from refunded value.
    /// </summary>
    [Fact]
    public virtual async Task A_cancelled_redemption_never_returns_points_of_a_refunded_order()
    {
        var host = await LoyaltyHostAsync(Programme());
        foreach (var refundFirst in new[] { true, false })
        {
            var customer = await MemberAsync(host);
            await EarnOrderAsync(host, customer, $"o-{refundFirst}", ("A", "Tops", 1, 100m));
            var redemption = await host.Loyalty.RedeemAsync(customer, 60, "spend", cancellationToken: Cancel);
            var order = await host.Orders.FindByReferenceAsync($"o-{refundFirst}", Cancel);
            Task Refund() => host.Orders.RefundAsync(order!.Id, new RefundRequest { Reference = "r-1" }, Cancel);
            Task Cancel_() => host.Loyalty.ReverseAsync(redemption.Id, "cancel", cancellationToken: Cancel);
            await (refundFirst ? Refund() : Cancel_());
            await (refundFirst ? Cancel_() : Refund());

            var balance = await host.Loyalty.GetBalanceAsync(customer, Cancel);
            Assert.Equal((0L, 0L), (balance!.Balance, balance.Available));
            await AssertLedgerExplainsBalanceAsync(host, customer);
        }
    }

    /// <summary>Repeating a key returns the original entry and changes nothing, even with other arguments.</summary>
    [Fact]
    public virtual async Task A_repeated_idempotency_key_returns_the_original_entry()
    {
        var host = await LoyaltyHostAsync(Programme());
        var customer = await MemberAsync(host);
        var first = await host.Loyalty.EarnAsync(customer, 50, "partner-1", cancellationToken: Cancel);
        var again = await host.Loyalty.EarnAsync(customer, 70, "partner-1", cancellationToken: Cancel);
        Assert.Equal(first, again);
        var redeemed = await host.Loyalty.RedeemAsync(customer, 20, "r-1", cancellationToken: Cancel);
        var repeated = await host.Loyalty.RedeemAsync(customer, 20, "r-1", cancellationToken: Cancel);
        Assert.Equal((redeemed.Id, redeemed.Points, redeemed.BalanceAfter), (repeated.Id, repeated.Points, repeated.BalanceAfter));
        Assert.Equal(redeemed.Draws, repeated.Draws);
        Assert.Equal(30, (await host.Loyalty.GetBalanceAsync(customer, Cancel))!.Balance);
        Assert.Equal(2, host.Events.Of<PointsPosted>().Count);

        var reserved = await Assert.ThrowsAsync<CrmValidationException>(() => host.Loyalty.EarnAsync(customer, 1, "crm:order:x", cancellationToken: Cancel));
        Assert.Contains(reserved.Errors, e => e is { Field: "idempotencyKey", Rule: "reserved-prefix" });
    }

    /// <summary>
    /// Every kind of entry reads back from the store with every field it was posted with (an order's basis, a
    /// redemption's draws, a reversal's target, an adjustment's reason and actor), by id, by key and in the
    /// statement; and each credit's lot with its own dates.
    /// </summary>
    [Fact]
    public virtual async Task Entries_and_lots_read_back_as_they_were_posted()
    {
        var host = await LoyaltyHostAsync(Programme() with { Expiry = PointExpiry.MonthsAfterEarning(12) });
        var customer = await MemberAsync(host);
        var earned = await EarnOrderAsync(host, customer, "o-1", ("TEE", "Tops", 2, 12.50m), ("RUN", "Shoes", 1, 30m));
        Clock.Advance(TimeSpan.FromDays(1));
        var partner = await host.Loyalty.EarnAsync(customer, 40, "p-1", "airline", "spring campaign", Cancel);
        var mug = await host.Loyalty.CreateRewardAsync(new LoyaltyRewardDraft { Name = "Mug", Cost = 60 }, Cancel);
        var redeemed = await host.Loyalty.RedeemRewardAsync(customer, mug.Id, "mug-1", Cancel);
        var adjusted = await host.Loyalty.AdjustAsync(customer, 5, "adj-1", "goodwill", "agent-9", Cancel);
        var cancelled = await host.Loyalty.ReverseAsync(redeemed.Id, "mug-1-back", "changed mind", "clerk-2", Cancel);
        var order = await host.Orders.FindByReferenceAsync("o-1", Cancel);
        await host.Orders.RefundAsync(order!.Id, new RefundRequest { Reference = "r-1", Lines = [new RefundedLine("RUN", 1)] }, Cancel);

        var statement = await AssertLedgerExplainsBalanceAsync(host, customer);
        Assert.Equal(6, statement.Count);
        var refunded = statement[5];
        Assert.Equal((LedgerEntryKind.Reverse, earned!.Id, order.Id), (refunded.Kind, refunded.ReversesEntryId, refunded.OrderId));
        Assert.NotEmpty(earned.Basis!.Lines);
        Assert.NotEmpty(redeemed.Draws);
        Assert.NotEmpty(cancelled.Draws);
        LedgerEntry[] posted = [earned, partner, redeemed, adjusted, cancelled, refunded];
        var store = host.Services.GetRequiredService<ILoyaltyStore>();
        for (var i = 0; i < posted.Length; i++)
        {
            Assert.Equivalent(posted[i], statement[i], strict: true);
            Assert.Equivalent(posted[i], await store.FindEntryAsync(host.TenantId, posted[i].Id, Cancel), strict: true);
            Assert.Equivalent(posted[i], await store.FindEntryByKeyAsync(host.TenantId, posted[i].AccountId, posted[i].IdempotencyKey, Cancel), strict: true);
        }

        // Three credits made lots, under their own ids; the redemption made none.
        Assert.Equal(
            new[] { (earned.Id, earned.Points, earned.At), (partner.Id, 40L, partner.At), (adjusted.Id, 5L, adjusted.At) }.OrderBy(l => l.Id),
            (await store.FindLotsAsync(host.TenantId, [earned.Id, partner.Id, adjusted.Id, redeemed.Id], Cancel)).Select(l => (l.Id, l.Points, l.EarnedAt)).OrderBy(l => l.Id));
        var lot = (await store.FindLotsAsync(host.TenantId, [partner.Id], Cancel)).Single();
        Assert.Equal((host.TenantId, partner.AccountId, partner.At, partner.At.AddMonths(12)), (lot.TenantId, lot.AccountId, lot.AvailableAt, lot.ExpiresAt!.Value));
    }

    /// <summary>
    /// Postings made inside a host's transaction that is then not committed leave nothing behind: no entry, no lot
    /// taken from, no key used up, the balance as before.
    /// </summary>
    [Fact]
    public virtual async Task Postings_in_a_transaction_that_is_not_committed_leave_nothing()
    {
        var host = await LoyaltyHostAsync(Programme() with { Expiry = PointExpiry.MonthsAfterEarning(12) });
        var customer = await MemberAsync(host);
        var kept = await host.Loyalty.EarnAsync(customer, 100, "e-1", cancellationToken: Cancel);
        var store = host.Services.GetRequiredService<ILoyaltyStore>();

        await using (await host.Services.GetRequiredService<ICrmUnitOfWork>().BeginAsync(Cancel))
        {
            await host.Loyalty.EarnAsync(customer, 50, "e-2", cancellationToken: Cancel);
            await host.Loyalty.RedeemAsync(customer, 120, "r-1", cancellationToken: Cancel);
            Assert.Equal(30, (await host.Loyalty.GetBalanceAsync(customer, Cancel))!.Balance);
        }

        Assert.Equal(100, (await host.Loyalty.GetBalanceAsync(customer, Cancel))!.Balance);
        Assert.Null(await store.FindEntryByKeyAsync(host.TenantId, kept.AccountId, "e-2", Cancel));
        Assert.Null(await store.FindEntryByKeyAsync(host.TenantId, kept.AccountId, "r-1", Cancel));
        var statement = await host.Loyalty.GetStatementAsync(customer, cancellationToken: Cancel);
        Assert.Equal([kept.Id], statement.Entries.Items.Select(e => e.Id));
        Assert.Equal([new UpcomingExpiry(kept.At.AddMonths(12), 100)], statement.UpcomingExpiries);

        // The keys are free again, and the first lot is whole again.
        Clock.Advance(TimeSpan.FromDays(1));
        var again = await host.Loyalty.EarnAsync(customer, 50, "e-2", cancellationToken: Cancel);
        Assert.Equal(2, again.Sequence);
        var redeemed = await host.Loyalty.RedeemAsync(customer, 120, "r-1", cancellationToken: Cancel);
        Assert.Equal([new LotDraw(kept.Id, 100), new LotDraw(again.Id, 20)], redeemed.Draws);
        await AssertLedgerExplainsBalanceAsync(host, customer);
    }

    /// <summary>Redemptions take the oldest lots first and cannot overdraw; the statement shows a running balance.</summary>
    [Fact]
    public virtual async Task Redemptions_take_oldest_lots_first_and_never_overdraw()
    {
        var host = await LoyaltyHostAsync(Programme() with { Expiry = PointExpiry.MonthsAfterEarning(12) });
        var customer = await MemberAsync(host);
        var older = await host.Loyalty.EarnAsync(customer, 100, "e-1", cancellationToken: Cancel);
        Clock.Advance(TimeSpan.FromDays(30));
        var newer = await host.Loyalty.EarnAsync(customer, 50, "e-2", cancellationToken: Cancel);

        var redeemed = await host.Loyalty.RedeemAsync(customer, 120, "r-1", cancellationToken: Cancel);
        Assert.Equal([new LotDraw(older.Id, 100), new LotDraw(newer.Id, 20)], redeemed.Draws);

        var refused = await Assert.ThrowsAsync<InsufficientPointsException>(() => host.Loyalty.RedeemAsync(customer, 31, "r-2", cancellationToken: Cancel));
        Assert.Equal((31L, 30L), (refused.Requested, refused.Available));
        Assert.Equal(30, (await host.Loyalty.GetBalanceAsync(customer, Cancel))!.Balance);
        Assert.Null(await host.Services.GetRequiredService<ILoyaltyStore>().FindEntryByKeyAsync(host.TenantId, redeemed.AccountId, "r-2", Cancel));

        var page = await host.Loyalty.GetStatementAsync(customer, pageSize: 2, cancellationToken: Cancel);
        Assert.Equal([30L, 150L], page.Entries.Items.Select(e => e.BalanceAfter));
        var rest = await host.Loyalty.GetStatementAsync(customer, page.Entries.ContinuationToken, 2, Cancel);
        Assert.Equal([100L], rest.Entries.Items.Select(e => e.BalanceAfter));
        Assert.False(rest.Entries.HasMore);
        Assert.Equal([new UpcomingExpiry(newer.At.AddMonths(12), 30)], page.UpcomingExpiries);
    }

    /// <summary>With an activation delay, order points are pending until the return window passes.</summary>
    [Fact]
    public virtual async Task Points_stay_pending_through_the_activation_delay()
    {
        var host = await LoyaltyHostAsync(Programme() with { ActivationDelayDays = 14 });
        var customer = await MemberAsync(host);
        await host.Loyalty.EarnAsync(customer, 10, "e-1", cancellationToken: Cancel);
        await EarnOrderAsync(host, customer, "o-1", ("A", "Tops", 1, 100m));

        var balance = await host.Loyalty.GetBalanceAsync(customer, Cancel);
        Assert.Equal((110L, 10L, 100L), (balance!.Balance, balance.Available, balance.Pending));
        await Assert.ThrowsAsync<InsufficientPointsException>(() => host.Loyalty.RedeemAsync(customer, 11, "r-1", cancellationToken: Cancel));

        Clock.Advance(TimeSpan.FromDays(14));
        balance = await host.Loyalty.GetBalanceAsync(customer, Cancel);
        Assert.Equal((110L, 110L, 0L), (balance!.Balance, balance.Available, balance.Pending));
        await host.Loyalty.RedeemAsync(customer, 110, "r-2", cancellationToken: Cancel);
        await AssertLedgerExplainsBalanceAsync(host, customer);
    }

    /// <summary>Each lot expires on its own date; the run is idempotent; cancelled redemptions return points to their lots.</summary>
    [Fact]
    public virtual async Task Points_expire_by_lot_and_the_run_is_idempotent()
    {
        var host = await LoyaltyHostAsync(Programme() with { Expiry = PointExpiry.MonthsAfterEarning(6) });
        var customer = await MemberAsync(host);
        var start = Clock.GetUtcNow();
        await host.Loyalty.EarnAsync(customer, 100, "e-1", cancellationToken: Cancel);
        Clock.Advance(TimeSpan.FromDays(60));
        await host.Loyalty.EarnAsync(customer, 50, "e-2", cancellationToken: Cancel);
        var redeemed = await host.Loyalty.RedeemAsync(customer, 30, "r-1", cancellationToken: Cancel);

        Clock.SetUtcNow(start.AddMonths(6));
        Assert.Equal(new ExpiryRun(1, 70), await host.Loyalty.ExpirePointsAsync(cancellationToken: Cancel));
        Assert.Equal(new ExpiryRun(0, 0), await host.Loyalty.ExpirePointsAsync(cancellationToken: Cancel));
        Assert.Equal(50, (await host.Loyalty.GetBalanceAsync(customer, Cancel))!.Balance);

        // Cancelling the redemption gives its 30 points back to the expired lot, which the next run expires.
        await host.Loyalty.ReverseAsync(redeemed.Id, "cancel-r-1", "changed mind", cancellationToken: Cancel);
        Assert.Equal(80, (await host.Loyalty.GetBalanceAsync(customer, Cancel))!.Balance);
        Assert.Equal(new ExpiryRun(1, 30), await host.Loyalty.ExpirePointsAsync(cancellationToken: Cancel));
        Assert.Equal(50, (await host.Loyalty.GetBalanceAsync(customer, Cancel))!.Balance);
        await AssertLedgerExplainsBalanceAsync(host, customer);
    }

    /// <summary>Tiers go up at once on qualifying points, multiply earning, and go down only after the grace period.</summary>
    [Fact]
    public virtual async Task Tiers_upgrade_at_once_and_downgrade_after_grace()
    {
        var host = await LoyaltyHostAsync(Programme() with
        {
            Tiers = new TierPolicy
            {
                Measure = TierMeasure.QualifyingPoints,
                Window = TierWindowKind.RollingMonths,
                WindowMonths = 12,
                GraceDays = 30,
                Levels = [new TierLevel("Member", 0m), new TierLevel("Silver", 500m, 1.5m), new TierLevel("Gold", 2000m, 2m)],
            },
        });
        var customer = await MemberAsync(host);
        Assert.Equal("Member", (await host.Loyalty.GetBalanceAsync(customer, Cancel))!.Tier);

        await host.Loyalty.EarnAsync(customer, 1000, "partner", cancellationToken: Cancel);
        Assert.Equal("Member", (await host.Loyalty.GetBalanceAsync(customer, Cancel))!.Tier);

        await EarnOrderAsync(host, customer, "o-1", ("A", "Tops", 1, 600m));
        Assert.Equal("Silver", (await host.Loyalty.GetBalanceAsync(customer, Cancel))!.Tier);
        Assert.Equal(900, (await EarnOrderAsync(host, customer, "o-2", ("A", "Tops", 1, 600m)))!.Points);
        var progress = await host.Loyalty.GetTierProgressAsync(customer, Cancel);
        Assert.Equal(("Silver", 1500m, "Gold", 500m), (progress.Tier, progress.Qualification, progress.NextTier, progress.ToNextTier));
        Assert.Single(host.Events.Of<TierChanged>());

        Clock.Advance(TimeSpan.FromDays(366));
        var first = await host.Loyalty.EvaluateTiersAsync(Cancel);
        Assert.Equal((1, 0, 1), (first.Evaluated, first.Downgraded, first.DowngradesScheduled));
        Assert.Equal("Silver", (await host.Loyalty.GetBalanceAsync(customer, Cancel))!.Tier);

        Clock.Advance(TimeSpan.FromDays(30));
        Assert.Equal(1, (await host.Loyalty.EvaluateTiersAsync(Cancel)).Downgraded);
        var account = await host.Loyalty.FindAccountAsync(customer, Cancel);
        Assert.Equal(["Member", "Silver", "Member"], account!.TierHistory.Select(c => c.To));
        Assert.Equal(2, host.Events.Of<TierChanged>().Count);
    }

    /// <summary>
    /// On spend over calendar years, a tier reached in one year holds through the next, refunds lower the spend that
    /// counts, and redeeming points never does.
    /// </summary>
    [Fact]
    public virtual async Task Calendar_year_spend_tiers_follow_refunds_not_redemptions()
    {
        var host = await LoyaltyHostAsync(Programme() with
        {
            Tiers = new TierPolicy { Measure = TierMeasure.QualifyingSpend, Window = TierWindowKind.CalendarYear, Levels = [new TierLevel("Member", 0m), new TierLevel("Gold", 100m)] },
        });
        var customer = await MemberAsync(host);
        await EarnOrderAsync(host, customer, "o-1", ("A", "Tops", 1, 80m));
        await EarnOrderAsync(host, customer, "o-2", ("B", "Tops", 1, 40m));
        Assert.Equal("Gold", (await host.Loyalty.GetBalanceAsync(customer, Cancel))!.Tier);
        await host.Loyalty.RedeemAsync(customer, 120, "spend-all", cancellationToken: Cancel);
        Assert.Equal(120m, (await host.Loyalty.GetTierProgressAsync(customer, Cancel)).Qualification);

        var order = await host.Orders.FindByReferenceAsync("o-2", Cancel);
        await host.Orders.RefundAsync(order!.Id, new RefundRequest { Reference = "r-1" }, Cancel);
        Assert.Equal(80m, (await host.Loyalty.GetTierProgressAsync(customer, Cancel)).Qualification);

        Clock.SetUtcNow(new DateTimeOffset(2027, 6, 1, 0, 0, 0, TimeSpan.Zero));
        await EarnOrderAsync(host, customer, "o-3", ("A", "Tops", 1, 100m));
        Clock.SetUtcNow(new DateTimeOffset(2028, 3, 1, 0, 0, 0, TimeSpan.Zero));
        Assert.Equal(0, (await host.Loyalty.EvaluateTiersAsync(Cancel)).Downgraded);
        Assert.Equal("Gold", (await host.Loyalty.GetBalanceAsync(customer, Cancel))!.Tier);
        Clock.SetUtcNow(new DateTimeOffset(2029, 1, 2, 0, 0, 0, TimeSpan.Zero));
        Assert.Equal(1, (await host.Loyalty.EvaluateTiersAsync(Cancel)).Downgraded);
        Assert.Equal("Member", (await host.Loyalty.GetBalanceAsync(customer, Cancel))!.Tier);
    }

    /// <summary>A reward redemption takes points and stock together; cancelling gives both back; limits are enforced.</summary>
    [Fact]
    public virtual async Task Rewards_take_points_and_stock_atomically_and_can_be_cancelled()
    {
        var host = await LoyaltyHostAsync(Programme() with { Tiers = new TierPolicy { Levels = [new TierLevel("Member", 0m), new TierLevel("Gold", 1000m)] } });
        var customer = await MemberAsync(host);
        await host.Loyalty.EarnAsync(customer, 300, "e-1", cancellationToken: Cancel);
        var mug = await host.Loyalty.CreateRewardAsync(new LoyaltyRewardDraft { Name = "Mug", Cost = 100, Stock = 1 }, Cancel);
        var lounge = await host.Loyalty.CreateRewardAsync(new LoyaltyRewardDraft { Name = "Lounge", Cost = 10, RequiredTier = "Gold" }, Cancel);
        var bad = await Assert.ThrowsAsync<CrmValidationException>(() => host.Loyalty.CreateRewardAsync(new LoyaltyRewardDraft { Name = " ", Cost = 0, Stock = -1, RequiredTier = "Platinum" }, Cancel));
        Assert.Equal(["Name", "Cost", "Stock", "RequiredTier"], bad.Errors.Select(e => e.Field));

        Assert.Equal(new[] { mug.Id, lounge.Id }.Order(), (await host.Loyalty.ListRewardsAsync(pageSize: 10, cancellationToken: Cancel)).Items.Select(r => r.Id));
        var tooLarge = await Assert.ThrowsAsync<CrmValidationException>(() => host.Loyalty.ListRewardsAsync(pageSize: 1_000_000, cancellationToken: Cancel));
        Assert.Contains(tooLarge.Errors, e => e is { Field: "pageSize", Rule: "range" });

        var redemption = await host.Loyalty.RedeemRewardAsync(customer, mug.Id, "buy-mug", Cancel);
        Assert.Equal((-100L, mug.Id), (redemption.Points, redemption.RewardId!.Value));
        Assert.Equal(0, (await host.Loyalty.FindRewardAsync(mug.Id, Cancel))!.Stock);
        var soldOut = await Assert.ThrowsAsync<CrmValidationException>(() => host.Loyalty.RedeemRewardAsync(customer, mug.Id, "buy-mug-2", Cancel));
        Assert.Contains(soldOut.Errors, e => e.Rule == "in-stock");
        var tier = await Assert.ThrowsAsync<CrmValidationException>(() => host.Loyalty.RedeemRewardAsync(customer, lounge.Id, "lounge", Cancel));
        Assert.Contains(tier.Errors, e => e.Rule == "tier-required");

        await host.Loyalty.ReverseAsync(redemption.Id, "cancel-mug", "out of stock at the till", "clerk-7", Cancel);
        Assert.Equal(1, (await host.Loyalty.FindRewardAsync(mug.Id, Cancel))!.Stock);
        Assert.Equal(300, (await host.Loyalty.GetBalanceAsync(customer, Cancel))!.Balance);
        var twice = await Assert.ThrowsAsync<CrmValidationException>(() => host.Loyalty.ReverseAsync(redemption.Id, "cancel-mug-2", cancellationToken: Cancel));
        Assert.Contains(twice.Errors, e => e.Rule == "already-reversed");
        await AssertLedgerExplainsBalanceAsync(host, customer);
    }

    /// <summary>Referrer and referee are rewarded once, on the referee's first earning order; self and double referral are refused.</summary>
    [Fact]
    public virtual async Task Referrals_reward_both_sides_once_and_refuse_self_and_double_referral()
    {
        var host = await LoyaltyHostAsync(Programme() with { Bonuses = new EventBonuses { Referrer = 200, Referee = 100 } });
        var referrer = await MemberAsync(host);
        var code = (await host.Loyalty.FindAccountAsync(referrer, Cancel))!.ReferralCode;
        var friend = (await host.Customers.CreateAsync(Faker.Person(), Cancel)).Id;

        var unknown = await Assert.ThrowsAsync<CrmValidationException>(() => host.Loyalty.EnrolAsync(friend, "NOSUCHCODE", Cancel));
        Assert.Contains(unknown.Errors, e => e is { Field: "referralCode", Rule: "referral-code-exists" });
        var self = await Assert.ThrowsAsync<CrmValidationException>(() => host.Loyalty.EnrolAsync(referrer, code, Cancel));
        Assert.Contains(self.Errors, e => e.Rule == "new-members-only");

        await host.Loyalty.EnrolAsync(friend, code.ToLowerInvariant(), Cancel);
        var again = await Assert.ThrowsAsync<CrmValidationException>(() => host.Loyalty.EnrolAsync(friend, code, Cancel));
        Assert.Contains(again.Errors, e => e.Rule == "new-members-only");

        await EarnOrderAsync(host, friend, "f-1", ("A", "Tops", 1, 10m));
        await EarnOrderAsync(host, friend, "f-2", ("A", "Tops", 1, 10m));
        Assert.Equal(120, (await host.Loyalty.GetBalanceAsync(friend, Cancel))!.Balance);
        Assert.Equal(200, (await host.Loyalty.GetBalanceAsync(referrer, Cancel))!.Balance);
        await AssertLedgerExplainsBalanceAsync(host, friend);
        await AssertLedgerExplainsBalanceAsync(host, referrer);
    }

    /// <summary>A promotion aimed at a segment multiplies and adds points only for its members and only in its window.</summary>
    [Fact]
    public virtual async Task Promotions_apply_to_their_segment_in_their_window()
    {
        var host = await LoyaltyHostAsync(Programme());
        var vip = await host.Segments.CreateAsync(SegmentDraft.Static("VIP"), Cancel);
        var programme = (await host.Loyalty.GetProgrammeAsync(Cancel))!;
        var now = Clock.GetUtcNow();
        await host.Loyalty.UpdateProgrammeAsync(programme.Definition with
        {
            Promotions =
            [
                new LoyaltyPromotion { Code = "VIP-DOUBLE", Name = "Double points for VIPs", StartsAt = now, EndsAt = now.AddDays(7), SegmentId = vip.Id, Multiplier = 2m, BonusPoints = 5 },
                new LoyaltyPromotion { Code = "LATER", Name = "Next month", StartsAt = now.AddDays(30), EndsAt = now.AddDays(40), Multiplier = 10m },
            ],
        }, programme.Version, Cancel);
        var member = await MemberAsync(host);
        var insider = await MemberAsync(host);
        await host.Segments.AddToListAsync(vip.Id, [insider], Cancel);

        Assert.Equal(10, (await EarnOrderAsync(host, member, "m-1", ("A", "Tops", 1, 10m)))!.Points);
        Assert.Equal(25, (await EarnOrderAsync(host, insider, "i-1", ("A", "Tops", 1, 10m)))!.Points);
        Clock.Advance(TimeSpan.FromDays(8));
        Assert.Equal(10, (await EarnOrderAsync(host, insider, "i-2", ("A", "Tops", 1, 10m)))!.Points);

        var invalid = await Assert.ThrowsAsync<CrmValidationException>(() => host.Loyalty.UpdateProgrammeAsync(programme.Definition with
        {
            Promotions = [new LoyaltyPromotion { Code = "X", Name = "Nothing", StartsAt = now, EndsAt = now, SegmentId = Guid.NewGuid() }],
        }, programme.Version + 1, Cancel));
        Assert.Equal(["Promotions[0].EndsAt", "Promotions[0]"], invalid.Errors.Select(e => e.Field));
    }

    /// <summary>Bonuses: sign-up once per customer ever, birthday once per key; adjustments need a reason and an actor.</summary>
    [Fact]
    public virtual async Task Bonuses_and_adjustments_follow_their_rules()
    {
        var host = await LoyaltyHostAsync(Programme() with { Bonuses = new EventBonuses { SignUp = 50, Birthday = 20 } });
        var customer = await MemberAsync(host);
        await host.Loyalty.UnenrolAsync(customer, Cancel);
        await Assert.ThrowsAsync<CrmValidationException>(() => host.Loyalty.EarnAsync(customer, 5, "closed", cancellationToken: Cancel));
        await host.Loyalty.EnrolAsync(customer, cancellationToken: Cancel);
        await host.Loyalty.AwardBonusAsync(customer, LoyaltyBonus.Birthday, "2026", Cancel);
        await host.Loyalty.AwardBonusAsync(customer, LoyaltyBonus.Birthday, "2026", Cancel);
        Assert.Null(await host.Loyalty.AwardBonusAsync(customer, LoyaltyBonus.Review, "review-1", Cancel));
        Assert.Equal(70, (await host.Loyalty.GetBalanceAsync(customer, Cancel))!.Balance);

        var missing = await Assert.ThrowsAsync<CrmValidationException>(() => host.Loyalty.AdjustAsync(customer, 10, "adj-1", "", " ", Cancel));
        Assert.Equal(["reason", "actor"], missing.Errors.Select(e => e.Field));
        await Assert.ThrowsAsync<InsufficientPointsException>(() => host.Loyalty.AdjustAsync(customer, -71, "adj-2", "correction", "ops", Cancel));
        var adjusted = await host.Loyalty.AdjustAsync(customer, -20, "adj-3", "duplicate bonus", "ops", Cancel);
        Assert.Equal(("duplicate bonus", "ops", 50L), (adjusted.Reason, adjusted.Actor, adjusted.BalanceAfter));
        await AssertLedgerExplainsBalanceAsync(host, customer);
    }

    /// <summary>An import posts lots dated as given, skips keys already posted, and checks every line before writing.</summary>
    [Fact]
    public virtual async Task Imports_post_dated_lots_once_and_check_every_line_first()
    {
        var host = await LoyaltyHostAsync(Programme() with { Expiry = PointExpiry.MonthsAfterEarning(12) });
        var ana = await MemberAsync(host);
        var ben = await MemberAsync(host);
        var outsider = (await host.Customers.CreateAsync(Faker.Person(), Cancel)).Id;
        var longAgo = Clock.GetUtcNow().AddMonths(-13);
        var lastMonth = Clock.GetUtcNow().AddMonths(-1);

        var invalid = await Assert.ThrowsAsync<CrmValidationException>(() => host.Loyalty.ImportAsync(
            [new PointsImport(ana, 10, "ok", lastMonth), new PointsImport(outsider, 0, "", Clock.GetUtcNow().AddDays(1))], Cancel));
        Assert.Equal(["lines[1].Points", "lines[1].IdempotencyKey", "lines[1].EarnedAt"], invalid.Errors.Select(e => e.Field));
        var notMember = await Assert.ThrowsAsync<CrmValidationException>(() => host.Loyalty.ImportAsync([new PointsImport(outsider, 5, "x", lastMonth)], Cancel));
        Assert.Contains(notMember.Errors, e => e is { Field: "lines[0].CustomerId", Rule: "member-active" });
        Assert.Equal(0, (await host.Loyalty.GetBalanceAsync(ana, Cancel))!.Balance);

        PointsImport[] lines =
        [
            new(ana, 100, "legacy-1", longAgo, "legacy-system"),
            new(ana, 40, "legacy-2", lastMonth, "legacy-system"),
            new(ben, 70, "legacy-1", lastMonth, "legacy-system"),
            new(ana, 999, "legacy-2", lastMonth, "legacy-system"),
        ];
        Assert.Equal(new PointsImportResult(3, 1), await host.Loyalty.ImportAsync(lines, Cancel));
        Assert.Equal(new PointsImportResult(0, 4), await host.Loyalty.ImportAsync(lines, Cancel));
        Assert.Equal((140L, 140L), ((await host.Loyalty.GetBalanceAsync(ana, Cancel))!.Balance, (await host.Loyalty.GetBalanceAsync(ana, Cancel))!.LifetimePoints));
        Assert.Equal(70, (await host.Loyalty.GetBalanceAsync(ben, Cancel))!.Balance);

        // The older lot is spent first and was already due to expire.
        var redeemed = await host.Loyalty.RedeemAsync(ana, 30, "r-1", cancellationToken: Cancel);
        Assert.Equal(longAgo, (await host.Services.GetRequiredService<ILoyaltyStore>().FindLotsAsync(host.TenantId, [redeemed.Draws[0].LotId], Cancel))[0].EarnedAt);
        Assert.Equal(new ExpiryRun(1, 70), await host.Loyalty.ExpirePointsAsync(cancellationToken: Cancel));
        await AssertLedgerExplainsBalanceAsync(host, ana);
        await AssertLedgerExplainsBalanceAsync(host, ben);
    }

    /// <summary>
    /// An import larger than one batch is written member by member, and keeps each member's lines in the order given,
    /// also where a member's lines fall into two batches.
    /// </summary>
    [Fact]
    public virtual async Task A_large_import_keeps_each_members_lines_in_order()
    {
        var host = await LoyaltyHostAsync(Programme());
        Guid[] members = [await MemberAsync(host), await MemberAsync(host), await MemberAsync(host)];
        var firstDay = Clock.GetUtcNow().AddDays(-30);
        var lines = Enumerable.Range(0, LoyaltyManager.ImportBatchSize + 100)
            .Select(i => new PointsImport(members[i % members.Length], 1 + (i % 7), $"line-{i}", firstDay.AddMinutes(i), "legacy"))
            .ToList();

        Assert.Equal(new PointsImportResult(lines.Count, 0), await host.Loyalty.ImportAsync(lines, Cancel));
        foreach (var member in members)
        {
            var entries = await AssertLedgerExplainsBalanceAsync(host, member);
            Assert.Equal(lines.Where(l => l.CustomerId == member).Select(l => l.IdempotencyKey), entries.Select(e => e.IdempotencyKey));
        }
    }

    /// <summary>Programme settings are validated with every problem named.</summary>
    [Fact]
    public virtual async Task Programme_settings_are_validated_field_by_field()
    {
        var host = CreateHost(configure: s => s.AddCrmKit().AddLoyalty());
        var invalid = await Assert.ThrowsAsync<CrmValidationException>(() => host.Loyalty.CreateProgrammeAsync(new LoyaltyProgrammeDefinition
        {
            Name = "",
            Currency = "usd",
            Earning = new EarnRules { PointsPerStep = 0, SpendStep = 0m },
            Expiry = PointExpiry.MonthsAfterEarning(0),
            Tiers = new TierPolicy { Levels = [new TierLevel("Base", 10m), new TierLevel("base", 5m)] },
        }, Cancel));
        Assert.Equal(
            ["Name", "Currency", "Earning.PointsPerStep", "Earning.SpendStep", "Expiry.Count", "Tiers.Levels[0].Threshold", "Tiers.Levels[1].Name", "Tiers.Levels[1].Threshold"],
            invalid.Errors.Select(e => e.Field));
        Assert.Null(await host.Loyalty.GetProgrammeAsync(Cancel));

        await host.Loyalty.CreateProgrammeAsync(Programme(), Cancel);
        var second = await Assert.ThrowsAsync<CrmValidationException>(() => host.Loyalty.CreateProgrammeAsync(Programme(), Cancel));
        Assert.Contains(second.Errors, e => e.Rule == "one-per-tenant");
    }

    /// <summary>Points, lifetime points, tier and membership are segment fields that the adapter's evaluator reads.</summary>
    [Fact]
    public virtual async Task Loyalty_fields_select_members_in_segments()
    {
        var host = await LoyaltyHostAsync(Programme() with { Tiers = new TierPolicy { Levels = [new TierLevel("Member", 0m), new TierLevel("Gold", 100m)] } });
        var rich = await MemberAsync(host);
        var poor = await MemberAsync(host);
        var outsider = (await host.Customers.CreateAsync(Faker.Person(), Cancel)).Id;
        var gold = await host.Segments.CreateAsync(SegmentDraft.Dynamic("Gold", Rule.Field(LoyaltyFields.Tier).EqualTo("gold")), Cancel);
        var points = await host.Segments.CreateAsync(SegmentDraft.Dynamic("100+", Rule.All(Rule.Field(LoyaltyFields.Points).AtLeast(100), Rule.Field(LoyaltyFields.Member).IsTrue())), Cancel);
        var none = await host.Segments.CreateAsync(SegmentDraft.Dynamic("Not enrolled", Rule.Field(LoyaltyFields.Points).IsNotSet()), Cancel);

        await EarnOrderAsync(host, rich, "o-1", ("A", "Tops", 1, 150m));
        await host.Loyalty.EarnAsync(poor, 20, "e-1", cancellationToken: Cancel);

        Assert.Equal([rich], (await host.Segments.GetMembersAsync(gold.Id, cancellationToken: Cancel)).Items.Select(c => c.Id));
        Assert.Equal([rich], (await host.Segments.GetMembersAsync(points.Id, cancellationToken: Cancel)).Items.Select(c => c.Id));
        Assert.Equal([outsider], (await host.Segments.GetMembersAsync(none.Id, cancellationToken: Cancel)).Items.Select(c => c.Id));
        Assert.Contains(host.Events.Of<SegmentEntered>(), e => e.SegmentId == gold.Id && e.CustomerId == rich);

        await host.Loyalty.RedeemAsync(rich, 60, "r-1", cancellationToken: Cancel);
        Assert.Contains(host.Events.Of<SegmentExited>(), e => e.SegmentId == points.Id && e.CustomerId == rich);
    }

    /// <summary>Another tenant sees no account, entry or reward, and cannot reverse an entry it does not own.</summary>
    [Fact]
    public virtual async Task Loyalty_data_stays_in_its_tenant()
    {
        var host = await LoyaltyHostAsync(Programme());
        var customer = await MemberAsync(host);
        var entry = await host.Loyalty.EarnAsync(customer, 40, "e-1", cancellationToken: Cancel);
        var reward = await host.Loyalty.CreateRewardAsync(new LoyaltyRewardDraft { Name = "Mug", Cost = 10 }, Cancel);

        var other = await LoyaltyHostAsync(Programme());
        Assert.Null(await other.Loyalty.FindAccountAsync(customer, Cancel));
        Assert.Null(await other.Loyalty.FindRewardAsync(reward.Id, Cancel));
        await Assert.ThrowsAsync<EntityNotFoundException>(() => other.Loyalty.ReverseAsync(entry.Id, "steal", cancellationToken: Cancel));
        var store = other.Services.GetRequiredService<ILoyaltyStore>();
        Assert.Null(await store.FindEntryAsync(other.TenantId, entry.Id, Cancel));
        Assert.Empty(await store.ListEntriesAsync(other.TenantId, entry.AccountId, null, 10, Cancel));
        Assert.Equal(40, (await host.Loyalty.GetBalanceAsync(customer, Cancel))!.Balance);
    }

    /// <summary>
    /// Eight workers post mixed earnings, redemptions and reversals on one member, repeating each other's keys on
    /// purpose. Afterwards every key is applied once, the balance equals the ledger sum and the lots, and no entry
    /// ever took the balance below zero.
    /// </summary>
    [Fact]
    public virtual async Task Concurrent_mixed_postings_keep_the_ledger_exact()
    {
        var host = await LoyaltyHostAsync(Programme());
        var customer = await MemberAsync(host);
        await host.Loyalty.EarnAsync(customer, 100, "seed", cancellationToken: Cancel);
        var operations = OperationsPerWorker;
        await Task.WhenAll(Enumerable.Range(0, 8).Select(worker => Task.Run(async () =>
        {
            var earned = new List<LedgerEntry>();
            for (var i = 0; i < operations; i++)
            {
                // Keys depend on the operation number only, so the eight workers race on every one of them.
                await using var scope = host.CreateScopeAsync();
                var loyalty = scope.ServiceProvider.GetRequiredService<LoyaltyManager>();
                try
                {
                    switch ((i + worker) % 3)
                    {
                        case 0:
                            earned.Add(await loyalty.EarnAsync(customer, 1 + (i % 7), $"earn-{i}", cancellationToken: Cancel));
                            break;
                        case 1:
                            await loyalty.RedeemAsync(customer, 1 + (i % 11), $"redeem-{i}", cancellationToken: Cancel);
                            break;
                        default:
                            if (earned.Count > 0)
                            {
                                await loyalty.ReverseAsync(earned[i % earned.Count].Id, $"reverse-{earned[i % earned.Count].Id:N}", cancellationToken: Cancel);
                            }

                            break;
                    }
                }
                catch (InsufficientPointsException)
                {
                }
                catch (CrmValidationException ex) when (ex.Errors.All(e => e.Rule == "already-reversed"))
                {
                }
            }
        }, Cancel)));

        var entries = await AssertLedgerExplainsBalanceAsync(host, customer);
        Assert.Equal(entries.Count, entries.Select(e => e.IdempotencyKey).Distinct().Count());
        Assert.Equal(entries.Count, host.Events.Of<PointsPosted>().Count);
        Assert.Contains(entries, e => e.Kind == LedgerEntryKind.Redeem);
        Assert.Contains(entries, e => e.Kind == LedgerEntryKind.Reverse);
    }

    /// <summary>A host with the loyalty module and a programme.</summary>
    protected async Task<CrmTestHost> LoyaltyHostAsync(LoyaltyProgrammeDefinition definition)
    {
        var host = CreateHost(configure: s => s.AddCrmKit().AddLoyalty());
        await host.Loyalty.CreateProgrammeAsync(definition, Cancel);
        return host;
    }

    /// <summary>A plain programme: 1 point per 1.00, no expiry, no tiers.</summary>
    protected static LoyaltyProgrammeDefinition Programme() => new() { Name = "Club", PointName = "stars", Currency = "USD" };

    /// <summary>A new customer, enrolled.</summary>
    protected async Task<Guid> MemberAsync(CrmTestHost host)
    {
        var customer = await host.Customers.CreateAsync(Faker.Person(), Cancel);
        await host.Loyalty.EnrolAsync(customer.Id, cancellationToken: Cancel);
        return customer.Id;
    }

    /// <summary>Records an order (which earns through the order handler) and returns its earn entry, if any.</summary>
    protected static async Task<LedgerEntry?> EarnOrderAsync(CrmTestHost host, Guid customerId, string reference, params (string Sku, string Category, int Quantity, decimal Price)[] lines)
    {
        var order = await host.Orders.RecordAsync(new OrderDraft
        {
            CustomerId = customerId,
            Reference = reference,
            Currency = "USD",
            Lines = [.. lines.Select(l => new OrderLine(l.Sku, l.Sku, l.Category, l.Quantity, l.Price))],
        }, Cancel);
        var account = await host.Loyalty.FindAccountAsync(customerId, Cancel);
        return await host.Services.GetRequiredService<ILoyaltyStore>().FindEntryByKeyAsync(host.TenantId, account!.Id, $"crm:order:{order.Id:N}", Cancel);
    }

    /// <summary>
    /// Checks the ledger explains the balance: entries in sequence, each balance-after the running sum and never
    /// negative, the last equal to the account balance, and the open lots holding exactly that many points.
    /// </summary>
    protected static async Task<IReadOnlyList<LedgerEntry>> AssertLedgerExplainsBalanceAsync(CrmTestHost host, Guid customerId)
    {
        var loyalty = host.Loyalty;
        var entries = new List<LedgerEntry>();
        string? token = null;
        LoyaltyStatement statement;
        do
        {
            statement = await loyalty.GetStatementAsync(customerId, token, 500, Cancel);
            entries.AddRange(statement.Entries.Items);
            token = statement.Entries.ContinuationToken;
        }
        while (token is not null);

        entries.Reverse();
        long running = 0;
        for (var i = 0; i < entries.Count; i++)
        {
            running += entries[i].Points;
            Assert.Equal(i + 1, entries[i].Sequence);
            Assert.Equal(running, entries[i].BalanceAfter);
            Assert.True(running >= 0, $"entry {entries[i].Sequence} left the balance at {running}");
        }

        var account = (await loyalty.FindAccountAsync(customerId, Cancel))!;
        Assert.Equal(running, account.Balance);
        Assert.Equal(statement.Balance.Balance, account.Balance);

        var store = host.Services.GetRequiredService<ILoyaltyStore>();
        long inLots = 0;
        KeysetPosition? after = null;
        while (true)
        {
            var lots = await store.ListOpenLotsAsync(host.TenantId, account.Id, after, 500, Cancel);
            inLots += lots.Sum(l => l.Remaining);
            if (lots.Count < 500)
            {
                break;
            }

            after = new KeysetPosition(lots[^1].EarnedAt, lots[^1].Id);
        }

        Assert.Equal(account.Balance, inLots);
        return entries;
    }
}
