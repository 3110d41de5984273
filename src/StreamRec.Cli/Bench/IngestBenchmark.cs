using System.Diagnostics;
using Confluent.Kafka;
using Google.Protobuf;
using Microsoft.Extensions.Logging.Abstractions;
using StackExchange.Redis;
using StreamRec.Contracts.V1;
using StreamRec.Core.Data;
using StreamRec.Core.Learners;
using StreamRec.Kafka;
using StreamRec.Kafka.Consuming;
using StreamRec.Kafka.Embedded;
using StreamRec.Redis.Checkpoints;
using StreamRec.Worker.Checkpointing;
using StreamRec.Worker.Consumption;
using StreamRec.Worker.Hosting;

namespace StreamRec.Cli.Bench;

/// <summary>One ingest measurement: the worker against kcat on the same topic, in the same run.</summary>
public sealed record IngestResult(int Events, int Partitions, TimeSpan WorkerElapsed, TimeSpan? KcatElapsed, string? KcatSkippedReason)
{
    /// <summary>The worker's learner, as named on its options (for example "isgd, 64 dimensions, 4 negatives").</summary>
    public string Learner { get; init; } = "";

    /// <summary>From the worker's start to its first applied event (group join, restores).</summary>
    public TimeSpan? WorkerFirstApplied { get; init; }

    /// <summary>CPU time of this process (worker, its Kafka client, the embedded broker) per event while the worker ran.</summary>
    public double WorkerCpuMicrosecondsPerEvent { get; init; }

    /// <summary>kcat's own CPU time per message (Linux only).</summary>
    public double? KcatCpuMicrosecondsPerEvent { get; init; }

    /// <summary>Confluent.Kafka's per-message <c>Consume()</c> alone, with the worker's consumer settings, reading the same topic: nothing else done per message.</summary>
    public TimeSpan? ClientConsumeElapsed { get; init; }

    /// <summary>The worker's batch read alone (<see cref="ConsumerBatchReader"/>), with the same settings, reading the same topic.</summary>
    public TimeSpan? BatchReadElapsed { get; init; }

    public double WorkerEventsPerSecond => Events / WorkerElapsed.TotalSeconds;

    /// <summary>The worker's rate once the first event is applied (start-up excluded).</summary>
    public double? WorkerSteadyEventsPerSecond => WorkerFirstApplied is { } first && WorkerElapsed > first ? Events / (WorkerElapsed - first).TotalSeconds : null;

    public double? ClientConsumeEventsPerSecond => ClientConsumeElapsed is { } elapsed ? Events / elapsed.TotalSeconds : null;

    public double? BatchReadEventsPerSecond => BatchReadElapsed is { } elapsed ? Events / elapsed.TotalSeconds : null;

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
    /// <summary>
    /// The learner the figure is quoted with: the worker's default (isgd, 4 negatives) at 64 dimensions, the size the
    /// learner benchmarks use, rather than the default 32.
    /// </summary>
    public static LearnerOptions DefaultLearner() => new() { Learner = "isgd", Dimensions = 64 };

    /// <param name="deltaInterval">The worker's time between deltas; its default when null.</param>
    /// <param name="lookupInterval">The worker's time between lookup-key writes; its default when null.</param>
    public static async Task<IngestResult> RunAsync(IConnectionMultiplexer redis, string redisEndpoint, int events, int partitions, TextWriter log, CancellationToken cancellationToken,
        LearnerOptions? learner = null, TimeSpan? deltaInterval = null, TimeSpan? lookupInterval = null)
    {
        learner ??= DefaultLearner();
        using var kafka = EmbeddedKafkaCluster.Start(brokerCount: 1);
        const string Topic = "bench-clicks";
        kafka.CreateTopic(Topic, partitions);
        var model = $"bench-{Guid.NewGuid():N}"[..20];
        kafka.CreateTopic($"{model}.dead-letter", 1);
        kafka.CreateTopic($"{model}.item-deltas", 1);
        Produce(kafka.BootstrapServers, Topic, events);
        log.WriteLine($"ingest: {events:N0} events in {partitions} partitions at {kafka.BootstrapServers}");

        var childCpuBefore = ChildCpuSeconds();
        var (kcat, skipped) = await TimeKcatAsync(kafka.BootstrapServers, Topic, events, cancellationToken);
        double? kcatCpu = kcat is not null && ChildCpuSeconds() is { } after && childCpuBefore is { } before ? (after - before) / events * 1e6 : null;
        log.WriteLine(kcat is { } k ? $"ingest: kcat read them in {k.TotalSeconds:0.00} s" : $"ingest: kcat skipped: {skipped}");
        var clientConsume = TimeClientConsume(kafka.BootstrapServers, Topic, events, batch: false);
        log.WriteLine($"ingest: a bare Confluent.Kafka Consume() loop read them in {clientConsume.TotalSeconds:0.00} s");
        var batchRead = TimeClientConsume(kafka.BootstrapServers, Topic, events, batch: true);
        log.WriteLine($"ingest: a bare batch read loop read them in {batchRead.TotalSeconds:0.00} s");

        var options = WorkerOptionsFor(kafka.BootstrapServers, Topic, model, redisEndpoint, learner, deltaInterval, lookupInterval);
        var store = new RedisShardCheckpoints(redis, new CheckpointOptions(), model, "v1", learner.Learner, new Dictionary<string, string>());
        var worker = new WorkerRuntime(options, store, NullLogger.Instance);
        using var stop = new CancellationTokenSource();
        var cpuBefore = Process.GetCurrentProcess().TotalProcessorTime;
        var clock = Stopwatch.StartNew();
        var running = worker.RunAsync(stop.Token);
        TimeSpan? firstApplied = null;
        var deadline = TimeSpan.FromSeconds(120);
        while (worker.Status.AppliedEvents < events && !running.IsCompleted)
        {
            if (clock.Elapsed > deadline)
            {
                await stop.CancelAsync();
                await running;
                throw new TimeoutException($"The worker applied {worker.Status.AppliedEvents:N0} of {events:N0} events in {deadline.TotalSeconds:0} s.");
            }

            if (firstApplied is null && worker.Status.AppliedEvents > 0)
            {
                firstApplied = clock.Elapsed;
            }

            await Task.Delay(5, cancellationToken);
        }

        var elapsed = clock.Elapsed;
        var workerCpu = (Process.GetCurrentProcess().TotalProcessorTime - cpuBefore).TotalSeconds / events * 1e6;
        await stop.CancelAsync();
        await running;
        log.WriteLine($"ingest: the worker applied them in {elapsed.TotalSeconds:0.00} s (first event applied after {firstApplied?.TotalSeconds:0.00} s)");
        return new IngestResult(events, partitions, elapsed, kcat, skipped)
        {
            Learner = Describe(learner),
            WorkerFirstApplied = firstApplied,
            WorkerCpuMicrosecondsPerEvent = workerCpu,
            KcatCpuMicrosecondsPerEvent = kcatCpu,
            ClientConsumeElapsed = clientConsume,
            BatchReadElapsed = batchRead,
        };
    }

