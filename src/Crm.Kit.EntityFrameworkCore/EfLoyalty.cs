using System.Runtime.CompilerServices;
using System.Text.Json;
using Crm.Kit.Loyalty;
using Crm.Kit.Segmentation;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Metadata;

namespace Crm.Kit.EntityFrameworkCore;

internal sealed class LoyaltyProgrammeRow : ICrmRow
{
    public string TenantId { get; set; } = string.Empty;

    public Guid Id { get; set; }

    public long Version { get; set; }

    public string Document { get; set; } = "{}";

    public long CreatedAt { get; set; }

    public long UpdatedAt { get; set; }

    public static LoyaltyProgrammeRow From(LoyaltyProgramme p) => new()
    {
        TenantId = p.TenantId,
        Id = p.Id,
        Version = p.Version,
        Document = JsonSerializer.Serialize(p.Definition, RowJson.Options),
        CreatedAt = p.CreatedAt.UtcTicks,
        UpdatedAt = p.UpdatedAt.UtcTicks,
    };

    public LoyaltyProgramme ToProgramme() => new()
    {
        TenantId = TenantId,
        Id = Id,
        Version = Version,
        Definition = JsonSerializer.Deserialize<LoyaltyProgrammeDefinition>(Document, RowJson.Options)
            ?? throw new InvalidOperationException($"The loyalty programme of tenant '{TenantId}' has an empty settings document."),
        CreatedAt = Ticks.ToTime(CreatedAt),
        UpdatedAt = Ticks.ToTime(UpdatedAt),
    };
}

internal sealed class LoyaltyAccountRow : ICrmRow
{
    public Guid Id { get; set; }

    public string TenantId { get; set; } = string.Empty;

    public long Version { get; set; }

    public Guid CustomerId { get; set; }

    public LoyaltyAccountStatus Status { get; set; }

    public long Balance { get; set; }

    public long PendingPoints { get; set; }

    public long PendingAsOf { get; set; }

    public long? NextActivationAt { get; set; }

    public long LifetimePoints { get; set; }

    public long EntryCount { get; set; }

    public string? Tier { get; set; }

    /// <summary><see cref="Tier"/> folded (<see cref="SegmentText.Fold"/>): what rules compare.</summary>
    public string? TierKey { get; set; }

    public long? TierSince { get; set; }

    public long? DowngradeDueAt { get; set; }

    public string TierHistory { get; set; } = "[]";

    public string ReferralCode { get; set; } = string.Empty;

    public Guid? ReferredByAccountId { get; set; }

    public long? ReferralRewardedAt { get; set; }

    public long EnrolledAt { get; set; }

    public long? ClosedAt { get; set; }

    public static LoyaltyAccountRow From(LoyaltyAccount a) => new()
    {
        Id = a.Id,
        TenantId = a.TenantId,
        Version = a.Version,
        CustomerId = a.CustomerId,
        Status = a.Status,
        Balance = a.Balance,
        PendingPoints = a.PendingPoints,
        PendingAsOf = a.PendingAsOf.UtcTicks,
        NextActivationAt = a.NextActivationAt?.UtcTicks,
        LifetimePoints = a.LifetimePoints,
        EntryCount = a.EntryCount,
        Tier = a.Tier,
        TierKey = SegmentText.Fold(a.Tier),
        TierSince = a.TierSince?.UtcTicks,
        DowngradeDueAt = a.DowngradeDueAt?.UtcTicks,
        TierHistory = JsonSerializer.Serialize(a.TierHistory, RowJson.Options),
        ReferralCode = a.ReferralCode,
        ReferredByAccountId = a.ReferredByAccountId,
        ReferralRewardedAt = a.ReferralRewardedAt?.UtcTicks,
        EnrolledAt = a.EnrolledAt.UtcTicks,
        ClosedAt = a.ClosedAt?.UtcTicks,
    };

    public LoyaltyAccount ToAccount() => new()
    {
        Id = Id,
        TenantId = TenantId,
        Version = Version,
        CustomerId = CustomerId,
        Status = Status,
        Balance = Balance,
        PendingPoints = PendingPoints,
        PendingAsOf = Ticks.ToTime(PendingAsOf),
        NextActivationAt = Ticks.ToTime(NextActivationAt),
        LifetimePoints = LifetimePoints,
        EntryCount = EntryCount,
        Tier = Tier,
        TierSince = Ticks.ToTime(TierSince),
        DowngradeDueAt = Ticks.ToTime(DowngradeDueAt),
        TierHistory = JsonSerializer.Deserialize<List<TierChange>>(TierHistory, RowJson.Options) ?? [],
        ReferralCode = ReferralCode,
        ReferredByAccountId = ReferredByAccountId,
        ReferralRewardedAt = Ticks.ToTime(ReferralRewardedAt),
        EnrolledAt = Ticks.ToTime(EnrolledAt),
        ClosedAt = Ticks.ToTime(ClosedAt),
    };
}

