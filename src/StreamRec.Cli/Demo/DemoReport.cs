using System.Text.Json;
using System.Text.Json.Serialization;

namespace StreamRec.Cli.Demo;

/// <summary>One point of the windowed recall@10 series: the three models after the same number of generated events.</summary>
public sealed record RecallPoint(long Events, double? Online, double? Frozen, double? Trending);

/// <summary>One progress sample: messages per second produced and made durable in checkpoints over the last interval.</summary>
public sealed record ThroughputPoint(double Seconds, double ProducedPerSecond, double PersistedPerSecond, long Lag);

/// <summary>
/// What a demo run did, as written to <c>report.json</c> (snake_case names). Counts of applied and
/// dead-lettered events are read from the persisted checkpoints (the exactly-once counts), not from
/// the workers' memory.
/// </summary>
public sealed record DemoReport
{
    /// <summary>Messages in the clickstream topic at the end: the demo's own plus any other producer's (sum of high watermarks).</summary>
    public required long EventsProduced { get; init; }

    /// <summary>Messages the demo produced: generated events, malformed messages and freshness probes.</summary>
    public required long EventsProducedByDemo { get; init; }

    /// <summary>Generated clickstream events the demo produced.</summary>
    public required long GeneratedEvents { get; init; }

    /// <summary>Malformed messages the demo produced on purpose.</summary>
    public required long MalformedProduced { get; init; }

    /// <summary>Freshness probe events the demo produced (valid events of probe users).</summary>
    public required long ProbeEvents { get; init; }

    /// <summary>Messages other producers put into the topic while the demo ran.</summary>
    public required long EventsFromOtherProducers { get; init; }

    /// <summary>Events learned from, summed over the persisted per-partition checkpoints.</summary>
    public required long EventsApplied { get; init; }

    /// <summary>Events refused and dead-lettered, summed over the persisted per-partition checkpoints.</summary>
    public required long EventsDeadLettered { get; init; }

    /// <summary>True when applied plus dead-lettered equals produced: every message counted exactly once.</summary>
    public required bool CountsMatch { get; init; }

    /// <summary>Checkpoints (snapshots and deltas) published to Redis over every chain of the model version.</summary>
    public required long CheckpointsPublished { get; init; }

    /// <summary>The model version the workers wrote.</summary>
    public required string CheckpointVersion { get; init; }

    /// <summary>
    /// What freshness measures: from producing a click by a new probe user to the reader's answer for
    /// that user changing (from the cold-start list to a personalized one).
    /// </summary>
    public required string FreshnessDefinition { get; init; }

    /// <summary>
    /// Median of the same probes' time to the first published checkpoint that contains the event (its
    /// partition's persisted next offset passed the event): the part of freshness spent before the reader.
    /// </summary>
    public required double? FreshnessCheckpointMsP50 { get; init; }

    /// <summary>99th percentile of the time to a published checkpoint containing the probe event.</summary>
    public required double? FreshnessCheckpointMsP99 { get; init; }

    public required double? FreshnessMsP50 { get; init; }

    public required double? FreshnessMsP90 { get; init; }

    public required double? FreshnessMsP99 { get; init; }

    public required double? FreshnessMsMax { get; init; }

    /// <summary>Probes that completed (each gives one freshness sample).</summary>
    public required int FreshnessProbes { get; init; }

    /// <summary>Probes whose reader answer did not change within 10 s (left out of the percentiles).</summary>
    public required int FreshnessProbesTimedOut { get; init; }

    /// <summary>Windowed recall@10 of the online model at the end of the stream (the last window, after the shift).</summary>
    [JsonPropertyName("recall_at_10_online")]
    public required double? RecallAt10Online { get; init; }

    /// <summary>Same for the same learner frozen after <see cref="FrozenAfterEvents"/> events.</summary>
    [JsonPropertyName("recall_at_10_frozen")]
    public required double? RecallAt10Frozen { get; init; }

    /// <summary>Same for the trending baseline (time-decayed popularity).</summary>
    [JsonPropertyName("recall_at_10_trending")]
    public required double? RecallAt10Trending { get; init; }

    /// <summary>Mean windowed recall@10 of the online model over the series points after the shift.</summary>
    [JsonPropertyName("recall_at_10_online_after_shift_mean")]
    public required double? RecallAt10OnlineAfterShiftMean { get; init; }

