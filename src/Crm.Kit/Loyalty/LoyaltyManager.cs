using System.Globalization;
using Crm.Kit.Customers;
using Crm.Kit.Orders;
using Crm.Kit.Segmentation;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;

namespace Crm.Kit.Loyalty;

/// <summary>
/// Runs the tenant's loyalty programme: enrolment, earning from orders and events, redemption, reversal,
/// adjustment, expiry, tiers, rewards and referrals. Every posting locks the member's account, checks its
/// idempotency key, works out the entries and lots, and writes them in one transaction; a repeated key returns the
/// original entry and changes nothing, and a debit never takes more than the member has available.
/// </summary>
public class LoyaltyManager
{
    private const int PageSize = 1000;

    private readonly ILoyaltyStore _store;
    private readonly IOrderStore _orders;
    private readonly CustomerManager _customers;
    private readonly ICrmUnitOfWork _unitOfWork;
    private readonly ICrmTenantContext _tenant;
    private readonly TimeProvider _time;
    private readonly ICrmEventPublisher _events;
    private readonly ICurrencyConverter _converter;
    private readonly SegmentManager _segments;
    private readonly CustomerChangeNotifier _changes;
    private readonly CrmKitOptions _options;
    private readonly CrmKitInstrumentation _instrumentation;
    private readonly ILogger _logger;

    /// <summary>Creates the manager; resolve it from DI rather than constructing it.</summary>
    public LoyaltyManager(
        ILoyaltyStore store,
        IOrderStore orders,
        CustomerManager customers,
        ICrmUnitOfWork unitOfWork,
        ICrmTenantContext tenant,
        TimeProvider time,
        ICrmEventPublisher events,
        ICurrencyConverter converter,
        SegmentManager segments,
        CustomerChangeNotifier changes,
        IOptions<CrmKitOptions> options,
        CrmKitInstrumentation instrumentation,
        ILogger<LoyaltyManager>? logger = null)
    {
        _store = store;
        _orders = orders;
        _customers = customers;
        _unitOfWork = unitOfWork;
        _tenant = tenant;
        _time = time;
        _events = events;
        _converter = converter;
        _segments = segments;
        _changes = changes;
        _options = options.Value;
        _instrumentation = instrumentation;
        _logger = logger ?? NullLogger<LoyaltyManager>.Instance;
    }

    private string TenantId => _tenant.TenantId;

    // ---------------------------------------------------------------- programme

    /// <summary>The tenant's programme, or <see langword="null"/> when none was created.</summary>
    public ValueTask<LoyaltyProgramme?> GetProgrammeAsync(CancellationToken cancellationToken = default) =>
        _store.FindProgrammeAsync(TenantId, cancellationToken);

    /// <summary>Creates the tenant's programme.</summary>
    /// <exception cref="CrmValidationException">The settings break a rule, or the tenant already has a programme.</exception>
    public async Task<LoyaltyProgramme> CreateProgrammeAsync(LoyaltyProgrammeDefinition definition, CancellationToken cancellationToken = default)
    {
        await ValidateAsync(definition, cancellationToken).ConfigureAwait(false);
        var now = _time.GetUtcNow();
        var programme = new LoyaltyProgramme { Id = CrmIds.NewId(now), TenantId = TenantId, Version = 1, Definition = Normalize(definition), CreatedAt = now, UpdatedAt = now };
        try
        {
            await _store.CreateProgrammeAsync(programme, cancellationToken).ConfigureAwait(false);
        }
        catch (DuplicateValueException)
        {
            throw new CrmValidationException("programme", "one-per-tenant", "the tenant already has a loyalty programme; update it instead");
        }

        return programme;
    }

    /// <summary>
    /// Replaces the programme's settings. Points already earned keep the rates, lots and expiry dates they were
    /// earned with; members' tiers follow the new levels at the next earning or evaluation.
    /// </summary>
    /// <exception cref="ConcurrencyConflictException">The programme changed since <paramref name="expectedVersion"/>.</exception>
    public async Task<LoyaltyProgramme> UpdateProgrammeAsync(LoyaltyProgrammeDefinition definition, long expectedVersion, CancellationToken cancellationToken = default)
    {
        await ValidateAsync(definition, cancellationToken).ConfigureAwait(false);
        var current = await RequireProgrammeAsync(cancellationToken).ConfigureAwait(false);
        if (current.Version != expectedVersion)
        {
            throw new ConcurrencyConflictException(nameof(LoyaltyProgramme), current.Id, expectedVersion);
        }

        var updated = current with { Definition = Normalize(definition), Version = current.Version + 1, UpdatedAt = _time.GetUtcNow() };
        await _store.UpdateProgrammeAsync(updated, expectedVersion, cancellationToken).ConfigureAwait(false);
        return updated;
    }

    // ---------------------------------------------------------------- membership

    /// <summary>
    /// Enrols a customer, or re-opens their closed account (with its points and history). A new member starts
    /// in the entry tier and gets the sign-up bonus once; <paramref name="referralCode"/> names the member who
    /// referred them, who is rewarded on the new member's first qualifying order. Enrolling an active member
    /// returns their account unchanged.
    /// </summary>
    /// <exception cref="CrmValidationException">No programme, no such customer, an unknown or own referral code, or a referral of an existing member.</exception>
    public async Task<LoyaltyAccount> EnrolAsync(Guid customerId, string? referralCode = null, CancellationToken cancellationToken = default)
    {
        var programme = await RequireProgrammeAsync(cancellationToken).ConfigureAwait(false);
        var customer = await _customers.FindByIdAsync(customerId, cancellationToken).ConfigureAwait(false);
        if (customer is null || customer.ErasedAt is not null)
        {
            throw new CrmValidationException(nameof(customerId), "customer-exists", $"{customerId} is not a live customer in this tenant");
        }

        var code = string.IsNullOrWhiteSpace(referralCode) ? null : referralCode.Trim().ToUpperInvariant();
        var existing = await _store.FindAccountByCustomerAsync(TenantId, customer.Id, cancellationToken).ConfigureAwait(false);
        if (existing is not null)
        {
            if (code is not null)
            {
                throw new CrmValidationException(nameof(referralCode), "new-members-only", "only a customer joining for the first time can be referred");
            }

            return existing.Status == LoyaltyAccountStatus.Active ? existing : await ReopenAsync(existing, cancellationToken).ConfigureAwait(false);
        }

        LoyaltyAccount? referrer = null;
        if (code is not null)
        {
            referrer = await _store.FindAccountByReferralCodeAsync(TenantId, code, cancellationToken).ConfigureAwait(false);
            if (referrer is null)
            {
                throw new CrmValidationException(nameof(referralCode), "referral-code-exists", $"{InputText.Quote(code)} is not a member's referral code");
            }

            if (referrer.CustomerId == customer.Id)
            {
                throw new CrmValidationException(nameof(referralCode), "no-self-referral", "a customer cannot refer themselves");
            }

            if (referrer.Status != LoyaltyAccountStatus.Active)
            {
                throw new CrmValidationException(nameof(referralCode), "referrer-active", "the referring member has left the programme");
            }
        }

        var now = _time.GetUtcNow();
        var entryTier = programme.Definition.Tiers?.Levels[0].Name;
        LoyaltyAccount? account = null;
        for (var attempt = 0; account is null; attempt++)
        {
            var candidate = new LoyaltyAccount
            {
                Id = CrmIds.NewId(now),
                TenantId = TenantId,
                Version = 1,
                CustomerId = customer.Id,
                Status = LoyaltyAccountStatus.Active,
                PendingAsOf = now,
                Tier = entryTier,
                TierSince = entryTier is null ? null : now,
                TierHistory = entryTier is null ? [] : [new TierChange(null, entryTier, now, "entry")],
                ReferralCode = ReferralCodes.New(),
                ReferredByAccountId = referrer?.Id,
                EnrolledAt = now,
            };
            try
            {
                await _store.CreateAccountAsync(candidate, cancellationToken).ConfigureAwait(false);
                account = candidate;
            }
            catch (DuplicateValueException ex) when (ex.Field == nameof(LoyaltyAccount.ReferralCode) && attempt < 5)
            {
                // A random code collided; draw another.
            }
            catch (DuplicateValueException ex) when (ex.Field == nameof(LoyaltyAccount.CustomerId))
            {
                // A concurrent enrolment of the same customer won: enrolment is idempotent, so theirs is ours.
                return await _store.FindAccountByCustomerAsync(TenantId, customer.Id, cancellationToken).ConfigureAwait(false)
                    ?? throw new InvalidOperationException("An account reported as existing cannot be read back.", ex);
            }
        }

        await _events.PublishAsync([new LoyaltyMemberEnrolled { Account = account, TenantId = TenantId, OccurredAt = now }], cancellationToken).ConfigureAwait(false);
        if (programme.Definition.Bonuses.SignUp > 0)
        {
            await PostAsync(programme, account.Id, new CreditPlan("crm:sign-up", "bonus:sign-up", programme.Definition.Bonuses.SignUp), cancellationToken).ConfigureAwait(false);
        }
        else
        {
            await _changes.NotifyAsync(TenantId, [account.CustomerId], cancellationToken).ConfigureAwait(false);
        }

        return await _store.FindAccountAsync(TenantId, account.Id, cancellationToken).ConfigureAwait(false) ?? account;
    }

