namespace StreamRec.Core.Engine;

/// <summary>
/// Per-item weighted event counts that decay exponentially in event time with a fixed half-life
/// (or never, for all-time popularity), indexed by item row.
/// </summary>
/// <remarks>
/// <para>The decayed count of item i at time t is <c>2^(-(t - t0)/h) · Σ w·2^((t_e - t0)/h)</c>. The
/// common factor is the same for every item, so only the sum is kept, and no per-event decay of all
/// items is needed; the ranking of items never depends on t. The sum grows with event time, so it is
/// stored scaled: <c>C_i = Σ w·e^((t_e - t0)·ln2/h - S)</c>, where the scale S is raised (an O(n)
/// renormalisation of every count) only when a count would pass e^40, about every 58 half-lives.
/// An event costs one multiply-add and, when its time differs from the previous event's, one
/// <c>exp</c>. Checkpoints and replicas exchange counts as logs (<see cref="ReadLogScore"/>,
/// <c>L_i = ln C_i + S</c>), independent of the scale.</para>
/// <para><see cref="RelativeScores"/> holds the counts C_i as floats for SIMD blending and ranking;
/// <see cref="MaxRelativeScore"/> tracks the largest.</para>
/// <para>Memory per item row: 12 bytes. Not thread-safe.</para>
/// </remarks>
public sealed class DecayedItemCounts
{
    /// <summary>Counts are kept below e^40 (so that floats hold them with room to spare).</summary>
    private const double RescaleThreshold = 40.0;

    private static readonly double MaxCountBeforeRescale = Math.Exp(RescaleThreshold);

    private readonly double _decayPerMs;
    private double[] _counts;
    private float[] _relativeScores;
    private long _originMs;
    private bool _hasOrigin;
    private double _scaleLog;
    private double _maxCount;
    // e^((t - t0)·ln2/h - S) for the last event time seen: events often share a timestamp.
    private long _factorTimeMs;
    private double _factor = double.NaN;

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
        _counts = new double[initialCapacity];
        _relativeScores = new float[initialCapacity];
    }

    /// <summary>The half-life in milliseconds (infinite for all-time counts).</summary>
    public double HalfLifeMs { get; }

    /// <summary>The scaled count C_i per row: proportional to each item's decayed count at any single moment.</summary>
    public ReadOnlySpan<float> RelativeScores => _relativeScores;

    /// <summary>The largest entry of <see cref="RelativeScores"/> (0 before any event); divide by it to normalise into [0, 1].</summary>
    public float MaxRelativeScore => (float)_maxCount;

    /// <summary>Grows the per-row arrays to hold at least <paramref name="capacity"/> rows.</summary>
    public void EnsureCapacity(int capacity)
    {
        if (_counts.Length >= capacity)
        {
            return;
        }

        Array.Resize(ref _counts, capacity);
        Array.Resize(ref _relativeScores, capacity);
    }

    /// <summary>Forgets a row's count (its item was evicted and the row reused).</summary>
    public void Reset(int row)
    {
        _counts[row] = 0.0;
        _relativeScores[row] = 0f;
    }

    /// <summary>Adds an event of weight <paramref name="weight"/> (> 0) at <paramref name="eventTimeMs"/> to a row.</summary>
    public void Observe(int row, float weight, long eventTimeMs)
    {
        if (!_hasOrigin)
        {
            RestoreOrigin(eventTimeMs);
        }

        if (eventTimeMs != _factorTimeMs || double.IsNaN(_factor))
        {
            double exponent = ((eventTimeMs - _originMs) * _decayPerMs) - _scaleLog;
            if (exponent > RescaleThreshold)
            {
                Rescale(exponent);
                exponent = 0.0;
            }

            _factorTimeMs = eventTimeMs;
            _factor = Math.Exp(exponent);
        }

        Store(row, _counts[row] + (weight * _factor));
    }

    /// <summary>The row's decayed count as of <paramref name="timeMs"/> (0 for an unseen row).</summary>
    public double ScoreAt(int row, long timeMs) => _counts[row] * Math.Exp(_scaleLog - ((timeMs - _originMs) * _decayPerMs));

    /// <summary>
    /// The row's count as a log relative to <see cref="OriginMs"/>, <c>ln Σ w·2^((t_e - t0)/h)</c>
    /// (negative infinity for an unseen row), for checkpoints and replicas.
    /// </summary>
    public double ReadLogScore(int row)
    {
        double count = _counts[row];
        return count > 0.0 ? Math.Log(count) + _scaleLog : double.NegativeInfinity;
    }

    /// <summary>Event time that log scores are measured from (the first event's time).</summary>
    public long OriginMs => _originMs;

    /// <summary>Restores a row's log score; call <see cref="RestoreOrigin"/> first.</summary>
    public void WriteLogScore(int row, double logScore)
    {
        EnsureCapacity(row + 1);
        _counts[row] = 0.0;
        _relativeScores[row] = 0f;
        AddScaled(row, logScore);
    }

    /// <summary>
    /// Adds a decayed count given as a log relative to another origin (another replica's increment):
    /// converted to this instance's origin, then added like an observed event.
    /// </summary>
    public void AddLogIncrement(int row, double logIncrement, long originMs)
    {
        if (double.IsNegativeInfinity(logIncrement) || double.IsNaN(logIncrement))
        {
            return;
        }

        if (!_hasOrigin)
        {
            RestoreOrigin(originMs);
        }

        EnsureCapacity(row + 1);
        AddScaled(row, logIncrement + ((originMs - _originMs) * _decayPerMs));
    }

    /// <summary>True once an origin was set (by the first event or a restore).</summary>
    public bool HasOrigin => _hasOrigin;

    /// <summary>Restores the origin time of log scores (held log scores keep their values).</summary>
    public void RestoreOrigin(long originMs)
    {
        _originMs = originMs;
        _hasOrigin = true;
        _factor = double.NaN;
    }

    /// <summary>Adds <c>e^(log - S)</c> to a row, renormalising first if it would pass the threshold.</summary>
    private void AddScaled(int row, double log)
    {
        if (double.IsNegativeInfinity(log) || double.IsNaN(log))
        {
            return;
        }

        double exponent = log - _scaleLog;
        if (exponent > RescaleThreshold)
        {
            Rescale(exponent);
            exponent = 0.0;
        }

        Store(row, _counts[row] + Math.Exp(exponent));
    }

    private void Store(int row, double count)
    {
        if (count > MaxCountBeforeRescale)
        {
            Rescale(Math.Log(count));
            count = 1.0; // the count itself, after dividing every count by it
        }

        _counts[row] = count;
        _relativeScores[row] = (float)count;
        if (count > _maxCount)
        {
            _maxCount = count;
        }
    }

    /// <summary>Raises the scale by <paramref name="shift"/> (in log units): every count is divided by e^shift.</summary>
    private void Rescale(double shift)
    {
        _scaleLog += shift;
        double factor = Math.Exp(-shift);
        for (int i = 0; i < _counts.Length; i++)
        {
            _counts[i] *= factor;
            _relativeScores[i] = (float)_counts[i];
        }

        _maxCount *= factor;
        _factor = double.NaN;
    }
}
