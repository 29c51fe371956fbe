namespace Crm.Kit.Analytics;

/// <summary>The one rule every lifetime-model parameter follows.</summary>
internal static class ModelParameter
{
    /// <summary>Throws <see cref="CrmValidationException"/> naming <paramref name="name"/> unless the value is finite and greater than 0.</summary>
    public static void RequirePositive(double value, string name, string model)
    {
        if (!double.IsFinite(value) || value <= 0)
        {
            throw new CrmValidationException(name, "positive", $"The {model} parameter {name} must be a finite number greater than 0; it is {value}.");
        }
    }
}
