using Crm.Kit.Customers;
using Microsoft.Extensions.Options;

namespace Crm.Kit.Duplicates;

/// <summary>Why two customers look like the same one.</summary>
public enum DuplicateReason
{
    /// <summary>They share a normalised email address.</summary>
    SameEmail = 0,

    /// <summary>They share a phone number.</summary>
    SamePhone = 1,

    /// <summary>Their names are alike and they belong to the same company.</summary>
    SimilarNameSameCompany = 2,

    /// <summary>Their names are alike and they share a postcode.</summary>
    SimilarNameSamePostalCode = 3,
}

/// <summary>A pair of customers that are probably one.</summary>
/// <param name="CustomerId">The first customer (for a one-customer search, the one searched for).</param>
/// <param name="DuplicateId">The likely duplicate.</param>
/// <param name="Score">Between 0 and 1: the chance-like strength of the evidence, combining every reason.</param>
/// <param name="Reasons">Every reason found, strongest first.</param>
public sealed record DuplicateMatch(Guid CustomerId, Guid DuplicateId, double Score, IReadOnlyList<DuplicateReason> Reasons);

/// <summary>
/// Finds likely duplicate customers: shared email or phone, or a similar name (Jaro-Winkler ≥ 0.9 on folded
/// names) with the same company or postcode. Each reason has a weight; a pair's score is
/// 1 − Π(1 − weight) over its reasons, and pairs below <see cref="CrmKitOptions.DuplicateScoreThreshold"/> are dropped.
/// </summary>
public class DuplicateFinder
{
    private const double SimilarNameThreshold = 0.9;
    private const int NameCandidateLimit = 500;
    private const int MaxBlockSize = 200;

    private readonly ICustomerStore _store;
    private readonly CustomerManager _customers;
    private readonly ICrmTenantContext _tenant;
    private readonly CrmKitOptions _options;

    /// <summary>Creates the finder; resolve it from DI.</summary>
    public DuplicateFinder(ICustomerStore store, CustomerManager customers, ICrmTenantContext tenant, IOptions<CrmKitOptions> options)
    {
        _store = store;
        _customers = customers;
        _tenant = tenant;
        _options = options.Value;
    }

    /// <summary>The weight of each reason.</summary>
    public static double Weight(DuplicateReason reason) => reason switch
    {
        DuplicateReason.SameEmail => 0.9,
        DuplicateReason.SamePhone => 0.8,
        DuplicateReason.SimilarNameSameCompany => 0.75,
        _ => 0.7,
    };

    /// <summary>Likely duplicates of one customer, using the store's indexes (no scan), best first.</summary>
    public async ValueTask<IReadOnlyList<DuplicateMatch>> FindForCustomerAsync(Guid customerId, CancellationToken cancellationToken = default)
    {
        var customer = await _customers.GetByIdAsync(customerId, cancellationToken).ConfigureAwait(false);
        var tenantId = _tenant.TenantId;
        var candidates = new Dictionary<Guid, Customer>();
        foreach (var email in CustomerSearchKeys.Emails(customer))
        {
            AddAll(candidates, await _store.FindByEmailAsync(tenantId, email, cancellationToken).ConfigureAwait(false));
        }

        foreach (var phone in CustomerSearchKeys.Phones(customer))
        {
            AddAll(candidates, await _store.FindByPhoneAsync(tenantId, phone, cancellationToken).ConfigureAwait(false));
        }

        var block = Fingerprint.Of(customer).Block;
        if (block.Length > 0)
        {
            AddAll(candidates, await _store.FindByNamePrefixAsync(tenantId, block, NameCandidateLimit, cancellationToken).ConfigureAwait(false));
        }

        candidates.Remove(customer.Id);
        var self = Fingerprint.Of(customer);
        return candidates.Values
            .Select(other => Evaluate(self, Fingerprint.Of(other)))
            .Where(m => m is not null && m.Score >= _options.DuplicateScoreThreshold)
            .Select(m => m!)
            .OrderByDescending(m => m.Score).ThenBy(m => m.DuplicateId)
            .ToList();
    }

    /// <summary>
    /// Scans the whole tenant once (streaming) and returns every likely duplicate pair, best first. Only compact
    /// fingerprints are held in memory, and pairs are only compared within blocks that share a key.
    /// </summary>
    public async Task<IReadOnlyList<DuplicateMatch>> ScanAsync(CancellationToken cancellationToken = default)
    {
        var blocks = new Dictionary<string, List<Fingerprint>>(StringComparer.Ordinal);
        void AddTo(string key, Fingerprint fingerprint)
        {
            if (!blocks.TryGetValue(key, out var list))
            {
                blocks[key] = list = [];
            }

            if (list.Count < MaxBlockSize)
            {
                list.Add(fingerprint);
            }
        }

        await foreach (var customer in _store.StreamAsync(_tenant.TenantId, cancellationToken).ConfigureAwait(false))
        {
            var fingerprint = Fingerprint.Of(customer);
            foreach (var email in fingerprint.Emails)
            {
                AddTo("e:" + email, fingerprint);
            }

            foreach (var phone in fingerprint.Phones)
            {
                AddTo("p:" + phone, fingerprint);
            }

            if (fingerprint.Block.Length > 0)
            {
                AddTo("n:" + fingerprint.Block, fingerprint);
            }
        }

        var seen = new HashSet<(Guid, Guid)>();
        var matches = new List<DuplicateMatch>();
        foreach (var block in blocks.Values)
        {
            for (var i = 0; i < block.Count; i++)
            {
                for (var j = i + 1; j < block.Count; j++)
                {
                    var (a, b) = block[i].Id.CompareTo(block[j].Id) < 0 ? (block[i], block[j]) : (block[j], block[i]);
                    if (!seen.Add((a.Id, b.Id)))
                    {
                        continue;
                    }

                    if (Evaluate(a, b) is { } match && match.Score >= _options.DuplicateScoreThreshold)
                    {
                        matches.Add(match);
                    }
                }
            }
        }

        return matches.OrderByDescending(m => m.Score).ThenBy(m => m.CustomerId).ThenBy(m => m.DuplicateId).ToList();
    }

