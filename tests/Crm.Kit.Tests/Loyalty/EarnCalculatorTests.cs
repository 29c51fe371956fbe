using Crm.Kit.Loyalty;
using Crm.Kit.Orders;

namespace Crm.Kit.Tests.Loyalty;

public sealed class EarnCalculatorTests
{
    private static readonly EarnRules FivePer250 = new() { PointsPerStep = 5, SpendStep = 2.50m };

    [Theory]
    [InlineData("2.49", 0)]
    [InlineData("2.50", 5)]
    [InlineData("3.00", 5)]
    [InlineData("4.99", 5)]
    [InlineData("5.00", 10)]
    [InlineData("1000000.01", 2_000_000)]
    public void Only_whole_spend_steps_earn(string spend, long points) =>
        Assert.Equal(points, EarnCalculator.BasePoints(FivePer250, decimal.Parse(spend, System.Globalization.CultureInfo.InvariantCulture)));

    [Fact]
    public void Multipliers_round_down_once_then_bonuses_add_then_the_cap_applies()
    {
        Assert.Equal(7, EarnCalculator.Total(FivePer250, 5, 1.5m, 0));             // 7.5 → 7
        Assert.Equal(22, EarnCalculator.Total(FivePer250, 5, 1.5m * 2m, 7));       // 15 + 7
        Assert.Equal(20, EarnCalculator.Total(FivePer250 with { MaxPointsPerOrder = 20 }, 5, 3m, 7));
    }

    [Fact]
    public void A_sku_multiplier_replaces_its_category_and_exclusions_weigh_nothing()
    {
        var rules = FivePer250 with
        {
            CategoryMultipliers = new Dictionary<string, decimal> { ["shoes"] = 2m },
            SkuMultipliers = new Dictionary<string, decimal> { ["run-1"] = 3m },
            ExcludedSkus = ["GIFT"],
        };
        var order = Order(("RUN-1", "Shoes", 1, 10m), ("WALK", "SHOES", 2, 5m), ("GIFT", null, 1, 50m));
        var (basis, qualifying) = EarnCalculator.Weigh(rules, order);
        Assert.Equal([30m, 20m, 0m], basis.Lines.Select(l => l.WeightedSpend));
        Assert.Equal((50m, 20m, 70m), (basis.WeightedSpend, qualifying, basis.OrderTotal));
    }

    [Fact]
    public void The_refunded_share_follows_line_weights_and_ends_at_exactly_one()
    {
        var rules = FivePer250 with { SkuMultipliers = new Dictionary<string, decimal> { ["A"] = 3m } };
        var order = Order(("A", null, 2, 10m), ("B", null, 1, 20m));
        var (basis, _) = EarnCalculator.Weigh(rules, order);    // A weighs 60, B weighs 20

        var oneA = order with { Refunds = [new OrderRefund("r1", 10m, default, null, [new RefundedLine("A", 1)])] };
        Assert.Equal(0.375m, EarnCalculator.RefundedShare(basis, oneA));
        var byAmount = order with { Refunds = [new OrderRefund("r1", 20m, default, null, [])] };
        Assert.Equal(0.5m, EarnCalculator.RefundedShare(basis, byAmount));
        var all = order with { Refunds = [new OrderRefund("r1", 40m, default, null, [])] };
        Assert.Equal(1m, EarnCalculator.RefundedShare(basis, all));
        Assert.Equal(37, EarnCalculator.ReversalTarget(100, 0.375m));
    }

    [Fact]
    public void End_of_year_and_monthly_expiry_dates()
    {
        var earned = new DateTimeOffset(2026, 5, 31, 23, 0, 0, TimeSpan.FromHours(-3));
        Assert.Equal(new DateTimeOffset(2027, 1, 1, 0, 0, 0, TimeSpan.Zero), PointExpiry.EndOfYear(0).ExpiryOf(earned));
        Assert.Equal(new DateTimeOffset(2029, 1, 1, 0, 0, 0, TimeSpan.Zero), PointExpiry.EndOfYear(2).ExpiryOf(earned));
        Assert.Equal(new DateTimeOffset(2026, 7, 1, 2, 0, 0, TimeSpan.Zero), PointExpiry.MonthsAfterEarning(1).ExpiryOf(earned));
        Assert.Null(PointExpiry.Never.ExpiryOf(earned));
    }

    private static Order Order(params (string Sku, string? Category, int Quantity, decimal Price)[] lines) => new()
    {
        Id = Guid.NewGuid(),
        TenantId = "t",
        Reference = "o",
        Currency = "USD",
        Lines = [.. lines.Select(l => new OrderLine(l.Sku, l.Sku, l.Category, l.Quantity, l.Price))],
    };
}
