using System.Globalization;

namespace StreamRec.Cli.Bench;

/// <summary>Section 1: one worker's end-to-end events per second against kcat on the same topic (<see cref="IngestBenchmark"/>).</summary>
internal static class IngestSection
{
    public const string Name = "ingest";

    public static async Task<IReadOnlyList<BenchFigure>> RunAsync(BenchContext context, CancellationToken cancellationToken)
    {
        var settings = context.Settings;
        var rounds = new List<IngestResult>(settings.IngestRounds);
        for (var round = 0; round < settings.IngestRounds; round++)
        {
            rounds.Add(await IngestBenchmark.RunAsync(context.Connection, context.Redis.Endpoint, settings.IngestEvents, settings.IngestPartitions, context.Log, cancellationToken));
        }

        return [Figure(rounds, context.Options(("events", rounds[0].Events), ("partitions", rounds[0].Partitions), ("learner", "isgd"), ("dimensions", 64), ("rounds", rounds.Count)))];
    }

    /// <summary>The figure of one or more rounds: the median worker rate against the median kcat rate.</summary>
    internal static BenchFigure Figure(IReadOnlyList<IngestResult> rounds, IReadOnlyDictionary<string, object?> options)
    {
        ArgumentOutOfRangeException.ThrowIfZero(rounds.Count);
        var kcatRates = rounds.Where(r => r.KcatEventsPerSecond is not null).Select(r => r.KcatEventsPerSecond!.Value).ToList();
        var ratios = string.Join(", ", rounds.Select(r => r.Ratio is { } ratio ? ratio.ToString("0.00", CultureInfo.InvariantCulture) : "-"));
        const string Timed = "time from the worker's start (group join included) until every event is applied";
        return new BenchFigure
        {
            Section = Name,
            Name = $"1 worker, {rounds[0].Partitions} partitions: consume, decode, learn, checkpoint",
            Unit = "events/s",
            Better = Better.Higher,
            Value = LearningSection.Median([.. rounds.Select(r => r.WorkerEventsPerSecond)]),
            ReferenceName = "kcat -C reading the same topic to its end",
            ReferenceValue = kcatRates.Count > 0 ? LearningSection.Median(kcatRates) : null,
            ReferenceSkipped = kcatRates.Count > 0 ? null : rounds[0].KcatSkippedReason,
            Target = BenchTarget.RatioAtLeast(0.8, ">= 0.8 of kcat"),
            Options = options,
            Note = rounds.Count == 1 ? Timed : $"medians of {rounds.Count} rounds (each kcat, then the worker, on a fresh topic; ratios {ratios}); {Timed}",
        };
    }
}
