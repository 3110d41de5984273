namespace StreamRec.Core.Model;

/// <summary>An item and its score in a ranked list, best first.</summary>
public readonly record struct ScoredItem(string ItemId, float Score);

/// <summary>
/// A model that learns from one event at a time and ranks items for a user: the contract shared by
/// the learners, the prequential evaluator, the worker's shards and the reader.
/// </summary>
/// <remarks>Not thread-safe unless an implementation says otherwise: one shard, one thread.</remarks>
public interface IOnlineRecommender
{
    /// <summary>The learner's CLI name, for example "isgd".</summary>
    string Name { get; }

    /// <summary>True once the user has been trained on and is still held (not evicted).</summary>
    bool KnowsUser(string userId);

    /// <summary>Trains on one event (the "train" half of test-then-train).</summary>
    void Learn(in Interaction interaction);

    /// <summary>
    /// Writes the user's top items into <paramref name="destination"/>, best first, and returns how
    /// many were written (at most its length). Unknown users get the model's cold-start ranking.
    /// </summary>
    /// <param name="excludeSeen">Leave out items the user already interacted with (bounded history).</param>
    int Recommend(string userId, Span<ScoredItem> destination, bool excludeSeen = true);

    /// <summary>The predicted rating for a pair, or null when the model does not predict ratings.</summary>
    float? PredictRating(string userId, string itemId);
}
