using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using StreamRec.Cli.Bench;
using StreamRec.DevServers;
using StreamRec.Redis;

namespace StreamRec.Cli.Commands;

/// <summary>`streamrec bench ingest`: one worker's end-to-end events per second against kcat on the same topic.</summary>
public static class BenchCommand
{
    public static Command Create() => new("bench", "Performance figures, each beside the best the same machine does in the same run.")
    {
        Ingest(),
    };

    private static Command Ingest()
    {
        var events = new Option<int>("--events") { Description = "Events to produce and consume.", DefaultValueFactory = _ => 400_000 };
        var partitions = new Option<int>("--partitions") { Description = "Partitions of the topic.", DefaultValueFactory = _ => 8 };
        var json = new Option<FileInfo?>("--json") { Description = "Write the figures to this JSON file." };
        var command = new Command("ingest", "One worker (consume, decode, learn, checkpoint) against kcat reading the same topic to its end.") { events, partitions, json };
        command.SetAction(async (parse, cancellationToken) =>
        {
            if (parse.GetValue(events) < 1000 || parse.GetValue(partitions) < 1)
            {
                await Console.Error.WriteLineAsync("--events must be at least 1000 and --partitions at least 1.");
                return ExitCodes.BadInput;
            }

            using var redis = LocalRedis.StartRedisServerOrEmbedded();
            Console.WriteLine($"Redis: {redis.Description}");
            await using var connection = await RedisEndpointSettings.Parse(redis.Endpoint).ConnectAsync();
            var result = await IngestBenchmark.RunAsync(connection, redis.Endpoint, parse.GetValue(events), parse.GetValue(partitions), Console.Out, cancellationToken);
            var invariant = CultureInfo.InvariantCulture;
            Console.WriteLine(string.Create(invariant, $"worker: {result.WorkerEventsPerSecond:N0} events/s"));
            Console.WriteLine(result.KcatEventsPerSecond is { } kcat
                ? string.Create(invariant, $"kcat:   {kcat:N0} events/s; ratio worker/kcat {result.Ratio:0.00}")
                : $"kcat:   skipped ({result.KcatSkippedReason})");
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
                    options = new { events = result.Events, partitions = result.Partitions, learner = "isgd", dimensions = 64, redis = redis.Kind.ToString() },
                }, new JsonSerializerOptions { WriteIndented = true }), cancellationToken);
            }

            return ExitCodes.Ok;
        });
        return command;
    }
}
