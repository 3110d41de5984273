namespace StreamRec.Core.Events;

/// <summary>Why an event was refused. Counted per reason and written to the dead-letter topic's headers.</summary>
public enum BadEventReason
{
    /// <summary>Not a decodable ClickEvent (truncated, wrong wire types, invalid UTF-8, bad JSON).</summary>
    Malformed = 1,

    /// <summary>user_id is empty.</summary>
    MissingUserId,

    /// <summary>item_id is empty.</summary>
    MissingItemId,

    /// <summary>An id is longer than the configured limit.</summary>
    IdTooLong,

    /// <summary>The event type is unspecified or not one StreamRec knows.</summary>
    UnknownType,

    /// <summary>The value is NaN, infinite or negative, or a rating outside the configured range.</summary>
    InvalidValue,

    /// <summary>event_time_ms is missing or older than the allowed past.</summary>
    TimestampTooOld,

    /// <summary>event_time_ms is further ahead of the wall clock than the allowed skew.</summary>
    TimestampInFuture,
}
