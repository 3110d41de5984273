using StreamRec.Contracts.V1;
using StreamRec.Core.Model;

namespace StreamRec.Core.Learners;

/// <summary>How the step size evolves.</summary>
public enum LearningRateSchedule
{
    /// <summary>The same rate for every step.</summary>
    Constant,

    /// <summary>Per-row AdaGrad: the rate divided by the root of the row's accumulated squared gradients.</summary>
    AdaGrad,
}

/// <summary>How BPR draws negative items.</summary>
public enum NegativeSampling
{
    /// <summary>Every held item equally likely.</summary>
    Uniform,

    /// <summary>Items in proportion to their all-time event count (a reservoir of past positives).</summary>
    Popularity,
}

/// <summary>The weight each event type carries (purchase &gt; add-to-cart &gt; click &gt; view).</summary>
public sealed class EventWeightOptions
{
    public float View { get; set; } = 0.25f;
    public float Click { get; set; } = 0.5f;
    public float AddToCart { get; set; } = 0.75f;
    public float Purchase { get; set; } = 1f;

    /// <summary>
    /// The weight of an event: its own <see cref="Interaction.Value"/> when positive (for ratings,
    /// the rating divided by <paramref name="ratingMax"/>), otherwise its type's weight; 0 for unspecified types.
    /// </summary>
    public float WeightOf(in Interaction interaction, float ratingMax) => interaction.Type switch
    {
        EventType.Rating => interaction.Value / ratingMax,
        _ when interaction.Value > 0f => interaction.Value,
        EventType.View => View,
        EventType.Click => Click,
        EventType.AddToCart => AddToCart,
        EventType.Purchase => Purchase,
        _ => 0f,
    };
}

/// <summary>
/// Settings of every learner, bindable from configuration. Unset (null) values take the learner's
/// own default (see docs/engine.md); call <see cref="Validate"/> (the factory does) to check them.
/// </summary>
/// <remarks>A plain settings bag: not thread-safe, copy before sharing across threads.</remarks>
public sealed class LearnerOptions
{
    /// <summary>Learner name: isgd, bpr, mse, popularity or trending.</summary>
    public string Learner { get; set; } = "isgd";

    /// <summary>Embedding size. Default 32 (isgd, bpr), 10 (mse, as River's BiasedMF).</summary>
    public int? Dimensions { get; set; }

    /// <summary>Latent step size. Default 0.2 with AdaGrad (isgd, bpr), 0.05 constant (mse, as River's BiasedMF).</summary>
    public float? LearningRate { get; set; }

    /// <summary>Bias step size. Default: the latent rate (isgd, bpr), 0.025 (mse).</summary>
    public float? BiasLearningRate { get; set; }

    /// <summary>Constant rate or per-row AdaGrad. Default AdaGrad (isgd, bpr), constant (mse).</summary>
    public LearningRateSchedule? Schedule { get; set; }

    /// <summary>L2 penalty on vectors. Default 0.01 (isgd, bpr), 0 (mse).</summary>
    public float? L2 { get; set; }

    /// <summary>L2 penalty on biases. Default: <see cref="L2"/>.</summary>
    public float? BiasL2 { get; set; }

    /// <summary>Standard deviation of new vectors. Default 0.1.</summary>
    public float? InitSigma { get; set; }

    /// <summary>Learn an item bias. Default true: with sampled negatives it is how isgd and bpr represent popularity.</summary>
    public bool? UseItemBias { get; set; }

    /// <summary>
    /// Sampled negatives per positive (isgd: target 0; bpr: pairs). Default 4. isgd accepts 0, the
    /// original positive-only formulation; bpr needs at least 1.
    /// </summary>
    public int Negatives { get; set; } = 4;

    /// <summary>BPR negative sampling. Default uniform (lets the item bias learn popularity).</summary>
    public NegativeSampling Sampling { get; set; } = NegativeSampling.Uniform;

    /// <summary>Seed of initialisation and sampling. Default 42.</summary>
    public ulong Seed { get; set; } = 42;

    /// <summary>Trending half-life in event-time hours. Default 168 (one week).</summary>
    public double TrendingHalfLifeHours { get; set; } = 168;

    /// <summary>
    /// Weight of normalised trending (in [0, 1]) added to personalised ranking scores. Default 0 (isgd,
    /// bpr: their item biases learn popularity); mse: <see cref="RatingMax"/> - <see cref="RatingMin"/>,
    /// because predicted ratings say how much a user likes an item, not how likely they are to pick it.
    /// Rating predictions are never blended.
    /// </summary>
    public float? TrendingBlendWeight { get; set; }

    /// <summary>Events per update: 1 updates per event; N accumulates N events' gradients and applies them at once. Default 1.</summary>
    public int MiniBatchSize { get; set; } = 1;

    /// <summary>Most users held; the least recently active is evicted beyond it. Default 1,000,000.</summary>
    public int MaxUsers { get; set; } = 1_000_000;

    /// <summary>Most items held. Default 1,000,000.</summary>
    public int MaxItems { get; set; } = 1_000_000;

    /// <summary>Rows allocated up front per table. Default 1024.</summary>
    public int InitialRows { get; set; } = 1024;

    /// <summary>Distinct recent items remembered per user for exclusion. Default 200.</summary>
    public int SeenHistoryLength { get; set; } = 200;

