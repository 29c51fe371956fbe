using System.Globalization;

namespace Crm.Kit;

/// <summary>
/// Runs an operation again when it lost an optimistic-concurrency race, up to the configured limit, waiting a
/// random, growing pause between tries so that contenders spread out instead of colliding again in lockstep.
/// </summary>
internal static class ConcurrencyRetry
{
    private const int MaxPauseMilliseconds = 64;

    public static ValueTask<T> RunAsync<T>(int retryLimit, CrmKitInstrumentation instrumentation, Func<ValueTask<T>> attempt) =>
        RunAsync(retryLimit, instrumentation, attempt, static attempt => attempt());

    /// <summary>
    /// <see cref="RunAsync{T}(int, CrmKitInstrumentation, Func{ValueTask{T}})"/> for a hot path: the state goes to a
    /// static <paramref name="attempt"/>, so that a call allocates no closure.
    /// </summary>
    public static async ValueTask<T> RunAsync<TState, T>(int retryLimit, CrmKitInstrumentation instrumentation, TState state, Func<TState, ValueTask<T>> attempt)
    {
        for (var tries = 0; ; tries++)
        {
            try
            {
                return await attempt(state).ConfigureAwait(false);
            }
            catch (ConcurrencyConflictException) when (tries < retryLimit)
            {
                instrumentation.ConcurrencyConflicts.Add(1);
            }

            // A real pause, not the TimeProvider: this spaces out database round trips; it is not domain time,
            // and a test's manual clock would never let it end.
            var ceiling = Math.Min(MaxPauseMilliseconds, 1 << Math.Min(tries + 1, 6));
            await Task.Delay(Random.Shared.Next(1, ceiling + 1)).ConfigureAwait(false);
        }
    }
}

/// <summary>
/// Streams a whole listing ordered by id in batches, one keyset page at a time, so no store holds a reader open
/// between items (the caller may use the same connection or context meanwhile).
/// </summary>
internal static class KeysetStream
{
    public const int BatchSize = 1000;

    /// <param name="page">Returns up to <c>limit</c> items ordered by id, after the given id when there is one.</param>
    /// <param name="idOf">An item's id.</param>
    /// <param name="cancellationToken">Checked between batches.</param>
    public static async IAsyncEnumerable<T> ByIdAsync<T>(
        Func<Guid?, int, CancellationToken, ValueTask<IReadOnlyList<T>>> page,
        Func<T, Guid> idOf,
        [System.Runtime.CompilerServices.EnumeratorCancellation] CancellationToken cancellationToken)
    {
        await foreach (var item in InOrderAsync<T, Guid>((after, limit) => page(after, limit, cancellationToken), idOf, cancellationToken).ConfigureAwait(false))
        {
            yield return item;
        }
    }

    /// <summary>Streams a keyset-paged listing in its own order, one batch at a time; the caller may stop early.</summary>
    /// <param name="page">Returns up to <c>limit</c> items in the listing's order, past the given position when there is one.</param>
    /// <param name="positionOf">An item's position in the listing (what the next page starts past).</param>
    /// <param name="cancellationToken">Checked between batches.</param>
    public static async IAsyncEnumerable<T> InOrderAsync<T, TPosition>(
        Func<TPosition?, int, ValueTask<IReadOnlyList<T>>> page,
        Func<T, TPosition> positionOf,
        [System.Runtime.CompilerServices.EnumeratorCancellation] CancellationToken cancellationToken)
        where TPosition : struct
    {
        TPosition? position = null;
        while (true)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var batch = await page(position, BatchSize).ConfigureAwait(false);
            foreach (var item in batch)
            {
                yield return item;
            }

            if (batch.Count < BatchSize)
            {
                yield break;
            }

            position = positionOf(batch[^1]);
        }
    }

    /// <summary>Reads a whole keyset-paged listing into a list, one batch at a time.</summary>
    /// <param name="page">Returns up to <c>limit</c> items in the listing's order, past the given position when there is one.</param>
    /// <param name="positionOf">An item's position in the listing (what the next page starts past).</param>
    /// <param name="cancellationToken">Checked between batches.</param>
    public static async ValueTask<List<T>> CollectAsync<T, TPosition>(
        Func<TPosition?, int, ValueTask<IReadOnlyList<T>>> page,
        Func<T, TPosition> positionOf,
        CancellationToken cancellationToken)
        where TPosition : struct
    {
        var all = new List<T>();
        await foreach (var item in InOrderAsync(page, positionOf, cancellationToken).ConfigureAwait(false))
        {
            all.Add(item);
        }

        return all;
    }
}

/// <summary>Encodes and decodes the opaque continuation tokens of keyset-paged listings.</summary>
internal static class ContinuationTokens
{
    public static string Encode(Guid id) => id.ToString("N");

    public static string Encode(KeysetPosition position) =>
        position.At.UtcTicks.ToString(CultureInfo.InvariantCulture) + "." + position.Id.ToString("N");

    public static Guid? DecodeId(string? token)
    {
        if (token is null)
        {
            return null;
        }

        return Guid.TryParseExact(token, "N", out var id)
            ? id
            : throw new CrmValidationException("continuationToken", "token-format", "is not a token returned by a previous page of this listing");
    }

    public static KeysetPosition? DecodePosition(string? token)
    {
        if (token is null)
        {
            return null;
        }

        var dot = token.IndexOf('.', StringComparison.Ordinal);
        if (dot > 0 &&
            long.TryParse(token.AsSpan(0, dot), NumberStyles.None, CultureInfo.InvariantCulture, out var ticks) &&
            ticks >= DateTimeOffset.MinValue.UtcTicks && ticks <= DateTimeOffset.MaxValue.UtcTicks &&
            Guid.TryParseExact(token.AsSpan(dot + 1), "N", out var id))
        {
            return new KeysetPosition(new DateTimeOffset(ticks, TimeSpan.Zero), id);
        }

        throw new CrmValidationException("continuationToken", "token-format", "is not a token returned by a previous page of this listing");
    }

    /// <summary>
    /// Builds a page from up to <paramref name="pageSize"/> + 1 items: the extra item, when present, only tells
    /// that another page follows, whose token is the position of the last item shown.
    /// </summary>
    public static Page<T> ToPage<T>(IReadOnlyList<T> items, int pageSize, Func<T, string> tokenOf) =>
        items.Count > pageSize
            ? new Page<T>(items.Take(pageSize).ToList(), tokenOf(items[pageSize - 1]))
            : new Page<T>(items, null);

    public static int CheckPageSize(int pageSize, CrmKitOptions options)
    {
        if (pageSize < 1 || pageSize > options.MaxPageSize)
        {
            throw new CrmValidationException("pageSize", "range", $"must be between 1 and {options.MaxPageSize} (was {pageSize})");
        }

        return pageSize;
    }
}
