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

    private readonly int _negatives;

    /// <param name="sharedItems">Item state shared with other shards' learners, or null for items of its own.</param>
    public IsgdLearner(LearnerOptions options, SharedItems? sharedItems = null)
        : base(LearnerName, options, userBias: false, itemTermsPerEvent: 1 + options.Negatives, sharedItems)
    {
        _negatives = options.Negatives;
    }

    private protected override bool ComputeStep(in TrainingExample example, FactorStep step)
    {
        ScoreWithNegatives(example, _negatives, out ReadOnlySpan<int> rows, out ReadOnlySpan<float> scores);
        int stride = Items.Stride;
        // Every loss gradient from the parameters as they are before this event: the positive
        // (d loss / d prediction = -w (1 - prediction)), then each negative (w (prediction - 0)).
        float biasL2 = Resolved.BiasL2;
        for (int t = 0; t < rows.Length; t++)
        {
            float bias = Items.ReadBias(rows[t]);
            float prediction = scores[t] + bias;
            float lossGradient = t == 0 ? -example.Weight * (1f - prediction) : example.Weight * prediction;
            if (!TryClampGradient(ref lossGradient))
            {
                return false;
            }

            step.Add(rows[t], stride, lossGradient, lossGradient + (biasL2 * bias));
        }

        return true;
    }

    /// <summary>A uniformly drawn held item other than the positive, or -1 (see <see cref="BprLearner.MaxNegativeDraws"/>).</summary>
    private protected override int SampleNegative(int positiveRow)
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
