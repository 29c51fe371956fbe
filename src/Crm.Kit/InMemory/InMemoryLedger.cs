using Crm.Kit.Loyalty;

namespace Crm.Kit.InMemory;

/// <summary>
/// A ledger entry as the in-memory store keeps it: the fields every entry has, inline, and the rest (an order's
/// basis, a redemption's draws, a reversal's target...) in an <see cref="EntryDetail"/> only for entries that have
/// any. The tenant, the account and the sequence number follow from where the entry is kept. A plain credit costs
/// 64 bytes in its book's array and no object of its own, against some 280 for a <see cref="LedgerEntry"/>: a
/// ledger of millions of entries is that much less memory to fault in and for the collector to copy and trace.
/// </summary>
internal struct StoredEntry
{
    public Guid Id;
    public long Points;
    public long BalanceAfter;
    public string Key;

    /// <summary><see langword="null"/>, the source alone (a string), or an <see cref="EntryDetail"/>.</summary>
    public object? Detail;

    /// <summary>The posting time's clock reading; with <see cref="OffsetMinutes"/> it gives the exact offset back.</summary>
    public DateTime Clock;

    public short OffsetMinutes;
    public LedgerEntryKind Kind;

    public static StoredEntry From(LedgerEntry entry) => new()
    {
        Id = entry.Id,
        Points = entry.Points,
        BalanceAfter = entry.BalanceAfter,
        Key = entry.IdempotencyKey,
        Detail = EntryDetail.IsNeeded(entry) ? new EntryDetail(entry) : entry.Source,
        Clock = entry.At.DateTime,
        OffsetMinutes = PackedTime.OffsetOf(entry.At),
        Kind = entry.Kind,
    };

    public readonly DateTimeOffset At => PackedTime.Unpack(Clock, OffsetMinutes);

    public readonly LedgerEntry ToEntry(string tenantId, Guid accountId, long sequence)
    {
        var detail = Detail as EntryDetail;
        return new LedgerEntry
        {
            Id = Id,
            TenantId = tenantId,
            AccountId = accountId,
            Sequence = sequence,
            Kind = Kind,
            Points = Points,
            BalanceAfter = BalanceAfter,
            IdempotencyKey = Key,
            At = At,
            Source = detail is null ? Detail as string : detail.Source,
            Reason = detail?.Reason,
            Actor = detail?.Actor,
            ReversesEntryId = detail?.ReversesEntryId,
            OrderId = detail?.OrderId,
            RewardId = detail?.RewardId,
            QualifyingPoints = detail?.QualifyingPoints ?? 0,
            QualifyingSpend = detail?.QualifyingSpend ?? 0m,
            Basis = detail?.Basis,
            Draws = detail?.Draws ?? [],
            Shortfall = detail?.Shortfall ?? 0,
        };
    }
}

/// <summary>The fields of a <see cref="LedgerEntry"/> beyond its source that most entries leave at their defaults.</summary>
internal sealed class EntryDetail(LedgerEntry entry)
{
    public string? Source { get; } = entry.Source;

    public string? Reason { get; } = entry.Reason;

    public string? Actor { get; } = entry.Actor;

    public Guid? ReversesEntryId { get; } = entry.ReversesEntryId;

    public Guid? OrderId { get; } = entry.OrderId;

    public Guid? RewardId { get; } = entry.RewardId;

    public long QualifyingPoints { get; } = entry.QualifyingPoints;

    public decimal QualifyingSpend { get; } = entry.QualifyingSpend;

    public EarnBasis? Basis { get; } = entry.Basis;

    public IReadOnlyList<LotDraw> Draws { get; } = entry.Draws;

    public long Shortfall { get; } = entry.Shortfall;

    /// <summary>
    /// Whether the entry has anything beyond its source that a fresh <see cref="LedgerEntry"/> would not: only then
    /// does it need a detail object. The spend must be a zero without decimals to come back the same.
    /// </summary>
    public static bool IsNeeded(LedgerEntry entry) =>
        entry.Reason is not null || entry.Actor is not null || entry.ReversesEntryId is not null || entry.OrderId is not null ||
        entry.RewardId is not null || entry.QualifyingPoints != 0 || entry.QualifyingSpend != 0m || entry.QualifyingSpend.Scale != 0 ||
        entry.Basis is not null || entry.Shortfall != 0 || entry.Draws is not LotDraw[] { Length: 0 };
}

/// <summary>
/// A lot's state as the in-memory store keeps it: in its account's book, with no object of its own, its dates as
/// clock readings and offsets (an offset of <see cref="short.MinValue"/> marks a lot that never expires).
/// </summary>
internal struct StoredLot
{
    private const short Never = short.MinValue;