    /// <summary>The measured worker's options: defaults, except the learner, a large batch and, when given, the delta and lookup intervals.</summary>
    internal static WorkerOptions WorkerOptionsFor(string bootstrapServers, string topic, string model, string redisEndpoint, LearnerOptions learner, TimeSpan? deltaInterval,
        TimeSpan? lookupInterval = null)
    {
        var options = new WorkerOptions
        {
            Kafka = new KafkaSettings { BootstrapServers = bootstrapServers },
            Topics = [topic],
            Model = model,
            RedisEndpoint = redisEndpoint,
            Learner = learner,
            MaxBatchSize = 10_000,
        };
        if (deltaInterval is { } interval)
        {
            options.DeltaInterval = interval;
        }

        if (lookupInterval is { } lookups)
        {
            options.LookupInterval = lookups;
        }

        return options;
    }

    /// <summary>How the figure names a learner: "isgd, 64 dimensions, 4 negatives".</summary>
    public static string Describe(LearnerOptions learner)
    {
        ArgumentNullException.ThrowIfNull(learner);
        return learner.Dimensions is { } dimensions ? $"{learner.Learner}, {dimensions} dimensions, {learner.Negatives} negatives" : $"{learner.Learner}, default dimensions, {learner.Negatives} negatives";
    }

    /// <summary>
    /// Reads the topic to its end with the worker's consumer settings and nothing else per message:
    /// Confluent.Kafka's per-message <c>Consume()</c>, or the worker's batch read.
    /// </summary>
    private static TimeSpan TimeClientConsume(string bootstrap, string topic, int events, bool batch)
    {
        var config = new ConsumerConfig
        {
            BootstrapServers = bootstrap,
            GroupId = $"bench-client-{Guid.NewGuid():N}",
            EnableAutoCommit = false,
            EnableAutoOffsetStore = false,
            AutoOffsetReset = AutoOffsetReset.Earliest,
            PartitionAssignmentStrategy = PartitionAssignmentStrategy.CooperativeSticky,
            FetchQueueBackoffMs = WorkerRuntime.FetchQueueBackoffMs,
        };
        using var consumer = new ConsumerBuilder<byte[]?, byte[]?>(config).Build();
        consumer.Subscribe(topic);
        var clock = Stopwatch.StartNew();
        var read = 0;
        var deadline = TimeSpan.FromSeconds(120);
        if (batch)
        {
            using var reader = ConsumerBatchReader.Create(consumer, 10_000);
            while (read < events && clock.Elapsed < deadline)
            {
                var count = reader.Read(TimeSpan.FromMilliseconds(100));
                for (var i = 0; i < count; i++)
                {
                    read += reader[i].Error == ErrorCode.NoError ? 1 : 0;
                }
            }
        }
        else
        {
            while (read < events && clock.Elapsed < deadline)
            {
                read += consumer.Consume(TimeSpan.FromMilliseconds(100)) is { Message: not null } ? 1 : 0;
            }
        }

        var elapsed = clock.Elapsed;
        consumer.Close();
        return read == events ? elapsed : throw new TimeoutException($"The bare consumer read {read} of {events} messages in {deadline.TotalSeconds:0} s.");
    }

    /// <summary>User plus system CPU seconds of this process's finished children (getrusage RUSAGE_CHILDREN); null off Linux.</summary>
    private static double? ChildCpuSeconds()
    {
        if (!OperatingSystem.IsLinux())
        {
            return null;
        }

        var usage = new long[18];
        return NativeMethods.getrusage(-1, usage) == 0 ? usage[0] + (usage[1] * 1e-6) + usage[2] + (usage[3] * 1e-6) : null;
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

    internal static async Task<(TimeSpan?, string?)> TimeKcatAsync(string bootstrap, string topic, int events, CancellationToken cancellationToken)
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

internal static partial class NativeMethods
{
    /// <summary>getrusage(2): the first four longs are ru_utime and ru_stime as (seconds, microseconds) on 64-bit Linux.</summary>
    [System.Runtime.InteropServices.LibraryImport("libc", SetLastError = true)]
    internal static partial int getrusage(int who, long[] usage);
}
