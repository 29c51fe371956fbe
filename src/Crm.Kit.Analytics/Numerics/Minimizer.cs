namespace Crm.Kit.Analytics.Numerics;

/// <summary>A smooth objective: returns f(x) and writes ∇f(x) into the gradient span.</summary>
internal delegate double Objective(ReadOnlySpan<double> x, Span<double> gradient);

/// <summary>The outcome of a minimisation.</summary>
/// <param name="Point">Where the search stopped.</param>
/// <param name="Value">The objective there.</param>
/// <param name="Iterations">Iterations used.</param>
/// <param name="Converged">Whether the gradient vanished (to the tolerance) there.</param>
/// <param name="RecentDecrease">
/// How much the objective fell over the last <see cref="Minimizer.RecentWindow"/> iterations when the iteration budget
/// ran out; infinite when the search stopped for any other reason, so that only a search still creeping along at the
/// end of its budget reads as a ridge.
/// </param>
internal readonly record struct Minimum(double[] Point, double Value, int Iterations, bool Converged, double RecentDecrease = double.PositiveInfinity)
{
    /// <summary>
    /// Whether the search, without converging, was still creeping along when its budget ran out: the objective (a mean
    /// negative log-likelihood per customer) fell by at most <see cref="Minimizer.RidgeTolerance"/> over the last
    /// <see cref="Minimizer.RecentWindow"/> iterations. The likelihood then has no interior maximum and rises towards a
    /// limit along a ridge.
    /// </summary>
    public bool OnRidge => !Converged && RecentDecrease <= Minimizer.RidgeTolerance;
}

/// <summary>
/// Quasi-Newton (BFGS) minimisation with a backtracking line search. The lifetime models have four or fewer
/// parameters and cheap analytic gradients, where BFGS reaches the optimum to full double precision in a few dozen
/// iterations; a simplex method would need hundreds of likelihood passes over every customer for the same digits.
/// </summary>
internal static class Minimizer
{
    /// <summary>The iterations over which <see cref="Minimum.RecentDecrease"/> is measured.</summary>
    public const int RecentWindow = 100;

    /// <summary>The fall of the objective over <see cref="RecentWindow"/> iterations at or below which <see cref="Minimum.OnRidge"/> holds.</summary>
    public const double RidgeTolerance = 1e-6;

    public static Minimum Minimize(Objective objective, ReadOnlySpan<double> start, int maxIterations, CancellationToken cancellationToken)
    {
        var n = start.Length;
        var x = start.ToArray();
        var gradient = new double[n];
        var value = objective(x, gradient);
        if (!double.IsFinite(value))
        {
            throw new ArithmeticException("The objective is not finite at the starting point.");
        }

        // Inverse Hessian approximation, starting from the identity.
        var h = new double[n, n];
        ResetToIdentity(h);

        var direction = new double[n];
        var candidate = new double[n];
        var candidateGradient = new double[n];
        var s = new double[n];
        var y = new double[n];
        var hy = new double[n];
        var checkpoint = value;
        var steepest = false;
        for (var iteration = 1; iteration <= maxIterations; iteration++)
        {
            if (iteration == maxIterations - RecentWindow + 1)
            {
                checkpoint = value;
            }

            cancellationToken.ThrowIfCancellationRequested();
            if (Norm(gradient) <= 1e-10 * Math.Max(1, Math.Abs(value)))
            {
                return new Minimum(x, value, iteration - 1, true);
            }

            for (var i = 0; i < n; i++)
            {
                var sum = 0.0;
                for (var j = 0; j < n; j++)
                {
                    sum -= h[i, j] * gradient[j];
                }

                direction[i] = sum;
            }

            var slope = Dot(direction, gradient);
            if (slope >= 0)
            {
                // The approximation lost positive definiteness: fall back to steepest descent.
                ResetToIdentity(h);
                for (var i = 0; i < n; i++)
                {
                    direction[i] = -gradient[i];
                }

                slope = -Dot(gradient, gradient);
            }

            // Cap the first step so that a poor start cannot throw the parameters to extremes.
            var step = Math.Min(1.0, 5.0 / Math.Max(Norm(direction), 1e-300));
            double candidateValue;
            var accepted = false;
            do
            {
                for (var i = 0; i < n; i++)
                {
                    candidate[i] = x[i] + step * direction[i];
                }

                candidateValue = objective(candidate, candidateGradient);
                if (double.IsFinite(candidateValue) && candidateValue <= value + 1e-4 * step * slope)
                {
                    accepted = true;
                    break;
                }

                step *= 0.5;
            }
            while (step > 1e-20);

            if (!accepted)
            {
                if (!steepest)
                {
                    // The quasi-Newton direction can be spoiled by rounding in the curvature updates (it depends on
                    // the order the data were summed in); start again from steepest descent before concluding.
                    ResetToIdentity(h);
                    steepest = true;
                    continue;
                }

                // No decrease is possible even straight downhill at this precision: x is the minimum.
                return new Minimum(x, value, iteration, Norm(gradient) <= 1e-6 * Math.Max(1, Math.Abs(value)));
            }

            steepest = false;

            for (var i = 0; i < n; i++)
            {
                s[i] = candidate[i] - x[i];
                y[i] = candidateGradient[i] - gradient[i];
            }

            var previous = value;
            Array.Copy(candidate, x, n);
            Array.Copy(candidateGradient, gradient, n);
            value = candidateValue;

            var sy = Dot(s, y);
            if (sy > 1e-300)
            {
                // H ← (I − ρ s yᵀ) H (I − ρ y sᵀ) + ρ s sᵀ, written out to avoid temporaries.
                var rho = 1 / sy;
                for (var i = 0; i < n; i++)
                {
                    var sum = 0.0;
                    for (var j = 0; j < n; j++)
                    {
                        sum += h[i, j] * y[j];
                    }

                    hy[i] = sum;
                }

                var yhy = Dot(y, hy);
                for (var i = 0; i < n; i++)
                {
                    for (var j = 0; j < n; j++)
                    {
                        h[i, j] += (1 + rho * yhy) * rho * s[i] * s[j] - rho * (hy[i] * s[j] + s[i] * hy[j]);
                    }
                }
            }

            if (Math.Abs(previous - value) <= 1e-16 * Math.Max(1, Math.Abs(value)) && Norm(gradient) <= 1e-7 * Math.Max(1, Math.Abs(value)))
            {
                return new Minimum(x, value, iteration, true);
            }
        }

        return new Minimum(x, value, maxIterations, false, maxIterations > RecentWindow ? checkpoint - value : double.PositiveInfinity);
    }

    private static void ResetToIdentity(double[,] h)
    {
        for (var i = 0; i < h.GetLength(0); i++)
        {
            for (var j = 0; j < h.GetLength(1); j++)
            {
                h[i, j] = i == j ? 1 : 0;
            }
        }
    }

    private static double Dot(ReadOnlySpan<double> a, ReadOnlySpan<double> b)
    {
        var sum = 0.0;
        for (var i = 0; i < a.Length; i++)
        {
            sum += a[i] * b[i];
        }

        return sum;
    }

    private static double Norm(ReadOnlySpan<double> a) => Math.Sqrt(Dot(a, a));
}
