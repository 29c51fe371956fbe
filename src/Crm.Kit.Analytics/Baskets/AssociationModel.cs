namespace Crm.Kit.Analytics;

/// <summary>Thresholds for mining association rules. Supports are ratios of the number of transactions.</summary>
public sealed record AssociationMiningOptions
{
    /// <summary>The smallest support an itemset (and so a rule) may have, as a share of transactions in (0, 1]. An itemset is kept when count / N ≥ this.</summary>
    public double MinSupport { get; init; } = 0.01;

    /// <summary>The smallest confidence a rule may have, in [0, 1].</summary>
    public double MinConfidence { get; init; } = 0.5;

    /// <summary>The smallest lift a rule may have (0 keeps all); compared exactly, from integer counts.</summary>
    public double MinLift { get; init; }

    /// <summary>The largest itemset mined (items on both sides of a rule together); 10 by default, as in arules.</summary>
    public int MaxItems { get; init; } = 10;

    /// <summary>The most items allowed on a rule's right-hand side; 1 by default (as arules), more to get rules such as {a} → {b, c} (as mlxtend).</summary>
    public int MaxConsequentItems { get; init; } = 1;

    /// <summary>Throws <see cref="CrmValidationException"/> naming the first invalid threshold.</summary>
    public void Validate()
    {
        if (!(MinSupport > 0 && MinSupport <= 1))
        {
            throw new CrmValidationException(nameof(MinSupport), "range", $"The minimum support must be greater than 0 and at most 1; it is {MinSupport}.");
        }

        if (!(MinConfidence >= 0 && MinConfidence <= 1))
        {
            throw new CrmValidationException(nameof(MinConfidence), "range", $"The minimum confidence must lie between 0 and 1; it is {MinConfidence}.");
        }

        if (!(MinLift >= 0) || !double.IsFinite(MinLift))
        {
            throw new CrmValidationException(nameof(MinLift), "range", $"The minimum lift must be a finite number of 0 or more; it is {MinLift}.");
        }

        if (MaxItems is < 1 or > 30)
        {
            throw new CrmValidationException(nameof(MaxItems), "range", $"Itemsets may hold between 1 and 30 items; {MaxItems} was asked for.");
        }

        if (MaxConsequentItems < 1)
        {
            throw new CrmValidationException(nameof(MaxConsequentItems), "range", $"A rule needs at least one item on its right-hand side; {MaxConsequentItems} was asked for.");
        }
    }
}

/// <summary>A set of items bought together in at least <see cref="Count"/> transactions.</summary>
/// <param name="Items">The items, in ordinal order.</param>
/// <param name="Count">Transactions containing every item.</param>
/// <param name="Transactions">All transactions mined.</param>
public sealed record FrequentItemset(IReadOnlyList<string> Items, int Count, int Transactions)
{
    /// <summary>Count / transactions.</summary>
    public double Support => (double)Count / Transactions;
}

/// <summary>
/// "Transactions with <see cref="Antecedent"/> also hold <see cref="Consequent"/>", with its counts. Every measure
/// is computed from the integer counts, so equal rules compare equal.
/// </summary>
/// <param name="Antecedent">The left-hand side, in ordinal order.</param>
/// <param name="Consequent">The right-hand side, in ordinal order.</param>
/// <param name="Count">Transactions holding both sides.</param>
/// <param name="AntecedentCount">Transactions holding the left-hand side.</param>
/// <param name="ConsequentCount">Transactions holding the right-hand side.</param>
/// <param name="Transactions">All transactions mined.</param>
public sealed record AssociationRule(IReadOnlyList<string> Antecedent, IReadOnlyList<string> Consequent, int Count, int AntecedentCount, int ConsequentCount, int Transactions)
{
    /// <summary>Count / transactions: how often the whole rule occurs.</summary>
    public double Support => (double)Count / Transactions;

    /// <summary>Antecedent count / transactions: how often the rule applies.</summary>
    public double Coverage => (double)AntecedentCount / Transactions;

    /// <summary>Count / antecedent count: how often the consequent follows the antecedent.</summary>
    public double Confidence => (double)Count / AntecedentCount;

    /// <summary>Confidence / support of the consequent, as count × N / (antecedent count × consequent count); above 1 the sides attract.</summary>
    public double Lift => (double)Count * Transactions / ((double)AntecedentCount * ConsequentCount);

    /// <inheritdoc />
    public override string ToString() => $"{{{string.Join(", ", Antecedent)}}} => {{{string.Join(", ", Consequent)}}}";
}

/// <summary>A suggested product with the rule behind it.</summary>
/// <param name="Item">The item suggested.</param>
/// <param name="Confidence">The confidence of the best rule suggesting it.</param>
/// <param name="Lift">That rule's lift.</param>
/// <param name="Because">That rule.</param>
public sealed record ProductSuggestion(string Item, double Confidence, double Lift, AssociationRule Because);
