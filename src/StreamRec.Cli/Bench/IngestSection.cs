using System.Globalization;

namespace StreamRec.Cli.Bench;

/// <summary>Section 1: one worker's end-to-end events per second against kcat on the same topic (<see cref="IngestBenchmark"/>).</summary>
/// <remarks>
/// The first round runs in a process that has not run a worker yet: its worker compiles the consumer loop, the
/// learner and the checkpoint path as it goes, which a replica pays once after a start. It is quoted on its own;
/// the throughput figure is the median of the rounds after it, as a replica that has been running sees it.
/// </remarks>
internal static class IngestSection
{
    public const string Name = "ingest";

    public static async Task<IReadOnlyList<BenchFigure>> RunAsync(BenchContext context, CancellationToken cancellationToken)
    {
        var settings = context.Settings;
        var rounds = new List<IngestResult>(settings.IngestRounds + 1);
        for (var round = 0; round <= settings.IngestRounds; round++)
        {
            rounds.Add(await IngestBenchmark.RunAsync(context.Connection, context.Redis.Endpoint, settings.IngestEvents, settings.IngestPartitions, context.Log, cancellationToken));
        }

        var options = context.Options(("events", rounds[0].Events), ("partitions", rounds[0].Partitions), ("learner", "isgd"), ("dimensions", 64), ("rounds", settings.IngestRounds));
        return [Figure(rounds[1..], options), FirstRound(rounds[0], options)];
    }

    /// <summary>The throughput figure of one or more rounds: the median worker rate against the median kcat rate.</summary>
    internal static BenchFigure Figure(IReadOnlyList<IngestResult> rounds, IReadOnlyDictionary<string, object?> options)
    {
        ArgumentOutOfRangeException.ThrowIfZero(rounds.Count);
        var kcatRates = rounds.Where(r => r.KcatEventsPerSecond is not null).Select(r => r.KcatEventsPerSecond!.Value).ToList();
        var ratios = string.Join(", ", rounds.Select(r => r.Ratio is { } ratio ? ratio.ToString("0.00", CultureInfo.InvariantCulture) : "-"));
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
            Note = $"median of {rounds.Count} round(s) after the first (each kcat, then a new worker, on a fresh topic; ratios {ratios}); "
                + "time from the worker's start (group join included) until every event is applied",
        };
    }

    /// <summary>The first round on its own: a worker in a process that has not run one yet.</summary>
    internal static BenchFigure FirstRound(IngestResult round, IReadOnlyDictionary<string, object?> options) => Figure([round], options) with
    {
        Name = "the same, first round in a fresh process (JIT included)",
        Target = null,
        Note = round.WorkerFirstApplied is { } first
            ? string.Create(CultureInfo.InvariantCulture, $"first event applied {first.TotalMilliseconds:0} ms after the worker's start")
            : null,
    };
}
