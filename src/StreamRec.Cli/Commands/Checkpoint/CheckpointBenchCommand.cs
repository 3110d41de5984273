using System.CommandLine;
using System.Globalization;
using StreamRec.Redis.Checkpoints;

namespace StreamRec.Cli.Commands.Checkpoint;

/// <summary>`streamrec checkpoint bench`: snapshot publish vs raw SETs, delta latency and restore time.</summary>
public static class CheckpointBenchCommand
{
    public static Command Create()
    {
        var redis = new RedisOptions();
        var items = new Option<int>("--items") { Description = "Item rows in the snapshot.", DefaultValueFactory = _ => 1_000_000 };
        var dimensions = new Option<int>("--dimensions") { Description = "Embedding dimensions.", DefaultValueFactory = _ => 64 };
        var snapshotRuns = new Option<int>("--snapshot-runs") { Description = "Snapshot publishes (each paired with raw SETs).", DefaultValueFactory = _ => 5 };
        var deltaRows = new Option<int>("--delta-rows") { Description = "Rows per delta.", DefaultValueFactory = _ => 10_000 };
        var deltaRuns = new Option<int>("--delta-runs") { Description = "Deltas to time.", DefaultValueFactory = _ => 50 };
        var command = new Command("bench", "Measure snapshot publish against raw pipelined SETs of the same bytes, delta latency and restore time, under a throw-away model.")
        {
            items, dimensions, snapshotRuns, deltaRows, deltaRuns,
        };
        foreach (var option in redis.All)
        {
            command.Options.Add(option);
        }

        command.SetAction((parse, cancellationToken) => CheckpointCli.RunAsync(parse, redis, async connection =>
        {
            var settings = new CheckpointBenchmarkSettings
            {
                Items = parse.GetValue(items),
                Dimensions = parse.GetValue(dimensions),
                SnapshotRuns = parse.GetValue(snapshotRuns),
                DeltaRows = parse.GetValue(deltaRows),
                DeltaRuns = parse.GetValue(deltaRuns),
            };
            var result = await CheckpointBenchmark.RunAsync(connection, settings, Console.Out, cancellationToken);
            var invariant = CultureInfo.InvariantCulture;
            Console.WriteLine(string.Create(invariant, $"snapshot: {result.SnapshotBytes / 1e6:0.0} MB in {result.SnapshotChunks} chunks"));
            Console.WriteLine(string.Create(invariant, $"raw pipelined SETs, median: {result.RawSetMedian.TotalMilliseconds:0} ms ({result.RawMegabytesPerSecond:0} MB/s)"));
            Console.WriteLine(string.Create(invariant, $"snapshot publish, median:  {result.SnapshotPublishMedian.TotalMilliseconds:0} ms ({result.SnapshotMegabytesPerSecond:0} MB/s)"));
            Console.WriteLine(string.Create(invariant, $"ratio snapshot/raw throughput: {result.SnapshotToRawRatio:0.00}"));
            Console.WriteLine(string.Create(invariant, $"delta of {settings.DeltaRows} rows, median: visible after {result.DeltaVisibleMedian.TotalMilliseconds:0.0} ms; call with {settings.DeltaRows} lookup keys {result.DeltaPublishMedian.TotalMilliseconds:0.0} ms (p95 {result.DeltaPublishP95.TotalMilliseconds:0.0} ms)"));
            Console.WriteLine(string.Create(invariant, $"full restore, median: {result.RestoreMedian.TotalMilliseconds:0} ms"));
            return 0;
        }));
        return command;
    }
}
