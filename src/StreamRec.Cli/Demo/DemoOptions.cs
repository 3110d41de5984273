using StreamRec.Worker.Hosting;

namespace StreamRec.Cli.Demo;

/// <summary>Settings of one <see cref="DemoRun"/>. Defaults are the README's one-minute quickstart.</summary>
public sealed record DemoOptions
{
    /// <summary>
    /// Messages one partition of the embedded Kafka may receive in a run. The mock keeps at most
    /// 100,000 batches or 5 MiB per partition and silently drops older data; this leaves room for both.
    /// </summary>
    public const long MaxEventsPerPartition = 60_000;

    /// <summary>How long the clickstream is produced.</summary>
    public TimeSpan Duration { get; init; } = TimeSpan.FromSeconds(60);

    /// <summary>Generated events per second.</summary>
    public int Rate { get; init; } = 5_000;

    /// <summary>Distinct users of the synthetic clickstream.</summary>
    public int Users { get; init; } = 2_000;

    /// <summary>Catalogue size of the synthetic clickstream.</summary>
    public int Items { get; init; } = 1_000;

    /// <summary>Event index at which every user's taste moves to the next cluster. Default: half of the stream.</summary>
    public long? ShiftAt { get; init; }

    /// <summary>
    /// Events the frozen comparison model learns from before it stops learning (a short warm-up).
    /// Default: a tenth of the events before the shift.
    /// </summary>
    public long? FreezeAfter { get; init; }

    /// <summary>Partitions of the clickstream topic.</summary>
    public int Partitions { get; init; } = 8;

    /// <summary>Worker instances in the consumer group (in this process).</summary>
    public int Workers { get; init; } = 2;

    /// <summary>Share of produced messages that are malformed bytes, to be dead-lettered.</summary>
    public double MalformedShare { get; init; } = 0.005;

    /// <summary>Freshness probes started per second.</summary>
    public double ProbesPerSecond { get; init; } = 4;

    /// <summary>Seed of the synthetic clickstream.</summary>
    public int Seed { get; init; } = 42;

    /// <summary>Time between worker checkpoints (deltas); bounds how fresh the persisted model can be. Default: the worker's.</summary>
    public TimeSpan DeltaInterval { get; init; } = new WorkerOptions().DeltaInterval;

    /// <summary>Longest wait after the stream for the persisted counts to cover every produced message.</summary>
    public TimeSpan DrainTimeout { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>Time between progress lines.</summary>
    public TimeSpan ProgressInterval { get; init; } = TimeSpan.FromSeconds(2);

    /// <summary>Time between soak samples of memory and lag (taken on the progress ticks).</summary>
    public TimeSpan SampleInterval { get; init; } = TimeSpan.FromMinutes(1);

    /// <summary>Where <c>report.json</c> and <c>report.html</c> are written; null writes nothing.</summary>
    public string? ReportDirectory { get; init; } = "demo-report";

    /// <summary>Events the generator produces: rate times duration.</summary>
    public long TotalEvents => (long)Math.Round(Rate * Duration.TotalSeconds);

    /// <summary>The shift point actually used.</summary>
    public long ResolvedShiftAt => ShiftAt ?? TotalEvents / 2;

    /// <summary>The freeze point of the frozen model actually used.</summary>
    public long ResolvedFreezeAfter => FreezeAfter ?? Math.Max(1, ResolvedShiftAt / 10);

    /// <summary>Every problem, each naming its option as the CLI spells it; empty when valid.</summary>
    public IReadOnlyList<string> Validate()
    {
        var errors = new List<string>();
        if (Duration < TimeSpan.FromSeconds(1) || Duration > TimeSpan.FromHours(1))
        {
            errors.Add($"--duration must be from 1 s to 1 h, was {Duration}.");
        }

        if (Rate is < 1 or > 100_000)
        {
            errors.Add($"--rate must be from 1 to 100000 events/s, was {Rate}.");
        }

        if (Users < 1 || Items < 16)
        {
            errors.Add($"--users must be at least 1 and --items at least 16 (users {Users}, items {Items}).");
        }

        if (Partitions is < 1 or > 64 || Workers is < 1 or > 16)
        {
            errors.Add($"--partitions must be from 1 to 64 and --workers from 1 to 16 (partitions {Partitions}, workers {Workers}).");
        }

        if (ShiftAt is < 0 || (ShiftAt is { } shift && shift > TotalEvents))
        {
            errors.Add($"--shift-at must be from 0 to the stream's {TotalEvents} events, was {ShiftAt}.");
        }

        if (FreezeAfter is < 1)
        {
            errors.Add($"--freeze-after must be at least 1, was {FreezeAfter}.");
        }

        if (MalformedShare is < 0 or > 0.5)
        {
            errors.Add($"MalformedShare must be within [0, 0.5], was {MalformedShare}.");
        }

        if (ProbesPerSecond is <= 0 or > 50 || double.IsNaN(ProbesPerSecond))
        {
            errors.Add($"--probes-per-second must be more than 0 and at most 50, was {ProbesPerSecond}.");
        }

        // Probes and malformed messages come on top of the generated events.
        var perPartition = (TotalEvents * (1 + MalformedShare) + (ProbesPerSecond * Duration.TotalSeconds)) / Math.Max(1, Partitions);
        if (perPartition > MaxEventsPerPartition)
        {
            errors.Add($"--rate x --duration over --partitions puts about {perPartition:N0} messages in each partition; the embedded Kafka keeps "
                + $"only about {MaxEventsPerPartition:N0} per partition safely. Raise --partitions or lower --rate or --duration.");
        }

        if (SampleInterval < TimeSpan.FromSeconds(1))
        {
            errors.Add($"--sample-every must be at least 1 s, was {SampleInterval}.");
        }

        if (!WorkerOptions.IsValidDeltaInterval(DeltaInterval))
        {
            errors.Add($"--delta-interval must be more than 0 and at most 1 s, was {DeltaInterval}.");
        }

        if (DrainTimeout <= TimeSpan.Zero || ProgressInterval <= TimeSpan.Zero)
        {
            errors.Add("DrainTimeout and ProgressInterval must be positive.");
        }

        return errors;
    }
}
