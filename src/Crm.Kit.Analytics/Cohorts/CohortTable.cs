using Crm.Kit.Orders;

namespace Crm.Kit.Analytics;

/// <summary>One cell of a cohort table: a cohort, some months after its first purchase.</summary>
/// <param name="MonthsSinceFirstPurchase">0 for the acquisition month.</param>
/// <param name="ActiveCustomers">Cohort members who bought in that month.</param>
/// <param name="RetentionRate">Active customers / cohort size.</param>
/// <param name="Revenue">What the cohort spent in that month.</param>
public sealed record CohortCell(int MonthsSinceFirstPurchase, int ActiveCustomers, double RetentionRate, decimal Revenue);

/// <summary>One acquisition cohort: the customers whose first purchase fell in <see cref="Month"/>.</summary>
/// <param name="Month">The first day of the acquisition month.</param>
/// <param name="Customers">The cohort's size.</param>
/// <param name="Cells">Month 0, 1, 2 … up to the last observed month; a month with no buyer is present with zeros.</param>
public sealed record CohortRow(DateOnly Month, int Customers, IReadOnlyList<CohortCell> Cells);

/// <summary>Monthly acquisition cohorts × months since first purchase: retention and revenue, ready to render.</summary>
public sealed class CohortTable
{
    private CohortTable(IReadOnlyList<CohortRow> rows) => Rows = rows;

    /// <summary>Cohorts, oldest first.</summary>
    public IReadOnlyList<CohortRow> Rows { get; }

    /// <summary>The number of month columns of the oldest cohort.</summary>
    public int Columns => Rows.Count == 0 ? 0 : Rows.Max(r => r.Cells.Count);

    /// <summary>
    /// Builds the table from purchase days grouped by customer (as <see cref="IPurchaseHistoryStore.StreamDaysAsync"/>
    /// yields them); holds one row of counters per cohort and one customer at a time.
    /// </summary>
    public static async Task<CohortTable> BuildAsync(IAsyncEnumerable<CustomerPurchaseDay> days, DateOnly lastDay, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(days);
        var lastMonth = MonthIndex(lastDay);
        var cohorts = new SortedDictionary<int, (int Customers, int[] Active, decimal[] Revenue)>();
        Guid? current = null;
        var cohort = 0;
        var seenMonths = new HashSet<int>();
        await foreach (var day in days.WithCancellation(cancellationToken).ConfigureAwait(false))
        {
            if (day.CustomerId != current)
            {
                // Days arrive in order within a customer, so the first day seen is the acquisition day.
                current = day.CustomerId;
                cohort = MonthIndex(day.Day);
                seenMonths.Clear();
                if (!cohorts.TryGetValue(cohort, out var row))
                {
                    var width = lastMonth - cohort + 1;
                    row = (0, new int[width], new decimal[width]);
                }

                cohorts[cohort] = row with { Customers = row.Customers + 1 };
            }

            var offset = MonthIndex(day.Day) - cohort;
            if (offset < 0 || offset > lastMonth - cohort)
            {
                throw new InvalidOperationException($"Purchase days must arrive in order within a customer and end by {lastDay:yyyy-MM-dd}; customer {day.CustomerId} has {day.Day:yyyy-MM-dd}.");
            }

            var cells = cohorts[cohort];
            if (seenMonths.Add(offset))
            {
                cells.Active[offset]++;
            }

            cells.Revenue[offset] += day.Spend;
        }

        return new CohortTable(
        [
            .. cohorts.Select(c => new CohortRow(
                new DateOnly(c.Key / 12, (c.Key % 12) + 1, 1),
                c.Value.Customers,
                [.. c.Value.Active.Select((active, month) => new CohortCell(month, active, (double)active / c.Value.Customers, c.Value.Revenue[month]))])),
        ]);
    }

    private static int MonthIndex(DateOnly day) => (day.Year * 12) + day.Month - 1;
}
