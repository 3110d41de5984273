using System.Diagnostics;
using System.Globalization;
using System.Reflection;
using System.Runtime.InteropServices;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;
using StackExchange.Redis;
using StreamRec.DevServers;
using StreamRec.Redis;

namespace StreamRec.Cli.Bench;

/// <summary>The machine a run measured, as docs/benchmarks.md quotes it.</summary>
public sealed record BenchMachine(string Os, string Cpu, int Cores, [property: JsonPropertyName("memory_gib")] double MemoryGiB, string Runtime);

/// <summary>Everything one `streamrec bench` run measured, as its --json file holds it.</summary>
public sealed record BenchReport
{
    public required string Command { get; init; }

    public required string Mode { get; init; }

    public required string Commit { get; init; }

    public required DateTimeOffset StartedUtc { get; init; }

    public required double DurationSeconds { get; init; }

    public required BenchMachine Machine { get; init; }

    /// <summary>/proc/loadavg at the start and at the end (1, 5 and 15 minutes).</summary>
    public required string LoadAverageStart { get; init; }

    public required string LoadAverageEnd { get; init; }

    /// <summary>redis-server from PATH, or the embedded Redis-protocol server when none is installed.</summary>
    public required string Redis { get; init; }

    public required bool RedisEmbedded { get; init; }

    /// <summary>False when streamrec was built in Debug: the figures then say little about the code.</summary>
    public required bool OptimizedBuild { get; init; }

    public required IReadOnlyList<BenchFigure> Figures { get; init; }

    /// <summary>Sections that failed, with the reason.</summary>
    public required IReadOnlyDictionary<string, string> Failures { get; init; }
}

/// <summary>
/// Runs the sections of `streamrec bench` one after the other (never two at once: each one's reference
/// must see the same machine as its figure) and collects their figures. A failing section is reported and
/// the others still run.
/// </summary>
internal static class BenchRun
{
    /// <summary>Sections in the order they are printed. Memory runs first, while the process holds little else.</summary>
    public static readonly string[] SectionOrder =
    [
        IngestSection.Name, ScalingSection.Name, LearningSection.Name, CheckpointSection.Name, ServingSection.Name, FreshnessSection.Name, MemorySection.Name,
    ];

    private static readonly (string Name, Func<BenchContext, CancellationToken, Task<IReadOnlyList<BenchFigure>>> Run)[] _executionOrder =
    [
        (MemorySection.Name, MemorySection.RunAsync),
        (LearningSection.Name, LearningSection.RunAsync),
        (IngestSection.Name, IngestSection.RunAsync),
        (ScalingSection.Name, ScalingSection.RunAsync),
        (CheckpointSection.Name, CheckpointSection.RunAsync),
        (ServingSection.Name, ServingSection.RunAsync),
        (FreshnessSection.Name, FreshnessSection.RunAsync),
    ];

    private static readonly TimeSpan _redisCommandTimeout = TimeSpan.FromSeconds(60);

    public static readonly JsonSerializerOptions JsonOptions = new()
    {
        WriteIndented = true,
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        Converters = { new JsonStringEnumConverter(JsonNamingPolicy.SnakeCaseLower) },
    };

