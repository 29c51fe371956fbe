using System.Runtime.CompilerServices;
using Crm.Kit.Loyalty;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Metadata;

namespace Crm.Kit.EntityFrameworkCore;

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
