using System.Diagnostics;
using Confluent.Kafka;
using Microsoft.Extensions.Logging;
using StreamRec.Core.Events;
using StreamRec.Core.Model;
using StreamRec.Kafka.Consuming;
using StreamRec.Worker.Checkpointing;
using StreamRec.Worker.Hosting;
using StreamRec.Worker.Observability;
using StreamRec.Worker.Sharding;

namespace StreamRec.Worker.Consumption;

/// <summary>What a running worker has done so far (this process's view).</summary>
/// <param name="LiveRecall">Prequential recall@10 over the live window; null before the first tested event.</param>
public sealed record WorkerStatus(bool Ready, int Shards, long AppliedEvents, long DeadLetteredEvents, bool Paused, int PendingCheckpoints, double? LiveRecall, long EventTimeWatermarkMs);

/// <summary>
/// One worker replica: a consumer in the group on one long-lived thread, a shard per assigned
/// partition, checkpoints captured every DeltaInterval and published in the background.
/// </summary>
/// <remarks>
/// Exactly-once effect: a shard's state, its next offset and its event counts are captured together
/// and published together; on assignment the shard restores them and the consumer resumes at that
/// offset. Kafka commits follow publishes and serve monitoring only. Refused events are flushed to
/// the dead-letter topic before a checkpoint covering them is captured.
/// </remarks>
public sealed partial class WorkerRuntime
{
    private const int LiveRecallK = 10;
    private static readonly TimeSpan _pollTimeout = TimeSpan.FromMilliseconds(100);
    private static readonly TimeSpan _lagInterval = TimeSpan.FromSeconds(2);
    private static readonly TimeSpan _deadLetterFlushTimeout = TimeSpan.FromSeconds(30);

    /// <summary>The consumer's fetch.queue.backoff.ms (librdkafka's default is 1,000).</summary>
    public const int FetchQueueBackoffMs = 20;

    /// <summary>The consumer's reconnect.backoff.ms (librdkafka's default is 100).</summary>
    public const int ReconnectBackoffMs = 20;

    private readonly WorkerOptions _options;
    private readonly IShardCheckpoints _store;
    private readonly ILogger _logger;
    private readonly WorkerMetrics _metrics;
    private readonly TimeProvider _clock;
    private readonly ShardedModel _model;
    private readonly ClickEventDecoder _decoder;
    private readonly LogRateLimiter _badEventLog;
    private readonly LiveRecall _liveRecall;
    private readonly ScoredItem[] _liveTopK = new ScoredItem[LiveRecallK];
    private readonly Dictionary<TopicPartition, ChainProgress> _chains = [];
    private readonly string _itemsOwnerTopic;
    private CheckpointPublisher? _publisher;
    private ItemSync.ItemDeltaExchange? _itemSync;
    private DeadLetterPublisher? _deadLetters;
    private IConsumer<byte[]?, byte[]?>? _consumer;
    // Two batch buffers: the consumer thread reads and decodes into one while the learner thread learns the other.
    private DecodedBatch[] _batches = [];
    private LearnerThread? _learnerThread;
    private DecodedBatch? _learning;
    private readonly Action _learnBatch;
    private readonly CancellationTokenSource _abort = new();
    private readonly Dictionary<TopicPartition, long> _replayStops = [];
    private readonly HashSet<TopicPartition> _replayPaused = [];
    // Backfill partitions the learner thread found past their stop, for the consumer thread to pause.
    private readonly List<TopicPartition> _replayPausesDue = [];
    private volatile bool _ready;
    private bool _paused;
    private long _eventsSeen;
    private long _nextLiveEvaluation;
    private readonly Prometheus.Counter.Child _appliedEvents;
    private DateTimeOffset _itemsSnapshotAt;
    private DateTimeOffset _lookupsWrittenAt;
    private bool _lookupsPending;

    public WorkerRuntime(WorkerOptions options, IShardCheckpoints store, ILogger logger, WorkerMetrics? metrics = null, TimeProvider? clock = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        var errors = options.Validate();
        if (errors.Count > 0)
        {
            throw new ArgumentException("Invalid worker options:" + Environment.NewLine + string.Join(Environment.NewLine, errors), nameof(options));
        }

        _options = options;
        _store = store;
        _logger = logger;
        _metrics = metrics ?? new WorkerMetrics();
        _clock = clock ?? TimeProvider.System;
        _model = new ShardedModel(options.Learner);
        _decoder = new ClickEventDecoder(options.Events, _clock);
        _badEventLog = new LogRateLimiter(burst: 10, TimeSpan.FromMinutes(1), _clock);
        _liveRecall = new LiveRecall(options.LiveEvaluationWindow);
        _appliedEvents = _metrics.Events.WithLabels("applied", "");
        _learnBatch = () => ApplyBatch(_learning!);
        // The owner of this topic's partition 0 publishes the items chain: exactly one replica does.
        _itemsOwnerTopic = options.Topics.Count > 0 ? options.Topics.Min(StringComparer.Ordinal)! : "";
        ReplicaId = $"{Environment.MachineName}-{Guid.NewGuid():N}"[..Math.Min(64, Environment.MachineName.Length + 33)];
    }

    /// <summary>This process's fencing token and name in logs.</summary>
    public string ReplicaId { get; }

    public WorkerMetrics Metrics => _metrics;

    /// <summary>The replica's model (tests compare item tables across replicas; read only when the worker is idle).</summary>
    public ShardedModel Model => _model;

    /// <summary>Ready once the items are restored and no assignment is being restored.</summary>
    public bool IsReady => _ready;

    public WorkerStatus Status
    {
        get
        {
            // Read racily from other threads for health and progress; exact values come from checkpoints.
            var shards = _model.ShardsSnapshot;
            return new WorkerStatus(_ready, shards.Count, shards.Sum(s => s.AppliedEvents), shards.Sum(s => s.DeadLetteredEvents), _paused,
                _publisher?.Pending ?? 0, double.IsNaN(_liveRecall.Recall) ? null : _liveRecall.Recall, shards.Count == 0 ? 0 : shards.Max(s => s.EventTimeWatermarkMs));
        }
    }

    /// <summary>Runs the consumer loop on a dedicated thread until <paramref name="stoppingToken"/> fires, then stops gracefully.</summary>
    public Task RunAsync(CancellationToken stoppingToken) =>
        Task.Factory.StartNew(() => Run(stoppingToken), CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default);

    /// <summary>
    /// Stops as a crash would (fault injection and tests): no final delta, no commit, no leave-group;
    /// checkpoints still queued are abandoned. The group notices after its session timeout.
    /// </summary>
    public void Abort() => _abort.Cancel();