    private static void AddAll(Dictionary<Guid, Customer> into, IEnumerable<Customer> customers)
    {
        foreach (var customer in customers)
        {
            into.TryAdd(customer.Id, customer);
        }
    }

    private static DuplicateMatch? Evaluate(Fingerprint a, Fingerprint b)
    {
        if (a.Kind != b.Kind)
        {
            return null;
        }

        var reasons = new List<DuplicateReason>(2);
        if (a.Emails.Overlaps(b.Emails))
        {
            reasons.Add(DuplicateReason.SameEmail);
        }

        if (a.Phones.Overlaps(b.Phones))
        {
            reasons.Add(DuplicateReason.SamePhone);
        }

        if (a.Name.Length > 0 && b.Name.Length > 0 && JaroWinkler.Similarity(a.Name, b.Name) >= SimilarNameThreshold)
        {
            if (a.Company.Length > 0 && a.Company == b.Company)
            {
                reasons.Add(DuplicateReason.SimilarNameSameCompany);
            }

            if (a.PostalCodes.Overlaps(b.PostalCodes))
            {
                reasons.Add(DuplicateReason.SimilarNameSamePostalCode);
            }
        }

        if (reasons.Count == 0)
        {
            return null;
        }

        var miss = reasons.Aggregate(1.0, (product, reason) => product * (1 - Weight(reason)));
        return new DuplicateMatch(a.Id, b.Id, Math.Round(1 - miss, 4), reasons.OrderByDescending(Weight).ToList());
    }

    /// <summary>The few facts duplicate detection compares, small enough to hold for a whole tenant.</summary>
    private sealed record Fingerprint(Guid Id, CustomerKind Kind, string Name, string Block, string Company, HashSet<string> Emails, HashSet<string> Phones, HashSet<string> PostalCodes)
    {
        public static Fingerprint Of(Customer customer)
        {
            var name = SearchKeys.Fold(customer.Kind == CustomerKind.Company ? customer.CompanyName : customer.FirstName + customer.LastName);
            var blockSource = SearchKeys.Fold(customer.Kind == CustomerKind.Company ? customer.CompanyName : customer.LastName);
            var company = customer.CompanyId?.ToString("N") ?? SearchKeys.Fold(customer.Kind == CustomerKind.Person ? customer.CompanyName : null);
            return new Fingerprint(
                customer.Id,
                customer.Kind,
                name,
                blockSource.Length >= 3 ? blockSource[..3] : blockSource,
                company,
                [.. CustomerSearchKeys.Emails(customer)],
                [.. CustomerSearchKeys.Phones(customer)],
                [.. customer.Addresses.Select(a => SearchKeys.Fold(a.PostalCode)).Where(p => p.Length > 0)]);
        }
    }
}

/// <summary>Jaro-Winkler string similarity, 0 (nothing alike) to 1 (equal).</summary>
internal static class JaroWinkler
{
    public static double Similarity(string a, string b)
    {
        if (a == b)
        {
            return 1;
        }

        if (a.Length == 0 || b.Length == 0)
        {
            return 0;
        }

        var window = Math.Max(0, (Math.Max(a.Length, b.Length) / 2) - 1);
        Span<bool> aMatched = a.Length <= 256 ? stackalloc bool[a.Length] : new bool[a.Length];
        Span<bool> bMatched = b.Length <= 256 ? stackalloc bool[b.Length] : new bool[b.Length];
        var matches = 0;
        for (var i = 0; i < a.Length; i++)
        {
            var from = Math.Max(0, i - window);
            var to = Math.Min(b.Length - 1, i + window);
            for (var j = from; j <= to; j++)
            {
                if (!bMatched[j] && a[i] == b[j])
                {
                    aMatched[i] = bMatched[j] = true;
                    matches++;
                    break;
                }
            }
        }

        if (matches == 0)
        {
            return 0;
        }

        var transpositions = 0;
        for (int i = 0, j = 0; i < a.Length; i++)
        {
            if (!aMatched[i])
            {
                continue;
            }

            while (!bMatched[j])
            {
                j++;
            }

            if (a[i] != b[j])
            {
                transpositions++;
            }

            j++;
        }

        double m = matches;
        var jaro = ((m / a.Length) + (m / b.Length) + ((m - (transpositions / 2.0)) / m)) / 3;
        var prefix = 0;
        while (prefix < Math.Min(4, Math.Min(a.Length, b.Length)) && a[prefix] == b[prefix])
        {
            prefix++;
        }

        return jaro + (prefix * 0.1 * (1 - jaro));
    }
}
