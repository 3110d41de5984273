using System.Globalization;
using System.Numerics.Tensors;
using StreamRec.Client;
using StreamRec.Core.Engine;

namespace StreamRec.Reader.Serving;

/// <summary>
/// One generation of the served model: items, trending and the users of every chain of one version.
/// Immutable; the follower builds a new one per change and swaps it in, so a request that read the
/// current instance once answers wholly from it while newer generations appear.
/// </summary>
internal sealed class ServingModel
{
    /// <summary>Learner option naming the weight of normalised trending in personalised scores.</summary>
    public const string TrendingBlendOption = "trending_blend";

    private readonly ChainContent[] _chains;

    private ServingModel(string model, string version, long generation, ChainContent[] chains, ItemTable items, TrendingTable trending, float blendWeight, int maxK, ServingModel? previous)
    {
        Model = model;
        Version = version;
        Generation = generation;
        _chains = chains;
        Items = items;
        Trending = trending;
        BlendWeight = blendWeight;
        CreatedAtMs = chains.Length == 0 ? 0 : chains.Max(c => c.CreatedAtMs);
        // A change that touched only users (most deltas) shares everything derived from items and trending.
        if (previous is not null && ReferenceEquals(previous.Items, items) && ReferenceEquals(previous.Trending, trending)
            && previous.BlendWeight.Equals(blendWeight) && previous.TopTrending.Count == Math.Min(maxK, trending.LogScores.Count))
        {
            Prior = previous.Prior;
            TopTrending = previous.TopTrending;
            ApproximateOffsets = previous.ApproximateOffsets;
            return;
        }

        Prior = new float[items.Count];
        if (trending.LogScores.Count > 0)
        {
            for (var row = 0; row < items.Count; row++)
            {
                Prior[row] = trending.LogScores.TryGetValue(items.Ids[row], out var score) ? trending.Normalized(score) : 0f;
            }
        }

        TopTrending = RankTrending(trending, maxK);
        ApproximateOffsets = items.Quantized is { } quantized ? OffsetsOf(items, quantized, Prior, blendWeight, trending) : [];
    }

    public string Model { get; }

    /// <summary>The checkpoint version served.</summary>
    public string Version { get; }

    /// <summary>Counts swaps since the reader started; reported as a response's <c>version</c>.</summary>
    public long Generation { get; }

    /// <summary>Newest manifest time among the chains, ms since the Unix epoch.</summary>
    public long CreatedAtMs { get; }

    public ItemTable Items { get; }

    public TrendingTable Trending { get; }

    /// <summary>Normalised trending (exp(score - max)) by item row; 0 for items without a trending entry.</summary>
    public float[] Prior { get; }

    /// <summary>
    /// Per-row <c>bias + blend·prior</c> for the int8 first pass of ranking, padded to whole blocks with
    /// negative infinity; empty when the items have no int8 copy.
    /// </summary>
    public float[] ApproximateOffsets { get; }

    /// <summary>Weight of <see cref="Prior"/> in personalised scores, as the learner blends.</summary>
    public float BlendWeight { get; }

    /// <summary>The most popular items, best first, as many as the largest k allowed.</summary>
    public IReadOnlyList<RecommendedItem> TopTrending { get; }

    public IReadOnlyList<ChainContent> Chains => _chains;

    public int UserCount => _chains.Sum(c => c.Users.Count);

    /// <summary>
    /// The generation of <paramref name="chains"/>. What depends only on items and trending (the prior, the
    /// trending list, the first pass's offsets) is taken from <paramref name="previous"/> when it holds the same ones.
    /// </summary>
    public static ServingModel Build(string model, string version, long generation, IReadOnlyCollection<ChainContent> chains, string itemsChain, int maxK, ServingModel? previous = null)
    {
        var ordered = chains.OrderBy(c => c.ChainVersion, StringComparer.Ordinal).ToArray();
        var source = ordered.FirstOrDefault(c => c.ChainVersion == itemsChain);
        var items = source?.Items ?? ItemTable.Empty(1);
        var trending = source?.Trending ?? TrendingTable.Empty;
        var blend = BlendWeightOf(source);
        return new ServingModel(model, version, generation, ordered, items, trending, blend, maxK, previous);
    }

    /// <summary>The user's row, from whichever chain holds it.</summary>
    public bool TryGetUser(string userId, out UserEntry user)
    {
        foreach (var chain in _chains)
        {
            if (chain.Users.TryGetValue(userId, out user!))
            {
                return true;
            }
        }

        user = null!;
        return false;
    }

    private static float BlendWeightOf(ChainContent? source)
    {
        if (source is null)
        {
            return 0f;
        }

        if (source.LearnerOptions.TryGetValue(TrendingBlendOption, out var text)
            && float.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var weight) && weight >= 0f && float.IsFinite(weight))
        {
            return weight;
        }

        // The learners' own defaults when the writer did not record the option.
        return source.Learner == "isgd" ? 0.3f : 0f;
    }

    private static float[] OffsetsOf(ItemTable items, QuantizedItems quantized, float[] prior, float blendWeight, TrendingTable trending)
    {
        var offsets = new float[quantized.PaddedCount];
        var rows = offsets.AsSpan(0, items.Count);
        items.Biases.CopyTo(rows);
        if (blendWeight != 0f && trending.LogScores.Count > 0)
        {
            TensorPrimitives.MultiplyAdd(prior, blendWeight, rows, rows);
        }

        offsets.AsSpan(items.Count).Fill(float.NegativeInfinity);
        return offsets;
    }

    private static RecommendedItem[] RankTrending(TrendingTable trending, int maxK)
    {
        if (trending.LogScores.Count == 0)
        {
            return [];
        }

        var ids = new string[trending.LogScores.Count];
        var scores = new float[ids.Length];
        var at = 0;
        foreach (var (id, score) in trending.LogScores)
        {
            ids[at] = id;
            scores[at++] = trending.Normalized(score);
        }

        var ranked = new ScoredRow[Math.Min(maxK, ids.Length)];
        var written = new TopKScorer().TopKOfScores(scores, [], ranked);
        return [.. ranked.Take(written).Select(r => new RecommendedItem(ids[r.Row], r.Score))];
    }
}
