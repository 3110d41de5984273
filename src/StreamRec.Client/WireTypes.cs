namespace StreamRec.Client;

/// <summary>One recommended item and its score (higher is better).</summary>
public sealed record RecommendedItem(string Id, float Score);

/// <summary>Where a user's list came from.</summary>
public static class RecommendationSources
{
    /// <summary>Ranked by the user's embedding against every item.</summary>
    public const string Personalized = "personalized";

    /// <summary>The user is unknown to the model: the trending list.</summary>
    public const string Trending = "trending";
}

/// <summary>
/// The top-k list of one user. <see cref="Version"/> is the reader's model generation (it increases with
/// every swap of the served model); <see cref="ModelVersion"/> names the checkpoint version served.
/// </summary>
public sealed record UserRecommendations(string User, string Model, long Version, string ModelVersion, string Source, IReadOnlyList<RecommendedItem> Items);

/// <summary>Body of <c>POST /v1/recommendations:batch</c>. Null <see cref="K"/> or <see cref="ExcludeSeen"/> take the defaults (10, true).</summary>
public sealed record BatchRecommendationsRequest(IReadOnlyList<string>? Users, int? K = null, bool? ExcludeSeen = null);

/// <summary>Lists of several users, all answered from one model generation.</summary>
public sealed record BatchRecommendations(string Model, long Version, string ModelVersion, IReadOnlyList<UserRecommendations> Results);

/// <summary>Items most similar (cosine) to <see cref="Item"/>, the item itself excluded.</summary>
public sealed record SimilarItems(string Item, string Model, long Version, string ModelVersion, IReadOnlyList<RecommendedItem> Items);

/// <summary>The most popular items now; scores are popularity relative to the most popular item (1).</summary>
public sealed record TrendingItems(string Model, long Version, string ModelVersion, IReadOnlyList<RecommendedItem> Items);
