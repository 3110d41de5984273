using StreamRec.Core.Model;

namespace StreamRec.Core.Learners;

/// <summary>Builds learners by CLI name. Thread-safe (stateless).</summary>
public static class LearnerFactory
{
    /// <summary>The learner names <see cref="Create"/> accepts.</summary>
    public static IReadOnlyList<string> Names { get; } =
        [IsgdLearner.LearnerName, BprLearner.LearnerName, BiasedMfLearner.LearnerName, CountLearner.PopularityName, CountLearner.TrendingName];

    /// <summary>
    /// Validates <paramref name="options"/> and builds the learner named by <see cref="LearnerOptions.Learner"/>.
    /// The caller owns the result (one thread at a time).
    /// </summary>
    /// <exception cref="ArgumentException">An option is invalid; <see cref="ArgumentException.ParamName"/> names it.</exception>
    public static IOnlineRecommender Create(LearnerOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        return options.Learner switch
        {
            IsgdLearner.LearnerName => new IsgdLearner(options),
            BprLearner.LearnerName => new BprLearner(options),
            BiasedMfLearner.LearnerName => new BiasedMfLearner(options),
            _ => new CountLearner(options.Learner, options),
        };
    }

    /// <summary>The learners that have embeddings (and so can be sharded over shared items).</summary>
    public static IReadOnlyList<string> FactorNames { get; } = [IsgdLearner.LearnerName, BprLearner.LearnerName, BiasedMfLearner.LearnerName];

    /// <summary>
    /// Builds one shard's learner: its own users, the given shared items. Only embedding learners
    /// (<see cref="FactorNames"/>) can be sharded.
    /// </summary>
    /// <exception cref="ArgumentException">An option is invalid, or the learner has no embeddings.</exception>
    public static FactorLearner CreateShard(LearnerOptions options, SharedItems sharedItems)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(sharedItems);
        options.Validate();
        return options.Learner switch
        {
            IsgdLearner.LearnerName => new IsgdLearner(options, sharedItems),
            BprLearner.LearnerName => new BprLearner(options, sharedItems),
            BiasedMfLearner.LearnerName => new BiasedMfLearner(options, sharedItems),
            _ => throw new ArgumentException($"Learner '{options.Learner}' has no embeddings to shard; use one of {string.Join(", ", FactorNames)}.", nameof(options)),
        };
    }
}
