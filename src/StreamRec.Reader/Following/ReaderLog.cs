
namespace StreamRec.Reader.Following;

/// <summary>The reader's log events (source-generated, structured).</summary>
internal static partial class ReaderLog
{
    [LoggerMessage(1, LogLevel.Information, "Reader serving model {Model} from Redis {Redis}, polling every {PollInterval}")]
    public static partial void Starting(ILogger logger, string model, string redis, TimeSpan pollInterval);

    [LoggerMessage(2, LogLevel.Information, "Serving {Model} version {Version} as generation {Generation} ({Items} items, {Users} users, cause {Cause})")]
    public static partial void Swapped(ILogger logger, string model, string version, long generation, int items, int users, string cause);

    [LoggerMessage(3, LogLevel.Warning, "Polling Redis failed; serving the last model until it answers again")]
    public static partial void PollFailing(ILogger logger, Exception exception);

    [LoggerMessage(4, LogLevel.Information, "Redis answers again after {Failures} failed polls")]
    public static partial void PollRecovered(ILogger logger, long failures);

    [LoggerMessage(5, LogLevel.Warning, "Delta {DeltaSeq} of chain {Chain} could not be read; restoring the chain instead")]
    public static partial void DeltaUnreadable(ILogger logger, long deltaSeq, string chain, Exception exception);

    [LoggerMessage(6, LogLevel.Warning, "Active version {Version} of model {Model} has neither a manifest nor chains yet")]
    public static partial void VersionEmpty(ILogger logger, string model, string version);

    [LoggerMessage(7, LogLevel.Warning, "Subscribing to {Channel} failed; relying on polling until it succeeds")]
    public static partial void SubscribeFailed(ILogger logger, string channel, Exception exception);

    [LoggerMessage(8, LogLevel.Information, "Approximate index built over {Rows} items of generation {Generation} in {Seconds:0.###} s")]
    public static partial void ApproximateIndexBuilt(ILogger logger, int rows, long generation, double seconds);

    [LoggerMessage(9, LogLevel.Error, "The approximate index's native library (USearch) cannot be used here; every ranking stays exact")]
    public static partial void ApproximateIndexUnavailable(ILogger logger, Exception exception);

    [LoggerMessage(10, LogLevel.Warning, "Building the approximate index of generation {Generation} failed; the previous index (or exact ranking) serves, retrying in a minute")]
    public static partial void ApproximateIndexBuildFailed(ILogger logger, long generation, Exception exception);

    [LoggerMessage(11, LogLevel.Warning, "Items of generation {Generation} hold a value that is not finite; no approximate index until they change")]
    public static partial void ApproximateIndexNotFinite(ILogger logger, long generation);
}
