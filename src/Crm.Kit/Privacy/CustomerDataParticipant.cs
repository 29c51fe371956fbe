namespace Crm.Kit.Privacy;

/// <summary>
/// A module that holds data about customers (cases, survey answers) and so takes part in what happens to a
/// customer as a whole: its data goes into the export, moves to the survivor on a merge, and loses its free text
/// on erasure. Merge and erasure call it inside their transaction, so it changes all or nothing with them.
/// </summary>
public interface ICustomerDataParticipant
{
    /// <summary>The name of this module's section in the export, for example <c>cases</c>.</summary>
    string Name { get; }

    /// <summary>Everything the module holds about the customer, ready for JSON.</summary>
    ValueTask<object> ExportAsync(string tenantId, Guid customerId, CancellationToken cancellationToken);

    /// <summary>Moves the module's records of <paramref name="fromCustomerId"/> to <paramref name="toCustomerId"/>.</summary>
    ValueTask ReassignAsync(string tenantId, Guid fromCustomerId, Guid toCustomerId, CancellationToken cancellationToken);

    /// <summary>Erases the personal data (free text) in the module's records of the customer, keeping the non-personal facts.</summary>
    ValueTask EraseAsync(string tenantId, Guid customerId, CancellationToken cancellationToken);
}
