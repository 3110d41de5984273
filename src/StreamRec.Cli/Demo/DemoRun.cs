using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Threading.Channels;
using Confluent.Kafka;
using Google.Protobuf;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using StackExchange.Redis;
using StreamRec.Client;
using StreamRec.Contracts.V1;
using StreamRec.Core.Data;
using StreamRec.Core.Evaluation;
using StreamRec.Core.Learners;
using StreamRec.Core.Model;
using StreamRec.DevServers;
using StreamRec.Kafka;
using StreamRec.Kafka.Embedded;
using StreamRec.Redis;
using StreamRec.Redis.Checkpoints;
using StreamRec.Worker.Checkpointing;
using StreamRec.Worker.Consumption;
using StreamRec.Worker.Hosting;

namespace StreamRec.Cli.Demo;

/// <summary>
/// The whole pipeline in one process: an embedded Kafka and a Redis-protocol server, a synthetic
/// clickstream with a taste shift produced at a fixed rate (with some malformed messages),
/// <see cref="DemoOptions.Workers"/> worker instances in one consumer group checkpointing to Redis,
/// freshness probes, and a prequential side computation (online, frozen, trending) over the same
/// generated events. Start with <see cref="StartAsync"/>; <see cref="Completion"/> ends with the report.
/// </summary>
/// <remarks>
/// Thread-safety: the public members may be called from any thread. Dispose after <see cref="Completion"/>
/// (disposing earlier stops the run and abandons the report).
/// </remarks>
public sealed class DemoRun : IAsyncDisposable
{
    /// <summary>The model name: the Redis namespace and the prefix of the worker's own topics.</summary>
    public const string ModelName = "demo";

    /// <summary>The clickstream topic.</summary>
    public const string ClickTopic = "demo.clicks";

    private const string ModelVersion = "v1";
    private const string LearnerName = "bpr";
    private const int RecallK = 10;
    private const int ProbeUsers = 16;
    private static readonly TimeSpan _probeTimeout = TimeSpan.FromSeconds(10);
    private static readonly TimeSpan _probePoll = TimeSpan.FromMilliseconds(5);
    private static readonly TimeSpan _workerStopTimeout = TimeSpan.FromSeconds(30);
    private static readonly TimeSpan _assignmentTimeout = TimeSpan.FromSeconds(60);

    private readonly DemoOptions _options;
    private readonly TextWriter _console;
    private readonly ILogger _logger;
    private readonly EmbeddedKafkaCluster _kafka;
    private readonly LocalRedis _redis;
    private readonly ConnectionMultiplexer _connection;
    private readonly CheckpointStore _checkpoints;
    private readonly IProducer<string, byte[]> _producer;
    private readonly IConsumer<byte[], byte[]> _watermarks;
    private readonly CancellationTokenSource _stopStream = new();
    private readonly CancellationTokenSource _stopWorkers = new();
    private readonly List<WorkerRuntime> _workers = [];
    private readonly List<Task> _workerRuns = [];
    private readonly ConcurrentQueue<double> _freshnessMs = new();
    private readonly ConcurrentQueue<double> _checkpointFreshnessMs = new();
    private readonly Channel<Interaction> _evaluationQueue = Channel.CreateUnbounded<Interaction>(new UnboundedChannelOptions { SingleReader = true, SingleWriter = true });
    private readonly Stopwatch _sinceStart = Stopwatch.StartNew();
    private long _generated;
    private long _malformed;
    private long _probes;
    private long _deliveryFailures;
    private int _probesTimedOut;
    private volatile bool _streamEnded;
    private volatile RecallSnapshot _recall = new(0, null, null, null);
    private Task<DemoReport>? _completion;
    private DemoReader? _reader;