    private void Run(CancellationToken requestedStop)
    {
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(requestedStop, _abort.Token);
        var stoppingToken = linked.Token;
        // Start-up overlaps: the JIT warms the per-event code, Redis restores the items, and this thread
        // builds the Kafka clients (librdkafka connects in the background). Only then does the group see
        // this replica: a member that joins before it can poll would hold up everyone's rebalance.
        _ = WorkerWarmUp.StartAsync(_options);
        var itemsRestore = Task.Run(() => WithRetries("restore items", () => _store.RestoreItemsAsync(stoppingToken), stoppingToken), CancellationToken.None);
        _deadLetters = new DeadLetterPublisher(_options.Kafka.ApplyTo(new ProducerConfig()), _options.ResolvedDeadLetterTopic);
        _consumer = BuildConsumer();
        _batches = [.. Enumerable.Range(0, 2).Select(_ => new DecodedBatch(ConsumerBatchReader.Create(_consumer, _options.MaxBatchSize), _options.MaxBatchSize))];
        try
        {
            var items = itemsRestore.GetAwaiter().GetResult();
            if (items is not null)
            {
                _model.ApplyItems(items.Items, items.TrendingOriginMs, items.TrendingLogScores);
                LogItemsRestored(_logger, items.Items.Count);
            }

            _itemsSnapshotAt = _clock.GetUtcNow();
            if (_options.Replay is null)
            {
                _itemSync = new ItemSync.ItemDeltaExchange(_options.Kafka.ApplyTo(new ClientConfig()), _options.ResolvedItemDeltasTopic, ReplicaId, _model.Items, _metrics, _logger);
                _itemSync.StartFromCurrentItems();
            }
        }
        catch
        {
            // Stopped or failed before joining the group: nothing to hand over, only the clients to free.
            CloseKafkaClients(crashed: true);
            throw;
        }

        _publisher = new CheckpointPublisher(_store, ReplicaId, _options.MaxPendingCheckpoints, _metrics, _logger, _clock);
        try
        {
            if (_options.Replay is { } replay)
            {
                AssignForReplay(replay);
            }
            else if (_options.Topics.Count > 0)
            {
                _consumer.Subscribe(_options.Topics);
            }
            else
            {
                _consumer.Subscribe(_options.TopicPattern!.StartsWith('^') ? _options.TopicPattern : "^" + _options.TopicPattern);
            }

            _ready = true;
            LogStarted(_logger, ReplicaId, _options.Kafka.ToString(), _options.ResolvedGroupId, _options.Model, _options.ModelVersion);
            _learnerThread = DedicatedLearnerThread is { } dedicated ? new LearnerThread(LearnerThreadName, dedicated) : LearnerThread.ForThisMachine(LearnerThreadName);
            ConsumeUntilStopped(stoppingToken);
            if (!_abort.IsCancellationRequested)
            {
                StopGracefully();
            }
        }
        catch
        {
            // The run ends with this exception: closing must neither publish (OnRevoked) nor replace it.
            _failed = true;
            throw;
        }
        finally
        {
            _ready = false;
            _learnerThread?.Dispose();
            _publisher.DisposeAsync().AsTask().GetAwaiter().GetResult();
            CloseAfterRun();
        }
    }

    private const string LearnerThreadName = "StreamRec learner";

    /// <summary>Set when the consumer loop failed: partitions revoked while closing are dropped like lost ones.</summary>
    private volatile bool _failed;

    private void CloseAfterRun()
    {
        try
        {
            CloseKafkaClients(crashed: _abort.IsCancellationRequested);
        }
        catch (Exception ex) when (_failed)
        {
            // A consumer that failed fatally also fails to close; the failure the run ends with is the first one.
            LogCloseFailedAfterFailure(_logger, ex.Message);
        }
    }

    /// <summary>The Kafka clients get at least this long to close, even when the final deltas used up the shutdown timeout.</summary>
    private static readonly TimeSpan _minimumCloseTime = TimeSpan.FromSeconds(2);

    private static readonly TimeSpan _itemSyncFlushTimeout = TimeSpan.FromSeconds(5);

    private long _shutdownStartedAt;

    /// <summary>Test hook: runs on the learner thread before each batch is learned, with the consumer (a throw fails the learning).</summary>
    internal Action<IConsumer<byte[]?, byte[]?>>? BeforeLearningBatch { get; set; }

    /// <summary>Test hook: learn on a thread of its own (true) or inline on the consumer thread (false); unset, as <see cref="LearnerThread.ForThisMachine"/> chooses.</summary>
    internal bool? DedicatedLearnerThread { get; set; }

    /// <summary>Test hook: runs on the closing thread just before each Kafka client is closed, with the client's name.</summary>
    internal Action<string>? BeforeKafkaClientClose { get; set; }

    /// <summary>What is left of <see cref="WorkerOptions.ShutdownTimeout"/>; the first call (once the consumer loop stopped) starts the clock.</summary>
    private TimeSpan ShutdownTimeLeft()
    {
        if (_shutdownStartedAt == 0)
        {
            _shutdownStartedAt = Stopwatch.GetTimestamp();
        }

        var left = _options.ShutdownTimeout - Stopwatch.GetElapsedTime(_shutdownStartedAt);
        return left > TimeSpan.Zero ? left : TimeSpan.Zero;
    }

    /// <summary>
    /// Closes the consumer (after a graceful stop: commit, then leave the group; after a crash: destroyed without
    /// Close(), the group is not told), then the dead-letter producer and the item-sync clients, on a thread of their
    /// own. A client whose call has not returned when the shutdown time is up is abandoned, so the run still ends.
    /// </summary>
    /// <remarks>
    /// Abandoning a client cannot break the exactly-once counts: a shard's state and its next offset are published
    /// together in its checkpoint, and the next owner resumes from that; Kafka commits serve lag monitoring only,
    /// and the final deltas were published (or given up) before this. What it costs: a consumer that did not leave
    /// is dropped from the group after session.timeout.ms, and its handle, threads and sockets stay until the process
    /// exits. Nothing in this process touches an abandoned client again: only the closing thread holds it.
    /// </remarks>
    private void CloseKafkaClients(bool crashed)
    {
        var readers = _batches.Select(batch => batch.Reader).ToArray();
        var consumer = _consumer!;
        var deadLetters = _deadLetters!;
        var itemSync = _itemSync;
        var timeLeft = ShutdownTimeLeft();
        var budget = timeLeft > _minimumCloseTime ? timeLeft : _minimumCloseTime;
        var hung = BoundedClose.Run(
            budget,
            Closing("consumer", () =>
            {
                try
                {
                    if (crashed)
                    {
                        AnswerQueuedRebalances(readers[0]);
                    }
                    else
                    {
                        CommitPublishedOffsets();
                        consumer.Close();
                    }
                }
                finally
                {
                    // Also after a Close() that threw (a fatally failed consumer does): a client never destroyed keeps
                    // librdkafka's threads calling into delegates of a consumer object the GC may already have collected.
                    foreach (var reader in readers)
                    {
                        reader.Dispose();
                    }

                    consumer.Dispose();
                }
            }),
            Closing("dead-letter producer", deadLetters.Dispose),
            Closing("item-sync clients", () => itemSync?.Dispose()));
        if (hung is not null)
        {
            LogKafkaClientAbandoned(_logger, hung, Math.Round(budget.TotalSeconds, 1));
            _metrics.KafkaClientsAbandoned.WithLabels(hung).Inc();
        }
    }

    private (string Name, Action Close) Closing(string client, Action close) => (client, () =>
    {
        BeforeKafkaClientClose?.Invoke(client);
        close();
    });

