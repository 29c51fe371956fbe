using Crm.Kit.Analytics.Numerics;

namespace Crm.Kit.Analytics;

/// <summary>
/// Parameters of the BG/NBD model: purchase rates are Gamma(<paramref name="R"/>, <paramref name="Alpha"/>) across
/// customers, and the chance of dropping out after each purchase is Beta(<paramref name="A"/>, <paramref name="B"/>).
/// <paramref name="Alpha"/> is in the time unit of the summaries the model was fitted on.
/// </summary>
/// <param name="R">Shape of the purchase-rate distribution.</param>
/// <param name="Alpha">Scale of the purchase-rate distribution (time units).</param>
/// <param name="A">First shape of the dropout-probability distribution.</param>
/// <param name="B">Second shape of the dropout-probability distribution.</param>
public sealed record BgNbdParameters(double R, double Alpha, double A, double B)
{
    internal void Validate()
    {
        ModelParameter.RequirePositive(R, "r", "BG/NBD");
        ModelParameter.RequirePositive(Alpha, "alpha", "BG/NBD");
        ModelParameter.RequirePositive(A, "a", "BG/NBD");
        ModelParameter.RequirePositive(B, "b", "BG/NBD");
    }
}

/// <summary>A fitted model with the figures that describe the fit.</summary>
/// <param name="Model">The model at the maximum-likelihood parameters.</param>
/// <param name="LogLikelihood">The total log-likelihood of the data at those parameters (the figure papers print).</param>
/// <param name="Customers">How many customers were fitted.</param>
/// <param name="Iterations">Optimiser iterations used.</param>
/// <param name="OnRidge">
/// True when the likelihood has no interior maximum: it keeps rising, ever more slowly, as parameters run off
/// together — r and α growing when one purchase rate fits everybody, a and b growing when everybody has the same dropout
/// probability, a shrinking when nobody seems to drop out. The search stops once the log-likelihood gains less than
/// 10⁻⁶ per customer over 100 iterations; the parameters are where it stopped (large or tiny, but finite) and the
/// predictions are those of the limiting, simpler model to about that precision.
/// </param>
public sealed record BgNbdFit(BgNbdModel Model, double LogLikelihood, int Customers, int Iterations, bool OnRidge = false);

/// <summary>
/// The beta-geometric / negative binomial distribution model of repeat buying (Fader, Hardie &amp; Lee 2005,
/// "Counting Your Customers the Easy Way"): while alive a customer buys at a Poisson rate; after each purchase they
/// may drop out for good. Fitted by maximum likelihood on <see cref="RepeatPurchaseSummary"/> values; predicts
/// purchases over a horizon and the probability that a customer is still alive.
/// </summary>
public sealed class BgNbdModel
{
    /// <summary>Wraps known parameters (for example a fit stored earlier).</summary>
    public BgNbdModel(BgNbdParameters parameters)
    {
        ArgumentNullException.ThrowIfNull(parameters);
        parameters.Validate();
        Parameters = parameters;
    }

    /// <summary>The parameters.</summary>
    public BgNbdParameters Parameters { get; }

    /// <summary>
    /// Fits the model by maximum likelihood. Customers with the same (x, tₓ, T) are pooled first, so the cost grows
    /// with the number of distinct summaries; each likelihood pass needs two logarithms and one exponential per
    /// distinct summary, because every Γ-function term depends on x alone and is computed once per distinct x.
    /// </summary>
    /// <exception cref="CrmValidationException">A summary is impossible, or there are no customers.</exception>
    public static BgNbdFit Fit(IEnumerable<RepeatPurchaseSummary> customers, CancellationToken cancellationToken = default)
    {
        var data = PooledSummaries.From(customers, requireRepeatValue: false);
        if (data.Customers == 0)
        {
            throw new CrmValidationException("customers", "not-empty", "At least one customer is needed to fit the BG/NBD model.");
        }

        var likelihood = new Likelihood(data);
        // Start from r = a = b = 1 and α at the mean age, which puts the starting purchase rate on the data's time scale.
        double[] start = [0, Math.Log(Math.Max(data.MeanAge, 1e-6)), 0, 0];
        var minimum = Minimizer.Minimize(likelihood.MeanNegative, start, 500, cancellationToken);
        if (!minimum.Converged && !minimum.OnRidge)
        {
            throw new ArithmeticException($"The BG/NBD fit did not converge in {minimum.Iterations} iterations; the data may not identify the model (for example, no customer made a repeat purchase).");
        }

        var p = minimum.Point;
        var parameters = new BgNbdParameters(Math.Exp(p[0]), Math.Exp(p[1]), Math.Exp(p[2]), Math.Exp(p[3]));
        return new BgNbdFit(new BgNbdModel(parameters), -minimum.Value * data.Customers, data.Customers, minimum.Iterations, minimum.OnRidge);
    }

