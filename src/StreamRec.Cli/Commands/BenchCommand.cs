using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using StreamRec.Cli.Bench;
using StreamRec.Core.Learners;
using StreamRec.DevServers;
using StreamRec.Redis;
using StreamRec.Worker.Hosting;

namespace StreamRec.Cli.Commands;

/// <summary>
/// `streamrec bench`: every performance figure beside its ceiling measured in the same run (docs/benchmarks.md);
/// `streamrec bench ingest`: the ingest figure alone.
/// </summary>
public static class BenchCommand
{
    public static Command Create()
    {
        var quick = new Option<bool>("--quick") { Description = "Smaller inputs and shorter runs (under 2 minutes), for CI smoke runs." };
        var json = new Option<FileInfo?>("--json") { Description = "Write every figure with its reference, ratio, unit and options to this JSON file." };
        var only = new Option<string[]>("--only")
        {
            Description = $"Run only these sections ({string.Join(", ", BenchRun.SectionOrder)}).",
            AllowMultipleArgumentsPerToken = true,
        };
        var command = new Command("bench", "Performance figures, each beside the best the same machine does in the same run: "
            + "ingest, scaling, learning, checkpoints, serving, freshness, memory.")
        {
            quick, json, only, Ingest(),
        };
        command.SetAction(async (parse, cancellationToken) =>
        {
            var sections = parse.GetValue(only) is { Length: > 0 } chosen
                ? chosen.SelectMany(s => s.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)).ToHashSet(StringComparer.Ordinal)
                : BenchRun.SectionOrder.ToHashSet(StringComparer.Ordinal);
            if (sections.FirstOrDefault(s => !BenchRun.SectionOrder.Contains(s)) is { } unknown)
            {
                await parse.InvocationConfiguration.Error.WriteLineAsync($"--only: unknown section '{unknown}'; the sections are {string.Join(", ", BenchRun.SectionOrder)}.");
                return ExitCodes.BadInput;
            }

            var output = parse.InvocationConfiguration.Output;
            var settings = parse.GetValue(quick) ? BenchSettings.Quick : BenchSettings.Full;
            var commandLine = "streamrec " + string.Join(' ', parse.Tokens.Select(t => t.Value));
            var report = await BenchRun.RunAsync(settings, sections, commandLine, output, cancellationToken);
            await output.WriteLineAsync();
            await output.WriteAsync(BenchRun.Table(report));
            if (parse.GetValue(json) is { } file)
            {
                await File.WriteAllTextAsync(file.FullName, JsonSerializer.Serialize(report, BenchRun.JsonOptions), cancellationToken);
                await output.WriteLineAsync($"figures written to {file.FullName}");
            }

            return report.Failures.Count == 0 ? ExitCodes.Ok : ExitCodes.Failed;
        });
        return command;
    }

    private static Command Ingest()
    {
        var events = new Option<int>("--events") { Description = "Events to produce and consume.", DefaultValueFactory = _ => 1_000_000 };
        var partitions = new Option<int>("--partitions") { Description = "Partitions of the topic.", DefaultValueFactory = _ => 8 };
        var json = new Option<FileInfo?>("--json") { Description = "Write the figures to this JSON file." };
        var learner = new Option<string>("--learner") { Description = "The worker's learner: isgd, bpr or mse.", DefaultValueFactory = _ => "isgd" };
        var dimensions = new Option<int>("--dimensions") { Description = "Embedding dimensions.", DefaultValueFactory = _ => 64 };
        var negatives = new Option<int>("--negatives") { Description = "Negative samples per event (isgd, bpr).", DefaultValueFactory = _ => 4 };
        var deltaInterval = new Option<string?>("--delta-interval")
        {
            Description = "The worker's time between deltas, for example 250ms or 1s (at most 1 s; default the worker's, 250ms): less often costs freshness, saves CPU.",
        };
        var lookupInterval = new Option<string?>("--lookup-interval")
        {
            Description = "The worker's time between lookup-key writes, from the delta interval to 1 minute (default the worker's, 1s).",
        };
        var command = new Command("ingest", "One worker (consume, decode, learn, checkpoint) against kcat reading the same topic to its end.")
        {
            events, partitions, json, learner, dimensions, negatives, deltaInterval, lookupInterval,
        };
        command.SetAction(async (parse, cancellationToken) =>
        {
            var error = parse.InvocationConfiguration.Error;
            if (parse.GetValue(events) < 1000 || parse.GetValue(partitions) < 1)
            {
                await error.WriteLineAsync("--events must be at least 1000 and --partitions at least 1.");
                return ExitCodes.BadInput;
            }

            var interval = new WorkerOptions().DeltaInterval;
            if (parse.GetValue(deltaInterval) is { } intervalText && !(DurationText.TryParse(intervalText, out interval) && WorkerOptions.IsValidDeltaInterval(interval)))
            {
                await error.WriteLineAsync($"--delta-interval: '{intervalText}' is not a duration of more than 0 and at most {WorkerOptions.MaxDeltaInterval.TotalSeconds:0} s (for example 250ms, 1s).");
                return ExitCodes.BadInput;
            }

            var lookups = new WorkerOptions().LookupInterval;
            if (parse.GetValue(lookupInterval) is { } lookupText && !(DurationText.TryParse(lookupText, out lookups) && WorkerOptions.IsValidLookupInterval(lookups, interval)))
            {
                await error.WriteLineAsync($"--lookup-interval: '{lookupText}' is not a duration from the delta interval ({interval.TotalMilliseconds:0} ms) to {WorkerOptions.MaxLookupInterval.TotalSeconds:0} s (for example 250ms, 1s).");
                return ExitCodes.BadInput;
            }

            var learnerOptions = new LearnerOptions { Learner = parse.GetValue(learner)!, Dimensions = parse.GetValue(dimensions), Negatives = parse.GetValue(negatives) };
            try
            {
                learnerOptions.Validate();
                if (!LearnerFactory.FactorNames.Contains(learnerOptions.Learner))
                {
                    throw new ArgumentException($"The worker learns embeddings: --learner must be one of {string.Join(", ", LearnerFactory.FactorNames)}.");
                }
            }
            catch (ArgumentException ex)
            {
                await error.WriteLineAsync(ex.Message);
                return ExitCodes.BadInput;
            }

            using var redis = LocalRedis.StartRedisServerOrEmbedded();
            Console.WriteLine($"Redis: {redis.Description}");
            await using var connection = await RedisEndpointSettings.Parse(redis.Endpoint).ConnectAsync();
            var result = await IngestBenchmark.RunAsync(connection, redis.Endpoint, parse.GetValue(events), parse.GetValue(partitions), Console.Out, cancellationToken, learnerOptions, interval, lookups);
            var invariant = CultureInfo.InvariantCulture;
            Console.WriteLine(string.Create(invariant, $"worker: {result.WorkerEventsPerSecond:N0} events/s ({result.Learner}; deltas every {interval.TotalMilliseconds:0} ms, lookup keys every {lookups.TotalMilliseconds:0} ms); {result.WorkerSteadyEventsPerSecond:N0}/s after the first event; {result.WorkerCpuMicrosecondsPerEvent:0.00} µs CPU per event in this process"));
            Console.WriteLine(result.KcatEventsPerSecond is { } kcat
                ? string.Create(invariant, $"kcat:   {kcat:N0} events/s; ratio worker/kcat {result.Ratio:0.00}; kcat's own CPU {result.KcatCpuMicrosecondsPerEvent:0.00} µs per message")
                : $"kcat:   skipped ({result.KcatSkippedReason})");
            Console.WriteLine(string.Create(invariant, $"client: Confluent.Kafka Consume() alone {result.ClientConsumeEventsPerSecond:N0} messages/s; the worker's batch read alone {result.BatchReadEventsPerSecond:N0} messages/s"));
            if (parse.GetValue(json) is { } file)
            {
                await File.WriteAllTextAsync(file.FullName, JsonSerializer.Serialize(new
                {
                    figure = "ingest",
                    unit = "events/s",
                    value = result.WorkerEventsPerSecond,
                    reference = result.KcatEventsPerSecond,
                    reference_name = "kcat -C to the end of the same topic",
                    ratio = result.Ratio,
                    skipped_reference = result.KcatSkippedReason,
                    worker_steady = result.WorkerSteadyEventsPerSecond,
                    worker_first_applied_seconds = result.WorkerFirstApplied?.TotalSeconds,
                    worker_cpu_us_per_event = result.WorkerCpuMicrosecondsPerEvent,
                    kcat_cpu_us_per_event = result.KcatCpuMicrosecondsPerEvent,
                    client_consume = result.ClientConsumeEventsPerSecond,
                    batch_read = result.BatchReadEventsPerSecond,
                    options = new { events = result.Events, partitions = result.Partitions, learner = learnerOptions.Learner, dimensions = learnerOptions.Dimensions, negatives = learnerOptions.Negatives, delta_interval_ms = interval.TotalMilliseconds, lookup_interval_ms = lookups.TotalMilliseconds, redis = redis.Kind.ToString() },
                }, new JsonSerializerOptions { WriteIndented = true }), cancellationToken);
            }

            return ExitCodes.Ok;
        });
        return command;
    }
}
