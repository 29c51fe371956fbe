namespace Crm.Kit.Customers;

/// <summary>
/// The lookup keys every store indexes for a customer. Adapters call these rather than deriving keys
/// themselves, so that every store finds the same customers for the same query.
/// </summary>
public static class CustomerSearchKeys
{
    /// <summary>Whether the customer takes part in email, phone and name lookups (merged-away customers do not).</summary>
    public static bool IsLive(Customer customer) => customer.MergedIntoId is null;

    /// <summary>Normalised email addresses, distinct; empty for merged-away customers.</summary>
    public static IEnumerable<string> Emails(Customer customer) =>
        IsLive(customer) ? customer.Emails.Select(e => e.Address).Where(e => e.Length > 0).Distinct(StringComparer.Ordinal) : [];

    /// <summary>E.164 phone numbers, distinct; empty for merged-away customers.</summary>
    public static IEnumerable<string> Phones(Customer customer) =>
        IsLive(customer) ? customer.Phones.Select(p => p.Number).Distinct(StringComparer.Ordinal) : [];

    /// <summary>
    /// Folded name keys for prefix search (see <see cref="SearchKeys.Fold"/>): the whole display name, the family
    /// name and the company name, distinct and non-empty; empty for merged-away customers. The given name needs no
    /// key of its own: the folded display name starts with it, so any prefix of it is found through the display name.
    /// </summary>
    public static IEnumerable<string> NameKeys(Customer customer)
    {
        if (!IsLive(customer))
        {
            return [];
        }

        return new[] { customer.DisplayName, customer.LastName, customer.CompanyName }
            .Select(SearchKeys.Fold)
            .Where(k => k.Length > 0)
            .Distinct(StringComparer.Ordinal);
    }
}
