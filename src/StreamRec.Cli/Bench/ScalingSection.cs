using System.Diagnostics;
using System.Globalization;
using System.Net.Http.Json;
using Confluent.Kafka;
using Google.Protobuf;
using Microsoft.Extensions.Logging.Abstractions;
using StreamRec.Contracts.V1;
using StreamRec.Core.Data;
using StreamRec.Core.Learners;
using StreamRec.DevServers;
using StreamRec.Kafka;
using StreamRec.Kafka.Embedded;
using StreamRec.Redis.Checkpoints;
using StreamRec.Worker.Checkpointing;
using StreamRec.Worker.Consumption;
using StreamRec.Worker.Hosting;

namespace StreamRec.Cli.Bench;

/// <summary>
/// Section 2: events per second with 1, 2 and 4 shards (partitions) in one worker process, and with two
/// worker processes sharing a 4-partition topic in one consumer group. Every run starts its workers on an
/// empty topic and waits until they own every partition, then produces the events (encoded beforehand);
/// the time runs from the first event produced until the workers applied the last, so group joins and
/// process starts are outside it. kcat reading the same topic to its end afterwards is each run's reference.
/// </summary>
internal static class ScalingSection
{
    public const string Name = "scaling";

    private static readonly TimeSpan _assignmentTimeout = TimeSpan.FromSeconds(90);
    private static readonly TimeSpan _applyTimeout = TimeSpan.FromMinutes(3);

    /// <summary>The runs: partitions of the topic and worker processes (0 = one worker inside this process).</summary>
    private static readonly (int Partitions, int ChildProcesses)[] _runs = [(1, 0), (2, 0), (4, 0), (4, 2)];

