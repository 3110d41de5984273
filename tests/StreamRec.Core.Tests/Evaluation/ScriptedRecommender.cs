using StreamRec.Core.Model;

namespace StreamRec.Core.Tests.Evaluation;

/// <summary>
/// A recommender whose answers are fixed by the test: every user gets <see cref="Ranking"/>
/// (ignoring excludeSeen, so the evaluator's own exclusion is what is tested) and every rating
/// prediction is <see cref="Prediction"/>. It records what it learned.
/// </summary>
internal sealed class ScriptedRecommender(params ScoredItem[] ranking) : IOnlineRecommender
{
    private readonly HashSet<string> _users = [];

    public ScoredItem[] Ranking { get; set; } = ranking;

    public float? Prediction { get; set; }

    public List<Interaction> Learned { get; } = [];

    public string Name => "scripted";

    public bool KnowsUser(string userId) => _users.Contains(userId);

    public void Learn(in Interaction interaction)
    {
        Learned.Add(interaction);
        _users.Add(interaction.UserId);
    }

    public int Recommend(string userId, Span<ScoredItem> destination, bool excludeSeen = true)
    {
        int count = Math.Min(destination.Length, Ranking.Length);
        Ranking.AsSpan(0, count).CopyTo(destination);
        return count;
    }

    public float? PredictRating(string userId, string itemId) => Prediction;

    /// <summary>Items with strictly decreasing scores, in the order given.</summary>
    public static ScoredItem[] Ranked(params string[] items) =>
        items.Select((item, index) => new ScoredItem(item, items.Length - index)).ToArray();
}