    /// <summary>
    /// Answers the rebalance events already queued for a consumer about to be destroyed without Close().
    /// </summary>
    /// <remarks>
    /// librdkafka's destroy waits for the group handler to terminate, and the handler never terminates while an
    /// assignment it handed to the application is unanswered: destroy without close purges such a queued event
    /// unserved, and the destroying thread then waits forever. A rebalance that completes after the loop stopped
    /// (a replica joining as this one crashes) leaves exactly that. Served here, the callbacks see the abort and
    /// take nothing; queued messages are released unread. Events arriving once destroy has begun are answered by
    /// librdkafka itself.
    /// </remarks>
    private static void AnswerQueuedRebalances(ConsumerBatchReader reader)
    {
        try
        {
            // Bounded: a queue refilled by the fetcher need not be emptied, only its rebalance events served.
            for (var i = 0; i < 1000 && reader.Read(TimeSpan.Zero) > 0; i++)
            {
                reader.Release();
            }
        }
        catch (KafkaException)
        {
            // A consumer failed fatally has no group handler left to wait for.
        }
    }

    /// <summary>
    /// The consumer loop, two stages deep: while the learner thread learns the batch decoded last turn, this
    /// thread takes the next batch from librdkafka and decodes it; then it waits for the learner and, with the
    /// model to itself, syncs items, captures checkpoints and commits before handing the new batch over.
    /// </summary>
    /// <remarks>
    /// Decoding and learning were a quarter and a half of this thread's time; overlapped, the turn costs about
    /// the learning alone. The model is never touched by both threads at once: the learner thread only runs
    /// between the hand-over at the top of the loop and <see cref="FinishLearning"/>, and everything that reads
    /// or changes shards (rebalance callbacks, fencing, captures, item sync, gauges) finishes the learning first.
    /// Decoding only reads a shard's next offset, which the second pass checks again. With inline learning (one
    /// CPU) nothing overlaps: the batch read in one turn is decoded and learned chunk by chunk at the top of the next.
    /// </remarks>
    private void ConsumeUntilStopped(CancellationToken stoppingToken)
    {
        var nextCheckpoint = _clock.GetTimestamp();
        var nextLag = _clock.GetTimestamp();
        var nextItemSync = _clock.GetTimestamp();
        DecodedBatch? decoded = null;
        var turn = 0;
        try
        {
            while (!stoppingToken.IsCancellationRequested && !ReplayFinished())
            {
                // The learner is idle here: FinishLearning below (or in a callback) waited for it, and rethrew any failure.
                if (decoded is { Count: > 0 })
                {
                    _learning = decoded;
                    _learnerThread!.Start(_learnBatch);
                }

                // The other buffer: the batch being learned stays valid until FinishLearning releases it.
                var batch = _batches[turn++ & 1];
                batch.Count = batch.Reader.Read(_pollTimeout);
                batch.Decoded = false;
                var shards = _model.ShardsSnapshot;
                if (_learnerThread!.IsDedicated)
                {
                    // Overlaps the learning. Inline, each chunk is decoded just before it is learned instead (ApplyBatch).
                    DecodeRange(batch, 0, batch.Count);
                    batch.Decoded = true;
                }

                FinishLearning();
                decoded = batch;

                DropFencedShards();
                if (batch.Decoded && !ReferenceEquals(shards, _model.ShardsSnapshot))
                {
                    SkipDroppedShards(batch);
                }

                PauseReplayPartitions();
                if (_itemSync is not null)
                {
                    _itemSync.ApplyReceived();
                    if (_clock.GetElapsedTime(nextItemSync) >= TimeSpan.Zero)
                    {
                        _itemSync.SendChanges();
                        nextItemSync = _clock.GetTimestamp() + (long)(_options.ItemSyncInterval.TotalSeconds * _clock.TimestampFrequency);
                    }
                }

                if (_clock.GetElapsedTime(nextCheckpoint) >= TimeSpan.Zero)
                {
                    Checkpoint(final: false, only: null);
                    nextCheckpoint = _clock.GetTimestamp() + (long)(_options.DeltaInterval.TotalSeconds * _clock.TimestampFrequency);
                }

                CommitPublishedOffsets();
                if (_clock.GetElapsedTime(nextLag) >= TimeSpan.Zero)
                {
                    UpdateGauges();
                    nextLag = _clock.GetTimestamp() + (long)(_lagInterval.TotalSeconds * _clock.TimestampFrequency);
                }
            }
        }
        finally
        {
            // A batch decoded but not learned is dropped with its offsets: no checkpoint covers them, so whoever
            // owns the partition next consumes them again.
            try
            {
                FinishLearning();
            }
            finally
            {
                // The buffers go back to librdkafka before the consumer closes.
                foreach (var buffer in _batches)
                {
                    buffer.Reader.Release();
                    buffer.Count = 0;
                }
            }
        }
    }

    /// <summary>
    /// Waits until the learner thread has learned the batch handed to it (if any), then gives that batch's
    /// messages back to librdkafka. Rethrows what any learning threw, every time: a rebalance callback that met
    /// the failure first cannot pass it on (Confluent.Kafka keeps callback exceptions for <c>Consume()</c>, which
    /// this loop does not call), so the loop must meet it again before it captures or publishes anything.
    /// </summary>
    private void FinishLearning()
    {
        try
        {
            _learnerThread?.Wait();
        }
        finally
        {
            // Only now: the learner thread reads the field when it starts, which may be after this thread got here.
            if (_learning is { } batch)
            {
                _learning = null;
                batch.Reader.Release();
                batch.Count = 0;
            }
        }
    }

    /// <summary>A batch taken from librdkafka and decoded: the first pass's findings per message and the decoded events.</summary>
    private sealed class DecodedBatch(ConsumerBatchReader reader, int capacity)
    {
        /// <summary>The reader whose current batch this is: its messages stay valid until it reads or releases again.</summary>
        public ConsumerBatchReader Reader { get; } = reader;

        public int Count { get; set; }

        /// <summary>True once the whole batch is decoded; false while its chunks are left to be decoded as they are learned.</summary>
        public bool Decoded { get; set; }

        public DecodedMessage[] Messages { get; } = new DecodedMessage[capacity];

        /// <summary>The decoded events, at the index of their message.</summary>
        public Interaction[] Events { get; } = new Interaction[capacity];
    }

    /// <summary>
    /// Learns or dead-letters each message of a batch in message order, <see cref="ApplyChunkSize"/> messages
    /// at a time (a due live test is looked for once per chunk). Runs on the learner thread. A batch not decoded
    /// yet (inline learning) is decoded chunk by chunk, each just before it is learned, while its messages and
    /// ids are still in cache. The applied count reaches the metrics once per batch.
    /// </summary>
    private void ApplyBatch(DecodedBatch batch)
    {
        BeforeLearningBatch?.Invoke(_consumer!);
        long applied = 0;
        for (var start = 0; start < batch.Count; start += ApplyChunkSize)
        {
            var length = Math.Min(ApplyChunkSize, batch.Count - start);
            if (!batch.Decoded)
            {
                DecodeRange(batch, start, length);
            }

            applied += ApplyChunk(batch, start, length);
        }

        if (applied > 0)
        {
            _appliedEvents.Inc(applied);
        }
    }

