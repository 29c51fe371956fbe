namespace Crm.Kit.Loyalty;

/// <summary>
/// What reversals of credits still owe, and how points that come back settle it. A refund (or any reversal of a
/// credit) takes its points from the credit's own lot first, then from the member's oldest lots, never below zero;
/// what it could not take is its shortfall, and what it took from other lots than the credit's it borrowed. When
/// points later come back to the member — a cancelled redemption, a reversed debit — every such reversal is settled
/// again as if it were made now: what it borrowed goes back to its lots, and what it owes in all is taken once more,
/// the credit's own lot first. So points earned from refunded value never become available again, and a refund and a
/// cancellation leave the same balance and the same lots whichever arrives first.
/// </summary>
internal static class RefundDebts
{
    private const int Page = 500;

    /// <summary>One reversal's debt: what it could not take, and what it took from other lots than the credit's.</summary>
    private sealed class Debt(LedgerEntry reversal, Guid creditId)
    {
        public LedgerEntry Reversal { get; } = reversal;

        public Guid CreditId { get; } = creditId;

        public long Shortfall { get; set; } = reversal.Shortfall;

        /// <summary>Points borrowed from each other lot.</summary>
        public Dictionary<Guid, long> Borrowed { get; } = Add([], reversal.Draws, creditId, 1);

        public bool IsOwing => Shortfall > 0 || Borrowed.Count > 0;

        /// <summary>Applies a later settlement: points it gave back repay borrowed lots, points it took borrow again.</summary>
        public void Settled(LedgerEntry settlement)
        {
            Shortfall += settlement.Points;
            Add(Borrowed, settlement.Draws, CreditId, settlement.Points > 0 ? -1 : 1);
        }

        private static Dictionary<Guid, long> Add(Dictionary<Guid, long> borrowed, IReadOnlyList<LotDraw> draws, Guid creditId, int sign)
        {
            foreach (var draw in draws.Where(d => d.LotId != creditId))
            {
                var points = borrowed.GetValueOrDefault(draw.LotId) + (sign * draw.Points);
                if (points == 0)
                {
                    borrowed.Remove(draw.LotId);
                }
                else
                {
                    borrowed[draw.LotId] = points;
                }
            }

            return borrowed;
        }
    }

    /// <summary>
    /// Settles every debt of the account, oldest reversal first, with the points the posting has given back so far.
    /// Call it after restoring points to lots, inside the same posting.
    /// </summary>
    public static async ValueTask SettleAsync(PostingBuilder b, ILoyaltyStore store, CancellationToken cancellationToken)
    {
        foreach (var debt in await OwingAsync(b, store, cancellationToken).ConfigureAwait(false))
        {
            // The reversal again, as it would be made now: borrowed points go back, and everything owed is taken
            // the way a reversal takes, from the credit's own lot first.
            List<LotDraw> borrowed = [.. debt.Borrowed.Select(p => new LotDraw(p.Key, p.Value))];
            await b.GiveBackAsync(borrowed, cancellationToken).ConfigureAwait(false);
            var owed = debt.Shortfall + borrowed.Sum(d => d.Points);
            var taken = await b.TakeAsync(owed, availableOnly: false, firstLotId: debt.CreditId, cancellationToken).ConfigureAwait(false);
            if (SameLots(borrowed, taken))
            {
                // Nothing moved (the points went back to where they are taken from again): post nothing.
                continue;
            }

            if (borrowed.Count > 0)
            {
                b.Restored(Settlement(b, debt, "returns what a reversal borrowed from other lots, to settle it again"), borrowed);
            }

            if (taken.Count > 0)
            {
                b.Debit(Settlement(b, debt, "takes again what a reversal owes, from the reversed credit's lot first"), taken);
            }
        }
    }

    /// <summary>The account's reversals of credits that still owe, oldest first, net of earlier settlements.</summary>
    private static async ValueTask<List<Debt>> OwingAsync(PostingBuilder b, ILoyaltyStore store, CancellationToken cancellationToken)
    {
        // Reversals with a shortfall or borrowed points are rare, and so are the postings that give points back:
        // reading the member's ledger here keeps every other posting free of this bookkeeping.
        var entries = new List<LedgerEntry>();
        long? before = null;
        while (true)
        {
            var page = await store.ListEntriesAsync(b.Original.TenantId, b.Original.Id, before, Page, cancellationToken).ConfigureAwait(false);
            entries.AddRange(page);
            if (page.Count < Page)
            {
                break;
            }

            before = page.Min(e => e.Sequence);
        }

        var byId = entries.ToDictionary(e => e.Id);
        var debts = new Dictionary<Guid, Debt>();
        foreach (var entry in entries.OrderBy(e => e.Sequence))
        {
            if (entry.Kind != LedgerEntryKind.Reverse || entry.ReversesEntryId is not { } target || !byId.TryGetValue(target, out var reversed))
            {
                continue;
            }

            if (reversed.Kind == LedgerEntryKind.Reverse && debts.TryGetValue(reversed.Id, out var debt))
            {
                debt.Settled(entry);
            }
            else if (reversed.Kind != LedgerEntryKind.Reverse && reversed.Points > 0 && entry.Points <= 0)
            {
                debts[entry.Id] = new Debt(entry, reversed.Id);
            }
        }

        return [.. debts.Values.Where(d => d.IsOwing)];
    }

    private static EntryDraft Settlement(PostingBuilder b, Debt debt, string reason) =>
        LoyaltyManager.Draft(LedgerEntryKind.Reverse, $"{LoyaltyValidation.ReservedKeyPrefix}settle:{debt.Reversal.Id:N}:{b.Account.EntryCount + 1}", debt.Reversal.Source, reason: reason) with
        {
            ReversesEntryId = debt.Reversal.Id,
            OrderId = debt.Reversal.OrderId,
        };

    private static bool SameLots(IReadOnlyList<LotDraw> given, IReadOnlyList<LotDraw> taken)
    {
        var net = new Dictionary<Guid, long>();
        foreach (var draw in given)
        {
            net[draw.LotId] = net.GetValueOrDefault(draw.LotId) + draw.Points;
        }

        foreach (var draw in taken)
        {
            net[draw.LotId] = net.GetValueOrDefault(draw.LotId) - draw.Points;
        }

        return net.Values.All(points => points == 0);
    }
}