    /// <summary>Lowest rating (mse clips predictions here). Default 1.</summary>
    public float RatingMin { get; set; } = 1f;

    /// <summary>Highest rating. Default 5.</summary>
    public float RatingMax { get; set; } = 5f;

    /// <summary>Largest absolute loss gradient applied (guards divergence). Default 100.</summary>
    public float MaxGradient { get; set; } = 100f;

    /// <summary>Weights of event types.</summary>
    public EventWeightOptions EventWeights { get; set; } = new();

    /// <summary>Throws <see cref="ArgumentException"/> naming the first invalid option.</summary>
    public void Validate()
    {
        if (!LearnerFactory.Names.Contains(Learner))
        {
            throw new ArgumentException($"Unknown learner '{Learner}'; expected one of {string.Join(", ", LearnerFactory.Names)}.", nameof(Learner));
        }

        Range(Dimensions, 1, 1024, nameof(Dimensions));
        Positive(LearningRate, nameof(LearningRate));
        Positive(BiasLearningRate, nameof(BiasLearningRate));
        NonNegative(L2, nameof(L2));
        NonNegative(BiasL2, nameof(BiasL2));
        NonNegative(InitSigma, nameof(InitSigma));
        Range(Negatives, Learner == IsgdLearner.LearnerName ? 0 : 1, 256, nameof(Negatives));
        if (Schedule is { } schedule && !Enum.IsDefined(schedule))
        {
            throw new ArgumentOutOfRangeException(nameof(Schedule), Schedule, "Unknown schedule.");
        }

        if (!Enum.IsDefined(Sampling))
        {
            throw new ArgumentOutOfRangeException(nameof(Sampling), Sampling, "Unknown sampling.");
        }

        if (!(TrendingHalfLifeHours > 0))
        {
            throw new ArgumentOutOfRangeException(nameof(TrendingHalfLifeHours), TrendingHalfLifeHours, "Must be positive (use infinity for no decay).");
        }

        NonNegative(TrendingBlendWeight, nameof(TrendingBlendWeight));
        Range(MiniBatchSize, 1, 65_536, nameof(MiniBatchSize));
        Range(MaxUsers, 1, int.MaxValue, nameof(MaxUsers));
        Range(MaxItems, 1, int.MaxValue, nameof(MaxItems));
        Range(InitialRows, 1, int.MaxValue, nameof(InitialRows));
        Range(SeenHistoryLength, 1, 10_000, nameof(SeenHistoryLength));
        if (!float.IsFinite(RatingMin) || !float.IsFinite(RatingMax) || !(RatingMax > RatingMin) || !(RatingMax > 0))
        {
            throw new ArgumentOutOfRangeException(nameof(RatingMax), RatingMax, $"Must be finite, positive and above {nameof(RatingMin)} ({RatingMin}).");
        }

        Positive(MaxGradient, nameof(MaxGradient));
        ArgumentNullException.ThrowIfNull(EventWeights, nameof(EventWeights));
        NonNegative(EventWeights.View, "EventWeights.View");
        NonNegative(EventWeights.Click, "EventWeights.Click");
        NonNegative(EventWeights.AddToCart, "EventWeights.AddToCart");
        NonNegative(EventWeights.Purchase, "EventWeights.Purchase");
    }

    /// <summary>The options with <paramref name="learner"/>'s defaults filled in (validates first).</summary>
    internal ResolvedOptions Resolve(string learner)
    {
        Validate();
        bool isMse = learner == "mse";
        float learningRate = LearningRate ?? (isMse ? 0.05f : 0.2f);
        float l2 = L2 ?? (isMse ? 0f : 0.01f);
        return new ResolvedOptions(
            Dimensions ?? (isMse ? 10 : 32),
            Schedule ?? (isMse ? LearningRateSchedule.Constant : LearningRateSchedule.AdaGrad),
            learningRate,
            BiasLearningRate ?? (isMse ? 0.025f : learningRate),
            l2,
            BiasL2 ?? l2,
            InitSigma ?? 0.1f,
            UseItemBias ?? true,
            TrendingBlendWeight ?? (isMse ? RatingMax - RatingMin : 0f),
            TrendingHalfLifeHours * 3_600_000.0);
    }

    private static void Range(int? value, int min, int max, string name)
    {
        if (value is { } v && (v < min || v > max))
        {
            throw new ArgumentOutOfRangeException(name, v, $"Must be in [{min}, {max}].");
        }
    }

    private static void Positive(float? value, string name)
    {
        if (value is { } v && !(float.IsFinite(v) && v > 0))
        {
            throw new ArgumentOutOfRangeException(name, v, "Must be finite and positive.");
        }
    }

    private static void NonNegative(float? value, string name)
    {
        if (value is { } v && !(float.IsFinite(v) && v >= 0))
        {
            throw new ArgumentOutOfRangeException(name, v, "Must be finite and not negative.");
        }
    }
}

/// <summary>Options with per-learner defaults applied.</summary>
internal readonly record struct ResolvedOptions(
    int Dimensions,
    LearningRateSchedule Schedule,
    float LearningRate,
    float BiasLearningRate,
    float L2,
    float BiasL2,
    float InitSigma,
    bool UseItemBias,
    float TrendingBlendWeight,
    double TrendingHalfLifeMs);