    /// <summary>Messages per chunk of the second pass: at most one live test each.</summary>
    private const int ApplyChunkSize = 256;

    /// <summary>What the first pass found for a message of the batch.</summary>
    private enum DecodeOutcome : byte
    {
        /// <summary>A consumer error entry, not a message.</summary>
        Error,

        /// <summary>Not for a shard of this replica (any more), or already contained in its restored state.</summary>
        Skip,

        /// <summary>Decoded and valid: its interaction is at the same index of <see cref="DecodedBatch.Events"/>.</summary>
        Decoded,

        /// <summary>Refused: <see cref="DecodedMessage.Bad"/> says why.</summary>
        Refused,
    }

    /// <param name="DecodeTicks">For a sampled event, its decoding time in <see cref="Stopwatch"/> ticks (at least 1); else 0.</param>
    private readonly record struct DecodedMessage(DecodeOutcome Outcome, Shard? Shard, long Offset, long DecodeTicks, BadEvent Bad);

    /// <summary>
    /// First pass, over messages <paramref name="start"/>..<paramref name="start"/>+<paramref name="length"/>-1 of
    /// the batch: finds each message's shard and decodes it; changes no state but the id pool. Decoding in a tight
    /// loop of its own lets the id lookups of consecutive messages overlap, and reads the clock once per range
    /// instead of per event.
    /// </summary>
    private void DecodeRange(DecodedBatch batch, int start, int length)
    {
        var reader = batch.Reader;
        var messages = batch.Messages;
        var events = batch.Events;
        var end = start + length;
        var nowMs = _clock.GetUtcNow().ToUnixTimeMilliseconds();
        var json = _options.Format == EventFormat.Json;
        // Messages come in runs per partition: remember the last partition's shard.
        Shard? shard = null;
        string? shardTopic = null;
        var shardPartition = -1;
        if (!json)
        {
            for (var i = start; i < Math.Min(start + IdSlotPrefetchDistance, end); i++)
            {
                PrefetchIds(reader[i], pooledStrings: false);
            }
        }

        for (var i = start; i < end; i++)
        {
            if (!json)
            {
                // Two stages ahead: the id pool's slots of a later event, then the strings of a nearer one.
                if (i + IdSlotPrefetchDistance < end)
                {
                    PrefetchIds(reader[i + IdSlotPrefetchDistance], pooledStrings: false);
                }

                if (i + IdStringPrefetchDistance < end)
                {
                    PrefetchIds(reader[i + IdStringPrefetchDistance], pooledStrings: true);
                }
            }

            var message = reader[i];
            if (message.Error != ErrorCode.NoError)
            {
                messages[i] = new DecodedMessage(DecodeOutcome.Error, null, 0, 0, default);
                continue;
            }

            var topic = message.Topic;
            if (message.Partition != shardPartition || !ReferenceEquals(topic, shardTopic))
            {
                shard = FindShard(topic, message.Partition);
                shardTopic = topic;
                shardPartition = message.Partition;
            }

            var offset = message.Offset;
            // The learner thread may be advancing NextOffset meanwhile: a stale value only skips less, and the second pass checks again.
            if (shard is null || offset < shard.NextOffset)
            {
                // Not ours, or already contained in the restored state (NextOffset only grows, so this holds in the second pass too).
                messages[i] = new DecodedMessage(DecodeOutcome.Skip, shard, offset, 0, default);
                continue;
            }

            var payload = message.Value;
            long started = ++_eventsSeen % 64 == 0 ? Stopwatch.GetTimestamp() : 0;
            var decoded = json
                ? _decoder.TryDecodeJson(payload, nowMs, out events[i], out var bad)
                : _decoder.TryDecodeProtobuf(payload, nowMs, out events[i], out bad);
            if (!decoded || payload.Length == 0)
            {
                bad = payload.Length == 0 ? new BadEvent(BadEventReason.Malformed, "empty message value") : bad;
                messages[i] = new DecodedMessage(DecodeOutcome.Refused, shard, offset, 0, bad);
                continue;
            }

            var decodeTicks = started == 0 ? 0 : Math.Max(1, Stopwatch.GetTimestamp() - started);
            messages[i] = new DecodedMessage(DecodeOutcome.Decoded, shard, offset, decodeTicks, default);
        }
    }

    /// <summary>How many events ahead of decoding the id pool's slots are prefetched.</summary>
    private const int IdSlotPrefetchDistance = 8;

    /// <summary>How many events ahead of decoding the pooled id strings are prefetched (their slots arrived by then).</summary>
    private const int IdStringPrefetchDistance = 4;

    private void PrefetchIds(KafkaMessageView message, bool pooledStrings)
    {
        if (message.Error == ErrorCode.NoError)
        {
            _decoder.PrefetchProtobufIds(message.Value, pooledStrings);
        }
    }

    /// <summary>
    /// Marks the messages of shards dropped since the batch was decoded (fenced) as not ours: their events
    /// belong to the partition's new owner, and learning them here would still move the shared items.
    /// </summary>
    private void SkipDroppedShards(DecodedBatch batch)
    {
        var shards = _model.ShardsSnapshot;
        for (var i = 0; i < batch.Count; i++)
        {
            ref var entry = ref batch.Messages[i];
            if (entry.Shard is { } shard && entry.Outcome != DecodeOutcome.Skip && !shards.Contains(shard))
            {
                entry = new DecodedMessage(DecodeOutcome.Skip, null, entry.Offset, 0, default);
            }
        }
    }

    /// <summary>
    /// Second pass, in message order: learns each decoded event in its shard (consecutive events of one shard as
    /// one span), dead-letters refused ones, reports consumer errors.
    /// </summary>
    /// <returns>Events applied.</returns>
    private long ApplyChunk(DecodedBatch batch, int start, int length)
    {
        var messages = batch.Messages;
        long applied = 0;
        // The open run: events runStart..i-1 of runShard, all decoded and not yet learned.
        Shard? runShard = null;
        var runStart = start;
        var end = start + length;
        // The clock is read once per chunk: a due live test takes the chunk's first event of a known user.
        var evaluationDue = _options.LiveEvaluationsPerSecond > 0 && Stopwatch.GetTimestamp() >= _nextLiveEvaluation;
        var replaying = _replayStops.Count > 0;
        for (var i = start; i < end; i++)
        {
            ref readonly var entry = ref messages[i];
            if (entry.Outcome == DecodeOutcome.Decoded && ReferenceEquals(entry.Shard, runShard) && entry.Offset > messages[i - 1].Offset
                && !evaluationDue && !replaying)
            {
                // The next offset of the run's partition: it extends the run.
                continue;
            }

            applied += LearnRun(batch, runShard, runStart, i);
            runShard = null;
            switch (entry.Outcome)
            {
                case DecodeOutcome.Error:
                    ReportConsumerError(batch.Reader[i]);
                    break;
                case DecodeOutcome.Decoded or DecodeOutcome.Refused when entry.Offset < entry.Shard!.NextOffset || PastReplayStop(entry.Shard!, entry.Offset):
                    // Already contained in the shard's state, or past a backfill's end.
                    break;
                case DecodeOutcome.Decoded:
                    if (evaluationDue)
                    {
                        evaluationDue = !TryEvaluateLive(entry.Shard!, batch.Events[i]);
                    }

                    runShard = entry.Shard;
                    runStart = i;
                    break;
                case DecodeOutcome.Refused:
                    DeadLetter(entry.Shard!, batch.Reader[i], entry.Bad);
                    break;
                default:
                    break;
            }
        }

        return applied + LearnRun(batch, runShard, runStart, end);
    }

