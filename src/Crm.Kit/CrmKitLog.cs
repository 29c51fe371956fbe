using Microsoft.Extensions.Logging;

namespace Crm.Kit;

/// <summary>Crm.Kit's log messages, source-generated so that disabled levels cost nothing.</summary>
internal static partial class CrmKitLog
{
    [LoggerMessage(EventId = 1, Level = LogLevel.Debug, Message = "Created customer {CustomerId} in tenant {TenantId}.")]
    public static partial void CustomerCreated(ILogger logger, Guid customerId, string tenantId);

    [LoggerMessage(EventId = 2, Level = LogLevel.Debug, Message = "Recorded order {OrderId} ({Reference}) for customer {CustomerId}.")]
    public static partial void OrderRecorded(ILogger logger, Guid orderId, string reference, Guid customerId);

    [LoggerMessage(EventId = 5, Level = LogLevel.Debug, Message = "Posted {Count} loyalty entries for customer {CustomerId}.")]
    public static partial void PointsPosted(ILogger logger, int count, Guid customerId);

    [LoggerMessage(EventId = 3, Level = LogLevel.Error, Message = "Crm.Kit event handler {Handler} failed for {Event}.")]
    public static partial void EventHandlerFailed(ILogger logger, Exception exception, string? handler, string @event);

    [LoggerMessage(EventId = 6, Level = LogLevel.Error, Message = "Evaluating dynamic segment {SegmentId} of tenant {TenantId} failed; it is left out and the other segments go on (see Segment.EvaluationError).")]
    public static partial void SegmentEvaluationFailed(ILogger logger, Exception exception, Guid segmentId, string tenantId);

    [LoggerMessage(EventId = 7, Level = LogLevel.Error, Message = "Recording the evaluation failure of segment {SegmentId} failed.")]
    public static partial void SegmentFailureNotRecorded(ILogger logger, Exception exception, Guid segmentId);

    [LoggerMessage(EventId = 4, Level = LogLevel.Error, Message = "Customer change observer {Observer} failed for {Count} customer(s); a scheduled segment re-evaluation repairs membership.")]
    public static partial void ChangeObserverFailed(ILogger logger, Exception exception, string observer, int count);
}
