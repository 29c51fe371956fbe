namespace Crm.Kit.Analytics.Numerics;

/// <summary>
/// A running sum that carries the rounding error of each addition (Neumaier's variant of Kahan summation), so that
/// the result is within about one rounding of the exact sum whatever order the terms come in. The lifetime fits end
/// where the likelihood stops falling at double precision; with plain sums that point moved with the order of the
/// customers, by more than the fits' published precision.
/// </summary>
internal struct CompensatedSum
{
    private double _sum;
    private double _error;

    /// <summary>The sum of the terms added so far.</summary>
    public readonly double Value => _sum + _error;

    /// <summary>Adds a term.</summary>
    public void Add(double term)
    {
        var sum = _sum + term;
        _error += Math.Abs(_sum) >= Math.Abs(term) ? (_sum - sum) + term : (term - sum) + _sum;
        _sum = sum;
    }
}
