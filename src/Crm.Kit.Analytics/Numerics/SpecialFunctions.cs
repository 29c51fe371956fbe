namespace Crm.Kit.Analytics.Numerics;

/// <summary>
/// The few special functions the lifetime models need. Written here rather than taken from a numerical library:
/// three functions (log-gamma, digamma, Gauss's hypergeometric series) do not justify a dependency, and the series
/// forms below are accurate to a few units in the last place over the ranges the models use.
/// </summary>
internal static class SpecialFunctions
{
    private const double HalfLogTwoPi = 0.91893853320467274178;

    /// <summary>ln Γ(x) for x &gt; 0: Stirling's series after shifting x to at least 8 with Γ(x+1) = xΓ(x).</summary>
    public static double LogGamma(double x)
    {
        if (!(x > 0) || double.IsInfinity(x))
        {
            throw new ArgumentOutOfRangeException(nameof(x), x, "ln Γ(x) is defined here for finite x > 0 only.");
        }

        var shift = 0.0;
        if (x < 8)
        {
            // ln Γ(x) = ln Γ(x + n) − ln(x (x+1) … (x+n−1)); the product stays far from overflow for n ≤ 8.
            var product = 1.0;
            while (x < 8)
            {
                product *= x;
                x += 1;
            }

            shift = Math.Log(product);
        }

        var inverse = 1 / x;
        var inverseSquared = inverse * inverse;
        // Bernoulli terms B2k / (2k (2k−1) x^(2k−1)) up to k = 7; at x ≥ 8 the next term is below 1e-17.
        var series = inverse * (1.0 / 12 + inverseSquared * (-1.0 / 360 + inverseSquared * (1.0 / 1260 + inverseSquared * (-1.0 / 1680
            + inverseSquared * (1.0 / 1188 + inverseSquared * (-691.0 / 360360 + inverseSquared * (1.0 / 156)))))));
        return (x - 0.5) * Math.Log(x) - x + HalfLogTwoPi + series - shift;
    }

    /// <summary>ψ(x) = d/dx ln Γ(x) for x &gt; 0: the asymptotic series after shifting x to at least 8.</summary>
    public static double Digamma(double x)
    {
        if (!(x > 0) || double.IsInfinity(x))
        {
            throw new ArgumentOutOfRangeException(nameof(x), x, "ψ(x) is defined here for finite x > 0 only.");
        }

        var result = 0.0;
        while (x < 8)
        {
            result -= 1 / x;
            x += 1;
        }

        var inverseSquared = 1 / (x * x);
        // B2k / (2k x^2k) up to k = 7.
        var series = inverseSquared * (1.0 / 12 - inverseSquared * (1.0 / 120 - inverseSquared * (1.0 / 252 - inverseSquared * (1.0 / 240
            - inverseSquared * (1.0 / 132 - inverseSquared * (691.0 / 32760 - inverseSquared * (1.0 / 12)))))));
        return result + Math.Log(x) - 0.5 / x - series;
    }

    /// <summary>
    /// Gauss's hypergeometric function ₂F₁(a, b; c; z) for 0 ≤ z &lt; 1 and c &gt; 0 by its power series, stopped when a
    /// bound on the whole remaining tail (not just the last term) falls below the sum's last digit. The terms shrink
    /// roughly like zⁿ once n passes z·max(a, b), so the sum needs a few dozen to a few thousand terms; beyond a
    /// million the call fails rather than return a truncated value.
    /// </summary>
    public static double Hypergeometric2F1(double a, double b, double c, double z)
    {
        if (!(z >= 0 && z < 1))
        {
            throw new ArgumentOutOfRangeException(nameof(z), z, "₂F₁ is summed here for 0 ≤ z < 1 only.");
        }

        if (!(c > 0))
        {
            throw new ArgumentOutOfRangeException(nameof(c), c, "₂F₁ needs c > 0.");
        }

        var term = 1.0;
        var sum = 1.0;
        for (var n = 0; n < 1_000_000; n++)
        {
            term *= (a + n) * (b + n) / ((c + n) * (n + 1)) * z;
            sum += term;

            // Every later term ratio is at most z · (|a| + m)/(c + m) · (|b| + m)/(m + 1) for m > n, and once c + m > 0
            // both fractions move monotonically towards 1, so with each replaced by max(1, its value at m = n + 1) the
            // bound holds for the whole tail; below 1 it bounds the tail by a geometric series. Checking the tail
            // rather than one term matters both ways: a term can be tiny by accident (a + n near zero) while later
            // ones are not, and with |a| huge and z tiny the terms are negligible long before n passes |a|.
            var m = n + 1.0;
            if (c + m > 0)
            {
                var ratio = z * Math.Max(1, (Math.Abs(a) + m) / (c + m)) * Math.Max(1, (Math.Abs(b) + m) / (m + 1));
                if (ratio < 1 && Math.Abs(term) * ratio / (1 - ratio) <= 1e-17 * Math.Abs(sum))
                {
                    return sum;
                }
            }
        }

        throw new ArithmeticException($"The hypergeometric series did not converge for z = {z}; the horizon is too long for the fitted α.");
    }

    /// <summary>ln(eᵘ + eᵛ) without overflow.</summary>
    public static double LogSumExp(double u, double v) =>
        u >= v ? u + Math.Log(1 + Math.Exp(v - u)) : v + Math.Log(1 + Math.Exp(u - v));
}
