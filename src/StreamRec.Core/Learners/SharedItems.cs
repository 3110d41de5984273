using StreamRec.Core.Engine;

namespace StreamRec.Core.Learners;

/// <summary>
/// The item side of a model, shared by the learners of several shards: item vectors (and biases)
/// and the trending counts. Each shard's learner owns its users; all of them update these items.
/// </summary>
/// <remarks>
/// Not thread-safe by itself: the shards that share it run on one thread, or accept Hogwild-style
/// lost updates on concurrent steps to the same item row.
/// </remarks>
public sealed class SharedItems
{
    /// <summary>Builds empty item state for learners made from <paramref name="options"/>.</summary>
    public SharedItems(LearnerOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        ResolvedOptions resolved = options.Resolve(options.Learner);
        Learner = options.Learner;
        bool adaGrad = resolved.Schedule == LearningRateSchedule.AdaGrad;
        Items = new EmbeddingTable(resolved.Dimensions, options.MaxItems, resolved.InitSigma, options.Seed ^ ItemSeedSalt, resolved.UseItemBias, adaGrad, options.InitialRows);
        Trending = new DecayedItemCounts(resolved.TrendingHalfLifeMs, Items.Ids.Capacity);
    }

    /// <summary>Items draw from a stream of the seed distinct from users'.</summary>
    internal const ulong ItemSeedSalt = 0x5DEECE66DUL;

    /// <summary>The learner these items were built for.</summary>
    public string Learner { get; }

    /// <summary>Item vectors and, when enabled, item biases.</summary>
    public EmbeddingTable Items { get; }

    /// <summary>Decayed item counts by item row.</summary>
    public DecayedItemCounts Trending { get; }
}