internal sealed class LedgerEntryRow : ICrmRow
{
    public Guid Id { get; set; }

    public string TenantId { get; set; } = string.Empty;

    public Guid AccountId { get; set; }

    public long Sequence { get; set; }

    public LedgerEntryKind Kind { get; set; }

    public long Points { get; set; }

    public long BalanceAfter { get; set; }

    public string IdempotencyKey { get; set; } = string.Empty;

    public long At { get; set; }

    public string? Source { get; set; }

    public string? Reason { get; set; }

    public string? Actor { get; set; }

    public Guid? ReversesEntryId { get; set; }

    public Guid? OrderId { get; set; }

    public Guid? RewardId { get; set; }

    public long QualifyingPoints { get; set; }

    public decimal QualifyingSpend { get; set; }

    public long Shortfall { get; set; }

    /// <summary>The earn basis and lot draws, which are only ever read with the entry.</summary>
    public string? Document { get; set; }

    public static LedgerEntryRow From(LedgerEntry e) => new()
    {
        Id = e.Id,
        TenantId = e.TenantId,
        AccountId = e.AccountId,
        Sequence = e.Sequence,
        Kind = e.Kind,
        Points = e.Points,
        BalanceAfter = e.BalanceAfter,
        IdempotencyKey = e.IdempotencyKey,
        At = e.At.UtcTicks,
        Source = e.Source,
        Reason = e.Reason,
        Actor = e.Actor,
        ReversesEntryId = e.ReversesEntryId,
        OrderId = e.OrderId,
        RewardId = e.RewardId,
        QualifyingPoints = e.QualifyingPoints,
        QualifyingSpend = e.QualifyingSpend,
        Shortfall = e.Shortfall,
        Document = e.Basis is null && e.Draws.Count == 0 ? null : JsonSerializer.Serialize(new EntryDocument(e.Basis, e.Draws), RowJson.Options),
    };

    public LedgerEntry ToEntry()
    {
        var document = Document is null ? null : JsonSerializer.Deserialize<EntryDocument>(Document, RowJson.Options);
        return new LedgerEntry
        {
            Id = Id,
            TenantId = TenantId,
            AccountId = AccountId,
            Sequence = Sequence,
            Kind = Kind,
            Points = Points,
            BalanceAfter = BalanceAfter,
            IdempotencyKey = IdempotencyKey,
            At = Ticks.ToTime(At),
            Source = Source,
            Reason = Reason,
            Actor = Actor,
            ReversesEntryId = ReversesEntryId,
            OrderId = OrderId,
            RewardId = RewardId,
            QualifyingPoints = QualifyingPoints,
            QualifyingSpend = QualifyingSpend,
            Shortfall = Shortfall,
            Basis = document?.Basis,
            Draws = document?.Draws ?? [],
        };
    }
}

internal sealed record EntryDocument(EarnBasis? Basis, IReadOnlyList<LotDraw> Draws);

internal sealed class PointLotRow : ICrmRow
{
    public Guid Id { get; set; }

    public string TenantId { get; set; } = string.Empty;

    public Guid AccountId { get; set; }

    public long Points { get; set; }

    public long Remaining { get; set; }

    public long Expired { get; set; }

    /// <summary>Whether points remain: indexed, so that the open lots of a long-standing member are found without walking the spent ones.</summary>
    public bool Open { get; set; }

    public long EarnedAt { get; set; }

    public long AvailableAt { get; set; }

    public long? ExpiresAt { get; set; }

    public static PointLotRow From(PointLot l) => new()
    {
        Id = l.Id,
        TenantId = l.TenantId,
        AccountId = l.AccountId,
        Points = l.Points,
        Remaining = l.Remaining,
        Expired = l.Expired,
        Open = l.Remaining > 0,
        EarnedAt = l.EarnedAt.UtcTicks,
        AvailableAt = l.AvailableAt.UtcTicks,
        ExpiresAt = l.ExpiresAt?.UtcTicks,
    };

    public PointLot ToLot() => new()
    {
        Id = Id,
        TenantId = TenantId,
        AccountId = AccountId,
        Points = Points,
        Remaining = Remaining,
        Expired = Expired,
        EarnedAt = Ticks.ToTime(EarnedAt),
        AvailableAt = Ticks.ToTime(AvailableAt),
        ExpiresAt = Ticks.ToTime(ExpiresAt),
    };
}

internal sealed class LoyaltyRewardRow : ICrmRow
{
    public Guid Id { get; set; }

