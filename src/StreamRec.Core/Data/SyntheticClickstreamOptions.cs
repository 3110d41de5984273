namespace StreamRec.Core.Data;

/// <summary>
/// The shape of a synthetic clickstream. Defaults give a small catalogue with clear taste clusters
/// that a personalised model can learn within a few thousand events.
/// </summary>
/// <param name="Users">Number of distinct users (ids "u0".."u{Users-1}").</param>
/// <param name="Items">Catalogue size (ids "i0".."i{Items-1}"), including items released later.</param>
/// <param name="Events">How many events to produce.</param>
/// <param name="Clusters">Latent taste clusters; every user and item belongs to one.</param>
/// <param name="ShiftAt">
/// Event index (0-based) from which every user prefers the next cluster's items instead of their
/// own: an abrupt concept drift. Null for no shift.
/// </param>
/// <param name="Seed">Same seed and options, same stream.</param>
/// <param name="ClusterAffinity">Probability an event goes to the user's current cluster; otherwise to the global popularity ranking.</param>
/// <param name="ZipfExponent">Skew of item popularity within a cluster and overall (1 = classic Zipf).</param>
/// <param name="NewItemFraction">Share of the catalogue not available at the start and released evenly over the stream.</param>
/// <param name="FreshItemProbability">Probability an event goes to one of the most recently released items of the user's cluster.</param>
/// <param name="RatingFraction">Share of events that are explicit ratings (1-5, high inside the user's cluster) instead of implicit events.</param>
/// <param name="StartTimeMs">Event time of the first event, in milliseconds since the Unix epoch.</param>
/// <param name="MeanGapMs">Mean gap between consecutive events (exponentially distributed, at least 1 ms so times strictly increase).</param>
public sealed record SyntheticClickstreamOptions(
    int Users = 1_000,
    int Items = 2_000,
    long Events = 100_000,
    int Clusters = 8,
    long? ShiftAt = null,
    int Seed = 42,
    double ClusterAffinity = 0.85,
    double ZipfExponent = 1.0,
    double NewItemFraction = 0.2,
    double FreshItemProbability = 0.05,
    double RatingFraction = 0.0,
    long StartTimeMs = 1_767_225_600_000,
    double MeanGapMs = 1_000)
{
    /// <summary>Implicit event mix (view, click, add to cart, purchase); must sum to 1.</summary>
    public IReadOnlyList<double> EventTypeMix { get; init; } = [0.70, 0.20, 0.07, 0.03];

    /// <summary>Throws <see cref="ArgumentException"/> naming the first invalid option.</summary>
    public void Validate()
    {
        static void Require(bool condition, string name, string rule)
        {
            if (!condition)
            {
                throw new ArgumentException($"{name} {rule}.", name);
            }
        }

        Require(Users > 0, nameof(Users), "must be positive");
        Require(Items > 0, nameof(Items), "must be positive");
        Require(Events >= 0, nameof(Events), "must not be negative");
        Require(Clusters > 0 && Clusters <= Items, nameof(Clusters), "must be between 1 and Items");
        Require(ShiftAt is null || ShiftAt >= 0, nameof(ShiftAt), "must not be negative");
        Require(ClusterAffinity is >= 0 and <= 1, nameof(ClusterAffinity), "must be within [0, 1]");
        Require(ZipfExponent >= 0 && double.IsFinite(ZipfExponent), nameof(ZipfExponent), "must be a finite number >= 0");
        Require(NewItemFraction is >= 0 and < 1, nameof(NewItemFraction), "must be within [0, 1)");
        Require(FreshItemProbability is >= 0 and <= 1, nameof(FreshItemProbability), "must be within [0, 1]");
        Require(RatingFraction is >= 0 and <= 1, nameof(RatingFraction), "must be within [0, 1]");
        Require(MeanGapMs >= 1 && double.IsFinite(MeanGapMs), nameof(MeanGapMs), "must be at least 1");
        Require(EventTypeMix.Count == 4 && EventTypeMix.All(p => p >= 0) && Math.Abs(EventTypeMix.Sum() - 1) < 1e-6,
            nameof(EventTypeMix), "must hold four non-negative shares (view, click, add to cart, purchase) summing to 1");
    }
}