    public static async Task<BenchReport> RunAsync(BenchSettings settings, IReadOnlySet<string> sections, string command, TextWriter log, CancellationToken cancellationToken)
    {
        var started = DateTimeOffset.UtcNow;
        var clock = Stopwatch.StartNew();
        var loadStart = LoadAverage();
        using var redis = LocalRedis.StartRedisServerOrEmbedded();
        var redisLine = redis.Kind == LocalRedisKind.EmbeddedGarnet
            ? $"{redis.Description} (no redis-server on PATH: the Redis figures are the embedded server's)"
            : redis.Description;
        log.WriteLine($"streamrec bench ({settings.Mode}); Redis: {redisLine}; load average {loadStart}");
        if (!IsOptimizedBuild)
        {
            log.WriteLine("warning: this streamrec is a Debug build; build with -c Release for figures worth quoting.");
        }

        // A command slowed by other tenants of the machine is a slow figure, not a failed run: a generous timeout.
        var redisOptions = RedisEndpointSettings.Parse(redis.Endpoint, "redis").ToConfigurationOptions();
        redisOptions.SyncTimeout = redisOptions.AsyncTimeout = (int)_redisCommandTimeout.TotalMilliseconds;
        await using var connection = await ConnectionMultiplexer.ConnectAsync(redisOptions);
        var context = new BenchContext(settings, redis, connection, log);
        var figures = new List<BenchFigure>();
        var failures = new Dictionary<string, string>();
        foreach (var (name, run) in _executionOrder.Where(s => sections.Contains(s.Name)))
        {
            cancellationToken.ThrowIfCancellationRequested();
            var sectionClock = Stopwatch.StartNew();
            log.WriteLine($"== {name}");
            try
            {
                figures.AddRange(await run(context, cancellationToken));
            }
            catch (Exception ex) when (ex is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
            {
                // One section's failure (a missing tool, a server that did not start) must not hide the others' figures.
                failures[name] = $"{ex.GetType().Name}: {ex.Message}";
                figures.Add(BenchFigure.FailedFigure(name, name, "", failures[name]));
                log.WriteLine($"{name} failed: {ex}");
            }

            log.WriteLine(string.Create(CultureInfo.InvariantCulture, $"== {name} took {sectionClock.Elapsed.TotalSeconds:0.0} s"));
        }

        return new BenchReport
        {
            Command = command,
            Mode = settings.Mode,
            Commit = Commit(),
            StartedUtc = started,
            DurationSeconds = Math.Round(clock.Elapsed.TotalSeconds, 1),
            Machine = Machine(),
            LoadAverageStart = loadStart,
            LoadAverageEnd = LoadAverage(),
            Redis = redisLine,
            RedisEmbedded = redis.Kind == LocalRedisKind.EmbeddedGarnet,
            OptimizedBuild = IsOptimizedBuild,
            Figures = [.. figures.OrderBy(f => Array.IndexOf(SectionOrder, f.Section))],
            Failures = failures,
        };
    }

    /// <summary>The figures as a Markdown table (what docs/benchmarks.md holds).</summary>
    public static string Table(BenchReport report)
    {
        ArgumentNullException.ThrowIfNull(report);
        var text = new StringBuilder();
        text.AppendLine(CultureInfo.InvariantCulture, $"streamrec bench, {report.Mode} run, {report.StartedUtc:yyyy-MM-dd HH:mm} UTC, commit {report.Commit}, {report.DurationSeconds:0} s");
        text.AppendLine(CultureInfo.InvariantCulture, $"machine: {report.Machine.Cpu}, {report.Machine.Cores} cores, {report.Machine.MemoryGiB:0} GiB, {report.Machine.Os}, {report.Machine.Runtime}");
        text.AppendLine(CultureInfo.InvariantCulture, $"load average: {report.LoadAverageStart} at the start, {report.LoadAverageEnd} at the end; Redis: {report.Redis}");
        text.AppendLine(CultureInfo.InvariantCulture, $"command: {report.Command}{(report.OptimizedBuild ? "" : " (Debug build: not optimized)")}");
        text.AppendLine();
        text.AppendLine("| section | figure | value | reference (same run) | ratio | target | met |");
        text.AppendLine("|---|---|---:|---|---:|---|---|");
        foreach (var figure in report.Figures)
        {
            if (figure.Failed is { } failed)
            {
                text.AppendLine(CultureInfo.InvariantCulture, $"| {figure.Section} | {figure.Name} | failed | {Escape(failed)} | | | |");
                continue;
            }

            var reference = figure.ReferenceValue is { } r
                ? $"{BenchFigure.Format(r)} {figure.Unit}: {figure.ReferenceName}"
                : $"skipped ({figure.ReferenceSkipped}): {figure.ReferenceName}";
            var met = figure.TargetMet switch { true => "met", false => "not met", null => "" };
            text.AppendLine(CultureInfo.InvariantCulture,
                $"| {figure.Section} | {Escape(figure.Name)} | {BenchFigure.Format(figure.Value)} {figure.Unit} | {Escape(reference)} | {(figure.Ratio is { } ratio ? ratio.ToString("0.00", CultureInfo.InvariantCulture) : "-")} | {figure.Target?.Text} | {met} |");
        }

        return text.ToString();
    }

    private static bool IsOptimizedBuild =>
        typeof(BenchRun).Assembly.GetCustomAttribute<DebuggableAttribute>()?.IsJITOptimizerDisabled != true;

    private static string Escape(string text) => text.Replace("|", "\\|", StringComparison.Ordinal);

    private static string LoadAverage()
    {
        try
        {
            return string.Join(' ', File.ReadAllText("/proc/loadavg").Split(' ').Take(3));
        }
        catch (IOException)
        {
            return "unknown";
        }
        catch (UnauthorizedAccessException)
        {
            return "unknown";
        }
    }

    private static BenchMachine Machine()
    {
        static string? ProcLine(string file, string prefix)
        {
            try
            {
                return File.ReadLines(file).FirstOrDefault(l => l.StartsWith(prefix, StringComparison.Ordinal))?.Split(':', 2)[1].Trim();
            }
            catch (IOException)
            {
                return null;
            }
        }

        var memoryKb = ProcLine("/proc/meminfo", "MemTotal")?.Split(' ')[0];
        return new BenchMachine(
            RuntimeInformation.OSDescription,
            ProcLine("/proc/cpuinfo", "model name") ?? RuntimeInformation.ProcessArchitecture.ToString(),
            Environment.ProcessorCount,
            memoryKb is null ? 0 : Math.Round(double.Parse(memoryKb, CultureInfo.InvariantCulture) / 1024 / 1024, 1),
            RuntimeInformation.FrameworkDescription);
    }

    /// <summary>The commit the build came from (the SDK stamps it into the informational version), else the working directory's HEAD.</summary>
    private static string Commit()
    {
        var version = typeof(BenchRun).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion;
        if (version?.Split('+') is [_, var sha, ..] && sha.Length >= 7)
        {
            return sha[..Math.Min(12, sha.Length)];
        }

        try
        {
            using var git = Process.Start(new ProcessStartInfo("git", "rev-parse --short=12 HEAD") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false });
            var head = git?.StandardOutput.ReadToEnd().Trim();
            git?.WaitForExit();
            return git?.ExitCode == 0 && !string.IsNullOrEmpty(head) ? head : "unknown";
        }
        catch (System.ComponentModel.Win32Exception)
        {
            return "unknown";
        }
    }
}