    /// <summary>Same for the frozen model.</summary>
    [JsonPropertyName("recall_at_10_frozen_after_shift_mean")]
    public required double? RecallAt10FrozenAfterShiftMean { get; init; }

    /// <summary>Same for trending.</summary>
    [JsonPropertyName("recall_at_10_trending_after_shift_mean")]
    public required double? RecallAt10TrendingAfterShiftMean { get; init; }

    /// <summary>Ranked events each windowed recall covers.</summary>
    public required int RecallWindow { get; init; }

    /// <summary>Where the recall side computation stopped: generated events it processed.</summary>
    public required long RecallEventsEvaluated { get; init; }

    /// <summary>Learner of the workers and of the online and frozen evaluation models.</summary>
    public required string Learner { get; init; }

    /// <summary>The frozen model learned from this many generated events (a warm-up), then only answered.</summary>
    public required long FrozenAfterEvents { get; init; }

    /// <summary>Generated event index of the taste shift.</summary>
    public required long ShiftAtEvent { get; init; }

    /// <summary>Recommendation requests the freshness probes sent to the in-process reader.</summary>
    public required long ReaderRequests { get; init; }

    /// <summary>Those requests that failed (an error status, a refused connection or a timeout).</summary>
    public required long ReaderErrors { get; init; }

    /// <summary>The in-process reader's base URL while the demo ran.</summary>
    public required string? ReaderUrl { get; init; }

    /// <summary>Wall time from the servers being up to the report.</summary>
    public required double DurationS { get; init; }

    /// <summary>Wall time the clickstream was produced.</summary>
    public required double StreamDurationS { get; init; }

    /// <summary>True when the run was stopped before its duration (Ctrl-C).</summary>
    public required bool Interrupted { get; init; }

    public required string BootstrapServers { get; init; }

    public required string Topic { get; init; }

    public required string DeadLetterTopic { get; init; }

    public required string Redis { get; init; }

    public required string Model { get; init; }

    public required int Partitions { get; init; }

    public required int Workers { get; init; }

    public required int Rate { get; init; }

    public required int Users { get; init; }

    public required int Items { get; init; }

    public required IReadOnlyList<RecallPoint> RecallSeries { get; init; }

    public required IReadOnlyList<ThroughputPoint> Throughput { get; init; }

    /// <summary>Every freshness sample, in ms, in completion order.</summary>
    public required IReadOnlyList<double> FreshnessSamplesMs { get; init; }

    /// <summary>Soak samples of memory and lag, one per <c>--sample-every</c> of the stream.</summary>
    public required IReadOnlyList<ResourceSample> ResourceSamples { get; init; }

    /// <summary>Least-squares slope of the live managed heap after the first third of the samples (MiB per hour); null with too few samples.</summary>
    [JsonPropertyName("live_heap_growth_mib_per_hour")]
    public required double? LiveHeapGrowthMiBPerHour { get; init; }

    /// <summary>Same for the process's working set.</summary>
    [JsonPropertyName("working_set_growth_mib_per_hour")]
    public required double? WorkingSetGrowthMiBPerHour { get; init; }

    /// <summary>Largest lag (messages not yet in a published checkpoint) over the soak samples.</summary>
    public required long MaxLag { get; init; }

    /// <summary>Writes <c>report.json</c> and <c>report.html</c> into <paramref name="directory"/> (created if missing).</summary>
    public (string Json, string Html) WriteTo(string directory)
    {
        Directory.CreateDirectory(directory);
        var json = Path.Combine(directory, "report.json");
        var html = Path.Combine(directory, "report.html");
        File.WriteAllText(json, JsonSerializer.Serialize(this, DemoJsonContext.Default.DemoReport));
        File.WriteAllText(html, DemoHtml.Render(this));
        return (json, html);
    }

    /// <summary>Reads a report written by <see cref="WriteTo"/>.</summary>
    public static DemoReport Read(string path) =>
        JsonSerializer.Deserialize(File.ReadAllText(path), DemoJsonContext.Default.DemoReport)
            ?? throw new InvalidDataException($"{path} holds no demo report.");
}

[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower, WriteIndented = true)]
[JsonSerializable(typeof(DemoReport))]
internal sealed partial class DemoJsonContext : JsonSerializerContext;
