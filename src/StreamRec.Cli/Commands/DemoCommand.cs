using System.CommandLine;
using Microsoft.Extensions.Logging;
using StreamRec.Cli.Demo;

namespace StreamRec.Cli.Commands;

/// <summary>
/// `streamrec demo`: the whole pipeline on embedded servers in one process, with live progress and a
/// report (JSON and a self-contained HTML page) at the end. Ctrl-C stops producing and still reports.
/// </summary>
public static class DemoCommand
{
    public static Command Create()
    {
        var duration = new Option<string>("--duration") { Description = "How long to stream (for example 60s, 2m).", DefaultValueFactory = _ => "60s" };
        var rate = new Option<int>("--rate") { Description = "Generated events per second.", DefaultValueFactory = _ => 5_000 };
        var users = new Option<int>("--users") { Description = "Users of the synthetic clickstream.", DefaultValueFactory = _ => 2_000 };
        var items = new Option<int>("--items") { Description = "Items of the synthetic clickstream.", DefaultValueFactory = _ => 1_000 };
        var shiftAt = new Option<long?>("--shift-at") { Description = "Event index of the taste shift (default: half of the stream)." };
        var freezeAfter = new Option<long?>("--freeze-after") { Description = "Events the frozen comparison model learns from (default: a tenth of the events before the shift)." };
        var partitions = new Option<int>("--partitions") { Description = "Partitions of the clickstream topic.", DefaultValueFactory = _ => 8 };
        var workers = new Option<int>("--workers") { Description = "Worker instances in the consumer group.", DefaultValueFactory = _ => 2 };
        var report = new Option<string>("--report") { Description = "Directory for report.json and report.html.", DefaultValueFactory = _ => "demo-report" };
        var sampleEvery = new Option<string>("--sample-every") { Description = "Time between soak samples of memory and lag (for example 1m).", DefaultValueFactory = _ => "1m" };
        var seed = new Option<int>("--seed") { Description = "Seed of the synthetic clickstream.", DefaultValueFactory = _ => 42 };
        var deltaInterval = new Option<string?>("--delta-interval") { Description = "Time between the workers' deltas, up to 1s (default: the worker's own default)." };
        var probesPerSecond = new Option<double>("--probes-per-second") { Description = "Freshness probes started per second (up to 50).", DefaultValueFactory = _ => 4 };
        var command = new Command("demo", "Run the whole pipeline on an embedded Kafka and a local Redis: stream, learn, checkpoint, measure, report.")
        {
            duration, rate, users, items, shiftAt, freezeAfter, partitions, workers, report, seed, deltaInterval, probesPerSecond, sampleEvery,
        };
        command.SetAction(async (parse, cancellationToken) =>
        {
            var streamFor = await ParseDurationAsync(parse.GetValue(duration), "--duration", "60s, 2m");
            if (!streamFor.Ok)
            {
                return ExitCodes.BadInput;
            }

            var sampleInterval = await ParseDurationAsync(parse.GetValue(sampleEvery), "--sample-every", "1m, 30s");
            if (!sampleInterval.Ok)
            {
                return ExitCodes.BadInput;
            }

            var deltaEvery = await ParseDurationAsync(parse.GetValue(deltaInterval), "--delta-interval", "250ms, 1s");
            if (!deltaEvery.Ok)
            {
                return ExitCodes.BadInput;
            }

            var options = new DemoOptions
            {
                Duration = streamFor.Value!.Value,
                Rate = parse.GetValue(rate),
                Users = parse.GetValue(users),
                Items = parse.GetValue(items),
                ShiftAt = parse.GetValue(shiftAt),
                FreezeAfter = parse.GetValue(freezeAfter),
                Partitions = parse.GetValue(partitions),
                Workers = parse.GetValue(workers),
                ReportDirectory = parse.GetValue(report),
                Seed = parse.GetValue(seed),
                ProbesPerSecond = parse.GetValue(probesPerSecond),
                SampleInterval = sampleInterval.Value!.Value,
            };
            if (deltaEvery.Value is { } every)
            {
                options = options with { DeltaInterval = every };
            }

            if (options.Validate() is { Count: > 0 } errors)
            {
                await Console.Error.WriteLineAsync(string.Join(Environment.NewLine, errors));
                return ExitCodes.BadInput;
            }

            using var logging = LoggerFactory.Create(builder => builder.AddSimpleConsole(o => o.SingleLine = true).SetMinimumLevel(LogLevel.Error));
            await using var demo = await DemoRun.StartAsync(options, Console.Out, logging.CreateLogger("streamrec.demo"));
            Console.WriteLine($"Kafka (embedded):  {demo.BootstrapServers}   e.g. kcat -b {demo.BootstrapServers} -C -t {demo.Topic} -o end -c 5");
            Console.WriteLine($"Redis:             {demo.RedisDescription}   e.g. redis-cli -p {demo.RedisEndpoint.Split(':')[^1]} --scan --pattern 'streamrec:*manifest'");
            Console.WriteLine($"Reader:            {demo.ReaderUrl}   e.g. curl '{demo.ReaderUrl}/v1/users/u42/recommendations?k=10'");
            Console.WriteLine($"Streaming {options.TotalEvents:N0} events at {options.Rate:N0}/s into '{demo.Topic}' ({options.Partitions} partitions), "
                + $"taste shift at event {options.ResolvedShiftAt:N0}; frozen model stops learning after {options.ResolvedFreezeAfter:N0} events. Ctrl-C stops early.");
            await using var stopOnCancel = cancellationToken.Register(demo.Stop);
            var result = await demo.Completion;
            var (json, html) = result.WriteTo(options.ReportDirectory!);
            Console.WriteLine($"Produced {result.EventsProduced:N0}; applied {result.EventsApplied:N0} + dead-lettered {result.EventsDeadLettered:N0} "
                + $"= {result.EventsApplied + result.EventsDeadLettered:N0} ({(result.CountsMatch ? "every message counted once" : "COUNTS DIFFER")}); "
                + $"{result.CheckpointsPublished:N0} checkpoints; freshness (produce -> reader answer) p50 {result.FreshnessMsP50:0} ms p99 {result.FreshnessMsP99:0} ms; {result.ReaderRequests:N0} reader requests, {result.ReaderErrors:N0} failed.");
            if (result.ResourceSamples.Count > 0)
            {
                Console.WriteLine($"Soak: {result.ResourceSamples.Count} samples; live heap growth after warm-up {Growth(result.LiveHeapGrowthMiBPerHour)}, "
                    + $"working set {Growth(result.WorkingSetGrowthMiBPerHour)}; largest lag {result.MaxLag:N0}.");
            }

            Console.WriteLine($"Recall@10 at the end: online {result.RecallAt10Online:0.000}, frozen {result.RecallAt10Frozen:0.000}, trending {result.RecallAt10Trending:0.000}.");
            Console.WriteLine($"Report: {Path.GetFullPath(json)}");
            Console.WriteLine($"Charts: {Path.GetFullPath(html)}");
            return result.CountsMatch ? ExitCodes.Ok : 1;
        });
        return command;
    }

    private static string Growth(double? mibPerHour) =>
        mibPerHour is { } slope ? string.Create(System.Globalization.CultureInfo.InvariantCulture, $"{slope:+0.0;-0.0} MiB/h") : "- (too few samples)";

    /// <summary>Parses an optional duration option; on a bad value writes an error naming the option.</summary>
    private static async Task<(bool Ok, TimeSpan? Value)> ParseDurationAsync(string? text, string option, string examples)
    {
        if (text is null)
        {
            return (true, null);
        }

        if (DurationText.TryParse(text, out var parsed))
        {
            return (true, parsed);
        }

        await Console.Error.WriteLineAsync($"{option}: '{text}' is not a duration (for example {examples}).");
        return (false, null);
    }
}
