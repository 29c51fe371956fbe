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
        IsLive(customer) ? customer.Emails.Select(e => e.NormalizedAddress).Where(e => e.Length > 0).Distinct(StringComparer.Ordinal) : [];

    /// <summary>E.164 phone numbers, distinct; empty for merged-away customers.</summary>
    public static IEnumerable<string> Phones(Customer customer) =>
        IsLive(customer) ? customer.Phones.Select(p => p.Number).Distinct(StringComparer.Ordinal) : [];

    /// <summary>
    /// Folded name keys for prefix search (see <see cref="SearchKeys.Fold"/>): given name, family name, company
    /// name and the whole display name, distinct and non-empty; empty for merged-away customers.
    /// </summary>
    public static IEnumerable<string> NameKeys(Customer customer)
    {
        if (!IsLive(customer))
        {
            return [];
        }

        return new[] { customer.FirstName, customer.LastName, customer.CompanyName, customer.DisplayName }
            .Select(SearchKeys.Fold)
            .Where(k => k.Length > 0)
            .Distinct(StringComparer.Ordinal);
    }
}
