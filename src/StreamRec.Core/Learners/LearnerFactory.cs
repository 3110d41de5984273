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
}
