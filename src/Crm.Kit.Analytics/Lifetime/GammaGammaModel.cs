using Crm.Kit.Analytics.Numerics;

namespace Crm.Kit.Analytics;

/// <summary>
/// Parameters of the Gamma-Gamma spend model: a customer's transaction values are Gamma(<paramref name="P"/>, ν) with
/// ν itself Gamma(<paramref name="Q"/>, <paramref name="Gamma"/>) across customers.
/// </summary>
/// <param name="P">Shape of a customer's transaction-value distribution.</param>
/// <param name="Q">Shape of the distribution of ν across customers.</param>
/// <param name="Gamma">Scale of the distribution of ν across customers (written v in some software).</param>
public sealed record GammaGammaParameters(double P, double Q, double Gamma)
{
    internal void Validate()
    {
        ModelParameter.RequirePositive(P, "p", "Gamma-Gamma");
        ModelParameter.RequirePositive(Q, "q", "Gamma-Gamma");
        ModelParameter.RequirePositive(Gamma, "gamma", "Gamma-Gamma");
    }
}

/// <summary>A fitted spend model with the figures that describe the fit.</summary>
/// <param name="Model">The model at the maximum-likelihood parameters.</param>
/// <param name="LogLikelihood">The total log-likelihood at those parameters.</param>
/// <param name="Customers">How many customers (those with repeat purchases) were fitted.</param>
/// <param name="Iterations">Optimiser iterations used.</param>
/// <param name="OnRidge">
/// True when the likelihood has no interior maximum: it keeps rising, ever more slowly, as q and γ grow together —
/// customers' average spends differ no more than chance makes them, so every customer's expected spend tends to the
/// population mean. The search stops once the log-likelihood gains less than 10⁻⁶ per customer over 100 iterations;
/// the parameters are where it stopped and the predictions are the limit's to about that precision.
/// </param>
public sealed record GammaGammaFit(GammaGammaModel Model, double LogLikelihood, int Customers, int Iterations, bool OnRidge = false);

/// <summary>
/// The Gamma-Gamma model of spend per transaction (Fader, Hardie &amp; Lee 2005, "RFM and CLV: Using Iso-Value
/// Curves for Customer Base Analysis"; Hardie's note "The Gamma-Gamma Model of Monetary Value"). It is fitted on
/// customers with repeat purchases, from their number of repeat purchase days x and mean repeat spend z̄, and
/// assumes spend is independent of purchase frequency (check that the correlation is weak before relying on it).
/// </summary>
public sealed class GammaGammaModel
{
    /// <summary>Wraps known parameters.</summary>
    public GammaGammaModel(GammaGammaParameters parameters)
    {
        ArgumentNullException.ThrowIfNull(parameters);
        parameters.Validate();
        Parameters = parameters;
    }

    /// <summary>The parameters.</summary>
    public GammaGammaParameters Parameters { get; }

    /// <summary>The population mean spend per transaction, pγ / (q − 1); infinite when q ≤ 1.</summary>
    public double PopulationMeanValue => Parameters.Q <= 1 ? double.PositiveInfinity : Parameters.P * Parameters.Gamma / (Parameters.Q - 1);

    /// <summary>Fits the model by maximum likelihood on the customers with repeat purchases of positive average value (others are skipped).</summary>
    /// <exception cref="CrmValidationException">A summary is impossible, or no customer has repeat purchases.</exception>
    public static GammaGammaFit Fit(IEnumerable<RepeatPurchaseSummary> customers, CancellationToken cancellationToken = default)
    {
        var data = PooledSummaries.From(customers, requireRepeatValue: true);
        if (data.Customers == 0)
        {
            throw new CrmValidationException("customers", "repeat-buyers", "The Gamma-Gamma model needs at least one customer with repeat purchases.");
        }

        var likelihood = new Likelihood(data);
        var meanValue = 0.0;
        for (var i = 0; i < data.Frequency.Length; i++)
        {
            meanValue += data.AverageRepeatValue[i] * data.Weight[i];
        }

        meanValue /= data.Customers;
        // p = q = 1 and γ at the mean spend is on the data's money scale.
        double[] start = [0, 0, Math.Log(meanValue)];
        var minimum = Minimizer.Minimize(likelihood.MeanNegative, start, 500, cancellationToken);
        if (!minimum.Converged && !minimum.OnRidge)
        {
            throw new ArithmeticException($"The Gamma-Gamma fit did not converge in {minimum.Iterations} iterations.");
        }

        var p = minimum.Point;
        var parameters = new GammaGammaParameters(Math.Exp(p[0]), Math.Exp(p[1]), Math.Exp(p[2]));
        return new GammaGammaFit(new GammaGammaModel(parameters), -minimum.Value * data.Customers, data.Customers, minimum.Iterations, minimum.OnRidge);
    }

