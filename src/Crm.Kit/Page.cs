namespace Crm.Kit;

/// <summary>One page of a keyset-paged listing.</summary>
/// <typeparam name="T">The item type.</typeparam>
/// <param name="Items">The items on this page, in listing order.</param>
/// <param name="ContinuationToken">
/// Pass it back to get the next page; <see langword="null"/> when this is the last page. Tokens are opaque:
/// keyset positions, not offsets, so a page never skips or repeats items when others are inserted meanwhile.
/// </param>
public sealed record Page<T>(IReadOnlyList<T> Items, string? ContinuationToken)
{
    /// <summary>Whether another page follows.</summary>
    public bool HasMore => ContinuationToken is not null;
}