    private DemoRun(DemoOptions options, TextWriter console, ILogger logger, EmbeddedKafkaCluster kafka, LocalRedis redis, ConnectionMultiplexer connection)
    {
        _options = options;
        _console = console;
        _logger = logger;
        _kafka = kafka;
        _redis = redis;
        _connection = connection;
        _checkpoints = new CheckpointStore(connection);
        _producer = new ProducerBuilder<string, byte[]>(new ProducerConfig
        {
            BootstrapServers = kafka.BootstrapServers,
            CompressionType = CompressionType.Lz4,
            LingerMs = 5,
            // Idempotence keeps retries from duplicating messages, so the topic holds exactly what was counted.
            EnableIdempotence = true,
        }).Build();
        _watermarks = new ConsumerBuilder<byte[], byte[]>(new ConsumerConfig { BootstrapServers = kafka.BootstrapServers, GroupId = "streamrec-demo-monitor" }).Build();
    }

    /// <summary>Comma-separated listeners of the embedded Kafka (for kcat or another client).</summary>
    public string BootstrapServers => _kafka.BootstrapServers;

    /// <summary>The clickstream topic the demo produces to and the workers consume.</summary>
    public string Topic => ClickTopic;

    /// <summary>Where the workers put refused messages.</summary>
    public string DeadLetterTopic => $"{ModelName}.dead-letter";

    /// <summary><c>host:port</c> of the Redis-protocol server holding the checkpoints.</summary>
    public string RedisEndpoint => _redis.Endpoint;

    /// <summary>Which Redis-protocol server runs (redis-server from PATH or embedded Garnet).</summary>
    public string RedisDescription => _redis.Description;

    /// <summary>The in-process reader's base URL (for example <c>http://127.0.0.1:40123</c>).</summary>
    public string ReaderUrl => _reader?.Url ?? throw new InvalidOperationException("The reader has not started.");

    /// <summary>The options of this run.</summary>
    public DemoOptions Options => _options;

    /// <summary>Ends with the report once the stream is over (or <see cref="Stop"/> was called) and the counts are in.</summary>
    public Task<DemoReport> Completion => _completion ?? throw new InvalidOperationException("The demo has not started.");

    /// <summary>
    /// Starts the servers and the workers and begins streaming. Returns once the servers are up, so
    /// callers can print their addresses; the run goes on in the background.
    /// </summary>
    /// <exception cref="ArgumentException">The options are invalid (the message lists every problem).</exception>
    public static async Task<DemoRun> StartAsync(DemoOptions options, TextWriter? console = null, ILogger? logger = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        var errors = options.Validate();
        if (errors.Count > 0)
        {
            throw new ArgumentException(string.Join(Environment.NewLine, errors), nameof(options));
        }

        var kafka = EmbeddedKafkaCluster.Start(brokerCount: 1);
        LocalRedis? redis = null;
        ConnectionMultiplexer? connection = null;
        DemoRun? run = null;
        try
        {
            kafka.CreateTopic(ClickTopic, options.Partitions);
            kafka.CreateTopic($"{ModelName}.dead-letter", 1);
            kafka.CreateTopic($"{ModelName}.item-deltas", 1);
            redis = LocalRedis.StartRedisServerOrEmbedded();
            connection = await RedisEndpointSettings.Parse(redis.Endpoint, "redis").ConnectAsync().ConfigureAwait(false);
            run = new DemoRun(options, console ?? TextWriter.Null, logger ?? NullLogger.Instance, kafka, redis, connection);
            run.StartWorkers();
            run._reader = await DemoReader.StartAsync(ModelName, redis.Endpoint, connection, run._logger).ConfigureAwait(false);
            run._completion = Task.Run(run.RunAsync);
            return run;
        }
        catch
        {
            // Once the run exists it owns the servers and the workers; before that, free what was started.
            if (run is not null)
            {
                await run.DisposeAsync().ConfigureAwait(false);
            }
            else
            {
                if (connection is not null)
                {
                    await connection.DisposeAsync().ConfigureAwait(false);
                }

                redis?.Dispose();
                kafka.Dispose();
            }

            throw;
        }
    }

    /// <summary>Stops producing now; the run still waits for the counts and writes its report (what Ctrl-C does).</summary>
    public void Stop() => _stopStream.Cancel();