    /// <summary>
    /// E[Z | x, z̄]: the expected spend per transaction of this customer — a weighted mean of their own average and the
    /// population mean, leaning on their own the more repeat purchases they made. With no repeat purchases it is the
    /// population mean.
    /// </summary>
    public double ExpectedAverageValue(RepeatPurchaseSummary customer)
    {
        customer.Validate(nameof(customer));
        var (p, q, gamma) = Parameters;
        if (q <= 1)
        {
            throw new InvalidOperationException($"The fitted q is {q}; the expected spend exists only for q > 1.");
        }

        var x = customer.Frequency;
        return p * (gamma + x * customer.AverageRepeatValue) / (p * x + q - 1);
    }

    /// <summary>The log-likelihood of one customer's mean repeat spend; the customer must have repeat purchases.</summary>
    public double LogLikelihood(RepeatPurchaseSummary customer)
    {
        customer.Validate(nameof(customer));
        if (customer.Frequency == 0 || customer.AverageRepeatValue <= 0)
        {
            throw new CrmValidationException(nameof(customer), "repeat-buyer", "The spend likelihood is defined for customers with repeat purchases and a positive average repeat value.");
        }

        var (p, q, gamma) = Parameters;
        double x = customer.Frequency, z = customer.AverageRepeatValue, px = p * x;
        return SpecialFunctions.LogGamma(px + q) - SpecialFunctions.LogGamma(px) - SpecialFunctions.LogGamma(q)
            + q * Math.Log(gamma) + (px - 1) * Math.Log(z) + px * Math.Log(x) - (px + q) * Math.Log(gamma + x * z);
    }

    private sealed class Likelihood(PooledSummaries data)
    {
        private readonly double[] _logGammas = new double[data.MaxFrequency + 1];
        private readonly double[] _digammaDifference = new double[data.MaxFrequency + 1];
        private readonly double[] _digammaSum = new double[data.MaxFrequency + 1];
        private readonly double[] _logValue = [.. data.AverageRepeatValue.Select(v => Math.Log(v))];
        private readonly double[] _logFrequency = [.. data.Frequency.Select(x => Math.Log(x))];

        public double MeanNegative(ReadOnlySpan<double> theta, Span<double> gradient)
        {
            double p = Math.Exp(theta[0]), q = Math.Exp(theta[1]), gamma = Math.Exp(theta[2]);
            if (!double.IsFinite(p + q + gamma) || p == 0 || q == 0 || gamma == 0)
            {
                return double.PositiveInfinity;
            }

            foreach (var x in data.DistinctFrequencies)
            {
                var px = p * x;
                _logGammas[x] = SpecialFunctions.LogGamma(px + q) - SpecialFunctions.LogGamma(px);
                var psiSum = SpecialFunctions.Digamma(px + q);
                _digammaDifference[x] = psiSum - SpecialFunctions.Digamma(px);
                _digammaSum[x] = psiSum;
            }

            double logGamma = Math.Log(gamma), lgQ = SpecialFunctions.LogGamma(q), psiQ = SpecialFunctions.Digamma(q);
            CompensatedSum total = default, dP = default, dQ = default, dGamma = default;
            for (var i = 0; i < data.Frequency.Length; i++)
            {
                int x = data.Frequency[i];
                double w = data.Weight[i], z = data.AverageRepeatValue[i], px = p * x, logZ = _logValue[i], logX = _logFrequency[i];
                var spread = gamma + x * z;
                var logSpread = Math.Log(spread);
                total.Add(w * (_logGammas[x] - lgQ + q * logGamma + (px - 1) * logZ + px * logX - (px + q) * logSpread));
                dP.Add(w * x * (_digammaDifference[x] + logZ + logX - logSpread));
                dQ.Add(w * (_digammaSum[x] - psiQ + logGamma - logSpread));
                dGamma.Add(w * (q / gamma - (px + q) / spread));
            }

            var n = data.Customers;
            gradient[0] = -p * dP.Value / n;
            gradient[1] = -q * dQ.Value / n;
            gradient[2] = -gamma * dGamma.Value / n;
            return -total.Value / n;
        }
    }
}