    /// <summary>Learns the batch's events <paramref name="from"/>..<paramref name="to"/>-1, all of <paramref name="shard"/>, in order.</summary>
    private long LearnRun(DecodedBatch batch, Shard? shard, int from, int to)
    {
        if (shard is null || to <= from)
        {
            return 0;
        }

        var messages = batch.Messages;
        var events = batch.Events;
        var sampled = -1;
        for (var i = from; i < to; i++)
        {
            if (messages[i].DecodeTicks != 0)
            {
                sampled = i;
                break;
            }
        }

        if (sampled < 0)
        {
            ShardedModel.ApplyRun(shard, events.AsSpan(from, to - from), messages[to - 1].Offset);
            return to - from;
        }

        // The run's first sampled event is learned on its own: its decoding plus its learning go into the
        // update-time histogram (one event in 64 is sampled, so a run holds about four).
        if (sampled > from)
        {
            ShardedModel.ApplyRun(shard, events.AsSpan(from, sampled - from), messages[sampled - 1].Offset);
        }

        var learnStarted = Stopwatch.GetTimestamp();
        ShardedModel.Apply(shard, events[sampled], messages[sampled].Offset);
        _metrics.UpdateSeconds.Observe((Stopwatch.GetTimestamp() - learnStarted + messages[sampled].DecodeTicks) / (double)Stopwatch.Frequency);
        if (sampled + 1 < to)
        {
            ShardedModel.ApplyRun(shard, events.AsSpan(sampled + 1, to - sampled - 1), messages[to - 1].Offset);
        }

        return to - from;
    }

    /// <summary>The shard of a partition, or null when it is not ours (any more).</summary>
    private Shard? FindShard(string topic, int partition)
    {
        // Indexed, not foreach: enumerating the list through its interface would allocate.
        var shards = _model.ShardsSnapshot;
        for (var i = 0; i < shards.Count; i++)
        {
            var shard = shards[i];
            if (shard.Partition.Partition.Value == partition && string.Equals(shard.Partition.Topic, topic, StringComparison.Ordinal))
            {
                return shard;
            }
        }

        return null;
    }

    private void ReportConsumerError(KafkaMessageView message)
    {
        if (message.Error == ErrorCode.Local_Fatal)
        {
            throw new KafkaException(new Error(ErrorCode.Local_Fatal, message.ErrorReason, isFatal: true));
        }

        // Transient broker or fetch errors: librdkafka retries by itself; report and go on.
        LogConsumeError(_logger, message.Error.ToString(), message.ErrorReason);
    }

    /// <summary>True (and the partition paused) when a backfill's message lies past its stop offset: not part of this version.</summary>
    private bool PastReplayStop(Shard shard, long offset)
    {
        if (_replayStops.Count == 0 || !_replayStops.TryGetValue(shard.Partition, out var stop) || offset < stop)
        {
            return false;
        }

        if (_replayPaused.Add(shard.Partition))
        {
            // Runs on the learner thread: the consumer thread pauses it (PauseReplayPartitions).
            _replayPausesDue.Add(shard.Partition);
        }

        return true;
    }

    /// <summary>Pauses the backfill partitions the learner found past their stop offsets (consumer thread, learner idle).</summary>
    private void PauseReplayPartitions()
    {
        if (_replayPausesDue.Count > 0)
        {
            _consumer!.Pause(_replayPausesDue);
            _replayPausesDue.Clear();
        }
    }

    /// <summary>Tests the model on an event before it is learned (is the item in the user's top 10?); false when the user is new to the shard.</summary>
    private bool TryEvaluateLive(Shard shard, in Interaction interaction)
    {
        if (!shard.Learner.KnowsUser(interaction.UserId))
        {
            return false;
        }

        _nextLiveEvaluation = Stopwatch.GetTimestamp() + (Stopwatch.Frequency / _options.LiveEvaluationsPerSecond);
        var count = shard.Learner.Recommend(interaction.UserId, _liveTopK, excludeSeen: true);
        _liveRecall.Record(_liveTopK.AsSpan(0, count).ContainsItem(interaction.ItemId));
        return true;
    }

    /// <summary>Produces a refused message to the dead-letter topic and accounts for its offset.</summary>
    private void DeadLetter(Shard shard, KafkaMessageView message, BadEvent bad)
    {
        // The only copies of a message: a dead letter carries its key, value and timestamp unchanged.
        var source = message.TopicPartitionOffset;
        _deadLetters!.Publish(source, message.IsKeyNull ? null : message.Key.ToArray(), message.IsValueNull ? null : message.Value.ToArray(), message.Timestamp, bad);
        ShardedModel.DeadLettered(shard, message.Offset);
        _metrics.Events.WithLabels("dead_lettered", bad.Reason.ToString()).Inc();
        if (_badEventLog.TryAcquire(out var suppressed))
        {
            LogBadEvent(_logger, source.ToString(), bad.Reason.ToString(), bad.Detail, suppressed);
        }
    }