    /// <summary>Stops whatever still runs and frees the servers.</summary>
    public async ValueTask DisposeAsync()
    {
        await _stopStream.CancelAsync().ConfigureAwait(false);
        if (_completion is not null)
        {
            try
            {
                await _completion.WaitAsync(_options.DrainTimeout + _workerStopTimeout).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is TimeoutException or OperationCanceledException or KafkaException or RedisException or InvalidOperationException)
            {
                // The run's own failure was reported through Completion; disposal goes on freeing the servers.
                _logger.LogWarning(ex, "The demo ended with an error while being disposed.");
            }
        }

        await StopWorkersAsync().ConfigureAwait(false);
        if (_reader is not null)
        {
            await _reader.DisposeAsync().ConfigureAwait(false);
        }

        _watermarks.Close();
        _watermarks.Dispose();
        _producer.Dispose();
        await _connection.DisposeAsync().ConfigureAwait(false);
        _redis.Dispose();
        _kafka.Dispose();
        _stopStream.Dispose();
        _stopWorkers.Dispose();
    }

    private void StartWorkers()
    {
        for (var i = 0; i < _options.Workers; i++)
        {
            var options = WorkerOptionsFor();
            var store = new RedisShardCheckpoints(_connection, new CheckpointOptions { DeltaInterval = options.DeltaInterval }, ModelName, ModelVersion, LearnerName,
                new Dictionary<string, string>());
            var worker = new WorkerRuntime(options, store, _logger);
            _workers.Add(worker);
            _workerRuns.Add(worker.RunAsync(_stopWorkers.Token));
        }
    }

    private WorkerOptions WorkerOptionsFor() => new()
    {
        Kafka = new KafkaSettings
        {
            BootstrapServers = _kafka.BootstrapServers,
            // The mock broker waits session.timeout.ms - 1 s before a rebalance; defaults would take tens of seconds.
            // Everything that sets freshness (fetch wait, delta interval) is the worker's default unless the options say otherwise.
            Client = { ["session.timeout.ms"] = "3000", ["heartbeat.interval.ms"] = "500" },
        },
        Topics = [ClickTopic],
        Model = ModelName,
        ModelVersion = ModelVersion,
        RedisEndpoint = _redis.Endpoint,
        Learner = LearnerOptionsFor(LearnerName),
        DeltaInterval = _options.DeltaInterval,
        MaxBatchSize = 500,
    };

    private LearnerOptions LearnerOptionsFor(string learner) => new()
    {
        Learner = learner,
        // Event times are the wall clock, so a one-minute stream needs a trend measured in seconds.
        TrendingHalfLifeHours = TrendHalfLife.TotalHours,
        Seed = (ulong)_options.Seed,
    };

    private TimeSpan TrendHalfLife => TimeSpan.FromSeconds(Math.Clamp(_options.Duration.TotalSeconds / 6, 2, 60));

    private async Task<DemoReport> RunAsync()
    {
        var startedAt = _sinceStart.Elapsed;
        await WaitForAssignmentAsync().ConfigureAwait(false);
        var evaluation = Task.Factory.StartNew(Evaluate, CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default);
        using var progressStop = new CancellationTokenSource();
        var streamClock = Stopwatch.StartNew();
        var throughput = new List<ThroughputPoint>();
        var sampler = new ResourceSampler(_options.SampleInterval);
        var progress = ReportProgressAsync(streamClock, throughput, sampler, progressStop.Token);
        var probes = ProbeAsync();
        var interrupted = false;
        try
        {
            await ProduceStreamAsync().ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            interrupted = true;
        }

        _streamEnded = true;
        var streamSeconds = streamClock.Elapsed.TotalSeconds;
        _evaluationQueue.Writer.Complete();
        await probes.ConfigureAwait(false);
        var unsent = _producer.Flush(TimeSpan.FromSeconds(30));
        if (unsent > 0 || Interlocked.Read(ref _deliveryFailures) > 0)
        {
            throw new KafkaUnreachableException($"{unsent} messages were not delivered and {_deliveryFailures} failed; the demo's counts cannot be checked.");
        }

        _console.WriteLine($"Stream {(interrupted ? "stopped" : "done")} after {streamSeconds:0.0} s: {Interlocked.Read(ref _generated):N0} events, "
            + $"{Interlocked.Read(ref _malformed):N0} malformed, {Interlocked.Read(ref _probes):N0} probes. Waiting for the checkpoints to count every message...");
        var drained = await DrainAsync().ConfigureAwait(false);
        await progressStop.CancelAsync().ConfigureAwait(false);
        await progress.ConfigureAwait(false);
        var results = await evaluation.ConfigureAwait(false);
        await StopWorkersAsync().ConfigureAwait(false);
        var persisted = await ReadPersistedAsync().ConfigureAwait(false);
        var inTopic = TopicMessages();
        if (!drained)
        {
            _console.WriteLine($"The checkpoints did not count every message within {_options.DrainTimeout.TotalSeconds:0} s.");
        }

        return BuildReport(persisted, inTopic, results, throughput, sampler.Samples, streamSeconds, (_sinceStart.Elapsed - startedAt).TotalSeconds, interrupted);
    }

