using System.Linq.Expressions;
using System.Reflection;
using Crm.Kit.Customers;
using Crm.Kit.InMemory;
using Crm.Kit.Segmentation;

namespace Crm.Kit.Loyalty;

/// <summary>
/// Contributes a member's points, lifetime points, tier and membership as segment fields, so rules such as
/// "<c>loyalty.tier</c> equals Gold" or "<c>loyalty.points</c> &gt; 1000" select customers. Registered by
/// <c>AddLoyalty()</c>. A customer who never enrolled has every field unset (and <see cref="Member"/> false). In
/// memory the fields read the in-memory loyalty store; the EF Core adapter binds them to its account table, so
/// rules using them still run entirely in SQL.
/// </summary>
public sealed class LoyaltyFields : ISegmentFieldProvider
{
    /// <summary>The points balance (pending points included).</summary>
    public const string Points = "loyalty.points";

    /// <summary>Every point ever earned, net of reversed earnings.</summary>
    public const string LifetimePoints = "loyalty.lifetimePoints";

    /// <summary>The current tier's name.</summary>
    public const string Tier = "loyalty.tier";

    /// <summary>Whether the customer is an enrolled (active) member.</summary>
    public const string Member = "loyalty.member";

    private readonly InMemoryLoyaltyStore _inMemory;

    /// <summary>Creates the provider; in-memory rules read <paramref name="inMemory"/>.</summary>
    public LoyaltyFields(InMemoryLoyaltyStore inMemory) => _inMemory = inMemory ?? throw new ArgumentNullException(nameof(inMemory));

    /// <summary>The names of every field contributed.</summary>
    public static IReadOnlyList<string> Names { get; } = [Points, LifetimePoints, Tier, Member];

    /// <inheritdoc />
    public IEnumerable<SegmentField> GetFields()
    {
        yield return SegmentField.Number(Points, "The loyalty points balance, pending points included; unset for customers who never enrolled.", Read<long?>(nameof(LoyaltyAccess.Points)));
        yield return SegmentField.Number(LifetimePoints, "Every loyalty point ever earned, net of reversed earnings.", Read<long?>(nameof(LoyaltyAccess.LifetimePoints)));
        yield return SegmentField.Text(Tier, "The loyalty tier's name, for example \"Gold\".", Read<string?>(nameof(LoyaltyAccess.Tier)));
        yield return SegmentField.Boolean(Member, "Whether the customer is an enrolled loyalty member.", Read<bool>(nameof(LoyaltyAccess.Member)));
    }

    private Expression<Func<Customer, T>> Read<T>(string reader) => StoreFieldReader.Read<T>(_inMemory, FindMethod, typeof(LoyaltyAccess), reader);

    private static readonly MethodInfo FindMethod = typeof(InMemoryLoyaltyStore).GetMethod(nameof(InMemoryLoyaltyStore.FindByCustomer))!;
}

/// <summary>Readers the in-memory loyalty fields use. Public only because compiled rules call them.</summary>
[System.ComponentModel.EditorBrowsable(System.ComponentModel.EditorBrowsableState.Never)]
public static class LoyaltyAccess
{
    /// <summary>The balance, or null.</summary>
    public static long? Points(LoyaltyAccount? account) => account?.Balance;

    /// <summary>The lifetime points, or null.</summary>
    public static long? LifetimePoints(LoyaltyAccount? account) => account?.LifetimePoints;

    /// <summary>The tier, or null.</summary>
    public static string? Tier(LoyaltyAccount? account) => account?.Tier;

    /// <summary>Whether an active member.</summary>
    public static bool Member(LoyaltyAccount? account) => account?.Status == LoyaltyAccountStatus.Active;
}
