using StreamRec.Core.Engine;

namespace StreamRec.Core.Learners;

/// <summary>
/// Incremental SGD for positive-only feedback (Vinagre, Jorge and Gama, 2014) with sampled
/// negatives: every event is a positive with target 1, and each of N items drawn uniformly from
/// the other held items is a negative with target 0. Loss per event with positive i and negatives j_n:
/// <c>w/2 · ((1 - ŷ_i)² + Σ_n ŷ_jn²) + L2/2 · (|u|² + |i|² + Σ_n |j_n|²) + BiasL2/2 · (b_i² + Σ_n b_jn²)</c>,
/// where <c>ŷ = u·i + b_i</c>.
/// </summary>
/// <remarks>
/// <para>Without negatives, target-1 squared loss only ever raises scores: every score it learns
/// saturates at 1, old tastes are never lowered, and after a change of taste the new items can at
/// best tie with the old ones. Negatives give the loss a reason to lower scores, and the item bias
/// then learns how often an item is a positive rather than a random draw, which is popularity.</para>
/// <para>Not thread-safe; see <see cref="FactorLearner"/>.</para>
/// </remarks>
public sealed class IsgdLearner : FactorLearner
{
    public const string LearnerName = "isgd";

    private readonly int[] _negativeRows;
    // The user gradient's item terms (the positive, then each drawn negative): their rows, the rows'
    // offsets in the item table and their loss gradients.
    private readonly int[] _itemTermRows;
    private readonly int[] _itemTermOffsets;
    private readonly float[] _itemTermGradients;

    /// <param name="sharedItems">Item state shared with other shards' learners, or null for items of its own.</param>
    public IsgdLearner(LearnerOptions options, SharedItems? sharedItems = null)
        : base(LearnerName, options, userBias: false, gradientEntriesPerEvent: 2 + options.Negatives, sharedItems)
    {
        _negativeRows = new int[options.Negatives];
        _itemTermRows = new int[1 + options.Negatives];
        _itemTermOffsets = new int[1 + options.Negatives];
        _itemTermGradients = new float[1 + options.Negatives];
    }

    private protected override bool AccumulateGradients(in TrainingExample example, GradientBuffer gradients)
    {
        // Draw every negative first so that their rows load together (see EmbeddingTable.Prefetch).
        Span<int> negativeRows = _negativeRows;
        for (int n = 0; n < negativeRows.Length; n++)
        {
            negativeRows[n] = SampleNegative(example.ItemRow);
            Items.Prefetch(negativeRows[n]);
        }

        ReadOnlySpan<float> user = Users.ReadRow(example.UserRow);
        ReadOnlySpan<float> item = Items.ReadRow(example.ItemRow);
        float itemBias = Items.ReadBias(example.ItemRow);
        float prediction = VectorKernels.Dot(user, item) + itemBias;
        // d loss / d prediction = -w (1 - prediction)
        float lossGradient = -example.Weight * (1f - prediction);
        if (!TryClampGradient(ref lossGradient))
        {
            return false;
        }

        // Every loss gradient first, from the parameters as they are before this event.
        int stride = Items.Stride;
        Span<int> termRows = _itemTermRows;
        Span<int> termOffsets = _itemTermOffsets;
        Span<float> termGradients = _itemTermGradients;
        termRows[0] = example.ItemRow;
        termOffsets[0] = example.ItemRow * stride;
        termGradients[0] = lossGradient;
        int terms = 1;
        foreach (int negativeRow in negativeRows)
        {
            if (negativeRow < 0)
            {
                continue;
            }

            // d loss / d prediction = w (prediction - 0)
            float negativeGradient = example.Weight * (VectorKernels.Dot(user, Items.ReadRow(negativeRow)) + Items.ReadBias(negativeRow));
            if (!TryClampGradient(ref negativeGradient))
            {
                return false;
            }

            termRows[terms] = negativeRow;
            termOffsets[terms] = negativeRow * stride;
            termGradients[terms] = negativeGradient;
            terms++;
        }

        float l2 = Resolved.L2;
        float biasL2 = Resolved.BiasL2;
        // u: l2·u + g·i + Σ g_n·j_n, one pass over the user and item rows.
        int userEntry = gradients.Add(Users, example.UserRow);
        gradients.SetWeightedRowSum(userEntry, l2, user, Items.AllVectors, termOffsets[..terms], termGradients[..terms]);

        int itemEntry = gradients.Add(Items, example.ItemRow);
        gradients.SetScaledSum(itemEntry, l2, item, lossGradient, user);
        gradients.Bias(itemEntry) = lossGradient + (biasL2 * itemBias);

        for (int t = 1; t < terms; t++)
        {
            int negativeRow = termRows[t];
            int negativeEntry = gradients.Add(Items, negativeRow);
            gradients.SetScaledSum(negativeEntry, l2, Items.ReadRow(negativeRow), termGradients[t], user);
            gradients.Bias(negativeEntry) = termGradients[t] + (biasL2 * Items.ReadBias(negativeRow));
        }

        return true;
    }

    /// <summary>A uniformly drawn held item other than the positive, or -1 (see <see cref="BprLearner.MaxNegativeDraws"/>).</summary>
    private int SampleNegative(int positiveRow)
    {
        int itemCount = Items.Count;
        if (itemCount < 2)
        {
            return -1;
        }

        for (int draw = 0; draw < BprLearner.MaxNegativeDraws; draw++)
        {
            int row = Random.NextInt(itemCount);
            if (row != positiveRow)
            {
                return row;
            }
        }

        return -1;
    }
}