    private async Task WaitForAssignmentAsync()
    {
        // Producing before the group has settled would count the first rebalance as staleness.
        var clock = Stopwatch.StartNew();
        // Every worker must own some partition first: otherwise the last join rebalances the group mid-stream.
        var minimumShards = _options.Workers <= _options.Partitions ? 1 : 0;
        while (_workers.Sum(w => w.Status.Shards) < _options.Partitions || _workers.Any(w => !w.IsReady || w.Status.Shards < minimumShards))
        {
            if (clock.Elapsed > _assignmentTimeout)
            {
                throw new TimeoutException($"The {_options.Workers} workers did not own all {_options.Partitions} partitions within {_assignmentTimeout.TotalSeconds:0} s.");
            }

            if (_workerRuns.FirstOrDefault(r => r.IsCompleted) is { } ended)
            {
                await ended.ConfigureAwait(false);
                throw new InvalidOperationException("A worker stopped before the stream started.");
            }

            await Task.Delay(50).ConfigureAwait(false);
        }

        _console.WriteLine($"{_options.Workers} workers own the {_options.Partitions} partitions ({clock.Elapsed.TotalSeconds:0.0} s after start).");
    }

    private async Task ProduceStreamAsync()
    {
        var total = _options.TotalEvents;
        var stream = new SyntheticClickstream(new SyntheticClickstreamOptions(
            Users: _options.Users, Items: _options.Items, Events: total, ShiftAt: _options.ResolvedShiftAt, Seed: _options.Seed));
        var random = new Random(_options.Seed + 1);
        var clock = Stopwatch.StartNew();
        long index = 0;
        foreach (var generated in stream)
        {
            _stopStream.Token.ThrowIfCancellationRequested();
            var due = TimeSpan.FromSeconds(index / (double)_options.Rate);
            if (due - clock.Elapsed > TimeSpan.FromMilliseconds(5))
            {
                await Task.Delay(due - clock.Elapsed, _stopStream.Token).ConfigureAwait(false);
            }

            // Event time is the wall clock of producing, so the workers' freshness and trending read true times.
            var interaction = generated with { EventTimeMs = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() };
            Produce(interaction.UserId, Encode(interaction));
            _evaluationQueue.Writer.TryWrite(interaction);
            Interlocked.Increment(ref _generated);
            if (random.NextDouble() < _options.MalformedShare)
            {
                var garbage = new byte[random.Next(1, 40)];
                random.NextBytes(garbage);
                garbage[0] = 0xFF; // never a valid first protobuf tag: always refused
                Produce(interaction.UserId, garbage);
                Interlocked.Increment(ref _malformed);
            }

            index++;
        }
    }

    private static byte[] Encode(in Interaction interaction) => new ClickEvent
    {
        UserId = interaction.UserId,
        ItemId = interaction.ItemId,
        Type = interaction.Type,
        Value = interaction.Value,
        EventTimeMs = interaction.EventTimeMs,
    }.ToByteArray();

