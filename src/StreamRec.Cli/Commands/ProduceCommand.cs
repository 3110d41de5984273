using System.CommandLine;
using System.Diagnostics;
using Confluent.Kafka;
using Google.Protobuf;
using StreamRec.Contracts.V1;
using StreamRec.Core.Data;
using StreamRec.Kafka;

namespace StreamRec.Cli.Commands;

/// <summary>`streamrec produce`: replays a file of events into a topic as protobuf ClickEvents keyed by user id.</summary>
public static class ProduceCommand
{
    public static Command Create()
    {
        var input = new Option<FileInfo>("--input") { Description = "Events file.", Required = true };
        var format = new Option<string?>("--format") { Description = $"Input format: {string.Join(", ", InputFormatNames.All)} (default: from the extension)." };
        var topic = new Option<string>("--topic") { Description = "Topic to produce to.", Required = true };
        var bootstrap = new Option<string>("--bootstrap-servers") { Description = "Kafka bootstrap servers.", Required = true };
        var rate = new Option<double?>("--rate") { Description = "Events per second (default: as fast as possible)." };
        var json = new Option<bool>("--json") { Description = "Produce JSON ClickEvents instead of protobuf." };
        var command = new Command("produce", "Produce a file of events to a Kafka topic (protobuf ClickEvents, key = user id).")
        {
            input, format, topic, bootstrap, rate, json,
        };
        command.SetAction(async (parse, cancellationToken) =>
        {
            var file = parse.GetValue(input)!;
            if (!file.Exists)
            {
                await Console.Error.WriteLineAsync($"--input: '{file.FullName}' does not exist.");
                return ExitCodes.BadInput;
            }

            if (!FormatOption.TryResolve(parse.GetValue(format), file.Name, out var inputFormat, out var formatError))
            {
                await Console.Error.WriteLineAsync(formatError);
                return ExitCodes.BadInput;
            }

            var servers = parse.GetValue(bootstrap)!;
            try
            {
                KafkaBootstrap.ValidateFormat(servers, "--bootstrap-servers");
                KafkaBootstrap.EnsureReachable(new ClientConfig { BootstrapServers = servers }, KafkaBootstrap.DefaultReachTimeout, "--bootstrap-servers");
            }
            catch (Exception ex) when (ex is FormatException or KafkaUnreachableException)
            {
                await Console.Error.WriteLineAsync(ex.Message);
                return ExitCodes.BadInput;
            }

            if (parse.GetValue(rate) is <= 0)
            {
                await Console.Error.WriteLineAsync("--rate must be positive.");
                return ExitCodes.BadInput;
            }

            var produced = await ProduceAsync(file, inputFormat, parse.GetValue(topic)!, servers, parse.GetValue(rate), parse.GetValue(json), cancellationToken);
            return produced < 0 ? 1 : ExitCodes.Ok;
        });
        return command;
    }

    private static async Task<long> ProduceAsync(FileInfo file, InputFormat format, string topic, string servers, double? rate, bool json, CancellationToken cancellationToken)
    {
        var config = new ProducerConfig { BootstrapServers = servers, CompressionType = CompressionType.Lz4, LingerMs = 5, EnableIdempotence = true };
        using var producer = new ProducerBuilder<string, byte[]>(config).Build();
        await using var stream = file.OpenRead();
        var clock = Stopwatch.StartNew();
        long produced = 0, failed = 0;
        try
        {
            foreach (var interaction in InteractionReader.Read(stream, format, new InteractionReaderOptions(file.Name)))
            {
                cancellationToken.ThrowIfCancellationRequested();
                var click = new ClickEvent { UserId = interaction.UserId, ItemId = interaction.ItemId, Type = interaction.Type, Value = interaction.Value, EventTimeMs = interaction.EventTimeMs };
                var value = json ? System.Text.Encoding.UTF8.GetBytes(JsonFormatter.Default.Format(click)) : click.ToByteArray();
                producer.Produce(topic, new Message<string, byte[]> { Key = click.UserId, Value = value }, report =>
                {
                    if (report.Error.IsError)
                    {
                        Interlocked.Increment(ref failed);
                    }
                });
                produced++;
                if (rate is { } perSecond && produced / perSecond > clock.Elapsed.TotalSeconds)
                {
                    await Task.Delay(TimeSpan.FromSeconds(produced / perSecond) - clock.Elapsed, cancellationToken);
                }
            }
        }
        catch (InteractionFormatException ex)
        {
            await Console.Error.WriteLineAsync(ex.Message);
            producer.Flush(TimeSpan.FromSeconds(30));
            return -1;
        }

        var unsent = producer.Flush(TimeSpan.FromSeconds(60));
        Console.WriteLine($"Produced {produced - unsent - failed:N0} events to '{topic}' in {clock.Elapsed.TotalSeconds:0.0} s ({unsent + failed} failed).");
        return unsent + failed > 0 ? -1 : produced;
    }
}
