namespace StreamRec.Cli.Bench;

/// <summary>
/// Sizes and durations of one `streamrec bench` run. <see cref="Full"/> is what docs/benchmarks.md quotes
/// (about 6 minutes on 2 shared cores); <see cref="Quick"/> is a smoke run for CI (under 2 minutes) with the
/// same figures from smaller inputs.
/// </summary>
public sealed record BenchSettings
{
    public static readonly BenchSettings Full = new();

    public static readonly BenchSettings Quick = new()
    {
        Mode = "quick",
        IngestEvents = 50_000,
        IngestRounds = 1,
        ScalingEvents = 20_000,
        LearnerSeconds = 0.4,
        CheckpointItems = 100_000,
        SnapshotRuns = 2,
        DeltaRuns = 10,
        RestoreRuns = 1,
        ServingItems = 20_000,
        FixedRateSeconds = 3,
        MaxRateSeconds = 2,
        TopKRepetitions = 60,
        FreshnessSeconds = 6,
        FreshnessProbesPerSecond = 20,
        MemoryRows = 100_000,
    };

    /// <summary>"full" or "quick".</summary>
    public string Mode { get; init; } = "full";

    /// <summary>
    /// Events of the ingest figure (8 partitions, about 125,000 lz4-compressed events per partition, within the
    /// embedded Kafka's retention). kcat speeds up over its first second (it read 400,000 events at about 600,000 a
    /// second and 1,000,000 at 1.1 million), so a smaller topic flatters any reader slower than it.
    /// </summary>
    public int IngestEvents { get; init; } = 1_000_000;

    public int IngestPartitions { get; init; } = 8;

    /// <summary>
    /// Measured rounds of the ingest figure, each kcat then the worker on a fresh topic, after one first round
    /// in the still cold process (quoted on its own); the medians are quoted. One round's ratio moved by 0.1-0.3
    /// from one run to the next on these shared cores.
    /// </summary>
    public int IngestRounds { get; init; } = 3;

    /// <summary>
    /// Events of each scaling run. Kept so that one partition holds them all within the embedded Kafka's
    /// 5 MiB retention (lz4-compressed protobuf events of about 40 bytes).
    /// </summary>
    public int ScalingEvents { get; init; } = 120_000;

    /// <summary>Time spent on each learner (and as long on the bare loop, interleaved).</summary>
    public double LearnerSeconds { get; init; } = 3;

    public int LearnerDimensions { get; init; } = 64;

    public int CheckpointItems { get; init; } = 1_000_000;

    public int CheckpointDimensions { get; init; } = 64;

    public int SnapshotRuns { get; init; } = 5;

    public int DeltaRows { get; init; } = 10_000;

    public int DeltaRuns { get; init; } = 50;

    public int RestoreRuns { get; init; } = 3;

    /// <summary>Items of the model the reader serves (the top-k target is stated for 100k x 64).</summary>
    public int ServingItems { get; init; } = 100_000;

    public int ServingUsers { get; init; } = 10_000;

    public int ServingRate { get; init; } = 500;

    public int FixedRateSeconds { get; init; } = 20;

    public int MaxRateSeconds { get; init; } = 10;

    /// <summary>Concurrent connections of the maximum-rate runs.</summary>
    public int MaxRateConnections { get; init; } = 4;

    /// <summary>Alternated top-k and bare-scan calls over the 100k x 64 matrix.</summary>
    public int TopKRepetitions { get; init; } = 400;

    /// <summary>How long the clickstream of the freshness run is produced.</summary>
    public int FreshnessSeconds { get; init; } = 125;

    public double FreshnessProbesPerSecond { get; init; } = 10;

    /// <summary>Users, then items, added to measure resident memory (reported per million).</summary>
    public int MemoryRows { get; init; } = 1_000_000;

    public int MemoryDimensions { get; init; } = 64;
}