    private void Produce(string key, byte[] value)
    {
        while (true)
        {
            try
            {
                _producer.Produce(ClickTopic, new Message<string, byte[]> { Key = key, Value = value }, report =>
                {
                    if (report.Error.IsError)
                    {
                        Interlocked.Increment(ref _deliveryFailures);
                    }
                });
                return;
            }
            catch (ProduceException<string, byte[]> ex) when (ex.Error.Code == ErrorCode.Local_QueueFull)
            {
                // The local queue drains as the broker acknowledges; wait for some of it.
                _producer.Poll(TimeSpan.FromMilliseconds(10));
            }
        }
    }

    private async Task ProbeAsync()
    {
        var running = new List<Task>();
        var interval = TimeSpan.FromSeconds(1 / _options.ProbesPerSecond);
        using var ticks = new PeriodicTimer(interval);
        var n = 0;
        try
        {
            // The reader answers 503 until the first checkpoint exists; probes start once it serves and the workers
            // have caught up with the stream. Freshness is a property of the running pipeline: the backlog of the
            // workers' first seconds (JIT, first snapshots) is throughput, and the progress lines show it as lag.
            while (!_streamEnded && !(WorkersCaughtUp() && await _reader!.IsReadyAsync().ConfigureAwait(false)))
            {
                await ticks.WaitForNextTickAsync(_stopStream.Token).ConfigureAwait(false);
            }

            while (await ticks.WaitForNextTickAsync(_stopStream.Token).ConfigureAwait(false) && !_streamEnded)
            {
                running.Add(ProbeOnceAsync(n++));
            }
        }
        catch (OperationCanceledException)
        {
            // Stop() ends probing with the stream; the probes in flight still finish below.
        }

        await Task.WhenAll(running).ConfigureAwait(false);
    }

    /// <summary>True when the workers have taken in all but a fifth of a second of the stream.</summary>
    private bool WorkersCaughtUp()
    {
        var produced = Interlocked.Read(ref _generated) + Interlocked.Read(ref _malformed);
        var taken = _workers.Sum(w => w.Status.AppliedEvents + w.Status.DeadLetteredEvents);
        return produced - taken <= Math.Max(50, _options.Rate / 5);
    }

    /// <summary>
    /// One freshness probe: a click of a new user (so the reader answers it with the cold-start list),
    /// then polling until the reader's answer for that user turns personalized, and until a published
    /// checkpoint contains the event.
    /// </summary>
    private async Task ProbeOnceAsync(int n)
    {
        var reader = _reader!;
        var user = $"probe-{n}";
        var item = $"i{n * 7 % _options.Items}";
        var before = await reader.RecommendAsync(user).ConfigureAwait(false);
        var started = Stopwatch.GetTimestamp();
        var value = Encode(new Interaction(user, item, EventType.Click, 0, DateTimeOffset.UtcNow.ToUnixTimeMilliseconds()));
        var delivered = await _producer.ProduceAsync(ClickTopic, new Message<string, byte[]> { Key = user, Value = value }).ConfigureAwait(false);
        Interlocked.Increment(ref _probes);
        var chain = CheckpointKeys.ChainVersion(ModelVersion, RedisShardCheckpoints.PartitionChain(delivered.TopicPartition));
        bool persisted = false, answered = false;
        while (!(persisted && answered) && Stopwatch.GetElapsedTime(started) < _probeTimeout)
        {
            if (!persisted)
            {
                var manifest = await _checkpoints.GetManifestAsync(ModelName, chain).ConfigureAwait(false);
                if (manifest?.Offsets.Any(o => o.Topic == ClickTopic && o.Partition == delivered.Partition.Value && o.NextOffset > delivered.Offset.Value) == true)
                {
                    _checkpointFreshnessMs.Enqueue(Stopwatch.GetElapsedTime(started).TotalMilliseconds);
                    persisted = true;
                }
            }

            if (!answered && await reader.RecommendAsync(user).ConfigureAwait(false) is { } now && Changed(before, now))
            {
                _freshnessMs.Enqueue(Stopwatch.GetElapsedTime(started).TotalMilliseconds);
                answered = true;
            }

            await Task.Delay(_probePoll).ConfigureAwait(false);
        }

        if (!answered)
        {
            Interlocked.Increment(ref _probesTimedOut);
        }
    }

