namespace Crm.Kit.EntityFrameworkCore;

/// <summary>
/// Marks the row types Crm.Kit maps into the host's model, so that code that must treat all of them alike (detaching
/// them from the change tracker, rewriting their tables) finds them by the marker rather than by a list kept by hand.
/// </summary>
internal interface ICrmRow;
