using System.Globalization;
using StreamRec.Cli.Demo;

namespace StreamRec.Cli.Bench;

/// <summary>
/// Section 6: the demo's freshness probes (<see cref="DemoRun"/>): a click by a new user is produced and the
/// in-process reader is polled until its answer for that user changes. The worker publishes deltas at its
/// default interval and the reader polls at its default (250 ms, plus pub/sub). The reference is the
/// same probes' time until a published checkpoint covers the click: the reader cannot answer sooner.
/// </summary>
internal static class FreshnessSection
{
    public const string Name = "freshness";

    /// <summary>Probes a full run's percentiles rest on at least.</summary>
    public const int MinimumProbes = 1_000;

    /// <summary>The worker's default time between deltas, read from the options so the bench follows the default.</summary>
    private static readonly TimeSpan _defaultDeltaInterval = new StreamRec.Worker.Hosting.WorkerOptions().DeltaInterval;

    public static async Task<IReadOnlyList<BenchFigure>> RunAsync(BenchContext context, CancellationToken cancellationToken)
    {
        var settings = context.Settings;
        var options = new DemoOptions
        {
            Duration = TimeSpan.FromSeconds(settings.FreshnessSeconds),
            Rate = 1_000,
            ProbesPerSecond = settings.FreshnessProbesPerSecond,
            DeltaInterval = _defaultDeltaInterval,
            ProgressInterval = TimeSpan.FromSeconds(10),
            ReportDirectory = null,
        };
        await using var run = await DemoRun.StartAsync(options, context.Log);
        await using var stop = cancellationToken.Register(run.Stop);
        var report = await run.Completion;
        if (report.FreshnessProbes == 0 || report.FreshnessMsP50 is null || report.FreshnessMsP99 is null)
        {
            throw new InvalidOperationException($"No freshness probe was answered ({report.FreshnessProbesTimedOut} timed out).");
        }

        var figureOptions = context.Options(("probes", report.FreshnessProbes), ("probes_timed_out", report.FreshnessProbesTimedOut),
            ("delta_interval_ms", _defaultDeltaInterval.TotalMilliseconds), ("reader_poll_interval_ms", 250), ("stream_rate", options.Rate),
            ("stream_seconds", settings.FreshnessSeconds), ("partitions", options.Partitions), ("workers", options.Workers), ("learner", report.Learner),
            ("redis_server", report.Redis));
        var note = string.Create(CultureInfo.InvariantCulture,
            $"{report.FreshnessProbes:N0} probes{(report.FreshnessProbes < MinimumProbes ? $" (fewer than {MinimumProbes:N0}: a quick run)" : "")}, {report.FreshnessProbesTimedOut} timed out; the demo's two workers with the worker's consumer defaults");
        return
        [
            Figure("p50", report.FreshnessMsP50.Value, report.FreshnessCheckpointMsP50, null, figureOptions, note),
            Figure("p99", report.FreshnessMsP99.Value, report.FreshnessCheckpointMsP99, BenchTarget.ValueAtMost(1000, "<= 1 s with default intervals"), figureOptions, note),
        ];
    }

    private static BenchFigure Figure(string percentile, double value, double? reference, BenchTarget? target, Dictionary<string, object?> options, string note) => new()
    {
        Section = Name,
        Name = $"click produced -> reader's answer changed, {percentile}",
        Unit = "ms",
        Better = Better.Lower,
        Value = value,
        ReferenceName = $"click produced -> a published checkpoint covers it ({percentile})",
        ReferenceValue = reference,
        ReferenceSkipped = reference is null ? "no probe saw its checkpoint" : null,
        Target = target,
        Options = options,
        Note = note,
    };
}