    /// <summary>The answer for a new user changes from the cold-start list to a personalized one once the reader knows the user.</summary>
    private static bool Changed(UserRecommendations? before, UserRecommendations now) =>
        before is null || before.Source == RecommendationSources.Personalized
            ? now.Source == RecommendationSources.Personalized && (before is null || !before.Items.SequenceEqual(now.Items))
            : now.Source != before.Source;

    private EvaluationResults Evaluate()
    {
        var total = _options.TotalEvents;
        var evaluation = new PrequentialOptions
        {
            K = RecallK,
            Window = RecallWindow,
            SampleEvery = (int)Math.Max(100, total / 200),
        };
        var online = new PrequentialEvaluator(LearnerFactory.Create(LearnerOptionsFor(LearnerName)), evaluation);
        var frozen = new PrequentialEvaluator(LearnerFactory.Create(LearnerOptionsFor(LearnerName)), evaluation with { FreezeAfter = _options.ResolvedFreezeAfter });
        var trending = new PrequentialEvaluator(LearnerFactory.Create(LearnerOptionsFor(CountLearner.TrendingName)), evaluation);
        // The comparison must not take CPU from the pipeline whose freshness it reports: it only has to finish by the end.
        LowPriorityThread.TryLowerCurrent();
        var reader = _evaluationQueue.Reader;
        // Synchronous draining on a dedicated thread: three models per event keep one core busy.
        while (reader.WaitToReadAsync().AsTask().GetAwaiter().GetResult())
        {
            while (reader.TryRead(out var interaction))
            {
                online.Process(interaction);
                frozen.Process(interaction);
                trending.Process(interaction);
                if (online.Processed % 500 == 0)
                {
                    _recall = new RecallSnapshot(online.Processed, online.WindowRecall, frozen.WindowRecall, trending.WindowRecall);
                }
            }
        }

        _recall = new RecallSnapshot(online.Processed, online.WindowRecall, frozen.WindowRecall, trending.WindowRecall);
        return new EvaluationResults(online.GetResult(), frozen.GetResult(), trending.GetResult());
    }

    private int RecallWindow => (int)Math.Clamp(_options.TotalEvents / 20, 500, 5_000);