    public long Points;
    public long Remaining;
    public long Expired;
    private DateTime _earnedClock;
    private DateTime _availableClock;
    private DateTime _expiresClock;
    private short _earnedOffset;
    private short _availableOffset;
    private short _expiresOffset;

    public readonly DateTimeOffset EarnedAt => PackedTime.Unpack(_earnedClock, _earnedOffset);

    public readonly DateTimeOffset AvailableAt => PackedTime.Unpack(_availableClock, _availableOffset);

    public readonly DateTimeOffset? ExpiresAt => _expiresOffset == Never ? null : PackedTime.Unpack(_expiresClock, _expiresOffset);

    public static StoredLot From(PointLot lot) => new()
    {
        Points = lot.Points,
        Remaining = lot.Remaining,
        Expired = lot.Expired,
        _earnedClock = lot.EarnedAt.DateTime,
        _earnedOffset = PackedTime.OffsetOf(lot.EarnedAt),
        _availableClock = lot.AvailableAt.DateTime,
        _availableOffset = PackedTime.OffsetOf(lot.AvailableAt),
        _expiresClock = lot.ExpiresAt?.DateTime ?? default,
        _expiresOffset = lot.ExpiresAt is { } expires ? PackedTime.OffsetOf(expires) : Never,
    };

    public readonly PointLot ToLot(Guid id, string tenantId, Guid accountId) => new()
    {
        Id = id,
        TenantId = tenantId,
        AccountId = accountId,
        Points = Points,
        Remaining = Remaining,
        Expired = Expired,
        EarnedAt = EarnedAt,
        AvailableAt = AvailableAt,
        ExpiresAt = ExpiresAt,
    };
}

/// <summary>
/// A time kept as its clock reading (<see cref="DateTimeOffset.DateTime"/>) and its offset in minutes, as separate
/// fields of a struct: together they take 10 bytes where a <see cref="DateTimeOffset"/> field takes 16, and they give
/// back the exact time and offset.
/// </summary>
internal static class PackedTime
{
    public static short OffsetOf(DateTimeOffset time) => (short)time.TotalOffsetMinutes;

    public static DateTimeOffset Unpack(DateTime clock, short offsetMinutes) => new(clock, TimeSpan.FromMinutes(offsetMinutes));
}

/// <summary>
/// Where the store keeps what one id names: a ledger entry, a lot, or for a credit both (a credit's lot carries
/// the credit's id). Both live in the account's book; the slot only says where, so the tenant-wide map of every
/// entry and lot stays small.
/// </summary>
internal struct LedgerSlot
{
    public LedgerBook Book;

    /// <summary>The entry's sequence number in <see cref="Book"/>, or 0 when the id names no entry.</summary>
    public int EntrySequence;

    /// <summary>The lot's place in <see cref="LedgerBook.Lots"/> plus one, or 0 when the id names no lot.</summary>
    public int LotNumber;
}

/// <summary>
/// A list that only grows or shrinks at its end, kept in chunks of at most <see cref="ChunkSize"/> items: growing
/// never copies what is already stored, so a book of a million entries is written once rather than moved at each
/// doubling, and the first chunk grows like a list so that a small book stays small. Not thread-safe.
/// </summary>
internal sealed class AppendOnlyList<T>
{
    private const int ChunkBits = 10;
    private const int ChunkSize = 1 << ChunkBits;
    private readonly List<T[]> _chunks = [];

    public int Count { get; private set; }

    public ref T this[int index]
    {
        get
        {
            if ((uint)index >= (uint)Count)
            {
                throw new ArgumentOutOfRangeException(nameof(index), index, "outside the list");
            }

            return ref _chunks[index >> ChunkBits][index & (ChunkSize - 1)];
        }
    }

    public void Add(in T item)
    {
        var chunk = Count >> ChunkBits;
        var offset = Count & (ChunkSize - 1);
        if (chunk == _chunks.Count)
        {
            _chunks.Add(new T[chunk == 0 ? 4 : ChunkSize]);
        }
        else if (offset == _chunks[chunk].Length)
        {
            // Only the first chunk is ever short: it doubles until it is full size.
            var grown = _chunks[chunk];
            Array.Resize(ref grown, Math.Min(grown.Length * 2, ChunkSize));
            _chunks[chunk] = grown;
        }

        _chunks[chunk][offset] = item;
        Count++;
    }

    public void RemoveLast()
    {
        if (Count == 0)
        {
            throw new InvalidOperationException("The list is empty.");
        }

        Count--;
        _chunks[Count >> ChunkBits][Count & (ChunkSize - 1)] = default!;
        if ((Count & (ChunkSize - 1)) == 0 && Count > 0)
        {
            _chunks.RemoveAt(_chunks.Count - 1);
        }
    }
}