    public string TenantId { get; set; } = string.Empty;

    public long Version { get; set; }

    public string Name { get; set; } = string.Empty;

    public string? Description { get; set; }

    public long Cost { get; set; }

    public string? RequiredTier { get; set; }

    public int? Stock { get; set; }

    public bool Active { get; set; }

    public long CreatedAt { get; set; }

    public static LoyaltyRewardRow From(LoyaltyReward r) => new()
    {
        Id = r.Id,
        TenantId = r.TenantId,
        Version = r.Version,
        Name = r.Name,
        Description = r.Description,
        Cost = r.Cost,
        RequiredTier = r.RequiredTier,
        Stock = r.Stock,
        Active = r.Active,
        CreatedAt = r.CreatedAt.UtcTicks,
    };

    public LoyaltyReward ToReward() => new()
    {
        Id = Id,
        TenantId = TenantId,
        Version = Version,
        Name = Name,
        Description = Description,
        Cost = Cost,
        RequiredTier = RequiredTier,
        Stock = Stock,
        Active = Active,
        CreatedAt = Ticks.ToTime(CreatedAt),
    };
}

/// <summary>The loyalty tables of the Crm.Kit model.</summary>
internal static class LoyaltyModel
{
    public static void Apply(ModelBuilder modelBuilder, string tablePrefix)
    {
        modelBuilder.Entity<LoyaltyProgrammeRow>(b =>
        {
            b.ToTable(tablePrefix + "loyalty_programmes");
            b.HasKey(r => r.TenantId);
            b.Property(r => r.TenantId).HasMaxLength(100);
            b.Property(r => r.Version).IsConcurrencyToken();
            b.Property(r => r.Document).IsRequired();
        });

        modelBuilder.Entity<LoyaltyAccountRow>(b =>
        {
            b.ToTable(tablePrefix + "loyalty_accounts");
            b.HasKey(r => r.Id);
            b.Property(r => r.Id).ValueGeneratedNever();
            b.Property(r => r.TenantId).HasMaxLength(100).IsRequired().IsConcurrencyToken();
            b.Property(r => r.Version).IsConcurrencyToken();
            b.Property(r => r.Tier).HasMaxLength(100);
            b.Property(r => r.TierKey).HasMaxLength(100);
            b.Property(r => r.ReferralCode).HasMaxLength(20).IsRequired();
            b.Property(r => r.TierHistory).IsRequired();
            b.HasIndex(r => new { r.TenantId, r.CustomerId }).IsUnique();
            b.HasIndex(r => new { r.TenantId, r.ReferralCode }).IsUnique();
            b.HasIndex(r => new { r.TenantId, r.Id });
        });

        modelBuilder.Entity<LedgerEntryRow>(b =>
        {
            b.ToTable(tablePrefix + "loyalty_entries");
            b.HasKey(r => r.Id);
            b.Property(r => r.Id).ValueGeneratedNever();
            b.Property(r => r.TenantId).HasMaxLength(100).IsRequired();
            b.Property(r => r.IdempotencyKey).HasMaxLength(LoyaltyValidation.MaxKeyLength + 100).IsRequired();
            b.Property(r => r.Source).HasMaxLength(100);
            b.Property(r => r.Reason).HasMaxLength(500);
            b.Property(r => r.Actor).HasMaxLength(200);
            b.Property(r => r.QualifyingSpend).HasPrecision(28, 8);
            b.HasIndex(r => new { r.TenantId, r.AccountId, r.IdempotencyKey }).IsUnique();
            b.HasIndex(r => new { r.TenantId, r.AccountId, r.Sequence }).IsUnique();
            b.HasIndex(r => new { r.TenantId, r.AccountId, r.ReversesEntryId });
            b.HasIndex(r => new { r.TenantId, r.AccountId, r.At });
        });

        modelBuilder.Entity<PointLotRow>(b =>
        {
            b.ToTable(tablePrefix + "loyalty_lots");
            b.HasKey(r => r.Id);
            b.Property(r => r.Id).ValueGeneratedNever();
            b.Property(r => r.TenantId).HasMaxLength(100).IsRequired();
            b.HasIndex(r => new { r.TenantId, r.AccountId, r.Open, r.EarnedAt, r.Id });
            b.HasIndex(r => new { r.TenantId, r.AccountId, r.Open, r.AvailableAt });
            b.HasIndex(r => new { r.TenantId, r.AccountId, r.Open, r.ExpiresAt });
            b.HasIndex(r => new { r.TenantId, r.Open, r.ExpiresAt });
        });

        modelBuilder.Entity<LoyaltyRewardRow>(b =>
        {
            b.ToTable(tablePrefix + "loyalty_rewards");
            b.HasKey(r => r.Id);
            b.Property(r => r.Id).ValueGeneratedNever();
            b.Property(r => r.TenantId).HasMaxLength(100).IsRequired().IsConcurrencyToken();
            b.Property(r => r.Version).IsConcurrencyToken();
            b.Property(r => r.Name).HasMaxLength(200).IsRequired();
            b.Property(r => r.Description).HasMaxLength(2000);
            b.Property(r => r.RequiredTier).HasMaxLength(100);
            b.HasIndex(r => new { r.TenantId, r.Id });
        });
    }
}

