using StreamRec.Core.Learners;
using StreamRec.Core.Model;

namespace StreamRec.Cli.Commands;

/// <summary>The single place where the eval command turns <see cref="LearnerSettings"/> into a model.</summary>
internal static class EvalLearners
{
    /// <summary>The learner names the eval command accepts on its command line.</summary>
    public static IReadOnlyList<string> Names { get; } = ["isgd", "bpr", "mse", "popularity", "trending"];

    /// <summary>Builds the learner; throws <see cref="ArgumentException"/> for a learner or option this build cannot serve.</summary>
    public static IOnlineRecommender Create(LearnerSettings settings)
    {
        ArgumentNullException.ThrowIfNull(settings);
        var options = new LearnerOptions { Learner = settings.Learner, Dimensions = settings.Dimensions, LearningRate = settings.LearningRate, L2 = settings.L2 };
        if (settings.Negatives is { } negatives)
        {
            options.Negatives = negatives;
        }

        if (settings.Seed is { } seed)
        {
            options.Seed = seed;
        }

        if (settings.HalfLife is { } halfLife)
        {
            options.TrendingHalfLifeHours = halfLife.TotalHours;
        }

        return LearnerFactory.Create(options);
    }

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
