using StreamRec.Redis.Checkpoints;

namespace StreamRec.Reader.Serving;

/// <summary>
/// Trending log-space scores by item id (popularity ∝ exp(score), one reference time for all). Immutable:
/// a delta builds a new table. Thread-safe for reads.
/// </summary>
internal sealed class TrendingTable
{
    public static readonly TrendingTable Empty = new(0, new Dictionary<string, float>(StringComparer.Ordinal));

    private TrendingTable(long referenceTimeMs, Dictionary<string, float> logScores)
    {
        ReferenceTimeMs = referenceTimeMs;
        LogScores = logScores;
        MaxLogScore = logScores.Count == 0 ? float.NegativeInfinity : logScores.Values.Max();
    }

    public long ReferenceTimeMs { get; }

    public IReadOnlyDictionary<string, float> LogScores { get; }

    public float MaxLogScore { get; }

    public static TrendingTable From(TrendingState? state)
    {
        if (state is null)
        {
            return Empty;
        }

        var scores = new Dictionary<string, float>(state.Scores.Count, StringComparer.Ordinal);
        foreach (var entry in state.Scores)
        {
            scores[entry.Id] = entry.Score;
        }

        return new TrendingTable(state.ReferenceTimeMs, scores);
    }

    /// <summary>A new table where the entries of <paramref name="delta"/> replace those with the same id.</summary>
    public TrendingTable With(TrendingState? delta)
    {
        if (delta is null || delta.Scores.Count == 0)
        {
            return this;
        }

        var scores = new Dictionary<string, float>((Dictionary<string, float>)LogScores, StringComparer.Ordinal);
        foreach (var entry in delta.Scores)
        {
            scores[entry.Id] = entry.Score;
        }

        return new TrendingTable(delta.ReferenceTimeMs, scores);
    }

    /// <summary>Popularity relative to the most popular item: exp(score - max), in (0, 1].</summary>
    public float Normalized(float logScore) => MathF.Exp(logScore - MaxLogScore);
}