/// <summary>The EF Core <see cref="ILoyaltyStore"/>.</summary>
/// <typeparam name="TContext">The host's context, with <see cref="CrmKitModelBuilderExtensions.ApplyCrmKitModel"/> applied.</typeparam>
public sealed class EfLoyaltyStore<TContext> : ILoyaltyStore
    where TContext : DbContext
{
    // The lookups every posting makes are compiled, as in EfCustomerStore: otherwise EF walks and hashes the LINQ
    // expression on each call, which costs more than the index seek. They are kept per model for the same reason.
    private static readonly ConditionalWeakTable<IModel, CompiledLookups> LookupsByModel = new();

    private readonly TContext _context;
    private readonly CompiledLookups _lookups;

    /// <summary>Creates the store.</summary>
    public EfLoyaltyStore(TContext context)
    {
        _context = ContextCheck.EnsureModel(context);
        _lookups = LookupsByModel.GetValue(context.Model, static _ => new CompiledLookups());
    }

    private sealed class CompiledLookups
    {
        public Func<TContext, string, CancellationToken, Task<LoyaltyProgrammeRow?>> Programme { get; } =
            EF.CompileAsyncQuery((TContext c, string tenantId, CancellationToken _) =>
                c.Set<LoyaltyProgrammeRow>().AsNoTracking().FirstOrDefault(r => r.TenantId == tenantId));

        public Func<TContext, string, Guid, CancellationToken, Task<LoyaltyAccountRow?>> Account { get; } =
            EF.CompileAsyncQuery((TContext c, string tenantId, Guid id, CancellationToken _) =>
                c.Set<LoyaltyAccountRow>().AsNoTracking().FirstOrDefault(r => r.TenantId == tenantId && r.Id == id));

        public Func<TContext, string, Guid, CancellationToken, Task<LoyaltyAccountRow?>> AccountByCustomer { get; } =
            EF.CompileAsyncQuery((TContext c, string tenantId, Guid customerId, CancellationToken _) =>
                c.Set<LoyaltyAccountRow>().AsNoTracking().FirstOrDefault(r => r.TenantId == tenantId && r.CustomerId == customerId));

        public Func<TContext, string, Guid, string, CancellationToken, Task<LedgerEntryRow?>> EntryByKey { get; } =
            EF.CompileAsyncQuery((TContext c, string tenantId, Guid accountId, string key, CancellationToken _) =>
                c.Set<LedgerEntryRow>().AsNoTracking().FirstOrDefault(r => r.TenantId == tenantId && r.AccountId == accountId && r.IdempotencyKey == key));
    }

    private IQueryable<LoyaltyAccountRow> Accounts => _context.Set<LoyaltyAccountRow>().AsNoTracking();

    private IQueryable<LedgerEntryRow> Entries => _context.Set<LedgerEntryRow>().AsNoTracking();

    private IQueryable<PointLotRow> Lots => _context.Set<PointLotRow>().AsNoTracking();

    /// <inheritdoc />
    public async ValueTask<LoyaltyProgramme?> FindProgrammeAsync(string tenantId, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(tenantId);
        var row = await _lookups.Programme(_context, tenantId, cancellationToken).ConfigureAwait(false);
        return row?.ToProgramme();
    }

    /// <inheritdoc />
    public async ValueTask CreateProgrammeAsync(LoyaltyProgramme programme, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(programme);
        _context.Add(LoyaltyProgrammeRow.From(programme));
        try
        {
            await StoreWrites.SaveAsync(_context, nameof(LoyaltyProgramme), programme.Id, 0, cancellationToken).ConfigureAwait(false);
        }
        catch (DbUpdateException ex) when (UniqueViolation.Is(ex))
        {
            throw new DuplicateValueException(nameof(LoyaltyProgramme.TenantId), programme.TenantId, ex);
        }
    }

    /// <inheritdoc />
    public async ValueTask UpdateProgrammeAsync(LoyaltyProgramme programme, long expectedVersion, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(programme);
        StoreWrites.AttachUpdate(_context, LoyaltyProgrammeRow.From(programme), expectedVersion);
        await StoreWrites.SaveAsync(_context, nameof(LoyaltyProgramme), programme.Id, expectedVersion, cancellationToken).ConfigureAwait(false);
    }

    /// <inheritdoc />
    public async ValueTask<LoyaltyAccount?> FindAccountAsync(string tenantId, Guid accountId, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(tenantId);
        var row = await _lookups.Account(_context, tenantId, accountId, cancellationToken).ConfigureAwait(false);
        return row?.ToAccount();
    }

    /// <inheritdoc />
    public async ValueTask<LoyaltyAccount?> FindAccountByCustomerAsync(string tenantId, Guid customerId, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(tenantId);
        var row = await _lookups.AccountByCustomer(_context, tenantId, customerId, cancellationToken).ConfigureAwait(false);
        return row?.ToAccount();
    }

    /// <inheritdoc />
    public async ValueTask<LoyaltyAccount?> FindAccountByReferralCodeAsync(string tenantId, string referralCode, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(tenantId);
        var row = await Accounts.FirstOrDefaultAsync(r => r.TenantId == tenantId && r.ReferralCode == referralCode, cancellationToken).ConfigureAwait(false);
        return row?.ToAccount();
    }

    /// <inheritdoc />
    public async ValueTask<IReadOnlyList<LoyaltyAccount>> ListAccountsAsync(string tenantId, Guid? afterId, int limit, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(tenantId);
        var query = Accounts.Where(r => r.TenantId == tenantId);
        if (afterId is { } after)
        {
            query = query.Where(r => r.Id.CompareTo(after) > 0);
        }

        var rows = await query.OrderBy(r => r.Id).Take(limit).ToListAsync(cancellationToken).ConfigureAwait(false);
        return [.. rows.Select(r => r.ToAccount())];
    }

    /// <inheritdoc />
    /// <remarks>
    /// Inside a transaction it first writes the row without changing it, which takes the row's write lock
    /// (PostgreSQL, SQL Server) or the database's (SQLite) until the transaction ends, then reads it.
    /// </remarks>
    public async ValueTask<LoyaltyAccount?> LockAccountAsync(string tenantId, Guid accountId, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(tenantId);
        await RowWrites.LockAsync<LoyaltyAccountRow>(_context, tenantId, accountId, cancellationToken).ConfigureAwait(false);
        return await FindAccountAsync(tenantId, accountId, cancellationToken).ConfigureAwait(false);
    }

    /// <inheritdoc />
    public async ValueTask CreateAccountAsync(LoyaltyAccount account, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(account);
        _context.Add(LoyaltyAccountRow.From(account));
        try
        {
            await StoreWrites.SaveAsync(_context, nameof(LoyaltyAccount), account.Id, 0, cancellationToken).ConfigureAwait(false);
        }
        catch (DbUpdateException ex) when (UniqueViolation.Is(ex))
        {
            var customerTaken = _context.Database.CurrentTransaction is null &&
                await Accounts.AnyAsync(r => r.TenantId == account.TenantId && r.CustomerId == account.CustomerId, cancellationToken).ConfigureAwait(false);
            throw customerTaken
                ? new DuplicateValueException(nameof(LoyaltyAccount.CustomerId), account.CustomerId.ToString(), ex)
                : new DuplicateValueException(nameof(LoyaltyAccount.ReferralCode), account.ReferralCode, ex);
        }
    }

    /// <inheritdoc />
    public async ValueTask UpdateAccountAsync(LoyaltyAccount account, long expectedVersion, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(account);
        StoreWrites.AttachUpdate(_context, LoyaltyAccountRow.From(account), expectedVersion);
        await StoreWrites.SaveAsync(_context, nameof(LoyaltyAccount), account.Id, expectedVersion, cancellationToken).ConfigureAwait(false);
    }

    /// <inheritdoc />
    /// <remarks>
    /// A posting is written as plain statements, not through change tracking: the version-checked account update
    /// (of the fields that changed, when the posting carries the original), the entries and lots, any changed lots
    /// and reward. On PostgreSQL they go in one round trip.
    /// </remarks>
    public async ValueTask AppendAsync(LedgerPosting posting, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(posting);
        var writes = new RowWrites(_context);
        writes.Update(LoyaltyAccountRow.From(posting.Account), nameof(LoyaltyAccount), posting.Account.Id, posting.ExpectedVersion,
            posting.OriginalAccount is { } original ? LoyaltyAccountRow.From(original) : null);
        foreach (var entry in posting.Entries)
        {
            writes.Insert(LedgerEntryRow.From(entry));
        }

        foreach (var lot in posting.NewLots)
        {
            writes.Insert(PointLotRow.From(lot));
        }

        AddLotAndRewardChanges(writes, posting);
        try
        {
            await StoreWrites.InTransactionAsync(_context, async () =>
            {
                await writes.ExecuteAsync(cancellationToken).ConfigureAwait(false);
                return true;
            }, cancellationToken).ConfigureAwait(false);
        }
        catch (System.Data.Common.DbException ex) when (UniqueViolation.Is(ex))
        {
            throw new DuplicateValueException(nameof(LedgerEntry.IdempotencyKey), string.Join(", ", posting.Entries.Select(e => e.IdempotencyKey)), ex);
        }
    }

    /// <inheritdoc />
    public async ValueTask<IReadOnlyList<LoyaltyAccount>> FindAccountsByCustomersAsync(string tenantId, IReadOnlyCollection<Guid> customerIds, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(tenantId);
        var ids = customerIds.ToArray();
        var rows = await Accounts.Where(r => r.TenantId == tenantId && ids.Contains(r.CustomerId)).ToListAsync(cancellationToken).ConfigureAwait(false);
        return [.. rows.Select(r => r.ToAccount())];
    }

    /// <inheritdoc />
    public async ValueTask<IReadOnlyList<LoyaltyAccount>> LockAccountsAsync(string tenantId, IReadOnlyCollection<Guid> accountIds, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(tenantId);
        var ids = accountIds.ToArray();
        if (_context.Database.CurrentTransaction is not null)
        {
            await _context.Set<LoyaltyAccountRow>()
                .Where(r => r.TenantId == tenantId && ids.Contains(r.Id))
                .ExecuteUpdateAsync(s => s.SetProperty(r => r.Version, r => r.Version), cancellationToken).ConfigureAwait(false);
        }

        var rows = await Accounts.Where(r => r.TenantId == tenantId && ids.Contains(r.Id)).ToListAsync(cancellationToken).ConfigureAwait(false);
        return [.. rows.Select(r => r.ToAccount())];
    }

    /// <inheritdoc />
    /// <remarks>
    /// One seek of the unique (tenant, account, key) index per pair (<see cref="RowProbe"/>). Two IN lists (accounts,
    /// keys) would make the database probe every combination of them: four million seeks for a batch of 2,000 lines.
    /// </remarks>
    public async ValueTask<IReadOnlySet<(Guid AccountId, string IdempotencyKey)>> FindExistingKeysAsync(string tenantId, IReadOnlyCollection<(Guid AccountId, string IdempotencyKey)> keys, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(tenantId);
        ArgumentNullException.ThrowIfNull(keys);
        var pairs = keys.Distinct().ToList();
        var probes = pairs.ConvertAll(p => new LedgerEntryRow { TenantId = tenantId, AccountId = p.AccountId, IdempotencyKey = p.IdempotencyKey });
        var found = await RowProbe.ExistAsync(_context, probes, IdempotencyKeyColumns(_context), cancellationToken).ConfigureAwait(false);
        var result = new HashSet<(Guid AccountId, string IdempotencyKey)>();
        for (var i = 0; i < pairs.Count; i++)
        {
            if (found[i])
            {
                result.Add(pairs[i]);
            }
        }

        return result;
    }

    private static ulong IdempotencyKeyColumns(DbContext context) =>
        RowTable.Of<LedgerEntryRow>(context).ColumnSet(nameof(LedgerEntryRow.TenantId), nameof(LedgerEntryRow.AccountId), nameof(LedgerEntryRow.IdempotencyKey));

    /// <inheritdoc />
    /// <remarks>Entries and lots go in with prepared bulk inserts, accounts with a prepared version-checked update; changed lots and rewards with plain updates.</remarks>
    public async ValueTask AppendManyAsync(IReadOnlyList<LedgerPosting> postings, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(postings);
        if (postings.Count == 0)
        {
            return;
        }

        if (_context.Database.CurrentTransaction is null)
        {
            throw new InvalidOperationException("AppendManyAsync runs inside a transaction; begin one with ICrmUnitOfWork.");
        }

        try
        {
            await RowBulkInserter.InsertAsync(_context, [.. postings.SelectMany(p => p.Entries).Select(LedgerEntryRow.From)], cancellationToken).ConfigureAwait(false);
            await RowBulkInserter.InsertAsync(_context, [.. postings.SelectMany(p => p.NewLots).Select(PointLotRow.From)], cancellationToken).ConfigureAwait(false);
        }
        catch (System.Data.Common.DbException ex) when (UniqueViolation.Is(ex))
        {
            throw new DuplicateValueException(nameof(LedgerEntry.IdempotencyKey), "(one of an imported batch)", ex);
        }

        await RowBulkUpdater.UpdateAsync(
            _context,
            [.. postings.Select(p => (LoyaltyAccountRow.From(p.Account), p.Account.Id, p.ExpectedVersion, p.OriginalAccount is { } original ? LoyaltyAccountRow.From(original) : null))],
            nameof(LoyaltyAccount),
            cancellationToken).ConfigureAwait(false);
        var writes = new RowWrites(_context);
        foreach (var posting in postings)
        {
            AddLotAndRewardChanges(writes, posting);
        }

        await writes.ExecuteAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Adds the updates of a posting's changed lots, and of its reward when its stock changed.</summary>
    private static void AddLotAndRewardChanges(RowWrites writes, LedgerPosting posting)
    {
        foreach (var lot in posting.ChangedLots)
        {
            writes.Update(PointLotRow.From(lot), nameof(PointLot), lot.Id, null);
        }

        if (posting.Reward is { } reward)
        {
            writes.Update(LoyaltyRewardRow.From(reward.Reward), nameof(LoyaltyReward), reward.Reward.Id, reward.ExpectedVersion);
        }
    }

    /// <inheritdoc />
    public async ValueTask<LedgerEntry?> FindEntryAsync(string tenantId, Guid entryId, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(tenantId);
        var row = await Entries.FirstOrDefaultAsync(r => r.TenantId == tenantId && r.Id == entryId, cancellationToken).ConfigureAwait(false);
        return row?.ToEntry();
    }

    /// <inheritdoc />
    public async ValueTask<LedgerEntry?> FindEntryByKeyAsync(string tenantId, Guid accountId, string idempotencyKey, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(tenantId);
        ArgumentNullException.ThrowIfNull(idempotencyKey);
        var row = await _lookups.EntryByKey(_context, tenantId, accountId, idempotencyKey, cancellationToken).ConfigureAwait(false);
        return row?.ToEntry();
    }

    /// <inheritdoc />
    public async ValueTask<IReadOnlyList<LedgerEntry>> ListEntriesAsync(string tenantId, Guid accountId, long? beforeSequence, int limit, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(tenantId);
        var query = Entries.Where(r => r.TenantId == tenantId && r.AccountId == accountId);
        if (beforeSequence is { } before)
        {
            query = query.Where(r => r.Sequence < before);
        }

        var rows = await query.OrderByDescending(r => r.Sequence).Take(limit).ToListAsync(cancellationToken).ConfigureAwait(false);
        return [.. rows.Select(r => r.ToEntry())];
    }

    /// <inheritdoc />
    public async ValueTask<IReadOnlyList<LedgerEntry>> ListReversalsAsync(string tenantId, Guid accountId, Guid entryId, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(tenantId);
        var rows = await Entries.Where(r => r.TenantId == tenantId && r.AccountId == accountId && r.ReversesEntryId == entryId)
            .OrderBy(r => r.Sequence).ToListAsync(cancellationToken).ConfigureAwait(false);
        return [.. rows.Select(r => r.ToEntry())];
    }

    /// <inheritdoc />
    public async ValueTask<QualifyingTotals> SumQualifyingAsync(string tenantId, Guid accountId, DateTimeOffset from, DateTimeOffset to, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(tenantId);
        var (start, end) = (from.UtcTicks, to.UtcTicks);
        var window = Entries.Where(r => r.TenantId == tenantId && r.AccountId == accountId && r.At >= start && r.At < end && (r.QualifyingPoints != 0 || r.QualifyingSpend != 0m));
        var points = await window.SumAsync(r => r.QualifyingPoints, cancellationToken).ConfigureAwait(false);
        var spend = await window.SumAsync(r => r.QualifyingSpend, cancellationToken).ConfigureAwait(false);
        return new QualifyingTotals(points, spend);
    }

    /// <inheritdoc />
    public async ValueTask<IReadOnlyList<PointLot>> ListOpenLotsAsync(string tenantId, Guid accountId, KeysetPosition? after, int limit, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(tenantId);
        var query = Lots.Where(r => r.TenantId == tenantId && r.AccountId == accountId && r.Open);
        if (after is { } position)
        {
            var (at, id) = (position.At.UtcTicks, position.Id);
            query = query.Where(r => r.EarnedAt > at || (r.EarnedAt == at && r.Id.CompareTo(id) > 0));
        }

        var rows = await query.OrderBy(r => r.EarnedAt).ThenBy(r => r.Id).Take(limit).ToListAsync(cancellationToken).ConfigureAwait(false);
        return [.. rows.Select(r => r.ToLot())];
    }

    /// <inheritdoc />
    public async ValueTask<IReadOnlyList<PointLot>> FindLotsAsync(string tenantId, IReadOnlyCollection<Guid> lotIds, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(tenantId);
        ArgumentNullException.ThrowIfNull(lotIds);
        var ids = lotIds.ToArray();
        var rows = await Lots.Where(r => r.TenantId == tenantId && ids.Contains(r.Id)).ToListAsync(cancellationToken).ConfigureAwait(false);
        return [.. rows.Select(r => r.ToLot())];
    }

    /// <inheritdoc />
    public async ValueTask<IReadOnlyList<PointLot>> ListPendingLotsAsync(string tenantId, Guid accountId, DateTimeOffset asOf, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(tenantId);
        var ticks = asOf.UtcTicks;
        var rows = await Lots.Where(r => r.TenantId == tenantId && r.AccountId == accountId && r.Open && r.AvailableAt > ticks)
            .ToListAsync(cancellationToken).ConfigureAwait(false);
        return [.. rows.Select(r => r.ToLot())];
    }

    /// <inheritdoc />
    public async ValueTask<IReadOnlyList<PointLot>> ListExpiringLotsAsync(string tenantId, Guid accountId, int limit, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(tenantId);
        var rows = await Lots.Where(r => r.TenantId == tenantId && r.AccountId == accountId && r.Open && r.ExpiresAt != null)
            .OrderBy(r => r.ExpiresAt).ThenBy(r => r.Id).Take(limit).ToListAsync(cancellationToken).ConfigureAwait(false);
        return [.. rows.Select(r => r.ToLot())];
    }

    /// <inheritdoc />
    public async ValueTask<IReadOnlyList<Guid>> ListAccountsWithExpiredLotsAsync(string tenantId, DateTimeOffset asOf, Guid? afterAccountId, int limit, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(tenantId);
        var ticks = asOf.UtcTicks;
        var query = Lots.Where(r => r.TenantId == tenantId && r.Open && r.ExpiresAt <= ticks);
        if (afterAccountId is { } after)
        {
            query = query.Where(r => r.AccountId.CompareTo(after) > 0);
        }

        return await query.Select(r => r.AccountId).Distinct().OrderBy(id => id).Take(limit).ToListAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <inheritdoc />
    public async ValueTask<LoyaltyReward?> FindRewardAsync(string tenantId, Guid rewardId, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(tenantId);
        var row = await _context.Set<LoyaltyRewardRow>().AsNoTracking().FirstOrDefaultAsync(r => r.TenantId == tenantId && r.Id == rewardId, cancellationToken).ConfigureAwait(false);
        return row?.ToReward();
    }

    /// <inheritdoc />
    public async ValueTask<IReadOnlyList<LoyaltyReward>> ListRewardsAsync(string tenantId, Guid? afterId, int limit, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(tenantId);
        var query = _context.Set<LoyaltyRewardRow>().AsNoTracking().Where(r => r.TenantId == tenantId);
        if (afterId is { } after)
        {
            query = query.Where(r => r.Id.CompareTo(after) > 0);
        }

        var rows = await query.OrderBy(r => r.Id).Take(limit).ToListAsync(cancellationToken).ConfigureAwait(false);
        return [.. rows.Select(r => r.ToReward())];
    }

    /// <inheritdoc />
    public async ValueTask CreateRewardAsync(LoyaltyReward reward, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(reward);
        _context.Add(LoyaltyRewardRow.From(reward));
        try
        {
            await StoreWrites.SaveAsync(_context, nameof(LoyaltyReward), reward.Id, 0, cancellationToken).ConfigureAwait(false);
        }
        catch (DbUpdateException ex) when (UniqueViolation.Is(ex))
        {
            throw new DuplicateValueException(nameof(LoyaltyReward.Id), reward.Id.ToString(), ex);
        }
    }

    /// <inheritdoc />
    public async ValueTask UpdateRewardAsync(LoyaltyReward reward, long expectedVersion, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(reward);
        StoreWrites.AttachUpdate(_context, LoyaltyRewardRow.From(reward), expectedVersion);
        await StoreWrites.SaveAsync(_context, nameof(LoyaltyReward), reward.Id, expectedVersion, cancellationToken).ConfigureAwait(false);
    }
}

/// <summary>Binds <see cref="LoyaltyFields"/> to the account table, so rules using them run in SQL.</summary>
internal static class LoyaltyRowFields
{
    public static IEnumerable<IEfSegmentFieldBinding> Bindings()
    {
        yield return CustomerRowBinding.Bind(LoyaltyFields.Points, (LoyaltyAccountRow r) => (long?)r.Balance);
        yield return CustomerRowBinding.Bind(LoyaltyFields.LifetimePoints, (LoyaltyAccountRow r) => (long?)r.LifetimePoints);
        yield return CustomerRowBinding.Bind(LoyaltyFields.Tier, (LoyaltyAccountRow r) => r.TierKey);
        yield return CustomerRowBinding.Bind(LoyaltyFields.Member, (LoyaltyAccountRow r) => r.Status == LoyaltyAccountStatus.Active);
    }
}
