using StreamRec.Core.Model;

namespace StreamRec.Cli.Commands;

/// <summary>
/// The single place where the eval command turns <see cref="LearnerSettings"/> into a model.
/// Until the learner library is part of this build, only the interim popularity counter exists;
/// other names are reported as unavailable (exit code 2).
/// </summary>
internal static class EvalLearners
{
    /// <summary>The learner names the eval command accepts on its command line.</summary>
    public static IReadOnlyList<string> Names { get; } = ["isgd", "bpr", "mse", "popularity", "trending"];

    /// <summary>Builds the learner; throws <see cref="ArgumentException"/> for a learner or option this build cannot serve.</summary>
    public static IOnlineRecommender Create(LearnerSettings settings) => settings.Learner switch
    {
        "popularity" => new InterimPopularityRecommender(),
        _ => throw new ArgumentException($"'{settings.Learner}' is not available in this build (available: popularity).", "Learner"),
    };

    /// <summary>
    /// The command-line option behind a learner option's property name, so an error thrown while
    /// building the learner names what the user typed.
    /// </summary>
    public static string OptionFor(string? parameterName) => parameterName switch
    {
        "Dimensions" => "--dims",
        "LearningRate" => "--lr",
        "L2" => "--l2",
        "Negatives" => "--negatives",
        "TrendingHalfLifeHours" or "HalfLife" => "--half-life",
        "Seed" => "--seed",
        _ => "--learner",
    };
}
