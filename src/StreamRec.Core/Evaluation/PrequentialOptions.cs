namespace StreamRec.Core.Evaluation;

/// <summary>How the held item's rank is read off a list in which it ties with other items.</summary>
public enum TieBreaking
{
    /// <summary>
    /// The held item takes the last position of its group of equal scores, so a model gains
    /// nothing from the arbitrary order of items it cannot tell apart (for example an untrained
    /// model scoring everything 0).
    /// </summary>
    Pessimistic,

    /// <summary>The held item's position in the list as the model ordered it.</summary>
    ModelOrder,
}

/// <summary>Settings of one prequential (test-then-train) run.</summary>
public sealed record PrequentialOptions
{
    /// <summary>Length of the recommended list (the k of recall@k).</summary>
    public int K { get; init; } = 10;

    /// <summary>Number of most recent evaluated events the windowed metrics cover.</summary>
    public int Window { get; init; } = 5_000;

    /// <summary>A point of the windowed series is recorded every this many processed events.</summary>
    public int SampleEvery { get; init; } = 1_000;

    /// <summary>
    /// Positive-only evaluation: events whose value is below this are dropped before the model sees
    /// them (neither tested nor learned). Null keeps every event.
    /// </summary>
    public float? MinValue { get; init; }

    /// <summary>Test each event as a top-k ranking task.</summary>
    public bool EvaluateRanking { get; init; } = true;

    /// <summary>Score predicted ratings of <c>Rating</c> events (MAE, RMSE) when the model predicts ratings.</summary>
    public bool EvaluateRatings { get; init; } = true;

    /// <summary>
    /// Leave the user's earlier items out of the ranked list (the model is asked to, and the
    /// evaluator removes any that slip through). An event repeating one of the user's items is
    /// then not ranked (it could never be a hit) and is counted as a repeat, but is still learned.
    /// </summary>
    public bool ExcludeSeen { get; init; } = true;

    /// <summary>How ties in score are broken when reading the held item's rank.</summary>
    public TieBreaking TieBreaking { get; init; } = TieBreaking.Pessimistic;

    /// <summary>
    /// The model learns from the first this-many processed events only and is frozen after them
    /// (testing goes on). Null: it learns from every event.
    /// </summary>
    public long? FreezeAfter { get; init; }

    /// <summary>Throws <see cref="ArgumentException"/> naming the first invalid setting.</summary>
    public void Validate()
    {
        if (K is < 1 or > MaxK)
        {
            throw new ArgumentException($"K must be between 1 and {MaxK}.", nameof(K));
        }

        if (Window < 1)
        {
            throw new ArgumentException("Window must be positive.", nameof(Window));
        }

        if (SampleEvery < 1)
        {
            throw new ArgumentException("SampleEvery must be positive.", nameof(SampleEvery));
        }

        if (MinValue is { } min && !float.IsFinite(min))
        {
            throw new ArgumentException("MinValue must be a finite number.", nameof(MinValue));
        }

        if (FreezeAfter is < 0)
        {
            throw new ArgumentException("FreezeAfter must not be negative.", nameof(FreezeAfter));
        }

        if (!EvaluateRanking && !EvaluateRatings)
        {
            throw new ArgumentException("At least one of ranking and rating evaluation must be on.", nameof(EvaluateRanking));
        }
    }

    /// <summary>The largest supported k; lists are buffered per run, not per event.</summary>
    public const int MaxK = 1_000;
}