    private async Task ReportProgressAsync(Stopwatch streamClock, List<ThroughputPoint> throughput, ResourceSampler sampler, CancellationToken stop)
    {
        using var ticks = new PeriodicTimer(_options.ProgressInterval);
        long lastProduced = 0, lastPersisted = 0;
        var lastAt = TimeSpan.Zero;
        try
        {
            while (await ticks.WaitForNextTickAsync(stop).ConfigureAwait(false))
            {
                var persisted = await ReadPersistedAsync().ConfigureAwait(false);
                var inTopic = TopicMessages();
                var produced = Interlocked.Read(ref _generated) + Interlocked.Read(ref _malformed) + Interlocked.Read(ref _probes);
                var now = streamClock.Elapsed;
                var seconds = (now - lastAt).TotalSeconds;
                var point = new ThroughputPoint(Math.Round(now.TotalSeconds, 2), (produced - lastProduced) / seconds, (persisted.Counted - lastPersisted) / seconds,
                    Math.Max(0, inTopic - persisted.Counted));
                throughput.Add(point);
                if (sampler.TryTake(now, point.Lag, persisted.Counted) is { } sample)
                {
                    _console.WriteLine(ResourceSampler.Describe(sample));
                }

                (lastProduced, lastPersisted, lastAt) = (produced, persisted.Counted, now);
                var fresh = _freshnessMs.ToArray();
                var persistedFresh = _checkpointFreshnessMs.ToArray();
                var recall = _recall;
                // The side computation may trail the stream on a busy machine; say which event its numbers are at.
                var afterShift = string.Create(CultureInfo.InvariantCulture, $" (at event {recall.Events:N0}{(recall.Events >= _options.ResolvedShiftAt ? ", after the shift" : "")})");
                _console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"[{now.TotalSeconds,5:0}s] {point.ProducedPerSecond,7:N0} ev/s in, {point.PersistedPerSecond,7:N0} ev/s checkpointed | lag {point.Lag,6:N0} | ckpt {ModelVersion} #{persisted.Checkpoints:N0} | fresh p50/p99 reader {Format(Percentile(fresh, 0.5))}/{Format(Percentile(fresh, 0.99))} ms, ckpt {Format(Percentile(persistedFresh, 0.5))}/{Format(Percentile(persistedFresh, 0.99))} ms | recall@10 online {Format3(recall.Online)} frozen {Format3(recall.Frozen)} trending {Format3(recall.Trending)}{afterShift}"));
            }
        }
        catch (OperationCanceledException)
        {
            // The run asked for the last line; the report follows.
        }
    }

    private async Task<bool> DrainAsync()
    {
        var clock = Stopwatch.StartNew();
        while (clock.Elapsed < _options.DrainTimeout)
        {
            var persisted = await ReadPersistedAsync().ConfigureAwait(false);
            if (persisted.Counted >= TopicMessages())
            {
                return true;
            }

            await Task.Delay(100).ConfigureAwait(false);
        }

        return false;
    }

    private async Task StopWorkersAsync()
    {
        if (_stopWorkers.IsCancellationRequested)
        {
            return;
        }

        await _stopWorkers.CancelAsync().ConfigureAwait(false);
        await Task.WhenAll(_workerRuns).WaitAsync(_workerStopTimeout).ConfigureAwait(false);
    }

    /// <summary>Messages in the clickstream topic: the sum of its partitions' high watermarks (no transactions, so offsets are dense).</summary>
    private long TopicMessages()
    {
        long total = 0;
        for (var partition = 0; partition < _options.Partitions; partition++)
        {
            total += _watermarks.QueryWatermarkOffsets(new TopicPartition(ClickTopic, partition), TimeSpan.FromSeconds(5)).High.Value;
        }

        return total;
    }

    private async Task<PersistedCounts> ReadPersistedAsync()
    {
        long applied = 0, deadLettered = 0, checkpoints = 0;
        var chains = await _connection.GetDatabase().SetMembersAsync(CheckpointKeys.Chains(ModelName, ModelVersion)).ConfigureAwait(false);
        // Members are chain versions ("v1--demo.clicks--0", "v1--items"), each with its own manifest.
        foreach (var chain in chains)
        {
            var manifest = await _checkpoints.GetManifestAsync(ModelName, chain.ToString()).ConfigureAwait(false);
            if (manifest is null)
            {
                continue;
            }

            checkpoints += manifest.PublishSeq;
            foreach (var offset in manifest.Offsets.Where(o => o.Topic == ClickTopic))
            {
                applied += offset.AppliedEvents;
                deadLettered += offset.DeadLetteredEvents;
            }
        }

        return new PersistedCounts(applied, deadLettered, checkpoints);
    }

    private DemoReport BuildReport(PersistedCounts persisted, long inTopic, EvaluationResults results, List<ThroughputPoint> throughput,
        IReadOnlyList<ResourceSample> samples, double streamSeconds, double seconds, bool interrupted)
    {
        var trend = ResourceSampler.Trend(samples);
        var fresh = _freshnessMs.ToArray();
        var persistedFresh = _checkpointFreshnessMs.ToArray();
        var shift = _options.ResolvedShiftAt;
        var series = results.Online.Series
            .Zip(results.Frozen.Series, results.Trending.Series)
            .Select(p => new RecallPoint(p.First.Events, p.First.Recall, p.Second.Recall, p.Third.Recall))
            .ToList();
        var afterShift = series.Where(p => p.Events > shift + RecallWindow).ToList();
        var byDemo = Interlocked.Read(ref _generated) + Interlocked.Read(ref _malformed) + Interlocked.Read(ref _probes);
        return new DemoReport
        {
            EventsProduced = inTopic,
            EventsProducedByDemo = byDemo,
            GeneratedEvents = Interlocked.Read(ref _generated),
            MalformedProduced = Interlocked.Read(ref _malformed),
            ProbeEvents = Interlocked.Read(ref _probes),
            EventsFromOtherProducers = inTopic - byDemo,
            EventsApplied = persisted.Applied,
            EventsDeadLettered = persisted.DeadLettered,
            CountsMatch = persisted.Counted == inTopic,
            CheckpointsPublished = persisted.Checkpoints,
            CheckpointVersion = ModelVersion,
            FreshnessDefinition = "produce of a click by a new probe user -> the in-process reader's answer for that user turns from the cold-start list "
                + "to a personalized one (polled every 5 ms over HTTP); probing starts once the workers have caught up with the stream",
            FreshnessCheckpointMsP50 = Percentile(persistedFresh, 0.5),
            FreshnessCheckpointMsP99 = Percentile(persistedFresh, 0.99),
            FreshnessMsP50 = Percentile(fresh, 0.5),
            FreshnessMsP90 = Percentile(fresh, 0.9),
            FreshnessMsP99 = Percentile(fresh, 0.99),
            FreshnessMsMax = fresh.Length == 0 ? null : Math.Round(fresh.Max(), 1),
            FreshnessProbes = fresh.Length,
            FreshnessProbesTimedOut = _probesTimedOut,
            RecallAt10Online = results.Online.WindowRanking.Recall,
            RecallAt10Frozen = results.Frozen.WindowRanking.Recall,
            RecallAt10Trending = results.Trending.WindowRanking.Recall,
            RecallAt10OnlineAfterShiftMean = Mean(afterShift.Select(p => p.Online)),
            RecallAt10FrozenAfterShiftMean = Mean(afterShift.Select(p => p.Frozen)),
            RecallAt10TrendingAfterShiftMean = Mean(afterShift.Select(p => p.Trending)),
            RecallWindow = RecallWindow,
            RecallEventsEvaluated = results.Online.Processed,
            Learner = LearnerName,
            FrozenAfterEvents = _options.ResolvedFreezeAfter,
            ShiftAtEvent = shift,
            ReaderRequests = _reader!.Requests,
            ReaderErrors = _reader.Errors,
            ReaderUrl = ReaderUrl,
            DurationS = Math.Round(seconds, 2),
            StreamDurationS = Math.Round(streamSeconds, 2),
            Interrupted = interrupted,
            BootstrapServers = BootstrapServers,
            Topic = ClickTopic,
            DeadLetterTopic = DeadLetterTopic,
            Redis = _redis.Description,
            Model = ModelName,
            Partitions = _options.Partitions,
            Workers = _options.Workers,
            Rate = _options.Rate,
            Users = _options.Users,
            Items = _options.Items,
            RecallSeries = series,
            Throughput = throughput,
            FreshnessSamplesMs = [.. fresh.Select(f => Math.Round(f, 1))],
            ResourceSamples = [.. samples],
            LiveHeapGrowthMiBPerHour = trend.LiveHeapGrowthMiBPerHour,
            WorkingSetGrowthMiBPerHour = trend.WorkingSetGrowthMiBPerHour,
            MaxLag = trend.MaxLag,
        };
    }

    private static double? Mean(IEnumerable<double?> values)
    {
        var present = values.Where(v => v.HasValue).Select(v => v!.Value).ToList();
        return present.Count == 0 ? null : present.Average();
    }

    /// <summary>Nearest-rank percentile; null without samples.</summary>
    internal static double? Percentile(double[] samples, double quantile)
    {
        if (samples.Length == 0)
        {
            return null;
        }

        var sorted = samples.Order().ToArray();
        var rank = (int)Math.Ceiling(quantile * sorted.Length);
        return Math.Round(sorted[Math.Clamp(rank - 1, 0, sorted.Length - 1)], 1);
    }

    private static string Format(double? milliseconds) => milliseconds is { } ms ? ms.ToString("0", CultureInfo.InvariantCulture) : "-";

    private static string Format3(double? value) => value is { } v ? v.ToString("0.000", CultureInfo.InvariantCulture) : "-";

    private sealed record RecallSnapshot(long Events, double? Online, double? Frozen, double? Trending);

    private sealed record EvaluationResults(PrequentialResult Online, PrequentialResult Frozen, PrequentialResult Trending);

    private readonly record struct PersistedCounts(long Applied, long DeadLettered, long Checkpoints)
    {
        public long Counted => Applied + DeadLettered;
    }
}
