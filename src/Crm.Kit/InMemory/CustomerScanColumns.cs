using System.Buffers;
using System.Linq.Expressions;
using Crm.Kit.Customers;
using Crm.Kit.Segmentation;

namespace Crm.Kit.InMemory;

/// <summary>
/// One live customer as a whole-tenant segment scan reads it: the fields rules test most, copied out of the
/// customer's object graph (metrics, consent records, first address) into one inline struct, and the customer
/// itself for every other field. A scan that walks the customer objects pays a cache miss for each object it
/// follows; rows in an array are read in order. Values are those the segment fields read (see
/// <see cref="CoreSegmentFields"/>), which a test checks field by field.
/// </summary>
internal struct CustomerScanRow
{
    private const long NoTicks = long.MinValue;

    /// <summary>The customer; <see langword="null"/> in a free slot.</summary>
    public Customer? Customer;

    public long CreatedAt;

    public long FirstOrderTicks;

    public long LastOrderTicks;

    public decimal TotalSpent;

    public int OrderCount;

    public byte Stage;

    public byte Kind;

    /// <summary>One bit per channel and purpose the customer may be contacted for (<see cref="ConsentBit"/>).</summary>
    public byte Consent;

    public string? Country;

    public IReadOnlyList<string> Tags;

    public readonly long? FirstOrderAt => FirstOrderTicks == NoTicks ? null : FirstOrderTicks;

    public readonly long? LastOrderAt => LastOrderTicks == NoTicks ? null : LastOrderTicks;

    public static CustomerScanRow For(Customer customer)
    {
        var metrics = customer.Metrics;
        byte consent = 0;
        foreach (var (channel, purpose) in ConsentPairs)
        {
            // The customer's own rule for the consent in force, so that the flags cannot drift from it.
            if (customer.HasConsent(channel, purpose))
            {
                consent |= (byte)(1 << ConsentBit(channel, purpose));
            }
        }

        return new CustomerScanRow
        {
            Customer = customer,
            CreatedAt = customer.CreatedAt.UtcTicks,
            FirstOrderTicks = metrics.FirstOrderAt?.UtcTicks ?? NoTicks,
            LastOrderTicks = metrics.LastOrderAt?.UtcTicks ?? NoTicks,
            TotalSpent = metrics.TotalSpent,
            OrderCount = metrics.OrderCount,
            Stage = (byte)customer.LifecycleStage,
            Kind = (byte)customer.Kind,
            Consent = consent,
            Country = customer.Addresses.Count == 0 ? null : customer.Addresses[0].CountryCode,
            Tags = customer.Tags,
        };
    }

    private static readonly int Purposes = Enum.GetValues<ConsentPurpose>().Length;

    private static readonly (ContactChannel Channel, ConsentPurpose Purpose)[] ConsentPairs = [.. Enum.GetValues<ContactChannel>()
        .SelectMany(channel => Enum.GetValues<ConsentPurpose>().Select(purpose => (channel, purpose)))];

    private static readonly Dictionary<string, int> ConsentBits = ConsentPairs
        .ToDictionary(p => SegmentFieldNames.Consent(p.Channel, p.Purpose), p => ConsentBit(p.Channel, p.Purpose), StringComparer.Ordinal);

    private static int ConsentBit(ContactChannel channel, ConsentPurpose purpose) => ((int)channel * Purposes) + (int)purpose;

    /// <summary>
    /// Reads <paramref name="field"/> from the row <paramref name="row"/> stands for, typed as the field's own
    /// reader returns it; <see langword="null"/> for a field the row does not carry (read it from the customer).
    /// </summary>
    public static Expression? Read(Expression row, SegmentField field)
    {
        Expression? read = field.Name switch
        {
            SegmentFieldNames.Kind => Expression.Convert(Expression.Field(row, nameof(Kind)), typeof(CustomerKind)),
            SegmentFieldNames.LifecycleStage => Expression.Convert(Expression.Field(row, nameof(Stage)), typeof(LifecycleStage)),
            SegmentFieldNames.CreatedAt => Expression.Convert(Expression.Field(row, nameof(CreatedAt)), typeof(long?)),
            SegmentFieldNames.OrderCount => Expression.Field(row, nameof(OrderCount)),
            SegmentFieldNames.TotalSpent => Expression.Field(row, nameof(TotalSpent)),
            SegmentFieldNames.FirstOrderAt => Expression.Property(row, nameof(FirstOrderAt)),
            SegmentFieldNames.LastOrderAt => Expression.Property(row, nameof(LastOrderAt)),
            SegmentFieldNames.Country => Expression.Field(row, nameof(Country)),
            SegmentFieldNames.Tags => Expression.Field(row, nameof(Tags)),
            _ when ConsentBits.TryGetValue(field.Name, out var bit) => Expression.NotEqual(
                Expression.And(Expression.Convert(Expression.Field(row, nameof(Consent)), typeof(int)), Expression.Constant(1 << bit)),
                Expression.Constant(0)),
            _ => null,
        };

        // A field re-registered under a core name with another type is read the way it says, from the customer.
        return read is not null && read.Type == field.ValueClrType ? read : null;
    }
}

