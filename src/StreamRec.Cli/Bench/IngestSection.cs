namespace StreamRec.Cli.Bench;

/// <summary>Section 1: one worker's end-to-end events per second against kcat on the same topic (<see cref="IngestBenchmark"/>).</summary>
internal static class IngestSection
{
    public const string Name = "ingest";

    public static async Task<IReadOnlyList<BenchFigure>> RunAsync(BenchContext context, CancellationToken cancellationToken)
    {
        var settings = context.Settings;
        var result = await IngestBenchmark.RunAsync(context.Connection, context.Redis.Endpoint, settings.IngestEvents, settings.IngestPartitions, context.Log, cancellationToken);
        return
        [
            new BenchFigure
            {
                Section = Name,
                Name = $"1 worker, {result.Partitions} partitions: consume, decode, learn, checkpoint",
                Unit = "events/s",
                Better = Better.Higher,
                Value = result.WorkerEventsPerSecond,
                ReferenceName = "kcat -C reading the same topic to its end",
                ReferenceValue = result.KcatEventsPerSecond,
                ReferenceSkipped = result.KcatSkippedReason,
                Target = BenchTarget.RatioAtLeast(0.8, ">= 0.8 of kcat"),
                Options = context.Options(("events", result.Events), ("partitions", result.Partitions), ("learner", "isgd"), ("dimensions", 64)),
                Note = "time from the worker's start (group join included) until every event is applied",
            },
        ];
    }
}