    public static async Task<IReadOnlyList<BenchFigure>> RunAsync(BenchContext context, CancellationToken cancellationToken)
    {
        using var kafka = EmbeddedKafkaCluster.Start(brokerCount: 1);
        var events = context.Settings.ScalingEvents;
        var figures = new List<BenchFigure>();
        var messages = Encode(events);
        double? oneShard = null;
        foreach (var (partitions, children) in _runs)
        {
            var topic = $"scaling-{partitions}-{children}";
            kafka.CreateTopic(topic, partitions);
            var model = $"bench-scale-{Guid.NewGuid():N}"[..24];
            kafka.CreateTopic($"{model}.dead-letter", 1);
            kafka.CreateTopic($"{model}.item-deltas", 1);
            var elapsed = children == 0
                ? await InProcessAsync(context, kafka.BootstrapServers, topic, model, partitions, messages, cancellationToken)
                : await ChildProcessesAsync(context, kafka.BootstrapServers, topic, model, partitions, children, messages, cancellationToken);
            CheckNothingExpired(kafka.BootstrapServers, topic, partitions);
            var (kcat, skipped) = await IngestBenchmark.TimeKcatAsync(kafka.BootstrapServers, topic, events, cancellationToken);
            var rate = events / elapsed.TotalSeconds;
            oneShard ??= rate;
            var label = children == 0
                ? $"{partitions} shard{(partitions == 1 ? "" : "s")} in one worker process"
                : $"{children} worker processes, {partitions} partitions";
            context.Log.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"scaling: {label}: {rate:N0} events/s{(kcat is { } k ? $", kcat {events / k.TotalSeconds:N0} events/s" : $", kcat skipped: {skipped}")}"));
            figures.Add(new BenchFigure
            {
                Section = Name,
                Name = label,
                Unit = "events/s",
                Better = Better.Higher,
                Value = rate,
                ReferenceName = "kcat -C reading the same topic to its end",
                ReferenceValue = kcat is { } time ? events / time.TotalSeconds : null,
                ReferenceSkipped = skipped,
                Options = context.Options(("events", events), ("partitions", partitions), ("worker_processes", children == 0 ? 1 : children),
                    ("in_process", children == 0), ("learner", "isgd"), ("dimensions", 64)),
                Note = string.Create(CultureInfo.InvariantCulture,
                    $"{rate / oneShard.Value:0.00}x the 1-shard rate; produced while consumed, after the group settled; consumer fetch wait 50 ms"),
            });
        }

        return figures;
    }

    private static WorkerOptions WorkerOptionsFor(string bootstrap, string topic, string model, string redisEndpoint) => new()
    {
        Kafka = new KafkaSettings { BootstrapServers = bootstrap, Client = GroupTimings() },
        Topics = [topic],
        Model = model,
        RedisEndpoint = redisEndpoint,
        Learner = new LearnerOptions { Learner = "isgd", Dimensions = 64 },
        MaxBatchSize = 10_000,
    };

    /// <summary>
    /// The mock broker waits session.timeout.ms - 1 s before a rebalance (the defaults would take tens of seconds),
    /// and holds a fetch for fetch.wait.max.ms (default 500 ms) when it has nothing new, which would stall the first fetch.
    /// </summary>
    private static Dictionary<string, string> GroupTimings() => new()
    {
        ["session.timeout.ms"] = "3000",
        ["heartbeat.interval.ms"] = "500",
        ["fetch.wait.max.ms"] = "50",
    };

    /// <summary>The events of every run, generated and encoded before any clock starts (the generator is not what is measured).</summary>
    private static (string Key, byte[] Value)[] Encode(int events)
    {
        var now = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
        return [.. new SyntheticClickstream(new SyntheticClickstreamOptions(Users: 20_000, Items: 5_000, Events: events, Seed: 1))
            .Select(e => (e.UserId, new ClickEvent { UserId = e.UserId, ItemId = e.ItemId, Type = e.Type, Value = e.Value, EventTimeMs = now }.ToByteArray()))];
    }

    private static void Produce(string bootstrap, string topic, (string Key, byte[] Value)[] messages)
    {
        var config = new ProducerConfig { BootstrapServers = bootstrap, CompressionType = CompressionType.Lz4, LingerMs = 20, BatchSize = 1_000_000 };
        using var producer = new ProducerBuilder<string, byte[]>(config).Build();
        foreach (var (key, value) in messages)
        {
            while (true)
            {
                try
                {
                    producer.Produce(topic, new Message<string, byte[]> { Key = key, Value = value });
                    break;
                }
                catch (ProduceException<string, byte[]> ex) when (ex.Error.Code == ErrorCode.Local_QueueFull)
                {
                    producer.Poll(TimeSpan.FromMilliseconds(10));
                }
            }
        }

        if (producer.Flush(TimeSpan.FromSeconds(60)) > 0)
        {
            throw new KafkaUnreachableException("The scaling events were not all delivered to the embedded Kafka.");
        }
    }

    private static async Task<TimeSpan> InProcessAsync(
        BenchContext context, string bootstrap, string topic, string model, int partitions, (string Key, byte[] Value)[] messages, CancellationToken cancellationToken)
    {
        var events = messages.Length;
        var options = WorkerOptionsFor(bootstrap, topic, model, context.Redis.Endpoint);
        var store = new RedisShardCheckpoints(context.Connection, new CheckpointOptions(), model, "v1", "isgd", new Dictionary<string, string>());
        var worker = new WorkerRuntime(options, store, NullLogger.Instance);
        using var stop = new CancellationTokenSource();
        var running = worker.RunAsync(stop.Token);
        try
        {
            await WaitAsync(() => Task.FromResult(worker.IsReady && worker.Status.Shards == partitions), running, _assignmentTimeout,
                $"the worker did not own the {partitions} partitions", cancellationToken);
            var clock = Stopwatch.StartNew();
            Produce(bootstrap, topic, messages);
            await WaitAsync(() => Task.FromResult(worker.Status.AppliedEvents >= events), running, _applyTimeout,
                $"the worker did not apply the {events} events", cancellationToken);
            return clock.Elapsed;
        }
        finally
        {
            await stop.CancelAsync();
            await running;
        }
    }

    private static async Task<TimeSpan> ChildProcessesAsync(
        BenchContext context, string bootstrap, string topic, string model, int partitions, int processes, (string Key, byte[] Value)[] messages, CancellationToken cancellationToken)
    {
        var events = messages.Length;
        var workers = new List<(StreamRecChildProcess Process, Uri Url)>();
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(5) };
        try
        {
            for (var i = 0; i < processes; i++)
            {
                var port = LocalRedis.FreeLoopbackPort();
                string[] arguments =
                [
                    "worker",
                    $"--Kafka:BootstrapServers={bootstrap}",
                    .. GroupTimings().Select(setting => $"--Kafka:Client:{setting.Key}={setting.Value}"),
                    $"--Topics:0={topic}",
                    $"--Model={model}",
                    $"--RedisEndpoint={context.Redis.Endpoint}",
                    "--Learner:Learner=isgd",
                    "--Learner:Dimensions=64",
                    "--MaxBatchSize=10000",
                    $"--HttpPort={port.ToString(CultureInfo.InvariantCulture)}",
                ];
                workers.Add((StreamRecChildProcess.Start(arguments, $"worker process {i + 1}"), new Uri($"http://127.0.0.1:{port}/readyz")));
            }

            var exited = Task.Run(async () =>
            {
                while (!workers.Any(w => w.Process.HasExited))
                {
                    await Task.Delay(100, cancellationToken);
                }
            }, cancellationToken);
            async Task<IReadOnlyList<WorkerStatus?>> StatusesAsync() => await Task.WhenAll(workers.Select(w => ReadStatusAsync(http, w.Url, cancellationToken)));
            await WaitAsync(async () => (await StatusesAsync()) is var all && all.All(s => s is { Ready: true, Shards: > 0 }) && all.Sum(s => s!.Shards) == partitions,
                exited, _assignmentTimeout, $"the {processes} worker processes did not share the {partitions} partitions", cancellationToken, workers.Select(w => w.Process));
            var clock = Stopwatch.StartNew();
            Produce(bootstrap, topic, messages);
            await WaitAsync(async () => (await StatusesAsync()).Sum(s => s?.AppliedEvents ?? 0) >= events,
                exited, _applyTimeout, $"the worker processes did not apply the {events} events", cancellationToken, workers.Select(w => w.Process));
            return clock.Elapsed;
        }
        finally
        {
            foreach (var (process, _) in workers)
            {
                process.Dispose();
            }
        }
    }

    /// <summary>The worker's /readyz answers its status as JSON, with 200 when ready and 503 before.</summary>
    private static async Task<WorkerStatus?> ReadStatusAsync(HttpClient http, Uri readyz, CancellationToken cancellationToken)
    {
        try
        {
            using var response = await http.GetAsync(readyz, cancellationToken);
            return await response.Content.ReadFromJsonAsync<WorkerStatus>(cancellationToken);
        }
        catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException or System.Text.Json.JsonException)
        {
            return null;
        }
    }

    private static async Task WaitAsync(Func<Task<bool>> condition, Task stopsEarly, TimeSpan timeout, string failure, CancellationToken cancellationToken,
        IEnumerable<StreamRecChildProcess>? processes = null)
    {
        var clock = Stopwatch.StartNew();
        while (!await condition())
        {
            if (stopsEarly.IsCompleted || clock.Elapsed > timeout)
            {
                var output = processes is null ? "" : string.Concat(processes.Select(p => $"{Environment.NewLine}{p.Description}:{Environment.NewLine}{p.RecentOutput}"));
                if (stopsEarly.IsFaulted)
                {
                    await stopsEarly;
                }

                throw new TimeoutException($"Scaling: {failure} {(stopsEarly.IsCompleted ? "(a worker stopped)" : $"within {timeout.TotalSeconds:0} s")}.{output}");
            }

            await Task.Delay(10, cancellationToken);
        }
    }

    /// <summary>The embedded Kafka silently drops the oldest data beyond its retention; a run that lost events would measure nothing.</summary>
    private static void CheckNothingExpired(string bootstrap, string topic, int partitions)
    {
        using var consumer = new ConsumerBuilder<byte[], byte[]>(new ConsumerConfig { BootstrapServers = bootstrap, GroupId = "streamrec-bench-watermarks" }).Build();
        for (var partition = 0; partition < partitions; partition++)
        {
            var low = consumer.QueryWatermarkOffsets(new TopicPartition(topic, partition), TimeSpan.FromSeconds(5)).Low.Value;
            if (low > 0)
            {
                throw new InvalidOperationException($"The embedded Kafka dropped {low} events of {topic}/{partition} (retention); lower the scaling events.");
            }
        }
    }
}