    /// <summary>Captures deltas (or due snapshots) of the given shards, or of all, and queues them for publishing.</summary>
    /// <param name="deadLetterFlushTimeout">How long queued dead letters may take to be acknowledged first; 30 s unless given.</param>
    private CheckpointJob? Checkpoint(bool final, IReadOnlyCollection<TopicPartition>? only, TimeSpan? deadLetterFlushTimeout = null)
    {
        var publisher = _publisher!;
        if (!final && publisher.Pending >= publisher.Capacity)
        {
            SetPaused(true);
            return null;
        }

        if (_paused && publisher.Pending <= publisher.Capacity / 2)
        {
            SetPaused(false);
        }

        try
        {
            _deadLetters!.Flush(deadLetterFlushTimeout ?? _deadLetterFlushTimeout);
        }
        catch (KafkaException ex)
        {
            // The refused events are not durable yet: no checkpoint may cover them. Try again next turn.
            LogDeadLetterFlushFailed(_logger, ex.Error.Reason);
            if (!final)
            {
                return null;
            }
        }

        var now = _clock.GetUtcNow();
        // Lookup keys are written once per LookupInterval for everything published since, and at final deltas
        // (revoke, shutdown) so none is left behind; a user active in every delta is written once per interval.
        // Top-k lists are ranked only for the captures written now: ranking every item is a capture's costliest part.
        var lookupsDue = final || now - _lookupsWrittenAt >= _options.LookupInterval;
        var captures = new List<ShardCapture>();
        foreach (var shard in _model.Shards)
        {
            if (only is not null && !only.Contains(shard.Partition))
            {
                continue;
            }

            var chain = _chains.GetValueOrDefault(shard.Partition, ChainProgress.New);
            var snapshot = now - chain.SnapshotAt >= _options.SnapshotInterval || chain.Deltas >= MaxDeltasPerSnapshot;
            if (!snapshot && chain.CapturedOffset == shard.NextOffset)
            {
                continue;
            }

            captures.Add(ShardedModel.Capture(shard, snapshot, lookupsDue ? RedisShardCheckpoints.TopKListsPerLookupWrite : 0));
            _chains[shard.Partition] = snapshot ? new ChainProgress(now, 0, shard.NextOffset) : chain with { Deltas = chain.Deltas + 1, CapturedOffset = shard.NextOffset };
        }

        ItemsCapture? items = null;
        if (OwnsItems() && only is null)
        {
            var itemSnapshot = now - _itemsSnapshotAt >= _options.SnapshotInterval;
            items = _model.CaptureItems(itemSnapshot);
            if (itemSnapshot)
            {
                _itemsSnapshotAt = now;
            }
            else if (items.Items.Count == 0)
            {
                items = null;
            }
        }

        _lookupsPending |= captures.Count > 0 || items is not null;
        var writeLookups = _lookupsPending && lookupsDue;
        if (captures.Count == 0 && items is null && !writeLookups)
        {
            return null;
        }

        if (writeLookups)
        {
            _lookupsWrittenAt = now;
            _lookupsPending = false;
        }

        var job = new CheckpointJob(captures, items) { WriteLookups = writeLookups };
        publisher.Enqueue(job);
        return job;
    }

    /// <summary>Deltas after a snapshot before the next one is forced: bounds restore work.</summary>
    private const int MaxDeltasPerSnapshot = 900;

    private bool OwnsItems() =>
        _options.Topics.Count == 0
            ? _model.Shards.Any(s => s.Partition.Partition.Value == 0)
            : _model.TryGetShard(new TopicPartition(_itemsOwnerTopic, 0), out _);

    private void SetPaused(bool paused)
    {
        if (paused == _paused)
        {
            return;
        }

        var assignment = _consumer!.Assignment;
        if (paused)
        {
            _consumer.Pause(assignment);
            LogPaused(_logger, _publisher!.Pending);
        }
        else
        {
            _consumer.Resume(assignment);
            LogResumed(_logger);
        }

        _paused = paused;
        _metrics.Paused.Set(paused ? 1 : 0);
    }

    private void CommitPublishedOffsets()
    {
        if (_publisher!.PublishedOffsets.IsEmpty)
        {
            // The usual loop turn: nothing published since the last one, so no assignment to fetch from librdkafka.
            return;
        }

        var latest = new Dictionary<TopicPartition, TopicPartitionOffset>();
        while (_publisher!.PublishedOffsets.TryDequeue(out var offset))
        {
            latest[offset.TopicPartition] = offset;
        }

        var assigned = _consumer!.Assignment.ToHashSet();
        var committable = latest.Values.Where(o => assigned.Contains(o.TopicPartition) && o.Offset.Value > 0).ToList();
        if (committable.Count == 0)
        {
            return;
        }

        try
        {
            _consumer.Commit(committable);
        }
        catch (KafkaException ex)
        {
            // Commits only feed lag monitoring; the checkpoint holds the real position.
            LogCommitFailed(_logger, ex.Error.Reason);
        }
    }

    private void DropFencedShards()
    {
        while (_publisher!.FencedPartitions.TryDequeue(out var partition))
        {
            _model.Drop(partition);
            _chains.Remove(partition);
            _store.ForgetLookups(partition);
        }
    }

    private void UpdateGauges()
    {
        var shards = _model.Shards.ToArray();
        _metrics.Shards.Set(shards.Length);
        foreach (var shard in shards)
        {
            var watermarks = _consumer!.GetWatermarkOffsets(shard.Partition);
            if (watermarks.High.Value >= 0)
            {
                _metrics.ConsumerLag.WithLabels(shard.Partition.Topic, shard.Partition.Partition.Value.ToString(System.Globalization.CultureInfo.InvariantCulture))
                    .Set(Math.Max(0, watermarks.High.Value - shard.NextOffset));
            }
        }

        var watermark = shards.Length == 0 ? 0 : shards.Max(s => s.EventTimeWatermarkMs);
        if (watermark > 0)
        {
            _metrics.Freshness.Set(Math.Max(0, (_clock.GetUtcNow().ToUnixTimeMilliseconds() - watermark) / 1000.0));
        }

        _metrics.CheckpointAge.Set(_publisher!.Age.TotalSeconds);
        if (!double.IsNaN(_liveRecall.Recall))
        {
            _metrics.LiveRecall.Set(_liveRecall.Recall);
        }

        _metrics.TableRows.WithLabels("items").Set(_model.Items.Items.Count);
        _metrics.TableRows.WithLabels("users").Set(shards.Sum(s => s.Learner.Users.Count));
        _metrics.TableEvictions.WithLabels("items").Set(_model.Items.Items.Ids.EvictionCount);
        _metrics.TableEvictions.WithLabels("users").Set(shards.Sum(s => s.Learner.Users.Ids.EvictionCount));
    }

    /// <summary>
    /// Assigns every partition of the topics by hand for a backfill: each shard resumes from its own
    /// chain when a previous run of this backfill published one, else starts where Replay:From says;
    /// each stops where Replay:Until says.
    /// </summary>
    private void AssignForReplay(ReplayOptions replay)
    {
        var consumer = _consumer!;
        var timeout = TimeSpan.FromSeconds(30);
        using var admin = new AdminClientBuilder(_options.Kafka.ApplyTo(new AdminClientConfig())).Build();
        var metadata = admin.GetMetadata(timeout);
        var partitions = new List<TopicPartition>();
        foreach (var topic in _options.Topics)
        {
            var described = metadata.Topics.SingleOrDefault(t => t.Topic == topic);
            if (described is null || described.Error.IsError || described.Partitions.Count == 0)
            {
                throw new InvalidOperationException($"Replay topic '{topic}' does not exist at {_options.Kafka.BootstrapServers} ({described?.Error.Reason ?? "not in metadata"}).");
            }

            partitions.AddRange(described.Partitions.Select(p => new TopicPartition(topic, p.PartitionId)));
        }

        var starts = ReplayStarts(replay, partitions, consumer, timeout);
        var untilTime = replay.Until == "caught-up" ? (DateTimeOffset?)null : ReplayUntil(replay);
        var untilOffsets = untilTime is { } until
            ? consumer.OffsetsForTimes(partitions.Select(p => new TopicPartitionTimestamp(p, new Timestamp(until))), timeout).ToDictionary(o => o.TopicPartition, o => o.Offset.Value)
            : [];
        var assignment = new List<TopicPartitionOffset>();
        foreach (var partition in partitions)
        {
            var watermarks = consumer.QueryWatermarkOffsets(partition, timeout);
            _replayStops[partition] = untilOffsets.TryGetValue(partition, out var stop) && stop >= 0 ? stop : watermarks.High.Value;
            var restored = WithRetries($"restore {partition}", () => _store.ClaimAndRestoreShardAsync(partition, ReplicaId, CancellationToken.None), CancellationToken.None);
            var shard = _model.Assign(partition, restored);
            if (restored is null)
            {
                var start = starts.GetValueOrDefault(partition, Offset.Beginning);
                shard.NextOffset = start == Offset.Beginning ? watermarks.Low.Value : start == Offset.End ? watermarks.High.Value : start.Value;
            }

            assignment.Add(new TopicPartitionOffset(partition, new Offset(shard.NextOffset)));
            LogAssigned(_logger, partition.ToString(), $"replay from offset {shard.NextOffset} to {_replayStops[partition]}");
        }

        consumer.Assign(assignment);
    }

