using System.Diagnostics;
using System.Globalization;
using System.Text.Json.Serialization;

namespace StreamRec.Cli.Demo;

/// <summary>
/// One soak sample: the process's memory and the pipeline's lag at a moment of the run.
/// </summary>
/// <param name="Minutes">Minutes since the stream started.</param>
/// <param name="WorkingSetMiB">Resident memory of the whole process (workers, reader, embedded Kafka and its retained messages).</param>
/// <param name="LiveHeapMiB">Managed memory still reachable after a full collection: the model tables, queues and caches.</param>
/// <param name="Lag">Messages in the topic that no published checkpoint covers yet.</param>
/// <param name="EventsCounted">Messages covered by published checkpoints so far.</param>
/// <param name="LoadAverage">The machine's 1-minute load average, when the platform reports one.</param>
public sealed record ResourceSample(
    double Minutes,
    [property: JsonPropertyName("working_set_mib")] double WorkingSetMiB,
    [property: JsonPropertyName("live_heap_mib")] double LiveHeapMiB,
    long Lag,
    long EventsCounted,
    double? LoadAverage);

/// <summary>What a series of samples says about growth: the trend of memory after the warm-up and the worst lag.</summary>
/// <param name="LiveHeapGrowthMiBPerHour">Least-squares slope of the live heap over the samples after the warm-up; null with fewer than 3 of them.</param>
/// <param name="WorkingSetGrowthMiBPerHour">Same for the working set.</param>
/// <param name="MaxLag">Largest lag of any sample.</param>
public sealed record ResourceTrend(double? LiveHeapGrowthMiBPerHour, double? WorkingSetGrowthMiBPerHour, long MaxLag);

/// <summary>The memory readings a sample takes (the current process by default; tests give their own).</summary>
public interface IMemoryProbe
{
    /// <summary>Resident bytes of the process.</summary>
    long WorkingSetBytes();

    /// <summary>Reachable managed bytes after a full, blocking collection.</summary>
    long LiveHeapBytes();

    /// <summary>The 1-minute load average, or null.</summary>
    double? LoadAverage();
}

/// <summary>
/// Takes a <see cref="ResourceSample"/> every <see cref="Interval"/> of a run (a soak): callers ask
/// <see cref="TryTake"/> on every progress tick and a sample is taken when one is due. A late tick
/// takes one sample, and the next falls due an interval after the schedule, not after the late tick,
/// so samples stay on the minute. Not thread-safe: one caller.
/// </summary>
public sealed class ResourceSampler(TimeSpan interval, IMemoryProbe? probe = null)
{
    private const double MiB = 1024 * 1024;
    private readonly IMemoryProbe _probe = probe ?? new ProcessMemoryProbe();
    private readonly List<ResourceSample> _samples = [];
    private TimeSpan _nextDue = interval > TimeSpan.Zero ? interval : throw new ArgumentOutOfRangeException(nameof(interval), interval, "The sample interval must be positive.");

    public TimeSpan Interval { get; } = interval;

    /// <summary>The samples taken so far, oldest first.</summary>
    public IReadOnlyList<ResourceSample> Samples => _samples;

    /// <summary>Takes a sample when <paramref name="elapsed"/> reached the next due time; null otherwise.</summary>
    public ResourceSample? TryTake(TimeSpan elapsed, long lag, long eventsCounted)
    {
        if (elapsed < _nextDue)
        {
            return null;
        }

        while (_nextDue <= elapsed)
        {
            _nextDue += Interval;
        }

        var sample = new ResourceSample(
            Math.Round(elapsed.TotalMinutes, 2),
            Math.Round(_probe.WorkingSetBytes() / MiB, 1),
            Math.Round(_probe.LiveHeapBytes() / MiB, 1),
            lag,
            eventsCounted,
            _probe.LoadAverage());
        _samples.Add(sample);
        return sample;
    }

    /// <summary>
    /// The growth trend over the samples after <paramref name="warmUpShare"/> of them (tables and
    /// the broker's retention fill during the first minutes; a leak shows as a slope afterwards).
    /// </summary>
    public static ResourceTrend Trend(IReadOnlyList<ResourceSample> samples, double warmUpShare = 1.0 / 3)
    {
        ArgumentNullException.ThrowIfNull(samples);
        var steady = samples.Skip((int)Math.Floor(samples.Count * warmUpShare)).ToList();
        return new ResourceTrend(
            SlopePerHour(steady, s => s.LiveHeapMiB),
            SlopePerHour(steady, s => s.WorkingSetMiB),
            samples.Count == 0 ? 0 : samples.Max(s => s.Lag));
    }

    /// <summary>One line for the console: <c>[soak 5.0 min] working set 412 MiB, live heap 96 MiB, lag 120, load 1.9</c>.</summary>
    public static string Describe(ResourceSample sample)
    {
        ArgumentNullException.ThrowIfNull(sample);
        return string.Create(CultureInfo.InvariantCulture,
            $"[soak {sample.Minutes,5:0.0} min] working set {sample.WorkingSetMiB:0} MiB, live heap {sample.LiveHeapMiB:0.0} MiB, lag {sample.Lag:N0}, counted {sample.EventsCounted:N0}{(sample.LoadAverage is { } load ? $", load {load:0.00}" : "")}");
    }

    private static double? SlopePerHour(List<ResourceSample> samples, Func<ResourceSample, double> value)
    {
        if (samples.Count < 3)
        {
            return null;
        }

        var meanX = samples.Average(s => s.Minutes);
        var meanY = samples.Average(value);
        var covariance = samples.Sum(s => (s.Minutes - meanX) * (value(s) - meanY));
        var variance = samples.Sum(s => (s.Minutes - meanX) * (s.Minutes - meanX));
        return variance == 0 ? null : Math.Round(covariance / variance * 60, 2);
    }
}

/// <summary>Reads the current process: working set, live managed heap after a full collection, and /proc/loadavg.</summary>
public sealed class ProcessMemoryProbe : IMemoryProbe
{
    public long WorkingSetBytes()
    {
        using var process = Process.GetCurrentProcess();
        return process.WorkingSet64;
    }

    // A blocking full collection once a minute costs a few tens of milliseconds and makes the figure
    // the live size, not wherever the allocation sawtooth happened to be.
    public long LiveHeapBytes() => GC.GetTotalMemory(forceFullCollection: true);

    public double? LoadAverage()
    {
        try
        {
            var first = File.ReadAllText("/proc/loadavg").Split(' ')[0];
            return double.TryParse(first, NumberStyles.Float, CultureInfo.InvariantCulture, out var load) ? load : null;
        }
        catch (IOException)
        {
            return null;
        }
        catch (UnauthorizedAccessException)
        {
            return null;
        }
    }
}