/// <summary>
/// A tenant's live customers as <see cref="CustomerScanRow"/>s, for whole-tenant segment scans. Rows sit in
/// fixed segments of slots; a customer keeps its slot while it lives, so an update overwrites its row in place
/// (in one write: the removal of the old row waits for the write to complete) and no row ever moves. Writers
/// hold the customer index's lock. Readers take none: each segment carries a version that a writer makes odd
/// while it writes, and a reader that sees the version move reads the segment again (and, if writers keep at
/// it, copies it under the lock). So a scan sees every customer that lived
/// throughout it exactly once, in one of the states it had, as an enumeration of the customer dictionary would.
/// </summary>
internal sealed class CustomerScanColumns
{
    private const int SegmentShift = 12;
    private const int SegmentSize = 1 << SegmentShift;
    private const int OptimisticReads = 2;

    private readonly object _writeLock;

    // Which slot each live customer's row is in; it reads a slot's id from the row itself.
    private readonly SlotIndex _slots;
    private readonly Stack<int> _free = new();
    private Segment[] _segments = [];
    private int _used;

    public CustomerScanColumns(object writeLock)
    {
        _writeLock = writeLock;
        _slots = new SlotIndex(slot => _segments[slot >> SegmentShift].Rows[slot & (SegmentSize - 1)].Customer!.Id);
    }

    /// <summary>A row removed by the write under way, cleared when the write completes unless the write replaces it.</summary>
    private (Guid Id, int Slot)? _removed;

    /// <summary>Adds or replaces the customer's row; customers merged away or erased are not scanned. Call under the lock.</summary>
    public void Add(Customer customer)
    {
        if (customer.MergedIntoId is not null || customer.ErasedAt is not null)
        {
            return;
        }

        int slot;
        if (_removed is { } removed && removed.Id == customer.Id)
        {
            // An update: the new row goes into the old one's slot in one write, so no reader sees it missing.
            slot = removed.Slot;
            _removed = null;
        }
        else
        {
            slot = _free.Count > 0 ? _free.Pop() : NewSlot();
        }

        // The row first: the index reads the ids of the slots it holds from their rows.
        Write(slot, CustomerScanRow.For(customer));
        _slots.Set(customer.Id, slot);
    }

    /// <summary>Takes the customer's row out when the write completes (an update puts its new row in first). Call under the lock.</summary>
    public void Remove(Customer customer)
    {
        WriteCompleted();
        if (_slots.Remove(customer.Id, out var slot))
        {
            _removed = (customer.Id, slot);
        }
    }

    /// <summary>Clears the slot of a row the write removed and did not replace. Call under the lock.</summary>
    public void WriteCompleted()
    {
        if (_removed is { } removed)
        {
            _removed = null;
            Write(removed.Slot, default);
            _free.Push(removed.Slot);
        }
    }

    /// <summary>Counts the rows <paramref name="count"/> matches, segment by segment, without holding the lock while it runs.</summary>
    public long Count(Func<CustomerScanRow[], int, RuleArguments, int> count, RuleArguments arguments)
    {
        var segments = Volatile.Read(ref _segments);
        var used = Volatile.Read(ref _used);
        long total = 0;
        for (var s = 0; s < segments.Length; s++)
        {
            var rows = Math.Min(SegmentSize, used - (s << SegmentShift));
            if (rows <= 0)
            {
                break;
            }

            total += CountSegment(segments[s], rows, count, arguments);
        }

        return total;
    }

    private int CountSegment(Segment segment, int rows, Func<CustomerScanRow[], int, RuleArguments, int> count, RuleArguments arguments)
    {
        for (var attempt = 0; attempt < OptimisticReads; attempt++)
        {
            var version = Volatile.Read(ref segment.Version);
            if ((version & 1) != 0)
            {
                continue;
            }

            int matches;
            try
            {
                matches = count(segment.Rows, rows, arguments);
            }
            catch (Exception) when (Moved(segment, version))
            {
                // A row read half-written can fail a test (a list not yet set); the segment is read again.
                continue;
            }

            if (!Moved(segment, version))
            {
                return matches;
            }
        }

        // Writers keep changing this segment: evaluate a copy taken under their lock, not the rows themselves.
        var copy = ArrayPool<CustomerScanRow>.Shared.Rent(rows);
        try
        {
            lock (_writeLock)
            {
                Array.Copy(segment.Rows, copy, rows);
            }

            return count(copy, rows, arguments);
        }
        finally
        {
            ArrayPool<CustomerScanRow>.Shared.Return(copy, clearArray: true);
        }
    }

    private static bool Moved(Segment segment, int version)
    {
        // The rows were read with plain loads; none may be reordered after the version is read again.
        Interlocked.MemoryBarrier();
        return Volatile.Read(ref segment.Version) != version;
    }

    private int NewSlot()
    {
        var slot = _used;
        if (slot == _segments.Length << SegmentShift)
        {
            Volatile.Write(ref _segments, [.. _segments, new Segment()]);
        }

        Volatile.Write(ref _used, slot + 1);
        return slot;
    }

    private void Write(int slot, CustomerScanRow row)
    {
        var segment = _segments[slot >> SegmentShift];
        var version = Interlocked.Increment(ref segment.Version);
        segment.Rows[slot & (SegmentSize - 1)] = row;
        Volatile.Write(ref segment.Version, version + 1);
    }

    private sealed class Segment
    {
        public readonly CustomerScanRow[] Rows = new CustomerScanRow[SegmentSize];
        public int Version;
    }
}