    private static Dictionary<TopicPartition, Offset> ReplayStarts(ReplayOptions replay, List<TopicPartition> partitions, IConsumer<byte[]?, byte[]?> consumer, TimeSpan timeout)
    {
        if (replay.From == "earliest")
        {
            return [];
        }

        if (ReplayOptions.TryParseTime(replay.From, out var from))
        {
            return consumer.OffsetsForTimes(partitions.Select(p => new TopicPartitionTimestamp(p, new Timestamp(from))), timeout)
                .ToDictionary(o => o.TopicPartition, o => o.Offset.Value < 0 ? Offset.End : o.Offset);
        }

        // An offsets file: "topic,partition,offset" per line; partitions it leaves out start at the earliest offset.
        var starts = new Dictionary<TopicPartition, Offset>();
        var lineNumber = 0;
        foreach (var line in File.ReadLines(replay.From))
        {
            lineNumber++;
            var fields = line.Split(',', StringSplitOptions.TrimEntries);
            if (line.Trim().Length == 0 || line.TrimStart().StartsWith('#'))
            {
                continue;
            }

            if (fields.Length != 3 || !int.TryParse(fields[1], System.Globalization.CultureInfo.InvariantCulture, out var partition)
                || !long.TryParse(fields[2], System.Globalization.CultureInfo.InvariantCulture, out var offset) || offset < 0)
            {
                throw new FormatException($"{replay.From}:{lineNumber}: expected 'topic,partition,offset', got '{line}'.");
            }

            starts[new TopicPartition(fields[0], partition)] = new Offset(offset);
        }

        return starts;
    }

    private static DateTimeOffset ReplayUntil(ReplayOptions replay) =>
        ReplayOptions.TryParseTime(replay.Until, out var until) ? until : throw new FormatException($"Replay:Until '{replay.Until}' is not a time.");

    /// <summary>A backfill is finished when every partition reached its stop offset.</summary>
    private bool ReplayFinished() =>
        _replayStops.Count > 0 && _replayStops.All(stop => _model.TryGetShard(stop.Key, out var shard) && shard.NextOffset >= stop.Value);

    /// <summary>The clickstream consumer's configuration: the Kafka settings (SASL, SSL, pass-through) plus the worker's own.</summary>
    public static ConsumerConfig ConsumerConfigFor(WorkerOptions options, string clientId)
    {
        ArgumentNullException.ThrowIfNull(options);
        return options.Kafka.ApplyTo(new ConsumerConfig
        {
            // A backfill assigns partitions itself and never commits; its group id only names it.
            GroupId = options.Replay is null ? options.ResolvedGroupId : $"{options.ResolvedGroupId}-replay-{options.ModelVersion}",
            ClientId = clientId,
            EnableAutoCommit = false,
            EnableAutoOffsetStore = false,
            AutoOffsetReset = AutoOffsetReset.Earliest,
            PartitionAssignmentStrategy = PartitionAssignmentStrategy.CooperativeSticky,
            // A broker answers a fetch as soon as data arrives, but one that does not (librdkafka's mock) holds an
            // empty fetch this long, and that wait adds straight to freshness; librdkafka's 500 ms would double it.
            // The cost is at most 10 empty fetches a second per broker while idle. Kafka:Client may override it.
            FetchWaitMaxMs = 100,
            // librdkafka stops fetching for every partition once the consumer queue holds
            // queued.min.messages, and by default looks again only after a second: a worker slower
            // than its fetcher then idles up to a second per refill. Looking again soon keeps the
            // queue fed at no cost (the check is local); Kafka:Client can still override it.
            FetchQueueBackoffMs = FetchQueueBackoffMs,
            ReconnectBackoffMs = ReconnectBackoffMs,
        });
    }

    private IConsumer<byte[]?, byte[]?> BuildConsumer()
    {
        var config = ConsumerConfigFor(_options, ReplicaId);
        return new ConsumerBuilder<byte[]?, byte[]?>(config)
            .SetPartitionsAssignedHandler((_, partitions) => OnAssigned(partitions))
            .SetPartitionsRevokedHandler((_, partitions) => OnRevoked([.. partitions.Select(p => p.TopicPartition)]))
            .SetPartitionsLostHandler((_, partitions) => OnLost([.. partitions.Select(p => p.TopicPartition)]))
            .SetErrorHandler((_, error) => LogKafkaError(_logger, error.Code.ToString(), error.Reason, error.IsFatal))
            .SetLogHandler((_, message) =>
            {
                if (message.Level <= SyslogLevel.Warning)
                {
                    LogKafkaClient(_logger, message.Facility, message.Message);
                }
            })
            .Build();
    }

    private IEnumerable<TopicPartitionOffset> OnAssigned(List<TopicPartition> partitions)
    {
        FinishLearning();
        if (_abort.IsCancellationRequested)
        {
            // A crashed replica claims no shard and restores nothing; the assignment is only answered
            // (the cooperative protocol wants every partition back) and dies with the consumer.
            return partitions.Select(p => new TopicPartitionOffset(p, Offset.Unset));
        }

        _ready = false;
        var positions = new List<TopicPartitionOffset>(partitions.Count);
        // Every partition's first claim-and-restore goes to Redis at once: the assignment waits for about one
        // round trip rather than one per partition. A failed one is retried on its own.
        var firstTries = partitions.Select(partition => _store.ClaimAndRestoreShardAsync(partition, ReplicaId, CancellationToken.None)).ToList();
        for (var i = 0; i < partitions.Count; i++)
        {
            var partition = partitions[i];
            Task<ShardRestore?>? firstTry = firstTries[i];
            var restored = WithRetries($"restore {partition}", () => Interlocked.Exchange(ref firstTry, null) ?? _store.ClaimAndRestoreShardAsync(partition, ReplicaId, CancellationToken.None), CancellationToken.None);
            var shard = _model.Assign(partition, restored);
            _chains[partition] = restored is null ? ChainProgress.New : new ChainProgress(_clock.GetUtcNow(), 0, shard.NextOffset);
            positions.Add(new TopicPartitionOffset(partition, restored is null ? Offset.Beginning : new Offset(shard.NextOffset)));
            LogAssigned(_logger, partition.ToString(), restored is null ? "new" : $"restored at offset {shard.NextOffset} with {restored.Users.Count} users");
        }

        _ready = true;
        _metrics.Shards.Set(_model.Shards.Count);
        return positions;
    }

