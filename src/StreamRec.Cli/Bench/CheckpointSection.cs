using System.Globalization;
using StreamRec.Redis.Checkpoints;

namespace StreamRec.Cli.Bench;

/// <summary>
/// Section 4: the checkpoint harness (<see cref="CheckpointBenchmark"/>, also `streamrec checkpoint bench`):
/// snapshot publish against raw pipelined SETs of the same bytes, delta latency and restore time, the last
/// two against what raw SETs and GETs of their bytes take at the raw rates measured in the same run.
/// </summary>
internal static class CheckpointSection
{
    public const string Name = "checkpoints";

    public static async Task<IReadOnlyList<BenchFigure>> RunAsync(BenchContext context, CancellationToken cancellationToken)
    {
        var settings = context.Settings;
        var harness = new CheckpointBenchmarkSettings
        {
            Items = settings.CheckpointItems,
            Dimensions = settings.CheckpointDimensions,
            SnapshotRuns = settings.SnapshotRuns,
            DeltaRows = settings.DeltaRows,
            DeltaRuns = settings.DeltaRuns,
            RestoreRuns = settings.RestoreRuns,
        };
        var result = await CheckpointBenchmark.RunAsync(context.Connection, harness, context.Log, cancellationToken);
        var options = context.Options(("items", harness.Items), ("dimensions", harness.Dimensions), ("snapshot_runs", harness.SnapshotRuns),
            ("delta_rows", harness.DeltaRows), ("delta_runs", harness.DeltaRuns), ("restore_runs", harness.RestoreRuns),
            ("snapshot_bytes", result.SnapshotBytes), ("snapshot_chunks", result.SnapshotChunks));
        var derived = "derived from the raw rate measured in this run";
        return
        [
            new BenchFigure
            {
                Section = Name,
                Name = string.Create(CultureInfo.InvariantCulture, $"snapshot publish, {harness.Items:N0} items x {harness.Dimensions}"),
                Unit = "MB/s",
                Better = Better.Higher,
                Value = result.SnapshotMegabytesPerSecond,
                ReferenceName = "raw pipelined SETs of the same bytes",
                ReferenceValue = result.RawMegabytesPerSecond,
                Target = BenchTarget.RatioAtLeast(0.7, ">= 0.7 of raw SETs"),
                Options = options,
                Note = "medians; chunking, encoding, CRC, SETs, the switch and retention",
            },
            new BenchFigure
            {
                Section = Name,
                Name = string.Create(CultureInfo.InvariantCulture, $"delta of {harness.DeltaRows:N0} rows, until visible"),
                Unit = "ms",
                Better = Better.Lower,
                Value = result.DeltaVisibleMedian.TotalMilliseconds,
                ReferenceName = $"raw pipelined SETs of the delta's bytes ({derived})",
                ReferenceValue = result.RawSetTimeOfDelta.TotalMilliseconds,
                Target = BenchTarget.ValueAtMost(50, "<= 50 ms"),
                Options = options,
                Note = string.Create(CultureInfo.InvariantCulture,
                    $"median; {result.DeltaBytesMedian / 1e6:0.00} MB; the whole call with {harness.DeltaRows:N0} lookup keys took {result.DeltaPublishMedian.TotalMilliseconds:0.0} ms"),
            },
            new BenchFigure
            {
                Section = Name,
                Name = "full restore (snapshot and every delta)",
                Unit = "ms",
                Better = Better.Lower,
                Value = result.RestoreMedian.TotalMilliseconds,
                ReferenceName = $"raw pipelined GETs of the same bytes ({derived})",
                ReferenceValue = result.RawGetTimeOfRestore.TotalMilliseconds,
                Options = options,
                Note = string.Create(CultureInfo.InvariantCulture, $"median; {result.RestoreBytes / 1e6:0.0} MB read, decoded and checked"),
            },
        ];
    }
}
