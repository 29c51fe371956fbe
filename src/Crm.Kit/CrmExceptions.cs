namespace Crm.Kit;

/// <summary>Base type of every exception Crm.Kit throws on purpose.</summary>
public abstract class CrmException : Exception
{
    /// <summary>Creates the exception with a message.</summary>
    protected CrmException(string message, Exception? innerException = null)
        : base(message, innerException)
    {
    }
}

/// <summary>One broken rule: which field, which rule, and a sentence a developer can act on.</summary>
/// <param name="Field">The path of the offending field, for example <c>Emails[1]</c> or <c>Lines[0].Quantity</c>.</param>
/// <param name="Rule">A short, stable rule id, for example <c>required</c>, <c>email-format</c> or <c>max-length</c>.</param>
/// <param name="Message">What is wrong, in words.</param>
public sealed record ValidationError(string Field, string Rule, string Message)
{
    /// <inheritdoc />
    public override string ToString() => $"{Field}: {Message} (rule '{Rule}')";
}

/// <summary>
/// Thrown before any state changes when input breaks one or more rules. Carries every problem found,
/// not just the first, so a caller can show them all at once.
/// </summary>
public sealed class CrmValidationException : CrmException
{
    /// <summary>Creates the exception from the errors found.</summary>
    public CrmValidationException(IReadOnlyList<ValidationError> errors)
        : base(BuildMessage(errors))
    {
        Errors = errors;
    }

    /// <summary>Creates the exception for a single broken rule.</summary>
    public CrmValidationException(string field, string rule, string message)
        : this([new ValidationError(field, rule, message)])
    {
    }

    /// <summary>Every broken rule, in the order they were found.</summary>
    public IReadOnlyList<ValidationError> Errors { get; }

    private static string BuildMessage(IReadOnlyList<ValidationError> errors)
    {
        ArgumentNullException.ThrowIfNull(errors);
        return errors.Count == 1
            ? $"Invalid input: {errors[0]}."
            : $"Invalid input ({errors.Count} problems): " + string.Join("; ", errors) + ".";
    }
}

/// <summary>
/// Thrown when an update was based on a version of a record that is no longer current: someone else changed
/// it first. Nothing was written; reload the record and apply the change again.
/// </summary>
public sealed class ConcurrencyConflictException : CrmException
{
    /// <summary>Creates the exception.</summary>
    public ConcurrencyConflictException(string entityType, Guid id, long expectedVersion, Exception? innerException = null)
        : base($"{entityType} {id} was changed by someone else: the update expected version {expectedVersion}, which is no longer current. Reload it and try again.", innerException)
    {
        EntityType = entityType;
        Id = id;
        ExpectedVersion = expectedVersion;
    }

    /// <summary>The kind of record, for example <c>Customer</c>.</summary>
    public string EntityType { get; }

    /// <summary>The record's id.</summary>
    public Guid Id { get; }

    /// <summary>The version the failed update was based on.</summary>
    public long ExpectedVersion { get; }
}

/// <summary>Thrown when an operation names a record that does not exist in the current tenant.</summary>
public sealed class EntityNotFoundException : CrmException
{
    /// <summary>Creates the exception.</summary>
    public EntityNotFoundException(string entityType, Guid id)
        : base($"{entityType} {id} does not exist in the current tenant.")
    {
        EntityType = entityType;
        Id = id;
    }

    /// <summary>The kind of record, for example <c>Customer</c>.</summary>
    public string EntityType { get; }

    /// <summary>The id that was not found.</summary>
    public Guid Id { get; }
}

/// <summary>
/// Thrown by a store when a write would break a uniqueness rule, for example a second customer with the
/// same external reference in one tenant. Managers turn it into a <see cref="CrmValidationException"/> where
/// the caller can act on it.
/// </summary>
public sealed class DuplicateValueException : CrmException
{
    /// <summary>Creates the exception.</summary>
    public DuplicateValueException(string field, string value, Exception? innerException = null)
        : base($"{field} {InputText.Quote(value)} is already used by another record in this tenant.", innerException)
    {
        Field = field;
        Value = value;
    }

    /// <summary>The field whose value must be unique.</summary>
    public string Field { get; }

    /// <summary>The value that is already taken.</summary>
    public string Value { get; }
}

/// <summary>
/// Thrown when a redemption or a debit asks for more points than the member has available. Nothing was written;
/// the balance is never overdrawn, even by concurrent callers.
/// </summary>
public sealed class InsufficientPointsException : CrmException
{
    /// <summary>Creates the exception.</summary>
    public InsufficientPointsException(Guid customerId, long requested, long available)
        : base($"Invalid input: points: customer {customerId} has {available} points available, {requested} were asked for (rule 'insufficient-points').")
    {
        CustomerId = customerId;
        Requested = requested;
        Available = available;
    }

    /// <summary>The member.</summary>
    public Guid CustomerId { get; }

    /// <summary>The points asked for.</summary>
    public long Requested { get; }

    /// <summary>The points available when the request was decided.</summary>
    public long Available { get; }
}

/// <summary>
/// Thrown when the store stayed locked by other writers for longer than it waits for them (for SQLite, the
/// connection's <c>Default Timeout</c>: 30 seconds unless the connection string sets another). The operation's writes
/// were not made; it may be retried, for example after a pause.
/// </summary>
public sealed class CrmStoreBusyException : CrmException
{
    /// <summary>Creates the exception.</summary>
    public CrmStoreBusyException(string message, Exception? innerException = null)
        : base(message, innerException)
    {
    }
}
