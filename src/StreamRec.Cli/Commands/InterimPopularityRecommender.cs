using StreamRec.Core.Model;

namespace StreamRec.Cli.Commands;

/// <summary>
/// All-time popularity: items ranked by event count, ties by item id (ordinal). It serves the
/// eval command while the full learner library is not part of this build.
/// </summary>
internal sealed class InterimPopularityRecommender : IOnlineRecommender
{
    private readonly Dictionary<string, long> _counts = new(StringComparer.Ordinal);
    private readonly Dictionary<string, HashSet<string>> _history = new(StringComparer.Ordinal);

    public string Name => "popularity";

    public bool KnowsUser(string userId) => _history.ContainsKey(userId);

    public void Learn(in Interaction interaction)
    {
        _counts[interaction.ItemId] = _counts.GetValueOrDefault(interaction.ItemId) + 1;
        if (!_history.TryGetValue(interaction.UserId, out var items))
        {
            items = new HashSet<string>(StringComparer.Ordinal);
            _history.Add(interaction.UserId, items);
        }

        items.Add(interaction.ItemId);
    }

    public int Recommend(string userId, Span<ScoredItem> destination, bool excludeSeen = true)
    {
        HashSet<string>? seen = excludeSeen ? _history.GetValueOrDefault(userId) : null;
        int count = 0;
        foreach (var (item, itemCount) in _counts)
        {
            if (seen is not null && seen.Contains(item))
            {
                continue;
            }

            // Insertion into the sorted prefix: the list is short (k plus slack).
            var candidate = new ScoredItem(item, itemCount);
            int position = count;
            while (position > 0 && Before(candidate, destination[position - 1]))
            {
                position--;
            }

            if (position >= destination.Length)
            {
                continue;
            }

            int last = Math.Min(count, destination.Length - 1);
            for (int i = last; i > position; i--)
            {
                destination[i] = destination[i - 1];
            }

            destination[position] = candidate;
            count = Math.Min(count + 1, destination.Length);
        }

        return count;
    }

    public float? PredictRating(string userId, string itemId) => null;

    private static bool Before(ScoredItem a, ScoredItem b) =>
        a.Score > b.Score || (a.Score == b.Score && string.CompareOrdinal(a.ItemId, b.ItemId) < 0);
}