    private void OnRevoked(List<TopicPartition> partitions)
    {
        LogRevoking(_logger, partitions.Count);
        // The batch being learned belongs to the old assignment: it goes into the final deltas.
        FinishLearning();
        if (_abort.IsCancellationRequested || _failed)
        {
            // A crash, or a run ending with an exception, publishes nothing more (the publisher has stopped).
            OnLost(partitions);
            return;
        }

        var owned = partitions.Where(p => _model.TryGetShard(p, out _)).ToList();
        if (owned.Count > 0)
        {
            // Hand over cleanly: the next owner restores exactly what this replica applied.
            var job = Checkpoint(final: true, only: owned);
            if (job is not null && !job.Published.Task.Wait(_options.ShutdownTimeout))
            {
                LogHandOverTimedOut(_logger, string.Join(", ", owned));
            }
        }

        foreach (var partition in partitions)
        {
            _model.Drop(partition);
            _chains.Remove(partition);
            LogRevoked(_logger, partition.ToString());
        }

        _metrics.Shards.Set(_model.Shards.Count);
    }

    private void OnLost(List<TopicPartition> partitions)
    {
        FinishLearning();
        foreach (var partition in partitions)
        {
            // Another replica may own it already: what was not published is dropped, never published late.
            _model.Drop(partition);
            _chains.Remove(partition);
            _store.ForgetLookups(partition);
            LogLost(_logger, partition.ToString());
        }

        _metrics.Shards.Set(_model.Shards.Count);
    }

    private void StopGracefully()
    {
        if (_itemSync is not null)
        {
            _itemSync.SendChanges();
            var flushTime = ShutdownTimeLeft();
            _itemSync.Flush(flushTime < _itemSyncFlushTimeout ? flushTime : _itemSyncFlushTimeout);
        }

        var job = Checkpoint(final: true, only: null, deadLetterFlushTimeout: ShutdownTimeLeft());
        var timeLeft = ShutdownTimeLeft();
        var drained = _publisher!.DrainAsync(timeLeft);
        if (!drained.Wait(timeLeft + TimeSpan.FromSeconds(1)) || job is { Published.Task.IsCompletedSuccessfully: false })
        {
            LogShutdownIncomplete(_logger);
        }

        // The commit and the consumer's Close() follow in CloseKafkaClients, bounded by what is left of the shutdown time.
        LogStopped(_logger, ReplicaId);
    }

    private T WithRetries<T>(string action, Func<Task<T>> operation, CancellationToken stoppingToken)
    {
        var backoff = TimeSpan.FromMilliseconds(100);
        while (true)
        {
            try
            {
                return operation().GetAwaiter().GetResult();
            }
            catch (Exception ex) when (ex is not OperationCanceledException && ex is not ArgumentException && !stoppingToken.IsCancellationRequested)
            {
                LogRetrying(_logger, action, backoff.TotalMilliseconds, ex.Message);
                stoppingToken.WaitHandle.WaitOne(backoff);
                backoff = TimeSpan.FromTicks(Math.Min(backoff.Ticks * 2, TimeSpan.FromSeconds(5).Ticks));
            }
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Worker {ReplicaId} consuming from {Kafka} in group {Group}, model {Model} version {Version}")]
    private static partial void LogStarted(ILogger logger, string replicaId, string kafka, string group, string model, string version);

    [LoggerMessage(Level = LogLevel.Information, Message = "Worker {ReplicaId} stopped")]
    private static partial void LogStopped(ILogger logger, string replicaId);

    [LoggerMessage(Level = LogLevel.Information, Message = "Items restored: {Rows} rows")]
    private static partial void LogItemsRestored(ILogger logger, int rows);

    [LoggerMessage(Level = LogLevel.Information, Message = "Assigned {Partition}: {State}")]
    private static partial void LogAssigned(ILogger logger, string partition, string state);

    [LoggerMessage(Level = LogLevel.Debug, Message = "Revoking {Count} partition(s): waiting for the batch being learned")]
    private static partial void LogRevoking(ILogger logger, int count);

    [LoggerMessage(Level = LogLevel.Information, Message = "Revoked {Partition} after its final delta")]
    private static partial void LogRevoked(ILogger logger, string partition);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Lost {Partition}; unpublished state dropped")]
    private static partial void LogLost(ILogger logger, string partition);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Refused event at {Position}: {Reason} ({Detail}); {Suppressed} similar lines suppressed before this one")]
    private static partial void LogBadEvent(ILogger logger, string position, string reason, string detail, long suppressed);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Consume error {Code}: {Reason}")]
    private static partial void LogConsumeError(ILogger logger, string code, string reason);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Kafka error {Code}: {Reason} (fatal: {Fatal})")]
    private static partial void LogKafkaError(ILogger logger, string code, string reason, bool fatal);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Kafka client [{Facility}]: {Message}")]
    private static partial void LogKafkaClient(ILogger logger, string facility, string message);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Dead letters not acknowledged, checkpoint postponed: {Reason}")]
    private static partial void LogDeadLetterFlushFailed(ILogger logger, string reason);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Backpressure: {Pending} checkpoints unpublished, consumption paused")]
    private static partial void LogPaused(ILogger logger, int pending);

    [LoggerMessage(Level = LogLevel.Information, Message = "Checkpoint backlog drained, consumption resumed")]
    private static partial void LogResumed(ILogger logger);

    [LoggerMessage(Level = LogLevel.Debug, Message = "Offset commit failed (monitoring only): {Reason}")]
    private static partial void LogCommitFailed(ILogger logger, string reason);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Final delta of {Partitions} not published in time; the next owner resumes from the last published one")]
    private static partial void LogHandOverTimedOut(ILogger logger, string partitions);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Shutdown timed out before every checkpoint was published; unpublished events will be consumed again")]
    private static partial void LogShutdownIncomplete(ILogger logger);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Kafka {Client} did not close within {Seconds} s; abandoned (with the clients after it) so that the worker stops")]
    private static partial void LogKafkaClientAbandoned(ILogger logger, string client, double seconds);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Kafka clients did not close cleanly after the worker failed: {Error}")]
    private static partial void LogCloseFailedAfterFailure(ILogger logger, string error);

    [LoggerMessage(Level = LogLevel.Warning, Message = "{Action} failed, retrying in {BackoffMs} ms: {Error}")]
    private static partial void LogRetrying(ILogger logger, string action, double backoffMs, string error);
}

/// <summary>Where a shard's chain stands: when its last snapshot was captured, deltas since, offset captured last.</summary>
internal readonly record struct ChainProgress(DateTimeOffset SnapshotAt, int Deltas, long CapturedOffset)
{
    /// <summary>A chain with no snapshot yet: its first capture is a snapshot.</summary>
    public static ChainProgress New => new(DateTimeOffset.MinValue, 0, long.MinValue);
}

internal static class ScoredItemSpanExtensions
{
    public static bool ContainsItem(this Span<ScoredItem> items, string itemId)
    {
        foreach (var item in items)
        {
            if (string.Equals(item.ItemId, itemId, StringComparison.Ordinal))
            {
                return true;
            }
        }

        return false;
    }
}
