namespace StreamRec.Core.Learners;

/// <summary>
/// Bayesian personalised ranking with N sampled negatives per positive. Loss per event with
/// positive i and negatives j_1..j_N:
/// <c>-w Σ_n ln σ(x_n) + L2/2 (|u|² + |i|² + Σ_n |j_n|²) + BiasL2/2 (b_i² + Σ_n b_jn²)</c>, where
/// <c>x_n = u·(i - j_n) + b_i - b_jn</c>.
/// </summary>
/// <remarks>
/// <para>Negatives are drawn uniformly from held items, or in proportion to all-time popularity
/// from a reservoir (Vitter's algorithm R) of past positives: O(1) per draw and per update. A
/// draw equal to the positive is redrawn up to <see cref="MaxNegativeDraws"/> times, then dropped.</para>
/// <para>Not thread-safe; see <see cref="FactorLearner"/>.</para>
/// </remarks>
public sealed class BprLearner : FactorLearner
{
    public const string LearnerName = "bpr";

    /// <summary>Past positives kept for popularity sampling: 512 KiB, enough to estimate item frequencies well.</summary>
    public const int PopularityReservoirSize = 65_536;

    /// <summary>Draws per negative before giving up (only fails when nearly every draw hits the positive).</summary>
    public const int MaxNegativeDraws = 8;

    private readonly int _negatives;
    private readonly NegativeSampling _sampling;
    private readonly long[] _reservoir;
    private int _reservoirCount;
    private long _positivesSeen;

    /// <param name="sharedItems">Item state shared with other shards' learners, or null for items of its own.</param>
    public BprLearner(LearnerOptions options, SharedItems? sharedItems = null)
        : base(LearnerName, options, userBias: false, itemTermsPerEvent: 1 + options.Negatives, sharedItems)
    {
        _negatives = options.Negatives;
        _sampling = options.Sampling;
        _reservoir = _sampling == NegativeSampling.Popularity ? new long[PopularityReservoirSize] : [];
    }

    private protected override void OnPositive(int itemRow)
    {
        if (_sampling != NegativeSampling.Popularity)
        {
            return;
        }

        long key = ((long)Items.Ids.GenerationAt(itemRow) << 32) | (uint)itemRow;
        _positivesSeen++;
        if (_reservoirCount < _reservoir.Length)
        {
            _reservoir[_reservoirCount++] = key;
            return;
        }

        long slot = Random.NextInt64(_positivesSeen);
        if (slot < _reservoir.Length)
        {
            _reservoir[slot] = key;
        }
    }

    private protected override bool ComputeStep(in TrainingExample example, FactorStep step)
    {
        if (Items.Count < 2)
        {
            return true; // no item can be a negative yet: nothing to learn from this event
        }

        ScoreWithNegatives(example, _negatives, out ReadOnlySpan<int> rows, out ReadOnlySpan<float> scores);
        int stride = Items.Stride;
        float positiveBias = Items.ReadBias(example.ItemRow);
        float positiveScore = scores[0] + positiveBias;

        // Every loss gradient from the parameters as they are before this event. Negative n's term
        // is -g_n (on j_n in the user's gradient and on u in j_n's); the positive's, Σ g_n, comes last.
        float biasL2 = Resolved.BiasL2;
        float lossGradientSum = 0f;
        for (int t = 1; t < rows.Length; t++)
        {
            float negativeBias = Items.ReadBias(rows[t]);
            float margin = positiveScore - (scores[t] + negativeBias);
            // d(-w ln σ(x))/dx = -w σ(-x) = -w / (1 + e^x)
            float lossGradient = -example.Weight / (1f + MathF.Exp(margin));
            if (!TryClampGradient(ref lossGradient))
            {
                return false;
            }

            lossGradientSum += lossGradient;
            step.Add(rows[t], stride, -lossGradient, -lossGradient + (biasL2 * negativeBias));
        }

        step.Add(example.ItemRow, stride, lossGradientSum, lossGradientSum + (biasL2 * positiveBias));
        return true;
    }

    private protected override int SampleNegative(int positiveRow)
    {
        int itemCount = Items.Count;
        for (int draw = 0; draw < MaxNegativeDraws; draw++)
        {
            int row = _sampling == NegativeSampling.Popularity && _reservoirCount > 0
                ? FromReservoir(itemCount)
                : Random.NextInt(itemCount);
            if (row != positiveRow)
            {
                return row;
            }
        }

        return -1;
    }

    private int FromReservoir(int itemCount)
    {
        long key = _reservoir[Random.NextInt(_reservoirCount)];
        int row = (int)(key & 0xFFFFFFFF);
        // An evicted item's row now holds another item: fall back to a uniform draw.
        return row < itemCount && Items.Ids.GenerationAt(row) == (int)(key >> 32) ? row : Random.NextInt(itemCount);
    }
}
