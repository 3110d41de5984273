namespace StreamRec.Worker.Consumption;

/// <summary>
/// Lets at most <c>burst</c> log lines through per <c>period</c>, and counts what it held back, so a
/// flood of bad events cannot flood the logs. Time comes from a <see cref="TimeProvider"/>.
/// </summary>
/// <remarks>Not thread-safe: one per consumer thread.</remarks>
public sealed class LogRateLimiter(int burst, TimeSpan period, TimeProvider clock)
{
    private long _windowStart = long.MinValue;
    private int _allowedInWindow;

    /// <summary>Lines suppressed since the last allowed line; reported with it.</summary>
    public long Suppressed { get; private set; }

    /// <summary>True when a line may be logged now; <paramref name="suppressedBefore"/> says how many were dropped since the last one.</summary>
    public bool TryAcquire(out long suppressedBefore)
    {
        var now = clock.GetTimestamp();
        if (_windowStart == long.MinValue || clock.GetElapsedTime(_windowStart, now) >= period)
        {
            _windowStart = now;
            _allowedInWindow = 0;
        }

        if (_allowedInWindow < burst)
        {
            _allowedInWindow++;
            suppressedBefore = Suppressed;
            Suppressed = 0;
            return true;
        }

        Suppressed++;
        suppressedBefore = 0;
        return false;
    }
}
