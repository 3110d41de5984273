using System.Numerics.Tensors;
using StreamRec.Contracts.V1;
using StreamRec.Core.Engine;
using StreamRec.Core.Model;

namespace StreamRec.Core.Learners;

/// <summary>
/// Biased matrix factorisation for explicit ratings ("mse"):
/// <c>ŷ = μ + b_u + b_i + u·i</c>, with μ the running mean of all ratings (updated before each step).
/// Loss per rating: <c>(ŷ - y)² + L2/2 (|u|² + |i|²) + BiasL2/2 (b_u² + b_i²)</c>; the squared error
/// is not halved, so the rates mean what they mean in River's BiasedMF. Predictions are clipped to
/// [RatingMin, RatingMax]; training uses the unclipped ŷ. Only rating events are learned.
/// </summary>
/// <remarks>Not thread-safe; see <see cref="FactorLearner"/>.</remarks>
public sealed class BiasedMfLearner : FactorLearner
{
    public const string LearnerName = "mse";

    private double _ratingSum;
    private long _ratingCount;

    /// <param name="sharedItems">Item state shared with other shards' learners, or null for items of its own.</param>
    public BiasedMfLearner(LearnerOptions options, SharedItems? sharedItems = null)
        : base(LearnerName, options, userBias: true, itemTermsPerEvent: 1, sharedItems)
    {
    }

    /// <inheritdoc />
    public override IReadOnlyDictionary<string, double> ReadScalarState() =>
        new Dictionary<string, double> { ["rating_sum"] = _ratingSum, ["rating_count"] = _ratingCount };

    /// <inheritdoc />
    public override void RestoreScalarState(IReadOnlyDictionary<string, double> state)
    {
        ArgumentNullException.ThrowIfNull(state);
        _ratingSum = state.GetValueOrDefault("rating_sum");
        _ratingCount = (long)state.GetValueOrDefault("rating_count");
    }

    /// <summary>The running mean of the ratings learned so far (0 before the first).</summary>
    public double GlobalMean => _ratingCount == 0 ? 0.0 : _ratingSum / _ratingCount;

    /// <summary>Ratings learned so far.</summary>
    public long RatingCount => _ratingCount;

    /// <summary>Restores the running mean's state (checkpoint layer).</summary>
    public void RestoreGlobalMean(double ratingSum, long ratingCount)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(ratingCount);
        _ratingSum = ratingSum;
        _ratingCount = ratingCount;
    }

    /// <inheritdoc />
    /// <remarks>Unknown users or items contribute 0 (no bias, no interaction term).</remarks>
    public override float? PredictRating(string userId, string itemId)
    {
        double prediction = GlobalMean;
        bool knowsUser = Users.TryGetRow(userId, out int userRow);
        bool knowsItem = Items.TryGetRow(itemId, out int itemRow);
        if (knowsUser)
        {
            prediction += Users.ReadBias(userRow);
        }

        if (knowsItem)
        {
            prediction += Items.ReadBias(itemRow);
        }

        if (knowsUser && knowsItem)
        {
            prediction += TensorPrimitives.Dot(Users.ReadRow(userRow), Items.ReadRow(itemRow));
        }

        return double.IsFinite(prediction) ? (float)Math.Clamp(prediction, RatingMin, RatingMax) : (float)GlobalMean;
    }

    private protected override bool Accepts(in Interaction interaction) =>
        interaction.Type == EventType.Rating && float.IsFinite(interaction.Value);

    private protected override bool ComputeStep(in TrainingExample example, FactorStep step)
    {
        _ratingSum += example.Value;
        _ratingCount++;

        float userBias = Users.ReadBias(example.UserRow);
        float itemBias = Items.ReadBias(example.ItemRow);
        float prediction = (float)GlobalMean + userBias + itemBias + VectorKernels.Dot(Users.ReadRow(example.UserRow), Items.ReadRow(example.ItemRow));
        float lossGradient = 2f * (prediction - example.Value);
        if (!TryClampGradient(ref lossGradient))
        {
            return false;
        }

        float biasL2 = Resolved.BiasL2;
        step.UserBiasGradient = lossGradient + (biasL2 * userBias);
        step.Add(example.ItemRow, Items.Stride, lossGradient, lossGradient + (biasL2 * itemBias));
        return true;
    }
}
