using System.Diagnostics;
using Confluent.Kafka;
using Google.Protobuf;
using Microsoft.Extensions.Logging.Abstractions;
using StackExchange.Redis;
using StreamRec.Contracts.V1;
using StreamRec.Core.Data;
using StreamRec.Core.Learners;
using StreamRec.Kafka;
using StreamRec.Kafka.Embedded;
using StreamRec.Redis.Checkpoints;
using StreamRec.Worker.Checkpointing;
using StreamRec.Worker.Consumption;
using StreamRec.Worker.Hosting;

namespace StreamRec.Cli.Bench;

/// <summary>One ingest measurement: the worker against kcat on the same topic, in the same run.</summary>
public sealed record IngestResult(int Events, int Partitions, TimeSpan WorkerElapsed, TimeSpan? KcatElapsed, string? KcatSkippedReason)
{
    public double WorkerEventsPerSecond => Events / WorkerElapsed.TotalSeconds;

    public double? KcatEventsPerSecond => KcatElapsed is { } elapsed ? Events / elapsed.TotalSeconds : null;

    public double? Ratio => KcatEventsPerSecond is { } kcat ? WorkerEventsPerSecond / kcat : null;
}

/// <summary>
/// Measures one worker's end-to-end ingest (consume, decode, learn, checkpoint to Redis) on the
/// embedded Kafka, against <c>kcat -C</c> reading the same topic to its end: the C client's ceiling
/// on the same broker and machine, measured minutes apart rather than days.
/// </summary>
public static class IngestBenchmark
{
    public static async Task<IngestResult> RunAsync(IConnectionMultiplexer redis, string redisEndpoint, int events, int partitions, TextWriter log, CancellationToken cancellationToken)
    {
        using var kafka = EmbeddedKafkaCluster.Start(brokerCount: 1);
        const string Topic = "bench-clicks";
        kafka.CreateTopic(Topic, partitions);
        var model = $"bench-{Guid.NewGuid():N}"[..20];
        kafka.CreateTopic($"{model}.dead-letter", 1);
        kafka.CreateTopic($"{model}.item-deltas", 1);
        Produce(kafka.BootstrapServers, Topic, events);
        log.WriteLine($"ingest: {events:N0} events in {partitions} partitions at {kafka.BootstrapServers}");

        var (kcat, skipped) = await TimeKcatAsync(kafka.BootstrapServers, Topic, events, cancellationToken);
        log.WriteLine(kcat is { } k ? $"ingest: kcat read them in {k.TotalSeconds:0.00} s" : $"ingest: kcat skipped: {skipped}");

        var options = new WorkerOptions
        {
            Kafka = new KafkaSettings { BootstrapServers = kafka.BootstrapServers },
            Topics = [Topic],
            Model = model,
            RedisEndpoint = redisEndpoint,
            Learner = new LearnerOptions { Learner = "isgd", Dimensions = 64 },
            MaxBatchSize = 10_000,
        };
        var store = new RedisShardCheckpoints(redis, new CheckpointOptions(), model, "v1", "isgd", new Dictionary<string, string>());
        var worker = new WorkerRuntime(options, store, NullLogger.Instance);
        using var stop = new CancellationTokenSource();
        var clock = Stopwatch.StartNew();
        var running = worker.RunAsync(stop.Token);
        TimeSpan? firstApplied = null;
        while (worker.Status.AppliedEvents < events && !running.IsCompleted)
        {
            if (firstApplied is null && worker.Status.AppliedEvents > 0)
            {
                firstApplied = clock.Elapsed;
            }

            await Task.Delay(5, cancellationToken);
        }

        var elapsed = clock.Elapsed;
        await stop.CancelAsync();
        await running;
        log.WriteLine($"ingest: the worker applied them in {elapsed.TotalSeconds:0.00} s (first event applied after {firstApplied?.TotalSeconds:0.00} s)");
        return new IngestResult(events, partitions, elapsed, kcat, skipped);
    }

    private static void Produce(string bootstrap, string topic, int events)
    {
        var config = new ProducerConfig { BootstrapServers = bootstrap, CompressionType = CompressionType.Lz4, LingerMs = 20, BatchSize = 1_000_000 };
        using var producer = new ProducerBuilder<string, byte[]>(config).Build();
        var now = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
        foreach (var interaction in new SyntheticClickstream(new SyntheticClickstreamOptions(Users: 20_000, Items: 5_000, Events: events, Seed: 1)))
        {
            var click = new ClickEvent { UserId = interaction.UserId, ItemId = interaction.ItemId, Type = interaction.Type, Value = interaction.Value, EventTimeMs = now };
            while (true)
            {
                try
                {
                    producer.Produce(topic, new Message<string, byte[]> { Key = click.UserId, Value = click.ToByteArray() });
                    break;
                }
                catch (ProduceException<string, byte[]> ex) when (ex.Error.Code == ErrorCode.Local_QueueFull)
                {
                    producer.Poll(TimeSpan.FromMilliseconds(50));
                }
            }
        }

        if (producer.Flush(TimeSpan.FromSeconds(60)) > 0)
        {
            throw new KafkaUnreachableException("The benchmark's events were not all delivered to the embedded Kafka.");
        }
    }

    private static async Task<(TimeSpan?, string?)> TimeKcatAsync(string bootstrap, string topic, int events, CancellationToken cancellationToken)
    {
        var kcat = DevServers.LocalRedis.FindOnPath("kcat");
        if (kcat is null)
        {
            return (null, "kcat is not installed (apt-get install kcat)");
        }

        var start = new ProcessStartInfo(kcat) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var argument in new[] { "-C", "-b", bootstrap, "-t", topic, "-o", "beginning", "-e", "-q", "-f", "%o\n" })
        {
            start.ArgumentList.Add(argument);
        }

        var clock = Stopwatch.StartNew();
        using var process = Process.Start(start)!;
        var lines = 0;
        var reading = Task.Run(async () =>
        {
            while (await process.StandardOutput.ReadLineAsync(cancellationToken) is not null)
            {
                lines++;
            }
        }, cancellationToken);
        var errors = process.StandardError.ReadToEndAsync(cancellationToken);
        await process.WaitForExitAsync(cancellationToken);
        await reading;
        var elapsed = clock.Elapsed;
        return lines == events ? (elapsed, null) : (null, $"kcat read {lines} of {events} messages: {await errors}");
    }
}
