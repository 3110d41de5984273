using StreamRec.Core.Engine;

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

    private readonly int[] _negativeRows;
    // The user gradient's item terms (each drawn negative, then the positive): their rows, the rows'
    // offsets in the item table and their coefficients.
    private readonly int[] _itemTermRows;
    private readonly int[] _itemTermOffsets;
    private readonly float[] _itemTermGradients;
    private readonly NegativeSampling _sampling;
    private readonly long[] _reservoir;
    private int _reservoirCount;
    private long _positivesSeen;

    /// <param name="sharedItems">Item state shared with other shards' learners, or null for items of its own.</param>
    public BprLearner(LearnerOptions options, SharedItems? sharedItems = null)
        : base(LearnerName, options, userBias: false, gradientEntriesPerEvent: 2 + options.Negatives, sharedItems)
    {
        _negativeRows = new int[options.Negatives];
        _itemTermRows = new int[1 + options.Negatives];
        _itemTermOffsets = new int[1 + options.Negatives];
        _itemTermGradients = new float[1 + options.Negatives];
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

    private protected override bool AccumulateGradients(in TrainingExample example, GradientBuffer gradients)
    {
        if (Items.Count < 2)
        {
            return true; // no item can be a negative yet: nothing to learn from this event
        }

        // Draw every negative first so that their rows load together (see EmbeddingTable.Prefetch).
        Span<int> negativeRows = _negativeRows;
        for (int n = 0; n < negativeRows.Length; n++)
        {
            negativeRows[n] = SampleNegative(example.ItemRow);
            Items.Prefetch(negativeRows[n]);
        }

        ReadOnlySpan<float> user = Users.ReadRow(example.UserRow);
        ReadOnlySpan<float> positive = Items.ReadRow(example.ItemRow);
        float positiveBias = Items.ReadBias(example.ItemRow);
        float positiveScore = VectorKernels.Dot(user, positive) + positiveBias;

        // Every loss gradient first, from the parameters as they are before this event. The user
        // gradient's negative terms are -g_n·j_n; the positive's, Σ g_n·i, come once at the end.
        int stride = Items.Stride;
        Span<int> termRows = _itemTermRows;
        Span<int> termOffsets = _itemTermOffsets;
        Span<float> termGradients = _itemTermGradients;
        int terms = 0;
        float lossGradientSum = 0f;
        foreach (int negativeRow in negativeRows)
        {
            if (negativeRow < 0)
            {
                continue;
            }

            float margin = positiveScore - (VectorKernels.Dot(user, Items.ReadRow(negativeRow)) + Items.ReadBias(negativeRow));
            // d(-w ln σ(x))/dx = -w σ(-x) = -w / (1 + e^x)
            float lossGradient = -example.Weight / (1f + MathF.Exp(margin));
            if (!TryClampGradient(ref lossGradient))
            {
                return false;
            }

            lossGradientSum += lossGradient;
            termRows[terms] = negativeRow;
            termOffsets[terms] = negativeRow * stride;
            termGradients[terms] = -lossGradient;
            terms++;
        }

        termOffsets[terms] = example.ItemRow * stride;
        termGradients[terms] = lossGradientSum;
        float l2 = Resolved.L2;
        float biasL2 = Resolved.BiasL2;
        int userEntry = gradients.Add(Users, example.UserRow);
        gradients.SetWeightedRowSum(userEntry, l2, user, Items.AllVectors, termOffsets[..(terms + 1)], termGradients[..(terms + 1)]);

        int positiveEntry = gradients.Add(Items, example.ItemRow);
        gradients.SetScaledSum(positiveEntry, l2, positive, lossGradientSum, user);
        gradients.Bias(positiveEntry) = lossGradientSum + (biasL2 * positiveBias);

        for (int t = 0; t < terms; t++)
        {
            int negativeRow = termRows[t];
            int negativeEntry = gradients.Add(Items, negativeRow);
            gradients.SetScaledSum(negativeEntry, l2, Items.ReadRow(negativeRow), termGradients[t], user);
            gradients.Bias(negativeEntry) = termGradients[t] + (biasL2 * Items.ReadBias(negativeRow));
        }

        return true;
    }

    private int SampleNegative(int positiveRow)
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
