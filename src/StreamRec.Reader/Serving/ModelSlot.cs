namespace StreamRec.Reader.Serving;

/// <summary>
/// Holds the served model. The follower is the only writer (<see cref="Swap"/>); requests read
/// <see cref="Current"/> once and answer from that instance, so a swap never mixes generations within a
/// request and in-flight requests finish on the instance they started with. Thread-safe.
/// </summary>
internal sealed class ModelSlot(TimeProvider time)
{
    private ServingModel? _current;
    private long _lastSuccessfulPoll = long.MinValue;

    /// <summary>The model to answer from, or null until the first checkpoint is loaded.</summary>
    public ServingModel? Current => Volatile.Read(ref _current);

    /// <summary>Generation the next swap takes.</summary>
    public long NextGeneration => (Current?.Generation ?? 0) + 1;

    public void Swap(ServingModel model) => Volatile.Write(ref _current, model);

    public void RecordSuccessfulPoll() => Interlocked.Exchange(ref _lastSuccessfulPoll, time.GetTimestamp());

    /// <summary>Time since Redis last answered a poll; null before the first success.</summary>
    public TimeSpan? Staleness
    {
        get
        {
            var last = Interlocked.Read(ref _lastSuccessfulPoll);
            return last == long.MinValue ? null : time.GetElapsedTime(last);
        }
    }
}