    /// <summary>The log-likelihood of one customer's summary.</summary>
    public double LogLikelihood(RepeatPurchaseSummary customer)
    {
        customer.Validate(nameof(customer));
        var (r, alpha, a, b) = Parameters;
        var x = customer.Frequency;
        var constant = SpecialFunctions.LogGamma(r + x) - SpecialFunctions.LogGamma(r) + r * Math.Log(alpha)
            + SpecialFunctions.LogGamma(a + b) + SpecialFunctions.LogGamma(b + x) - SpecialFunctions.LogGamma(b) - SpecialFunctions.LogGamma(a + b + x);
        var stays = -(r + x) * Math.Log(alpha + customer.Age);
        if (x == 0)
        {
            return constant + stays;
        }

        var leftAfterLast = Math.Log(a) - Math.Log(b + x - 1) - (r + x) * Math.Log(alpha + customer.Recency);
        return constant + SpecialFunctions.LogSumExp(stays, leftAfterLast);
    }

    /// <summary>E[X(t)]: purchases a new customer is expected to make in <paramref name="t"/> time units.</summary>
    public double ExpectedPurchases(double t)
    {
        CheckHorizon(t);
        var (r, alpha, a, b) = Parameters;
        if (t == 0)
        {
            return 0;
        }

        // (α/(α+t))^r ₂F₁(r, b; a+b−1; z) rewritten with Euler's transformation ₂F₁(A,B;C;z) = (1−z)^(C−A−B) ₂F₁(C−A, C−B; C; z)
        // as (1−z)^(a−1) ₂F₁(a+b−1−r, a−1; a+b−1; z): the same value from a series whose parameters stay small.
        var z = t / (alpha + t);
        var hypergeometric = SpecialFunctions.Hypergeometric2F1(a + b - 1 - r, a - 1, a + b - 1, z);
        return (a + b - 1) / (a - 1) * (1 - Math.Pow(1 - z, a - 1) * hypergeometric);
    }

    /// <summary>E[Y(t) | x, tₓ, T]: purchases this customer is expected to make in the next <paramref name="t"/> time units.</summary>
    public double ConditionalExpectedPurchases(RepeatPurchaseSummary customer, double t)
    {
        customer.Validate(nameof(customer));
        CheckHorizon(t);
        if (t == 0)
        {
            return 0;
        }

        var (r, alpha, a, b) = Parameters;
        var x = customer.Frequency;
        var age = customer.Age;
        // ((α+T)/(α+T+t))^(r+x) ₂F₁(r+x, b+x; a+b+x−1; z) by Euler's transformation is (1−z)^(a−1) ₂F₁(a+b−1−r, a−1; a+b+x−1; z).
        // The direct series has terms that grow like x before they shrink and overflows for frequent buyers; this one
        // shrinks from the start.
        var z = t / (alpha + age + t);
        var hypergeometric = SpecialFunctions.Hypergeometric2F1(a + b - 1 - r, a - 1, a + b + x - 1, z);
        var numerator = (a + b + x - 1) / (a - 1) * (1 - Math.Pow(1 - z, a - 1) * hypergeometric);
        return numerator * ProbabilityAlive(customer);
    }

    /// <summary>P(alive | x, tₓ, T): the probability that the customer has not dropped out by the end of observation.</summary>
    public double ProbabilityAlive(RepeatPurchaseSummary customer)
    {
        customer.Validate(nameof(customer));
        if (customer.Frequency == 0)
        {
            return 1;
        }

        var (r, alpha, a, b) = Parameters;
        var x = customer.Frequency;
        // 1 / (1 + a/(b+x−1) · ((α+T)/(α+tₓ))^(r+x)), with the power taken in logs so that it cannot overflow.
        var logOdds = Math.Log(a) - Math.Log(b + x - 1) + (r + x) * (Math.Log(alpha + customer.Age) - Math.Log(alpha + customer.Recency));
        return logOdds > 0 ? Math.Exp(-logOdds) / (1 + Math.Exp(-logOdds)) : 1 / (1 + Math.Exp(logOdds));
    }

    /// <summary>P(X(t) = n): the probability that a new customer makes exactly <paramref name="n"/> purchases in <paramref name="t"/> time units.</summary>
    public double ProbabilityOfPurchases(int n, double t)
    {
        if (n < 0)
        {
            throw new CrmValidationException(nameof(n), "range", $"The number of purchases must be 0 or more; it is {n}.");
        }

        CheckHorizon(t);
        var (r, alpha, a, b) = Parameters;
        var logBetaAB = LogBeta(a, b);
        var logRatio = Math.Log(alpha / (alpha + t));
        var logShare = t == 0 ? double.NegativeInfinity : Math.Log(t / (alpha + t));
        var first = Math.Exp(LogBeta(a, b + n) - logBetaAB + LogNegativeBinomial(r, n, logRatio, logShare));
        if (n == 0)
        {
            return first;
        }

        var cumulative = 0.0;
        for (var j = 0; j < n; j++)
        {
            cumulative += Math.Exp(LogNegativeBinomial(r, j, logRatio, logShare));
        }

        return first + Math.Exp(LogBeta(a + 1, b + n - 1) - logBetaAB) * (1 - cumulative);
    }