    /// <summary>
    /// Closes a member's account: it keeps its points and history, neither earns nor redeems, and expiry still
    /// runs on it. Enrolling again re-opens it. Unenrolling a closed or unknown member does nothing.
    /// </summary>
    public async Task UnenrolAsync(Guid customerId, CancellationToken cancellationToken = default)
    {
        var account = await FindAccountAsync(customerId, cancellationToken).ConfigureAwait(false);
        if (account is not { Status: LoyaltyAccountStatus.Active })
        {
            return;
        }

        var closed = await ChangeAccountAsync(account.Id, a => a.Status == LoyaltyAccountStatus.Active
            ? a with { Status = LoyaltyAccountStatus.Closed, ClosedAt = _time.GetUtcNow() }
            : null, cancellationToken).ConfigureAwait(false);
        if (closed is not null)
        {
            await _events.PublishAsync([new LoyaltyMemberUnenrolled { Account = closed, TenantId = TenantId, OccurredAt = _time.GetUtcNow() }], cancellationToken).ConfigureAwait(false);
            await _changes.NotifyAsync(TenantId, [closed.CustomerId], cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>The customer's account (following merges to the surviving customer), or <see langword="null"/> when they never enrolled.</summary>
    public async ValueTask<LoyaltyAccount?> FindAccountAsync(Guid customerId, CancellationToken cancellationToken = default)
    {
        var account = await _store.FindAccountByCustomerAsync(TenantId, customerId, cancellationToken).ConfigureAwait(false);
        if (account is not null)
        {
            return account;
        }

        var customer = await _customers.FindByIdAsync(customerId, cancellationToken).ConfigureAwait(false);
        return customer is not null && customer.Id != customerId
            ? await _store.FindAccountByCustomerAsync(TenantId, customer.Id, cancellationToken).ConfigureAwait(false)
            : null;
    }

    /// <summary>
    /// The member's balances. Read from the account, never by summing the ledger; only when pending points have
    /// matured since the last posting are the (few) pending lots read to split available from pending.
    /// </summary>
    public async ValueTask<LoyaltyBalance?> GetBalanceAsync(Guid customerId, CancellationToken cancellationToken = default)
    {
        var account = await FindAccountAsync(customerId, cancellationToken).ConfigureAwait(false);
        return account is null ? null : await BalanceOfAsync(account, _time.GetUtcNow(), cancellationToken).ConfigureAwait(false);
    }

    /// <summary>The member's statement: entries newest first with the running balance, and the next expiries.</summary>
    public async Task<LoyaltyStatement> GetStatementAsync(Guid customerId, string? continuationToken = null, int pageSize = 50, CancellationToken cancellationToken = default)
    {
        ContinuationTokens.CheckPageSize(pageSize, _options);
        long? before = null;
        if (continuationToken is not null)
        {
            before = long.TryParse(continuationToken, NumberStyles.None, CultureInfo.InvariantCulture, out var sequence) && sequence > 0
                ? sequence
                : throw new CrmValidationException(nameof(continuationToken), "token-format", "is not a token returned by a previous page of this statement");
        }

        var account = await RequireAccountAsync(customerId, cancellationToken).ConfigureAwait(false);
        var balance = await BalanceOfAsync(account, _time.GetUtcNow(), cancellationToken).ConfigureAwait(false);
        var entries = await _store.ListEntriesAsync(TenantId, account.Id, before, pageSize + 1, cancellationToken).ConfigureAwait(false);
        var page = ContinuationTokens.ToPage(entries, pageSize, e => e.Sequence.ToString(CultureInfo.InvariantCulture));
        var lots = await _store.ListExpiringLotsAsync(TenantId, account.Id, 1000, cancellationToken).ConfigureAwait(false);
        var expiries = lots.GroupBy(l => l.ExpiresAt!.Value).OrderBy(g => g.Key).Take(12)
            .Select(g => new UpcomingExpiry(g.Key, g.Sum(l => l.Remaining))).ToList();
        return new LoyaltyStatement(balance, page, expiries);
    }

    // ---------------------------------------------------------------- earning

    /// <summary>
    /// Earns the points an order is worth for its customer, if they are an active member (see
    /// <see cref="EarnRules"/> for the arithmetic). Crm.Kit calls it when an order is recorded; calling it again for
    /// the same order returns the original entry. Also pays the referral bonuses on a referred member's first
    /// earning order. Returns <see langword="null"/> when the customer is not a member or the order earns nothing.
    /// </summary>
    public async Task<LedgerEntry?> EarnForOrderAsync(Guid orderId, CancellationToken cancellationToken = default) =>
        await EarnForOrderAsync(await RequireOrderAsync(orderId, cancellationToken).ConfigureAwait(false), cancellationToken).ConfigureAwait(false);

    /// <summary><see cref="EarnForOrderAsync(Guid, CancellationToken)"/> for an order already read (the order handler's).</summary>
    internal async Task<LedgerEntry?> EarnForOrderAsync(Order order, CancellationToken cancellationToken)
    {
        var programme = await _store.FindProgrammeAsync(TenantId, cancellationToken).ConfigureAwait(false);
        var account = await _store.FindAccountByCustomerAsync(TenantId, order.CustomerId, cancellationToken).ConfigureAwait(false);
        if (programme is null || account is not { Status: LoyaltyAccountStatus.Active })
        {
            return null;
        }

        var rules = programme.Definition.Earning;
        var (basis, qualifying) = EarnCalculator.Weigh(rules, order);
        var weighted = await ToProgrammeCurrencyAsync(basis.WeightedSpend, order, programme, cancellationToken).ConfigureAwait(false);
        var qualifyingSpend = await ToProgrammeCurrencyAsync(qualifying, order, programme, cancellationToken).ConfigureAwait(false);
        if (qualifyingSpend <= 0m || qualifyingSpend < rules.MinimumOrder)
        {
            // Nothing on the order earns, or it is below the minimum: no points, promotion bonuses included.
            return null;
        }

        var basePoints = EarnCalculator.BasePoints(rules, weighted);
        var (promotionMultiplier, promotionBonus) = await PromotionsForAsync(programme, order, cancellationToken).ConfigureAwait(false);
        var key = $"crm:order:{order.Id:N}";

        var outcome = await PostAsync(programme, account.Id, _ => key, async (b, ct) =>
        {
            var tierMultiplier = LoyaltyValidation.TierIndex(programme.Definition.Tiers, b.Account.Tier) is var i and >= 0
                ? programme.Definition.Tiers!.Levels[i].EarnMultiplier
                : 1m;
            var points = basePoints == 0 && promotionBonus == 0
                ? 0
                : EarnCalculator.Total(rules, basePoints, tierMultiplier * promotionMultiplier, promotionBonus);
            if (points <= 0 || b.Account.Status != LoyaltyAccountStatus.Active)
            {
                return;
            }

            var availableAt = order.PlacedAt.AddDays(programme.Definition.ActivationDelayDays);
            b.Credit(Draft(LedgerEntryKind.Earn, key, "order") with
            {
                Points = points,
                OrderId = order.Id,
                Basis = basis,
                QualifyingPoints = points,
                QualifyingSpend = qualifyingSpend,
            }, order.PlacedAt, availableAt, addsToLifetime: true);
            await UpgradeAsync(b, ct).ConfigureAwait(false);
            await PayReferralAsync(b, ct).ConfigureAwait(false);
        }, cancellationToken).ConfigureAwait(false);
        return outcome;
    }

    /// <summary>
    /// Takes back the points of the refunded share of an order (see <see cref="EarnCalculator.RefundedShare"/>):
    /// the share of what the order earned, at the rates it earned with. Crm.Kit calls it when a refund is recorded;
    /// calling it again changes nothing. Points already spent cannot be taken back: the balance never goes below
    /// zero and the entry's <see cref="LedgerEntry.Shortfall"/> records what was not recovered.
    /// </summary>
    public async Task<LedgerEntry?> ReverseForRefundsAsync(Guid orderId, CancellationToken cancellationToken = default) =>
        await ReverseForRefundsAsync(await RequireOrderAsync(orderId, cancellationToken).ConfigureAwait(false), cancellationToken).ConfigureAwait(false);

    /// <summary><see cref="ReverseForRefundsAsync(Guid, CancellationToken)"/> for an order already read (the refund handler's).</summary>
    internal async Task<LedgerEntry?> ReverseForRefundsAsync(Order order, CancellationToken cancellationToken)
    {
        var account = await _store.FindAccountByCustomerAsync(TenantId, order.CustomerId, cancellationToken).ConfigureAwait(false);
        if (account is null || order.Refunds.Count == 0)
        {
            return null;
        }

        var earned = await _store.FindEntryByKeyAsync(TenantId, account.Id, $"crm:order:{order.Id:N}", cancellationToken).ConfigureAwait(false);
        if (earned?.Basis is null)
        {
            return null;
        }

        var programme = await RequireProgrammeAsync(cancellationToken).ConfigureAwait(false);
        var share = EarnCalculator.RefundedShare(earned.Basis, order);
        var key = $"crm:refund:{order.Id:N}:{order.Refunds.Count}";
        return await PostAsync(programme, account.Id, _ => key, async (b, ct) =>
        {
            var reversals = await _store.ListReversalsAsync(TenantId, account.Id, earned.Id, ct).ConfigureAwait(false);
            var pointsTarget = EarnCalculator.ReversalTarget(earned.Points, share);
            var points = pointsTarget - reversals.Sum(Requested);
            var spend = decimal.Round(earned.QualifyingSpend * share, 8) + reversals.Sum(r => r.QualifyingSpend);
            if (points > 0)
            {
                await ReverseCreditAsync(b, earned, points, -spend, key, "refund", null, null, ct).ConfigureAwait(false);
            }
        }, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// Awards an event bonus set in <see cref="EventBonuses"/> (birthday, review; sign-up is automatic). The
    /// <paramref name="idempotencyKey"/> says which occurrence it is, for example the year of a birthday or the id
    /// of a review. Returns <see langword="null"/> when the programme gives nothing for the event.
    /// </summary>
    public async Task<LedgerEntry?> AwardBonusAsync(Guid customerId, LoyaltyBonus bonus, string idempotencyKey, CancellationToken cancellationToken = default)
    {
        var errors = new ValidationErrorCollector();
        errors.Defined(nameof(bonus), bonus);
        LoyaltyValidation.Key(errors, idempotencyKey);
        errors.ThrowIfAny();
        var programme = await RequireProgrammeAsync(cancellationToken).ConfigureAwait(false);
        var points = bonus switch
        {
            LoyaltyBonus.SignUp => programme.Definition.Bonuses.SignUp,
            LoyaltyBonus.Birthday => programme.Definition.Bonuses.Birthday,
            LoyaltyBonus.Review => programme.Definition.Bonuses.Review,
            _ => 0,
        };
        if (points <= 0)
        {
            return null;
        }

        var account = await RequireActiveAccountAsync(customerId, cancellationToken).ConfigureAwait(false);
        var source = "bonus:" + bonus.ToString().ToLowerInvariant();
        var key = $"crm:{source}:{idempotencyKey}";
        return await PostAsync(programme, account.Id, new CreditPlan(key, source, points), cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// Credits points earned outside orders (a partner, a campaign, a game). They form a lot with the programme's
    /// expiry and count towards lifetime points, but not towards tiers.
    /// </summary>
    public async Task<LedgerEntry> EarnAsync(Guid customerId, long points, string idempotencyKey, string source = "partner", string? reason = null, CancellationToken cancellationToken = default)
    {
        var errors = new ValidationErrorCollector();
        LoyaltyValidation.Points(errors, points);
        LoyaltyValidation.Key(errors, idempotencyKey);
        errors.Required(nameof(source), source);
        errors.Text(nameof(source), source, 100);
        errors.Text(nameof(reason), reason, 500);
        errors.ThrowIfAny();
        var programme = await RequireProgrammeAsync(cancellationToken).ConfigureAwait(false);
        var account = await RequireActiveAccountAsync(customerId, cancellationToken).ConfigureAwait(false);
        return (await PostAsync(programme, account.Id, new CreditPlan(idempotencyKey, source, points, reason), cancellationToken).ConfigureAwait(false))!;
    }

    /// <summary>
    /// Imports points earned elsewhere, in batches of <see cref="ImportBatchSize"/> lines, each batch one transaction
    /// written in bulk. Every line is checked before anything is written. Each line becomes an earn entry and a lot
    /// dated <see cref="PointsImport.EarnedAt"/> (expiry follows from it; the points are available at once) that
    /// counts towards lifetime points but not towards tiers. Lines whose key was already posted are skipped, so an
    /// interrupted import can simply be run again. More lines than one batch are written member by member (each
    /// member's lines in the order given), so a batch that fails leaves committed the batches before it, which may
    /// hold lines from anywhere in the list.
    /// </summary>
    /// <exception cref="CrmValidationException">A line breaks a rule or names a customer who is not an active member; nothing was written.</exception>
    public async Task<PointsImportResult> ImportAsync(IReadOnlyList<PointsImport> lines, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(lines);
        var programme = await RequireProgrammeAsync(cancellationToken).ConfigureAwait(false);
        var now = _time.GetUtcNow();
        var errors = new ValidationErrorCollector();
        for (var i = 0; i < lines.Count; i++)
        {
            var line = lines[i];
            if (line is null)
            {
                errors.Add($"lines[{i}]", "required", "must not be null");
                continue;
            }

            LoyaltyValidation.Points(errors, line.Points, $"lines[{i}].{nameof(line.Points)}");
            LoyaltyValidation.Key(errors, line.IdempotencyKey, $"lines[{i}].{nameof(line.IdempotencyKey)}");
            errors.Required($"lines[{i}].{nameof(line.Source)}", line.Source);
            errors.Text($"lines[{i}].{nameof(line.Source)}", line.Source, 100);
            errors.Text($"lines[{i}].{nameof(line.Reason)}", line.Reason, 500);
            // Imported points start their expiry and activation clocks at EarnedAt: no skew is allowed here.
            errors.Happened($"lines[{i}].{nameof(line.EarnedAt)}", line.EarnedAt, now, TimeSpan.Zero);
        }

        errors.ThrowIfAny();
        var accounts = new Dictionary<Guid, LoyaltyAccount>();
        foreach (var chunk in lines.Select(l => l.CustomerId).Distinct().Chunk(ImportBatchSize))
        {
            foreach (var account in await _store.FindAccountsByCustomersAsync(TenantId, chunk, cancellationToken).ConfigureAwait(false))
            {
                accounts[account.CustomerId] = account;
            }
        }

        for (var i = 0; i < lines.Count; i++)
        {
            if (!accounts.TryGetValue(lines[i].CustomerId, out var account) || account.Status != LoyaltyAccountStatus.Active)
            {
                errors.Add($"lines[{i}].{nameof(PointsImport.CustomerId)}", "member-active", $"customer {lines[i].CustomerId} is not an active member");
            }
        }

        errors.ThrowIfAny();

        // Lines are written account by account, in account order, each account's lines in their given order
        // (OrderBy is stable). The ledger's indexes lead with the account, so a transaction of neighbouring accounts
        // changes a few neighbouring index pages, where lines spread over the whole membership changed a page of
        // every index for every line, and wrote several times as many pages to the database.
        var grouped = lines.Count > ImportBatchSize ? lines.OrderBy(l => accounts[l.CustomerId].Id).ToList() : lines;
        int posted = 0, repeated = 0;
        for (var start = 0; start < grouped.Count; start += ImportBatchSize)
        {
            var batch = grouped.Skip(start).Take(ImportBatchSize).ToList();
            var (p, r) = await ImportBatchAsync(programme, batch, accounts, cancellationToken).ConfigureAwait(false);
            posted += p;
            repeated += r;
        }

        return new PointsImportResult(posted, repeated);
    }

    /// <summary>The number of import lines written per transaction.</summary>
    public const int ImportBatchSize = 2000;

    private async Task<(int Posted, int Repeated)> ImportBatchAsync(LoyaltyProgramme programme, List<PointsImport> batch, Dictionary<Guid, LoyaltyAccount> accounts, CancellationToken cancellationToken)
    {
        var accountIds = batch.Select(l => accounts[l.CustomerId].Id).Distinct().ToList();
        var outcome = await ConcurrencyRetry.RunAsync(_options.ConcurrencyRetryLimit, _instrumentation, async () =>
        {
            var transaction = await _unitOfWork.BeginAsync(cancellationToken).ConfigureAwait(false);
            await using var transactionScope = transaction.ConfigureAwait(false);
            var now = _time.GetUtcNow();
            var builders = new Dictionary<Guid, PostingBuilder>();
            foreach (var account in await _store.LockAccountsAsync(TenantId, accountIds, cancellationToken).ConfigureAwait(false))
            {
                RequireActive(account);
                builders[account.Id] = new PostingBuilder(_store, account, programme, now);
            }

            var existing = await _store.FindExistingKeysAsync(TenantId, [.. batch.Select(l => (accounts[l.CustomerId].Id, l.IdempotencyKey)).Distinct()], cancellationToken).ConfigureAwait(false);
            var seen = new HashSet<(Guid, string)>();
            var repeats = 0;
            foreach (var line in batch)
            {
                var accountId = accounts[line.CustomerId].Id;
                if (existing.Contains((accountId, line.IdempotencyKey)) || !seen.Add((accountId, line.IdempotencyKey)))
                {
                    repeats++;
                    continue;
                }

                var earnedAt = line.EarnedAt.ToUniversalTime();
                builders[accountId].Credit(Draft(LedgerEntryKind.Earn, line.IdempotencyKey, line.Source.Trim(), line.Points, line.Reason), earnedAt, earnedAt, addsToLifetime: true);
            }

            var written = builders.Values.Where(b => b.Entries.Count > 0).ToList();
            var postings = new List<LedgerPosting>(written.Count);
            foreach (var b in written)
            {
                postings.Add(await b.BuildAsync(cancellationToken).ConfigureAwait(false));
            }

            try
            {
                await _store.AppendManyAsync(postings, cancellationToken).ConfigureAwait(false);
            }
            catch (DuplicateValueException ex)
            {
                // A key posted by someone else since the check (a store without locks): look again.
                throw new ConcurrencyConflictException(nameof(LoyaltyAccount), written[0].Account.Id, written[0].Original.Version, ex);
            }

            await transaction.CommitAsync(cancellationToken).ConfigureAwait(false);
            return (Builders: written, Repeats: repeats);
        }).ConfigureAwait(false);

        if (outcome.Builders.Count > 0)
        {
            await PublishAsync(outcome.Builders, cancellationToken).ConfigureAwait(false);
        }

        return (outcome.Builders.Sum(b => b.Entries.Count), outcome.Repeats);
    }

    // ---------------------------------------------------------------- spending

    /// <summary>Spends points (for something outside the catalogue), oldest available lots first.</summary>
    /// <exception cref="InsufficientPointsException">Fewer points are available; nothing was written.</exception>
    public async Task<LedgerEntry> RedeemAsync(Guid customerId, long points, string idempotencyKey, string? reason = null, CancellationToken cancellationToken = default)
    {
        var errors = new ValidationErrorCollector();
        LoyaltyValidation.Points(errors, points);
        LoyaltyValidation.Key(errors, idempotencyKey);
        errors.Text(nameof(reason), reason, 500);
        errors.ThrowIfAny();
        var programme = await RequireProgrammeAsync(cancellationToken).ConfigureAwait(false);
        var account = await RequireActiveAccountAsync(customerId, cancellationToken).ConfigureAwait(false);
        return (await PostAsync(programme, account.Id, _ => idempotencyKey, async (b, ct) =>
        {
            RequireActive(b.Account);
            var draws = await TakeAvailableAsync(b, points, ct).ConfigureAwait(false);
            b.Debit(Draft(LedgerEntryKind.Redeem, idempotencyKey, "redemption", reason: reason), draws);
        }, cancellationToken).ConfigureAwait(false))!;
    }

    /// <summary>
    /// Redeems a catalogue reward: deducts its cost and takes one from its stock in the same transaction.
    /// Cancelling is <see cref="ReverseAsync"/> on the returned entry, which gives both back.
    /// </summary>
    /// <exception cref="InsufficientPointsException">Fewer points are available than the reward costs.</exception>
    /// <exception cref="CrmValidationException">The reward is unknown, retired, out of stock, or above the member's tier.</exception>
    public async Task<LedgerEntry> RedeemRewardAsync(Guid customerId, Guid rewardId, string idempotencyKey, CancellationToken cancellationToken = default)
    {
        var errors = new ValidationErrorCollector();
        LoyaltyValidation.Key(errors, idempotencyKey);
        errors.ThrowIfAny();
        var programme = await RequireProgrammeAsync(cancellationToken).ConfigureAwait(false);
        var account = await RequireActiveAccountAsync(customerId, cancellationToken).ConfigureAwait(false);
        return (await PostAsync(programme, account.Id, _ => idempotencyKey, async (b, ct) =>
        {
            RequireActive(b.Account);
            var reward = await _store.FindRewardAsync(TenantId, rewardId, ct).ConfigureAwait(false);
            if (reward is not { Active: true })
            {
                throw new CrmValidationException(nameof(rewardId), "reward-active", $"{rewardId} is not an active reward");
            }

            if (reward.Stock is <= 0)
            {
                throw new CrmValidationException(nameof(rewardId), "in-stock", $"'{reward.Name}' is out of stock");
            }

            var tiers = programme.Definition.Tiers;
            if (reward.RequiredTier is { } required && LoyaltyValidation.TierIndex(tiers, b.Account.Tier) < LoyaltyValidation.TierIndex(tiers, required))
            {
                throw new CrmValidationException(nameof(rewardId), "tier-required", $"'{reward.Name}' needs tier {required} or above; the member is {b.Account.Tier ?? "in no tier"}");
            }

            var draws = await TakeAvailableAsync(b, reward.Cost, ct).ConfigureAwait(false);
            b.Debit(Draft(LedgerEntryKind.Redeem, idempotencyKey, "reward") with { RewardId = reward.Id, Reason = reward.Name }, draws);
            if (reward.Stock is { } stock)
            {
                b.Reward = (reward with { Stock = stock - 1, Version = reward.Version + 1 }, reward.Version);
            }
        }, cancellationToken).ConfigureAwait(false))!;
    }

    /// <summary>
    /// Reverses an entry, referencing it: a redemption (a cancelled reward) gives its points back to the lots
    /// they came from, with their original expiry dates, and returns the reward to stock; an earning or a credit
    /// adjustment takes back what is left of it (never below a zero balance; see <see cref="LedgerEntry.Shortfall"/>);
    /// a debit adjustment gives its points back. Expiries and reversals cannot be reversed.
    /// </summary>
    public async Task<LedgerEntry> ReverseAsync(Guid entryId, string idempotencyKey, string? reason = null, string? actor = null, CancellationToken cancellationToken = default)
    {
        var errors = new ValidationErrorCollector();
        LoyaltyValidation.Key(errors, idempotencyKey);
        errors.Text(nameof(reason), reason, 500);
        errors.Text(nameof(actor), actor, 200);
        errors.ThrowIfAny();
        var programme = await RequireProgrammeAsync(cancellationToken).ConfigureAwait(false);
        var original = await _store.FindEntryAsync(TenantId, entryId, cancellationToken).ConfigureAwait(false)
            ?? throw new EntityNotFoundException(nameof(LedgerEntry), entryId);
        if (original.Kind is LedgerEntryKind.Expire or LedgerEntryKind.Reverse)
        {
            throw new CrmValidationException(nameof(entryId), "reversible-kind", $"{original.Kind} entries cannot be reversed");
        }

        return (await PostAsync(programme, original.AccountId, _ => idempotencyKey, async (b, ct) =>
        {
            var reversals = await _store.ListReversalsAsync(TenantId, original.AccountId, original.Id, ct).ConfigureAwait(false);
            if (original.Points < 0)
            {
                if (reversals.Count > 0)
                {
                    throw new CrmValidationException(nameof(entryId), "already-reversed", "the entry was already reversed");
                }

                await RestoreDebitAsync(b, original, idempotencyKey, reason, actor, ct).ConfigureAwait(false);
                return;
            }

            var left = original.Points - reversals.Sum(Requested);
            if (left <= 0)
            {
                throw new CrmValidationException(nameof(entryId), "already-reversed", "the entry was already reversed in full");
            }

            var spend = original.QualifyingSpend + reversals.Sum(r => r.QualifyingSpend);
            await ReverseCreditAsync(b, original, left, -spend, idempotencyKey, original.Source, reason, actor, ct).ConfigureAwait(false);
        }, cancellationToken).ConfigureAwait(false))!;
    }

    /// <summary>
    /// A manual correction by a person: a positive <paramref name="points"/> credits a new lot, a negative one
    /// debits the oldest available lots and cannot overdraw. A reason and an actor are required.
    /// </summary>
    public async Task<LedgerEntry> AdjustAsync(Guid customerId, long points, string idempotencyKey, string reason, string actor, CancellationToken cancellationToken = default)
    {
        var errors = new ValidationErrorCollector();
        LoyaltyValidation.Points(errors, Math.Abs(points == long.MinValue ? 0 : points));
        LoyaltyValidation.Key(errors, idempotencyKey);
        errors.Required(nameof(reason), reason);
        errors.Text(nameof(reason), reason, 500);
        errors.Required(nameof(actor), actor);
        errors.Text(nameof(actor), actor, 200);
        errors.ThrowIfAny();
        var programme = await RequireProgrammeAsync(cancellationToken).ConfigureAwait(false);
        var account = await RequireAccountAsync(customerId, cancellationToken).ConfigureAwait(false);
        return (await PostAsync(programme, account.Id, _ => idempotencyKey, async (b, ct) =>
        {
            var draft = Draft(LedgerEntryKind.Adjust, idempotencyKey, "adjustment") with { Reason = reason.Trim(), Actor = actor.Trim() };
            if (points > 0)
            {
                b.Credit(draft with { Points = points }, b.Now, b.Now, addsToLifetime: true);
            }
            else
            {
                b.Debit(draft, await TakeAvailableAsync(b, -points, ct).ConfigureAwait(false));
            }
        }, cancellationToken).ConfigureAwait(false))!;
    }

    /// <summary>
    /// Expires every lot whose expiry date is at or before <paramref name="asOf"/> (default now): one expiry entry
    /// per account and batch of lots. Schedule it (daily is typical). Running it again, or after a crash part-way,
    /// expires only what is still due: it is idempotent.
    /// </summary>
    public async Task<ExpiryRun> ExpirePointsAsync(DateTimeOffset? asOf = null, CancellationToken cancellationToken = default)
    {
        var programme = await RequireProgrammeAsync(cancellationToken).ConfigureAwait(false);
        var cutoff = asOf ?? _time.GetUtcNow();
        int accounts = 0;
        long points = 0;
        Guid? after = null;
        while (true)
        {
            var ids = await _store.ListAccountsWithExpiredLotsAsync(TenantId, cutoff, after, PageSize, cancellationToken).ConfigureAwait(false);
            foreach (var accountId in ids)
            {
                var expiredHere = 0L;
                while (true)
                {
                    // Keyed by the entry's own sequence number: unique by construction, never a repeat.
                    var entry = await PostAsync(programme, accountId, a => $"crm:expire:{a.EntryCount + 1}", async (b, ct) =>
                    {
                        var lots = await _store.ListExpiringLotsAsync(TenantId, accountId, PageSize, ct).ConfigureAwait(false);
                        b.Expire([.. lots.Where(l => l.ExpiresAt <= cutoff)], b.IdempotencyKey);
                    }, cancellationToken).ConfigureAwait(false);
                    expiredHere -= entry?.Points ?? 0;
                    if (entry is null || entry.Draws.Count < PageSize)
                    {
                        break;
                    }
                }

                if (expiredHere > 0)
                {
                    accounts++;
                    points += expiredHere;
                }
            }

            if (ids.Count < PageSize)
            {
                return new ExpiryRun(accounts, points);
            }

            after = ids[^1];
        }
    }

    // ---------------------------------------------------------------- tiers

    /// <summary>Where the member stands: tier, qualification in the current window, and what the next tier needs.</summary>
    /// <exception cref="CrmValidationException">The programme has no tiers, or the customer is not a member.</exception>
    public async Task<TierProgress> GetTierProgressAsync(Guid customerId, CancellationToken cancellationToken = default)
    {
        var programme = await RequireProgrammeAsync(cancellationToken).ConfigureAwait(false);
        var tiers = programme.Definition.Tiers ?? throw new CrmValidationException("programme", "has-tiers", "the programme has no tiers");
        var account = await RequireAccountAsync(customerId, cancellationToken).ConfigureAwait(false);
        var qualification = await QualificationAsync(tiers, account.Id, _time.GetUtcNow(), 0, 0m, cancellationToken).ConfigureAwait(false);
        var index = Math.Max(0, LoyaltyValidation.TierIndex(tiers, account.Tier));
        var next = index + 1 < tiers.Levels.Count ? tiers.Levels[index + 1] : null;
        return new TierProgress(tiers.Levels[index].Name, qualification, next?.Name, next is null ? 0m : Math.Max(0m, next.Threshold - qualification), account.DowngradeDueAt);
    }

    /// <summary>
    /// Evaluates every member's tier: raises those who qualify higher, schedules a downgrade (after the grace
    /// period) for those below their tier's threshold, carries out downgrades that fell due, and clears those of
    /// members who requalified. Schedule it (daily is typical); it publishes <see cref="TierChanged"/> per change.
    /// </summary>
    public async Task<TierEvaluation> EvaluateTiersAsync(CancellationToken cancellationToken = default)
    {
        var programme = await RequireProgrammeAsync(cancellationToken).ConfigureAwait(false);
        var tiers = programme.Definition.Tiers ?? throw new CrmValidationException("programme", "has-tiers", "the programme has no tiers");
        int evaluated = 0, upgraded = 0, downgraded = 0, scheduled = 0;
        Guid? after = null;
        while (true)
        {
            var page = await _store.ListAccountsAsync(TenantId, after, PageSize, cancellationToken).ConfigureAwait(false);
            foreach (var candidate in page)
            {
                evaluated++;
                var now = _time.GetUtcNow();
                var qualification = await QualificationAsync(tiers, candidate.Id, now, 0, 0m, cancellationToken).ConfigureAwait(false);
                TierChange? change = null;
                var updated = await ChangeAccountAsync(candidate.Id, a =>
                {
                    var (next, tierChange) = Evaluate(tiers, a, qualification, now);
                    change = tierChange;
                    return next;
                }, cancellationToken).ConfigureAwait(false);
                if (updated is null)
                {
                    continue;
                }

                if (change is null)
                {
                    scheduled += updated.DowngradeDueAt is not null ? 1 : 0;
                    continue;
                }

                if (change.Reason == "downgraded")
                {
                    downgraded++;
                }
                else
                {
                    upgraded++;
                }

                await _events.PublishAsync([new TierChanged { CustomerId = updated.CustomerId, Change = change, TenantId = TenantId, OccurredAt = now }], cancellationToken).ConfigureAwait(false);
                await _changes.NotifyAsync(TenantId, [updated.CustomerId], cancellationToken).ConfigureAwait(false);
            }

            if (page.Count < PageSize)
            {
                return new TierEvaluation(evaluated, upgraded, downgraded, scheduled);
            }

            after = page[^1].Id;
        }
    }

    // ---------------------------------------------------------------- rewards

    /// <summary>Adds a reward to the catalogue.</summary>
    public async Task<LoyaltyReward> CreateRewardAsync(LoyaltyRewardDraft draft, CancellationToken cancellationToken = default)
    {
        var programme = await RequireProgrammeAsync(cancellationToken).ConfigureAwait(false);
        var errors = new ValidationErrorCollector();
        LoyaltyValidation.ValidateReward(draft, programme, errors);
        errors.ThrowIfAny();
        var now = _time.GetUtcNow();
        var reward = WithDraft(new LoyaltyReward { Id = CrmIds.NewId(now), TenantId = TenantId, Version = 1, Name = draft.Name, CreatedAt = now }, draft);
        await _store.CreateRewardAsync(reward, cancellationToken).ConfigureAwait(false);
        return reward;
    }

    /// <summary>Changes a reward (its cost applies to later redemptions only).</summary>
    /// <exception cref="ConcurrencyConflictException">The reward changed (or was redeemed from stock) since <paramref name="expectedVersion"/>.</exception>
    public async Task<LoyaltyReward> UpdateRewardAsync(Guid rewardId, long expectedVersion, LoyaltyRewardDraft draft, CancellationToken cancellationToken = default)
    {
        var programme = await RequireProgrammeAsync(cancellationToken).ConfigureAwait(false);
        var errors = new ValidationErrorCollector();
        LoyaltyValidation.ValidateReward(draft, programme, errors);
        errors.ThrowIfAny();
        var current = await _store.FindRewardAsync(TenantId, rewardId, cancellationToken).ConfigureAwait(false)
            ?? throw new EntityNotFoundException(nameof(LoyaltyReward), rewardId);
        var updated = WithDraft(current with { Version = expectedVersion + 1 }, draft);
        await _store.UpdateRewardAsync(updated, expectedVersion, cancellationToken).ConfigureAwait(false);
        return updated;
    }

    private static LoyaltyReward WithDraft(LoyaltyReward reward, LoyaltyRewardDraft draft) => reward with
    {
        Name = draft.Name.Trim(),
        Description = draft.Description?.Trim(),
        Cost = draft.Cost,
        RequiredTier = draft.RequiredTier?.Trim(),
        Stock = draft.Stock,
        Active = draft.Active,
    };

    /// <summary>The reward with this id, or <see langword="null"/>.</summary>
    public ValueTask<LoyaltyReward?> FindRewardAsync(Guid rewardId, CancellationToken cancellationToken = default) =>
        _store.FindRewardAsync(TenantId, rewardId, cancellationToken);

    /// <summary>The catalogue in id order, a page at a time.</summary>
    public async Task<Page<LoyaltyReward>> ListRewardsAsync(string? continuationToken = null, int pageSize = 100, CancellationToken cancellationToken = default)
    {
        ContinuationTokens.CheckPageSize(pageSize, _options);
        var after = ContinuationTokens.DecodeId(continuationToken);
        var items = await _store.ListRewardsAsync(TenantId, after, pageSize + 1, cancellationToken).ConfigureAwait(false);
        return ContinuationTokens.ToPage(items, pageSize, r => ContinuationTokens.Encode(r.Id));
    }

    // ---------------------------------------------------------------- the posting machinery

    /// <summary>
    /// Locks the account, returns the entry already posted under the key if there is one, and otherwise lets
    /// <paramref name="build"/> work out the entries and writes them in the same transaction. Returns the first
    /// entry of the posting (or the original one for a repeat), or <see langword="null"/> when nothing was posted.
    /// </summary>
    private ValueTask<LedgerEntry?> PostAsync(LoyaltyProgramme programme, Guid accountId, Func<LoyaltyAccount, string> keyOf, Func<PostingBuilder, CancellationToken, ValueTask> build, CancellationToken cancellationToken) =>
        PostAsync(programme, accountId, new DelegatePlan(keyOf, build), cancellationToken);

    /// <summary>
    /// <see cref="PostAsync(LoyaltyProgramme, Guid, Func{LoyaltyAccount, string}, Func{PostingBuilder, CancellationToken, ValueTask}, CancellationToken)"/>
    /// for a plan object, retried through a static lambda, so that the common posting (a plain credit) allocates
    /// no closures.
    /// </summary>
    private async ValueTask<LedgerEntry?> PostAsync(LoyaltyProgramme programme, Guid accountId, PostingPlan plan, CancellationToken cancellationToken)
    {
        var (entry, committed) = await ConcurrencyRetry.RunAsync(
            _options.ConcurrencyRetryLimit,
            _instrumentation,
            (Manager: this, Programme: programme, AccountId: accountId, Plan: plan, CancellationToken: cancellationToken),
            static s => s.Manager.AttemptAsync(s.Programme, s.AccountId, s.Plan, s.CancellationToken)).ConfigureAwait(false);
        if (committed is not null)
        {
            PostingBuilder[] postings = committed.HasOthers ? [committed, .. committed.Others] : [committed];
            await PublishAsync(postings, cancellationToken).ConfigureAwait(false);
        }

        return entry;
    }

    /// <summary>One try of a posting, in one transaction. Returns the builder that was committed, if any, for publishing.</summary>
    private async ValueTask<(LedgerEntry? Entry, PostingBuilder? Committed)> AttemptAsync(LoyaltyProgramme programme, Guid accountId, PostingPlan plan, CancellationToken cancellationToken)
    {
        var transaction = await _unitOfWork.BeginAsync(cancellationToken).ConfigureAwait(false);
        await using var transactionScope = transaction.ConfigureAwait(false);
        var account = await _store.LockAccountAsync(TenantId, accountId, cancellationToken).ConfigureAwait(false)
            ?? throw new EntityNotFoundException(nameof(LoyaltyAccount), accountId);
        var key = plan.KeyFor(account);
        if (await _store.FindEntryByKeyAsync(TenantId, accountId, key, cancellationToken).ConfigureAwait(false) is { } repeat)
        {
            return (repeat, null);
        }

        var builder = new PostingBuilder(_store, account, programme, _time.GetUtcNow()) { IdempotencyKey = key };
        await plan.BuildAsync(builder, cancellationToken).ConfigureAwait(false);
        if (builder.Entries.Count == 0)
        {
            return (null, null);
        }

        await AppendAsync(builder, cancellationToken).ConfigureAwait(false);
        if (builder.HasOthers)
        {
            foreach (var other in builder.Others)
            {
                await AppendAsync(other, cancellationToken).ConfigureAwait(false);
            }
        }

        await transaction.CommitAsync(cancellationToken).ConfigureAwait(false);
        return (builder.Entries[0], builder);
    }

    private async ValueTask AppendAsync(PostingBuilder builder, CancellationToken cancellationToken)
    {
        try
        {
            await _store.AppendAsync(await builder.BuildAsync(cancellationToken).ConfigureAwait(false), cancellationToken).ConfigureAwait(false);
        }
        catch (DuplicateValueException ex)
        {
            // Only possible when the store could not hold the lock; the next attempt finds the key.
            throw new ConcurrencyConflictException(nameof(LoyaltyAccount), builder.Account.Id, builder.Original.Version, ex);
        }
    }

    /// <summary>Publishes what committed postings did: their entries, tier changes and the customers they changed.</summary>
    private async Task PublishAsync(IReadOnlyList<PostingBuilder> postings, CancellationToken cancellationToken)
    {
        var eventCount = 0;
        for (var p = 0; p < postings.Count; p++)
        {
            eventCount += postings[p].Entries.Count + (postings[p].HasTierChanges ? postings[p].TierChanges.Count : 0);
        }

        var events = new CrmEvent[eventCount];
        var customers = new Guid[postings.Count];
        var customerCount = 0;
        var next = 0;
        for (var p = 0; p < postings.Count; p++)
        {
            var b = postings[p];
            var customerId = b.Original.CustomerId;
            _instrumentation.PointsPosted.Add(b.Entries.Count);
            CrmKitLog.PointsPosted(_logger, b.Entries.Count, customerId);
            for (var i = 0; i < b.Entries.Count; i++)
            {
                events[next++] = new PointsPosted { CustomerId = customerId, Entry = b.Entries[i], TenantId = TenantId, OccurredAt = b.Now };
            }

            if (b.HasTierChanges)
            {
                foreach (var change in b.TierChanges)
                {
                    events[next++] = new TierChanged { CustomerId = customerId, Change = change, TenantId = TenantId, OccurredAt = b.Now };
                }
            }

            if (Array.IndexOf(customers, customerId, 0, customerCount) < 0)
            {
                customers[customerCount++] = customerId;
            }
        }

        await _events.PublishAsync(events, cancellationToken).ConfigureAwait(false);
        await _changes.NotifyAsync(TenantId, customerCount == customers.Length ? customers : customers[..customerCount], cancellationToken).ConfigureAwait(false);
    }

    private static async ValueTask<IReadOnlyList<LotDraw>> TakeAvailableAsync(PostingBuilder b, long points, CancellationToken cancellationToken)
    {
        var (pending, _) = await b.PendingAsync(cancellationToken).ConfigureAwait(false);
        var available = b.Account.Balance - pending;
        if (available < points)
        {
            throw new InsufficientPointsException(b.Account.CustomerId, points, available);
        }

        var draws = await b.TakeAsync(points, availableOnly: true, firstLotId: null, cancellationToken).ConfigureAwait(false);
        if (draws.Sum(d => d.Points) != points)
        {
            // The account's figures and its lots disagree: refuse rather than post an entry the lots cannot explain.
            throw new InvalidOperationException($"Account {b.Account.Id} reports {available} points available but its lots hold fewer.");
        }

        return draws;
    }

    /// <summary>Takes back <paramref name="points"/> of a credit: from its own lot first, then any lot; never below zero.</summary>
    private static async ValueTask ReverseCreditAsync(PostingBuilder b, LedgerEntry original, long points, decimal qualifyingSpend, string key, string? source, string? reason, string? actor, CancellationToken cancellationToken)
    {
        var draws = await b.TakeAsync(points, availableOnly: false, firstLotId: original.Id, cancellationToken).ConfigureAwait(false);
        var taken = draws.Sum(d => d.Points);
        var qualifyingPoints = original.QualifyingPoints == 0 ? 0 : -points;
        b.Debit(Draft(LedgerEntryKind.Reverse, key, source) with
        {
            ReversesEntryId = original.Id,
            OrderId = original.OrderId,
            Reason = reason,
            Actor = actor,
            QualifyingPoints = qualifyingPoints,
            QualifyingSpend = original.QualifyingSpend == 0m ? 0m : qualifyingSpend,
            Shortfall = points - taken,
        }, draws);
        b.Account = b.Account with { LifetimePoints = b.Account.LifetimePoints - points };
    }

    private async ValueTask RestoreDebitAsync(PostingBuilder b, LedgerEntry original, string key, string? reason, string? actor, CancellationToken cancellationToken)
    {
        if (original.RewardId is { } rewardId && await _store.FindRewardAsync(TenantId, rewardId, cancellationToken).ConfigureAwait(false) is { Stock: { } stock } reward)
        {
            b.Reward = (reward with { Stock = stock + 1, Version = reward.Version + 1 }, reward.Version);
        }

        await b.RestoreAsync(Draft(LedgerEntryKind.Reverse, key, original.Source) with
        {
            ReversesEntryId = original.Id,
            RewardId = original.RewardId,
            Reason = reason,
            Actor = actor,
        }, original.Draws, cancellationToken).ConfigureAwait(false);

        // Points that come back settle what reversals still owe, so none earned from refunded value is spendable again.
        await RefundDebts.SettleAsync(b, _store, cancellationToken).ConfigureAwait(false);
    }

    private async ValueTask UpgradeAsync(PostingBuilder b, CancellationToken cancellationToken)
    {
        if (b.Programme.Definition.Tiers is not { } tiers)
        {
            return;
        }

        var added = b.Entries.Sum(e => e.QualifyingPoints);
        var addedSpend = b.Entries.Sum(e => e.QualifyingSpend);
        var qualification = await QualificationAsync(tiers, b.Account.Id, b.Now, added, addedSpend, cancellationToken).ConfigureAwait(false);
        var current = LoyaltyValidation.TierIndex(tiers, b.Account.Tier);
        var reached = ReachedIndex(tiers, qualification);
        if (reached > current)
        {
            var change = new TierChange(b.Account.Tier, tiers.Levels[reached].Name, b.Now, "qualified");
            b.Account = b.Account with { Tier = change.To, TierSince = b.Now, DowngradeDueAt = null, TierHistory = [.. b.Account.TierHistory, change] };
            b.TierChanges.Add(change);
        }
        else if (reached == current && b.Account.DowngradeDueAt is not null)
        {
            b.Account = b.Account with { DowngradeDueAt = null };
        }
    }

    private async ValueTask PayReferralAsync(PostingBuilder referee, CancellationToken cancellationToken)
    {
        if (referee.Account.ReferredByAccountId is not { } referrerId || referee.Account.ReferralRewardedAt is not null)
        {
            return;
        }

        var bonuses = referee.Programme.Definition.Bonuses;
        referee.Account = referee.Account with { ReferralRewardedAt = referee.Now };
        if (bonuses.Referee > 0)
        {
            referee.Credit(Draft(LedgerEntryKind.Earn, "crm:referral:referee", "referral", bonuses.Referee), referee.Now, referee.Now, addsToLifetime: true);
        }

        var referrerKey = $"crm:referral:{referee.Account.Id:N}";
        if (bonuses.Referrer <= 0)
        {
            return;
        }

        // Referrers always enrolled before the members they referred, so locking referee then referrer follows
        // one order (newer account first) and two referral postings can never wait on each other in a cycle.
        var referrer = await _store.LockAccountAsync(TenantId, referrerId, cancellationToken).ConfigureAwait(false);
        if (referrer is not { Status: LoyaltyAccountStatus.Active } ||
            await _store.FindEntryByKeyAsync(TenantId, referrerId, referrerKey, cancellationToken).ConfigureAwait(false) is not null)
        {
            return;
        }

        var builder = new PostingBuilder(_store, referrer, referee.Programme, referee.Now);
        builder.Credit(Draft(LedgerEntryKind.Earn, referrerKey, "referral", bonuses.Referrer), builder.Now, builder.Now, addsToLifetime: true);
        referee.Others.Add(builder);
    }

    private static (LoyaltyAccount? Updated, TierChange? Change) Evaluate(TierPolicy tiers, LoyaltyAccount account, decimal qualification, DateTimeOffset now)
    {
        var current = Math.Max(0, LoyaltyValidation.TierIndex(tiers, account.Tier));
        var reached = ReachedIndex(tiers, qualification);
        if (reached > current || account.Tier is null || LoyaltyValidation.TierIndex(tiers, account.Tier) < 0)
        {
            var change = new TierChange(account.Tier, tiers.Levels[reached].Name, now, reached >= current ? "qualified" : "downgraded");
            return (account with { Tier = change.To, TierSince = now, DowngradeDueAt = null, TierHistory = [.. account.TierHistory, change] }, change);
        }

        if (reached == current)
        {
            return account.DowngradeDueAt is null ? (null, null) : (account with { DowngradeDueAt = null }, null);
        }

        var due = account.DowngradeDueAt ?? now.AddDays(tiers.GraceDays);
        if (due > now)
        {
            return account.DowngradeDueAt is null ? (account with { DowngradeDueAt = due }, null) : (null, null);
        }

        var downgrade = new TierChange(account.Tier, tiers.Levels[reached].Name, now, "downgraded");
        return (account with { Tier = downgrade.To, TierSince = now, DowngradeDueAt = null, TierHistory = [.. account.TierHistory, downgrade] }, downgrade);
    }

    private static int ReachedIndex(TierPolicy tiers, decimal qualification)
    {
        var reached = 0;
        for (var i = 1; i < tiers.Levels.Count; i++)
        {
            if (qualification >= tiers.Levels[i].Threshold)
            {
                reached = i;
            }
        }

        return reached;
    }

    /// <summary>The qualification measure over the policy's window at <paramref name="asOf"/>, plus what a posting in progress adds.</summary>
    private async ValueTask<decimal> QualificationAsync(TierPolicy tiers, Guid accountId, DateTimeOffset asOf, long addedPoints, decimal addedSpend, CancellationToken cancellationToken)
    {
        decimal Measure(QualifyingTotals t) => tiers.Measure == TierMeasure.QualifyingSpend ? t.Spend + addedSpend : t.Points + addedPoints;
        var end = asOf.AddTicks(1);
        if (tiers.Window == TierWindowKind.RollingMonths)
        {
            return Measure(await _store.SumQualifyingAsync(TenantId, accountId, asOf.AddMonths(-tiers.WindowMonths), end, cancellationToken).ConfigureAwait(false));
        }

        var yearStart = new DateTimeOffset(asOf.UtcDateTime.Year, 1, 1, 0, 0, 0, TimeSpan.Zero);
        var current = Measure(await _store.SumQualifyingAsync(TenantId, accountId, yearStart, end, cancellationToken).ConfigureAwait(false));
        var previous = await _store.SumQualifyingAsync(TenantId, accountId, yearStart.AddYears(-1), yearStart, cancellationToken).ConfigureAwait(false);
        return Math.Max(current, tiers.Measure == TierMeasure.QualifyingSpend ? previous.Spend : previous.Points);
    }

    private async ValueTask<(decimal Multiplier, long Bonus)> PromotionsForAsync(LoyaltyProgramme programme, Order order, CancellationToken cancellationToken)
    {
        decimal multiplier = 1m;
        long bonus = 0;
        foreach (var promotion in programme.Definition.Promotions.Where(p => p.Covers(order.PlacedAt)))
        {
            if (promotion.SegmentId is { } segmentId)
            {
                try
                {
                    if (!await _segments.IsMemberAsync(segmentId, order.CustomerId, cancellationToken).ConfigureAwait(false))
                    {
                        continue;
                    }
                }
                catch (EntityNotFoundException)
                {
                    // The segment was deleted after the promotion was set up: nobody is in it.
                    continue;
                }
            }

            multiplier *= promotion.Multiplier;
            bonus += promotion.BonusPoints;
        }

        return (multiplier, bonus);
    }

    private async ValueTask<decimal> ToProgrammeCurrencyAsync(decimal amount, Order order, LoyaltyProgramme programme, CancellationToken cancellationToken)
    {
        if (amount == 0m || string.Equals(order.Currency, programme.Definition.Currency, StringComparison.Ordinal))
        {
            return amount;
        }

        return await _converter.ConvertAsync(amount, order.Currency, programme.Definition.Currency, order.PlacedAt, cancellationToken).ConfigureAwait(false)
            ?? throw new CrmValidationException(nameof(Order.Currency), "convertible", $"no rate from {order.Currency} to the programme currency {programme.Definition.Currency} at {order.PlacedAt:O}");
    }

    private async ValueTask<LoyaltyBalance> BalanceOfAsync(LoyaltyAccount account, DateTimeOffset now, CancellationToken cancellationToken)
    {
        var pending = account.PendingPoints;
        if (account.NextActivationAt is { } next && next <= now)
        {
            pending = 0;
            foreach (var lot in await _store.ListPendingLotsAsync(TenantId, account.Id, now, cancellationToken).ConfigureAwait(false))
            {
                pending += lot.Remaining;
            }
        }

        return new LoyaltyBalance(account.CustomerId, account.Balance, account.Balance - pending, pending, account.LifetimePoints, account.Tier, account.Status);
    }

    private async Task<LoyaltyAccount?> ChangeAccountAsync(Guid accountId, Func<LoyaltyAccount, LoyaltyAccount?> change, CancellationToken cancellationToken) =>
        await ConcurrencyRetry.RunAsync(_options.ConcurrencyRetryLimit, _instrumentation, async () =>
        {
            var transaction = await _unitOfWork.BeginAsync(cancellationToken).ConfigureAwait(false);
            await using var transactionScope = transaction.ConfigureAwait(false);
            var account = await _store.LockAccountAsync(TenantId, accountId, cancellationToken).ConfigureAwait(false)
                ?? throw new EntityNotFoundException(nameof(LoyaltyAccount), accountId);
            if (change(account) is not { } updated)
            {
                return null;
            }

            updated = updated with { Version = account.Version + 1 };
            await _store.UpdateAccountAsync(updated, account.Version, cancellationToken).ConfigureAwait(false);
            await transaction.CommitAsync(cancellationToken).ConfigureAwait(false);
            return updated;
        }).ConfigureAwait(false);

    private async Task<LoyaltyAccount> ReopenAsync(LoyaltyAccount account, CancellationToken cancellationToken)
    {
        var reopened = await ChangeAccountAsync(account.Id, a => a.Status == LoyaltyAccountStatus.Closed ? a with { Status = LoyaltyAccountStatus.Active, ClosedAt = null } : null, cancellationToken).ConfigureAwait(false);
        if (reopened is null)
        {
            return await _store.FindAccountAsync(TenantId, account.Id, cancellationToken).ConfigureAwait(false) ?? account;
        }

        await _events.PublishAsync([new LoyaltyMemberEnrolled { Account = reopened, TenantId = TenantId, OccurredAt = _time.GetUtcNow() }], cancellationToken).ConfigureAwait(false);
        await _changes.NotifyAsync(TenantId, [reopened.CustomerId], cancellationToken).ConfigureAwait(false);
        return reopened;
    }

    private async ValueTask ValidateAsync(LoyaltyProgrammeDefinition definition, CancellationToken cancellationToken)
    {
        var errors = new ValidationErrorCollector();
        LoyaltyValidation.Validate(definition, errors, _time.GetUtcNow());
        if (!errors.HasErrors)
        {
            for (var i = 0; i < definition.Promotions.Count; i++)
            {
                if (definition.Promotions[i].SegmentId is { } segmentId && await _segments.FindByIdAsync(segmentId, cancellationToken).ConfigureAwait(false) is null)
                {
                    errors.Add($"{nameof(definition.Promotions)}[{i}].{nameof(LoyaltyPromotion.SegmentId)}", "segment-exists", $"{segmentId} is not a segment in this tenant");
                }
            }
        }

        errors.ThrowIfAny();
    }

    private static LoyaltyProgrammeDefinition Normalize(LoyaltyProgrammeDefinition definition) => definition with
    {
        Name = definition.Name.Trim(),
        PointName = definition.PointName.Trim(),
        Tiers = definition.Tiers is { } tiers ? tiers with { Levels = [.. tiers.Levels.Select(l => l with { Name = l.Name.Trim() })] } : null,
        Promotions = [.. definition.Promotions.Select(p => p with { Code = p.Code.Trim(), Name = p.Name.Trim() })],
    };

    private async ValueTask<Order> RequireOrderAsync(Guid orderId, CancellationToken cancellationToken) =>
        await _orders.FindByIdAsync(TenantId, orderId, cancellationToken).ConfigureAwait(false)
            ?? throw new EntityNotFoundException(nameof(Order), orderId);

    private async ValueTask<LoyaltyProgramme> RequireProgrammeAsync(CancellationToken cancellationToken) =>
        await _store.FindProgrammeAsync(TenantId, cancellationToken).ConfigureAwait(false)
            ?? throw new CrmValidationException("programme", "programme-exists", "the tenant has no loyalty programme; create one first");

    private async ValueTask<LoyaltyAccount> RequireAccountAsync(Guid customerId, CancellationToken cancellationToken) =>
        await FindAccountAsync(customerId, cancellationToken).ConfigureAwait(false)
            ?? throw new CrmValidationException(nameof(customerId), "member", $"customer {customerId} is not a member of the loyalty programme");

    private async ValueTask<LoyaltyAccount> RequireActiveAccountAsync(Guid customerId, CancellationToken cancellationToken)
    {
        var account = await RequireAccountAsync(customerId, cancellationToken).ConfigureAwait(false);
        RequireActive(account);
        return account;
    }

    internal static void RequireActive(LoyaltyAccount account)
    {
        if (account.Status != LoyaltyAccountStatus.Active)
        {
            throw new CrmValidationException("customerId", "member-active", $"customer {account.CustomerId} has left the loyalty programme");
        }
    }

    /// <summary>Points a reversal set out to take back: what it took plus what it could not.</summary>
    private static long Requested(LedgerEntry reversal) => -reversal.Points + reversal.Shortfall;

    internal static EntryDraft Draft(LedgerEntryKind kind, string key, string? source, long points = 0, string? reason = null) =>
        new(kind, key, source) { Points = points, Reason = reason };
}

/// <summary>What one posting does: the key it is made under and how it is worked out on the locked account.</summary>
internal abstract class PostingPlan
{
    /// <summary>The idempotency key, given the locked account.</summary>
    public abstract string KeyFor(LoyaltyAccount account);

    /// <summary>Appends the posting's entries to the builder (none when there is nothing to post).</summary>
    public abstract ValueTask BuildAsync(PostingBuilder builder, CancellationToken cancellationToken);
}

/// <summary>A plan given as two functions, for postings that work things out as they go.</summary>
internal sealed class DelegatePlan(Func<LoyaltyAccount, string> keyOf, Func<PostingBuilder, CancellationToken, ValueTask> build) : PostingPlan
{
    public override string KeyFor(LoyaltyAccount account) => keyOf(account);

    public override ValueTask BuildAsync(PostingBuilder builder, CancellationToken cancellationToken) => build(builder, cancellationToken);
}

/// <summary>
/// A plain credit, available at once, that counts towards lifetime points: earning from a partner, an event bonus.
/// The commonest posting, so it is one small object rather than two closures.
/// </summary>
internal sealed class CreditPlan(string idempotencyKey, string source, long points, string? reason = null) : PostingPlan
{
    public override string KeyFor(LoyaltyAccount account) => idempotencyKey;

    public override ValueTask BuildAsync(PostingBuilder builder, CancellationToken cancellationToken)
    {
        LoyaltyManager.RequireActive(builder.Account);
        builder.Credit(LoyaltyManager.Draft(LedgerEntryKind.Earn, idempotencyKey, source, points, reason), builder.Now, builder.Now, addsToLifetime: true);
        return ValueTask.CompletedTask;
    }
}

/// <summary>Random referral codes: 8 characters from an alphabet without look-alikes (no 0/O, 1/I/L).</summary>
internal static class ReferralCodes
{
    private const string Alphabet = "23456789ABCDEFGHJKMNPQRSTUVWXYZ";

    public static string New() => string.Create(8, 0, static (span, _) =>
    {
        Span<byte> bytes = stackalloc byte[8];
        System.Security.Cryptography.RandomNumberGenerator.Fill(bytes);
        for (var i = 0; i < span.Length; i++)
        {
            span[i] = Alphabet[bytes[i] % Alphabet.Length];
        }
    });
}
