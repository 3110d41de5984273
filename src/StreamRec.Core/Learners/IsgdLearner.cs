using System.Numerics.Tensors;

namespace StreamRec.Core.Learners;

/// <summary>
/// Incremental SGD for positive-only feedback (Vinagre, Jorge and Gama, 2014): every event is a
/// positive with target 1. Loss per event:
/// <c>w/2 · (1 - u·i - b_i)² + L2/2 · (|u|² + |i|²) + BiasL2/2 · b_i²</c> (b_i only with an item bias).
/// </summary>
/// <remarks>Not thread-safe; see <see cref="FactorLearner"/>.</remarks>
public sealed class IsgdLearner : FactorLearner
{
    public const string LearnerName = "isgd";

    /// <param name="sharedItems">Item state shared with other shards' learners, or null for items of its own.</param>
    public IsgdLearner(LearnerOptions options, SharedItems? sharedItems = null)
        : base(LearnerName, options, userBias: false, gradientEntriesPerEvent: 2, sharedItems)
    {
    }

    private protected override bool AccumulateGradients(in TrainingExample example, GradientBuffer gradients)
    {
        ReadOnlySpan<float> user = Users.ReadRow(example.UserRow);
        ReadOnlySpan<float> item = Items.ReadRow(example.ItemRow);
        float itemBias = Items.ReadBias(example.ItemRow);
        float prediction = TensorPrimitives.Dot(user, item) + itemBias;
        // d loss / d prediction = -w (1 - prediction)
        float lossGradient = -example.Weight * (1f - prediction);
        if (!TryClampGradient(ref lossGradient))
        {
            return false;
        }

        float l2 = Resolved.L2;
        int userEntry = gradients.Add(Users, example.UserRow);
        Span<float> userGradient = gradients.StartWithL2(userEntry, user, l2);
        TensorPrimitives.MultiplyAdd(item, lossGradient, userGradient, userGradient);

        int itemEntry = gradients.Add(Items, example.ItemRow);
        Span<float> itemGradient = gradients.StartWithL2(itemEntry, item, l2);
        TensorPrimitives.MultiplyAdd(user, lossGradient, itemGradient, itemGradient);
        gradients.Bias(itemEntry) = lossGradient + (Resolved.BiasL2 * itemBias);
        return true;
    }
}
