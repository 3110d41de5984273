using StreamRec.Core.Engine;
using StreamRec.Core.Model;

namespace StreamRec.Core.Learners;

/// <summary>
/// Non-personalised rankings from weighted event counts: "popularity" (all-time counts) and
/// "trending" (counts decaying with a half-life in event time, see <see cref="DecayedItemCounts"/>).
/// Every user gets the same ranking, minus the items they have seen.
/// </summary>
/// <remarks>
/// Counts are exact in either update mode, so <see cref="LearnerOptions.MiniBatchSize"/> does not
/// apply. Not thread-safe: one learner per shard thread.
/// </remarks>
public sealed class CountLearner : IOnlineRecommender
{
    public const string PopularityName = "popularity";
    public const string TrendingName = "trending";

    private readonly EventWeightOptions _eventWeights;
    private readonly float _ratingMax;
    private readonly SeenItems _seen;
    private readonly TopKScorer _scorer = new();
    private readonly int[] _excludedRows;
    private ScoredRow[] _rankedRows = new ScoredRow[16];

    /// <param name="name"><see cref="PopularityName"/> or <see cref="TrendingName"/>.</param>
    public CountLearner(string name, LearnerOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        if (name is not (PopularityName or TrendingName))
        {
            throw new ArgumentException($"Expected '{PopularityName}' or '{TrendingName}'.", nameof(name));
        }

        ResolvedOptions resolved = options.Resolve(name);
        Name = name;
        _eventWeights = options.EventWeights;
        _ratingMax = options.RatingMax;
        Users = new IdMap(options.MaxUsers, options.InitialRows);
        Items = new IdMap(options.MaxItems, options.InitialRows);
        Counts = new DecayedItemCounts(name == TrendingName ? resolved.TrendingHalfLifeMs : double.PositiveInfinity, Items.Capacity);
        _seen = new SeenItems(options.SeenHistoryLength, Users.Capacity);
        _excludedRows = new int[options.SeenHistoryLength];
    }

    /// <inheritdoc />
    public string Name { get; }

    /// <summary>Users held (for seen-item exclusion).</summary>
    public IdMap Users { get; }

    /// <summary>Items held; rows index <see cref="Counts"/>.</summary>
    public IdMap Items { get; }

    /// <summary>The (decayed) counts by item row.</summary>
    public DecayedItemCounts Counts { get; }

    /// <summary>Events ignored: unspecified type or non-positive weight.</summary>
    public long IgnoredEvents { get; private set; }

    /// <inheritdoc />
    public bool KnowsUser(string userId) => Users.Contains(userId);

    /// <inheritdoc />
    public void Learn(in Interaction interaction)
    {
        float weight = _eventWeights.WeightOf(interaction, _ratingMax);
        if (!(weight > 0f) || !float.IsFinite(weight))
        {
            IgnoredEvents++;
            return;
        }

        IdLookup user = Users.GetOrAdd(interaction.UserId);
        if (user.IsNew)
        {
            _seen.EnsureCapacity(Users.Capacity);
            _seen.Reset(user.Row);
        }

        // The history loads while the item is looked up.
        _seen.Prefetch(user.Row);

        IdLookup item = Items.GetOrAdd(interaction.ItemId);
        if (item.IsNew)
        {
            Counts.EnsureCapacity(Items.Capacity);
            Counts.Reset(item.Row);
        }

        _seen.Record(user.Row, item.Row, Items.GenerationAt(item.Row));
        Counts.Observe(item.Row, weight, interaction.EventTimeMs);
    }

    /// <inheritdoc />
    /// <remarks>Scores are counts relative to an internal reference (comparable within one call). Ties rank the lower item row (the earlier-seen item) first.</remarks>
    public int Recommend(string userId, Span<ScoredItem> destination, bool excludeSeen = true)
    {
        if (destination.IsEmpty || Items.Count == 0)
        {
            return 0;
        }

        if (_rankedRows.Length < destination.Length)
        {
            _rankedRows = new ScoredRow[destination.Length];
        }

        int excludedCount = excludeSeen && Users.TryGetRow(userId, out int userRow)
            ? _seen.CopyLiveRows(userRow, Items, _excludedRows)
            : 0;
        Span<ScoredRow> ranked = _rankedRows.AsSpan(0, destination.Length);
        int written = _scorer.TopKOfScores(Counts.RelativeScores[..Items.Count], _excludedRows.AsSpan(0, excludedCount), ranked);
        for (int i = 0; i < written; i++)
        {
            destination[i] = new ScoredItem(Items.IdAt(ranked[i].Row), ranked[i].Score);
        }

        return written;
    }

    /// <inheritdoc />
    public float? PredictRating(string userId, string itemId) => null;
}
