using System.Numerics.Tensors;

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
    private readonly NegativeSampling _sampling;
    private readonly long[] _reservoir;
    private int _reservoirCount;
    private long _positivesSeen;

    /// <param name="sharedItems">Item state shared with other shards' learners, or null for items of its own.</param>
    public BprLearner(LearnerOptions options, SharedItems? sharedItems = null)
        : base(LearnerName, options, userBias: false, gradientEntriesPerEvent: 2 + options.Negatives, sharedItems)
    {
        _negativeRows = new int[options.Negatives];
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
        float positiveScore = TensorPrimitives.Dot(user, positive) + positiveBias;
        float l2 = Resolved.L2;
        float biasL2 = Resolved.BiasL2;

        int userEntry = gradients.Add(Users, example.UserRow);
        Span<float> userGradient = gradients.StartWithL2(userEntry, user, l2);
        int positiveEntry = gradients.Add(Items, example.ItemRow);

        // Σ_n of the loss gradients: the positive's terms (-Σg·u for i, -Σg·i for u) are added once
        // after the loop instead of once per negative.
        float lossGradientSum = 0f;
        foreach (int negativeRow in negativeRows)
        {
            if (negativeRow < 0)
            {
                continue;
            }

            ReadOnlySpan<float> negative = Items.ReadRow(negativeRow);
            float negativeBias = Items.ReadBias(negativeRow);
            float margin = positiveScore - (TensorPrimitives.Dot(user, negative) + negativeBias);
            // d(-w ln σ(x))/dx = -w σ(-x) = -w / (1 + e^x)
            float lossGradient = -example.Weight / (1f + MathF.Exp(margin));
            if (!TryClampGradient(ref lossGradient))
            {
                return false;
            }

            lossGradientSum += lossGradient;
            TensorPrimitives.MultiplyAdd(negative, -lossGradient, userGradient, userGradient);
            int negativeEntry = gradients.Add(Items, negativeRow);
            Span<float> negativeGradient = gradients.StartWithL2(negativeEntry, negative, l2);
            TensorPrimitives.MultiplyAdd(user, -lossGradient, negativeGradient, negativeGradient);
            gradients.Bias(negativeEntry) = -lossGradient + (biasL2 * negativeBias);
        }

        TensorPrimitives.MultiplyAdd(positive, lossGradientSum, userGradient, userGradient);
        Span<float> positiveGradient = gradients.StartWithL2(positiveEntry, positive, l2);
        TensorPrimitives.MultiplyAdd(user, lossGradientSum, positiveGradient, positiveGradient);
        gradients.Bias(positiveEntry) = lossGradientSum + (biasL2 * positiveBias);
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
