namespace StreamRec.Cli.Commands;

/// <summary>
/// The learner options the eval command accepts. Null means "the learner's own default", so the
/// defaults live with the learners, not in the CLI.
/// </summary>
/// <param name="Learner">isgd, bpr, mse, popularity or trending.</param>
/// <param name="Dimensions">Embedding size.</param>
/// <param name="LearningRate">SGD step size.</param>
/// <param name="L2">L2 regularisation strength.</param>
/// <param name="Negatives">Negative samples per positive (bpr, isgd).</param>
/// <param name="HalfLife">Decay half-life on event time (trending, decayed popularity).</param>
/// <param name="Seed">Random seed for initialisation and sampling.</param>
internal sealed record LearnerSettings(
    string Learner,
    int? Dimensions = null,
    float? LearningRate = null,
    float? L2 = null,
    int? Negatives = null,
    TimeSpan? HalfLife = null,
    ulong? Seed = null);
