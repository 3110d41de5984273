namespace StreamRec.Core.Engine;

/// <summary>
/// Per-item weighted event counts that decay exponentially in event time with a fixed half-life
/// (or never, for all-time popularity), indexed by item row.
/// </summary>
/// <remarks>
/// <para>Log-space trick: the decayed count of item i at time t is
/// <c>2^(-(t - t0)/h) · Σ w·2^((t_e - t0)/h)</c>. The common factor is the same for every item, so
/// only the log of the sum is stored and updated (log-add-exp) when item i has an event; no per-event
/// decay of all items is needed, and the ranking of items never depends on t.</para>
/// <para><see cref="RelativeScores"/> holds <c>exp(L_i - L_ref)</c> as floats for SIMD blending and
/// ranking; the reference is moved (an O(n) rescale) only when a score would exceed e^40, which
/// happens about every 58 half-lives. <see cref="MaxRelativeScore"/> tracks the largest entry.</para>
/// <para>Memory per item row: 12 bytes. Not thread-safe.</para>
/// </remarks>
public sealed class DecayedItemCounts
{
    private const double RescaleThreshold = 40.0;

    private readonly double _decayPerMs;
    private double[] _logScores;
    private float[] _relativeScores;
    private long _originMs;
    private bool _hasOrigin;
    private double _referenceLog;
    private double _maxLog = double.NegativeInfinity;

    /// <param name="halfLifeMs">Half-life in event-time milliseconds; <see cref="double.PositiveInfinity"/> for all-time counts.</param>
    /// <param name="initialCapacity">Item rows allocated up front.</param>
    public DecayedItemCounts(double halfLifeMs, int initialCapacity = 1024)
    {
        if (!(halfLifeMs > 0))
        {
            throw new ArgumentOutOfRangeException(nameof(halfLifeMs), halfLifeMs, "The half-life must be positive (or infinite for no decay).");
        }

        HalfLifeMs = halfLifeMs;
        _decayPerMs = double.IsPositiveInfinity(halfLifeMs) ? 0.0 : Math.Log(2.0) / halfLifeMs;
        _logScores = new double[initialCapacity];
        _logScores.AsSpan().Fill(double.NegativeInfinity);
        _relativeScores = new float[initialCapacity];
    }

    /// <summary>The half-life in milliseconds (infinite for all-time counts).</summary>
    public double HalfLifeMs { get; }

    /// <summary>exp(L_i - L_ref) per row: proportional to each item's decayed count at any single moment.</summary>
    public ReadOnlySpan<float> RelativeScores => _relativeScores;

    /// <summary>The largest entry of <see cref="RelativeScores"/> (0 before any event); divide by it to normalise into [0, 1].</summary>
    public float MaxRelativeScore => double.IsNegativeInfinity(_maxLog) ? 0f : (float)Math.Exp(_maxLog - _referenceLog);

    /// <summary>Grows the per-row arrays to hold at least <paramref name="capacity"/> rows.</summary>
    public void EnsureCapacity(int capacity)
    {
        int old = _logScores.Length;
        if (old >= capacity)
        {
            return;
        }

        Array.Resize(ref _logScores, capacity);
        _logScores.AsSpan(old).Fill(double.NegativeInfinity);
        Array.Resize(ref _relativeScores, capacity);
    }

    /// <summary>Forgets a row's count (its item was evicted and the row reused).</summary>
    public void Reset(int row)
    {
        _logScores[row] = double.NegativeInfinity;
        _relativeScores[row] = 0f;
    }

    /// <summary>Adds an event of weight <paramref name="weight"/> (> 0) at <paramref name="eventTimeMs"/> to a row.</summary>
    public void Observe(int row, float weight, long eventTimeMs)
    {
        if (!_hasOrigin)
        {
            _originMs = eventTimeMs;
            _hasOrigin = true;
        }

        double contribution = Math.Log(weight) + ((eventTimeMs - _originMs) * _decayPerMs);
        double current = _logScores[row];
        double updated = double.IsNegativeInfinity(current)
            ? contribution
            : Math.Max(current, contribution) + Math.Log(1.0 + Math.Exp(-Math.Abs(current - contribution)));
        _logScores[row] = updated;
        if (double.IsNegativeInfinity(_maxLog))
        {
            _referenceLog = updated;
        }

        if (updated > _maxLog)
        {
            _maxLog = updated;
        }

        if (updated - _referenceLog > RescaleThreshold)
        {
            Rescale(updated);
        }

        _relativeScores[row] = (float)Math.Exp(updated - _referenceLog);
    }

    /// <summary>The row's decayed count as of <paramref name="timeMs"/> (0 for an unseen row).</summary>
    public double ScoreAt(int row, long timeMs)
    {
        double log = _logScores[row];
        return double.IsNegativeInfinity(log) ? 0.0 : Math.Exp(log - ((timeMs - _originMs) * _decayPerMs));
    }

    /// <summary>The stored log score of a row, for checkpoints (with <see cref="OriginMs"/>).</summary>
    public double ReadLogScore(int row) => _logScores[row];

    /// <summary>Event time that log scores are measured from (the first event's time).</summary>
    public long OriginMs => _originMs;

    /// <summary>Restores a row's log score exactly; call <see cref="RestoreOrigin"/> first.</summary>
    public void WriteLogScore(int row, double logScore)
    {
        EnsureCapacity(row + 1);
        if (double.IsNegativeInfinity(_maxLog))
        {
            _referenceLog = logScore;
        }

        _logScores[row] = logScore;
        _maxLog = Math.Max(_maxLog, logScore);
        if (logScore - _referenceLog > RescaleThreshold)
        {
            Rescale(logScore);
        }

        _relativeScores[row] = double.IsNegativeInfinity(logScore) ? 0f : (float)Math.Exp(logScore - _referenceLog);
    }

    /// <summary>
    /// Adds a decayed count given as a log relative to another origin (another replica's increment):
    /// converted to this instance's origin, then log-added like an observed event.
    /// </summary>
    public void AddLogIncrement(int row, double logIncrement, long originMs)
    {
        if (double.IsNegativeInfinity(logIncrement) || double.IsNaN(logIncrement))
        {
            return;
        }

        if (!_hasOrigin)
        {
            _originMs = originMs;
            _hasOrigin = true;
        }

        EnsureCapacity(row + 1);
        double contribution = logIncrement + ((originMs - _originMs) * _decayPerMs);
        double current = _logScores[row];
        WriteLogScore(row, double.IsNegativeInfinity(current)
            ? contribution
            : Math.Max(current, contribution) + Math.Log(1.0 + Math.Exp(-Math.Abs(current - contribution))));
    }

    /// <summary>True once an origin was set (by the first event or a restore).</summary>
    public bool HasOrigin => _hasOrigin;

    /// <summary>Restores the origin time of log scores.</summary>
    public void RestoreOrigin(long originMs)
    {
        _originMs = originMs;
        _hasOrigin = true;
    }

    private void Rescale(double newReference)
    {
        _referenceLog = newReference;
        for (int i = 0; i < _logScores.Length; i++)
        {
            double log = _logScores[i];
            _relativeScores[i] = double.IsNegativeInfinity(log) ? 0f : (float)Math.Exp(log - newReference);
        }
    }
}
