namespace Crm.Kit.Sales;

/// <summary>Open deals of one stage, expected-close month and currency, summed by the store.</summary>
/// <param name="StageId">The stage.</param>
/// <param name="ExpectedCloseMonth">The expected close month as year × 12 + month − 1; <see langword="null"/> for deals without an expected close date.</param>
/// <param name="Currency">The currency.</param>
/// <param name="Amount">The sum of the amounts.</param>
/// <param name="Count">How many deals.</param>
public sealed record OpenDealSum(Guid StageId, int? ExpectedCloseMonth, string Currency, decimal Amount, long Count);

/// <summary>Deals closed with one status, in one month and currency, summed by the store.</summary>
/// <param name="Status">Won or lost.</param>
/// <param name="ClosedMonth">The month they closed in (UTC), as year × 12 + month − 1.</param>
/// <param name="Currency">The currency.</param>
/// <param name="Amount">The sum of the amounts.</param>
/// <param name="Count">How many deals.</param>
/// <param name="CycleSeconds">The sum of their sales cycles (close time − creation time) in whole seconds; seconds rather than ticks so a million deals cannot overflow the sum.</param>
public sealed record ClosedDealSum(DealStatus Status, int ClosedMonth, string Currency, decimal Amount, long Count, long CycleSeconds);

/// <summary>One month and currency of a forecast.</summary>
/// <param name="Month">The first day of the month; <see langword="null"/> for open deals without an expected close date.</param>
/// <param name="Currency">The currency; figures of different currencies are never added together.</param>
/// <param name="Weighted">Σ amount × stage win probability of the open deals expected to close in the month.</param>
/// <param name="BestCase">Σ amount of those open deals (all of them won).</param>
/// <param name="Committed">Σ amount of the deals won in the month.</param>
/// <param name="OpenDeals">How many open deals the month holds.</param>
/// <param name="WonDeals">How many deals were won in the month.</param>
public sealed record ForecastMonth(DateOnly? Month, string Currency, decimal Weighted, decimal BestCase, decimal Committed, long OpenDeals, long WonDeals);

/// <summary>How deals closed in a period turned out, per currency where amounts are involved.</summary>
/// <param name="Won">Deals won.</param>
/// <param name="Lost">Deals lost.</param>
/// <param name="AverageSalesCycle">The mean time from creation to winning, over won deals; <see langword="null"/> without any.</param>
/// <param name="ByCurrency">Won amounts per currency.</param>
public sealed record DealOutcomes(long Won, long Lost, TimeSpan? AverageSalesCycle, IReadOnlyList<WonAmounts> ByCurrency)
{
    /// <summary>Won ÷ (won + lost), from 0 to 1, rounded to four decimals; <see langword="null"/> when nothing closed.</summary>
    public decimal? WinRate => Won + Lost == 0 ? null : Math.Round((decimal)Won / (Won + Lost), 4, MidpointRounding.AwayFromZero);
}

/// <summary>Won deals of one currency.</summary>
/// <param name="Currency">The currency.</param>
/// <param name="Count">How many were won.</param>
/// <param name="Total">Their total amount.</param>
public sealed record WonAmounts(string Currency, long Count, decimal Total)
{
    /// <summary>The average won deal size, rounded to two decimals.</summary>
    public decimal AverageDealSize => Count == 0 ? 0 : Math.Round(Total / Count, 2, MidpointRounding.AwayFromZero);
}

/// <summary>Pipeline velocity of one currency: how much money the pipeline is expected to turn into revenue per day.</summary>
/// <param name="Currency">The currency.</param>
/// <param name="OpenDeals">Open deals in the currency.</param>
/// <param name="WinRate">The pipeline's win rate over the period.</param>
/// <param name="AverageDealSize">The average won deal size in the currency over the period.</param>
/// <param name="SalesCycle">The average sales cycle over the period.</param>
/// <param name="PerDay">Open deals × win rate × average deal size ÷ cycle length in days, rounded to two decimals.</param>
public sealed record PipelineVelocity(string Currency, long OpenDeals, decimal WinRate, decimal AverageDealSize, TimeSpan SalesCycle, decimal PerDay);

/// <summary>Deals of one status that got no further than one stage, counted by the store for a funnel.</summary>
/// <param name="FurthestPosition">The position, in the stage order the store was given, of the furthest stage the deal's history reaches; −1 when it reaches none of them.</param>
/// <param name="Status">The deals' status now.</param>
/// <param name="Count">How many deals.</param>
public sealed record FunnelCount(int FurthestPosition, DealStatus Status, long Count);

/// <summary>One stage of a funnel.</summary>
/// <param name="StageId">The stage.</param>
/// <param name="StageName">Its name.</param>
/// <param name="Reached">Deals that reached the stage: their history got to it or to a later stage, or they were won.</param>
/// <param name="MovedOn">Of those, the deals that reached the next active stage — or, for the last stage, were won.</param>
public sealed record FunnelStep(Guid StageId, string StageName, long Reached, long MovedOn)
{
    /// <summary>Moved on ÷ reached, from 0 to 1, rounded to four decimals; <see langword="null"/> when no deal reached the stage.</summary>
    public decimal? Conversion => Reached == 0 ? null : Math.Round((decimal)MovedOn / Reached, 4, MidpointRounding.AwayFromZero);
}

/// <summary>How the deals created in a period moved through a pipeline's active stages, and how they ended up.</summary>
/// <param name="Deals">Deals created in the period.</param>
/// <param name="Steps">The active stages in order, with how many deals reached each and moved on from it.</param>
/// <param name="Open">Of the deals, those still open.</param>
/// <param name="Won">Of the deals, those won.</param>
/// <param name="Lost">Of the deals, those lost.</param>
public sealed record PipelineFunnel(long Deals, IReadOnlyList<FunnelStep> Steps, long Open, long Won, long Lost)
{
    /// <summary>Won ÷ deals created, from 0 to 1, rounded to four decimals; <see langword="null"/> when none were created.</summary>
    public decimal? OverallConversion => Deals == 0 ? null : Math.Round((decimal)Won / Deals, 4, MidpointRounding.AwayFromZero);
}

/// <summary>The stays in one stage that ended in a period, summarised by the store.</summary>
/// <param name="StageId">The stage.</param>
/// <param name="Stays">How many stays ended (a deal moved on, was won or was lost).</param>
/// <param name="Mean">Their mean length.</param>
/// <param name="Median">Their median length (the mean of the two middle ones when the count is even).</param>
public sealed record StageTimeSum(Guid StageId, long Stays, TimeSpan Mean, TimeSpan Median);

/// <summary>How long deals stay in one stage.</summary>
/// <param name="StageId">The stage.</param>
/// <param name="StageName">Its name.</param>
/// <param name="Stays">How many stays ended in the period.</param>
/// <param name="Mean">Their mean length.</param>
/// <param name="Median">Their median length.</param>
public sealed record StageTime(Guid StageId, string StageName, long Stays, TimeSpan Mean, TimeSpan Median);

/// <summary>Months as the integers the stores group by.</summary>
public static class DealMonths
{
    /// <summary>The month of <paramref name="date"/> as year × 12 + month − 1.</summary>
    public static int Of(DateOnly date) => (date.Year * 12) + date.Month - 1;

    /// <summary>The UTC month of <paramref name="instant"/> as year × 12 + month − 1.</summary>
    public static int Of(DateTimeOffset instant) => Of(DateOnly.FromDateTime(instant.UtcDateTime));

    /// <summary>The first day of the month <paramref name="month"/> stands for.</summary>
    public static DateOnly FirstDay(int month) => new(month / 12, (month % 12) + 1, 1);
}