    // Γ(r+j) / (Γ(r) j!) · (α/(α+t))^r · (t/(α+t))^j, in logs.
    private static double LogNegativeBinomial(double r, int j, double logRatio, double logShare) =>
        SpecialFunctions.LogGamma(r + j) - SpecialFunctions.LogGamma(r) - SpecialFunctions.LogGamma(j + 1)
        + r * logRatio + (j == 0 ? 0 : j * logShare);

    private static double LogBeta(double a, double b) =>
        SpecialFunctions.LogGamma(a) + SpecialFunctions.LogGamma(b) - SpecialFunctions.LogGamma(a + b);

    private static void CheckHorizon(double t)
    {
        if (!double.IsFinite(t) || t < 0)
        {
            throw new CrmValidationException(nameof(t), "range", $"The horizon must be a finite time of 0 or more; it is {t}.");
        }
    }

    /// <summary>The BG/NBD log-likelihood over pooled summaries, with its gradient, in log-parameter space.</summary>
    private sealed class Likelihood(PooledSummaries data)
    {
        private readonly double[] _byFrequency = new double[data.MaxFrequency + 1];
        private readonly double[] _dByFrequencyR = new double[data.MaxFrequency + 1];
        private readonly double[] _dByFrequencyA = new double[data.MaxFrequency + 1];
        private readonly double[] _dByFrequencyB = new double[data.MaxFrequency + 1];

        public double MeanNegative(ReadOnlySpan<double> theta, Span<double> gradient)
        {
            double r = Math.Exp(theta[0]), alpha = Math.Exp(theta[1]), a = Math.Exp(theta[2]), b = Math.Exp(theta[3]);
            if (!double.IsFinite(r + alpha + a + b) || r == 0 || alpha == 0 || a == 0 || b == 0)
            {
                return double.PositiveInfinity;
            }

            // Everything that depends on x alone: ln Γ(r+x) − ln Γ(r) + ln B(a, b+x) − ln B(a, b), and their derivatives.
            double lgR = SpecialFunctions.LogGamma(r), lgB = SpecialFunctions.LogGamma(b), lgAB = SpecialFunctions.LogGamma(a + b);
            double psiR = SpecialFunctions.Digamma(r), psiB = SpecialFunctions.Digamma(b), psiAB = SpecialFunctions.Digamma(a + b);
            foreach (var x in data.DistinctFrequencies)
            {
                _byFrequency[x] = SpecialFunctions.LogGamma(r + x) - lgR + lgAB + SpecialFunctions.LogGamma(b + x) - lgB - SpecialFunctions.LogGamma(a + b + x);
                var psiABX = SpecialFunctions.Digamma(a + b + x);
                _dByFrequencyR[x] = SpecialFunctions.Digamma(r + x) - psiR;
                _dByFrequencyA[x] = psiAB - psiABX;
                _dByFrequencyB[x] = psiAB + SpecialFunctions.Digamma(b + x) - psiB - psiABX;
            }

            double logAlpha = Math.Log(alpha), logA = Math.Log(a);
            CompensatedSum total = default, dR = default, dAlpha = default, dA = default, dB = default;
            var frequencies = data.Frequency;
            var recencies = data.Recency;
            var ages = data.Age;
            var weights = data.Weight;
            for (var i = 0; i < frequencies.Length; i++)
            {
                int x = frequencies[i];
                double w = weights[i], rx = r + x;
                var logAlphaT = Math.Log(alpha + ages[i]);
                var stays = -rx * logAlphaT;
                double ll, gR, gAlpha, gA = _dByFrequencyA[x], gB = _dByFrequencyB[x];
                if (x == 0)
                {
                    ll = stays;
                    gR = -logAlphaT;
                    gAlpha = -rx / (alpha + ages[i]);
                }
                else
                {
                    var logAlphaTx = Math.Log(alpha + recencies[i]);
                    var left = logA - Math.Log(b + x - 1) - rx * logAlphaTx;
                    ll = SpecialFunctions.LogSumExp(stays, left);
                    var wStays = Math.Exp(stays - ll);
                    var wLeft = 1 - wStays;
                    gR = -wStays * logAlphaT - wLeft * logAlphaTx;
                    gAlpha = -wStays * rx / (alpha + ages[i]) - wLeft * rx / (alpha + recencies[i]);
                    gA += wLeft / a;
                    gB -= wLeft / (b + x - 1);
                }

                total.Add(w * (ll + _byFrequency[x]));
                dR.Add(w * (gR + _dByFrequencyR[x]));
                dAlpha.Add(w * gAlpha);
                dA.Add(w * gA);
                dB.Add(w * gB);
            }

            var n = data.Customers;
            total.Add(n * r * logAlpha);
            dR.Add(n * logAlpha);
            dAlpha.Add(n * r / alpha);
            // d/dθ = p · d/dp for θ = ln p; negated and averaged per customer.
            gradient[0] = -r * dR.Value / n;
            gradient[1] = -alpha * dAlpha.Value / n;
            gradient[2] = -a * dA.Value / n;
            gradient[3] = -b * dB.Value / n;
            return -total.Value / n;
        }
    }
}
