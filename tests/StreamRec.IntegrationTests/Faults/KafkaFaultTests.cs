using System.Diagnostics;
using Confluent.Kafka;
using StreamRec.IntegrationTests.Infrastructure;
using StreamRec.IntegrationTests.Worker;
using StreamRec.Kafka.Embedded;
using StreamRec.Redis.Checkpoints;
using StreamRec.Worker.Checkpointing;
using StreamRec.Worker.Consumption;

namespace StreamRec.IntegrationTests.Faults;

/// <summary>
/// Kafka misbehaving under a running worker, through the embedded cluster's fault controls (librdkafka's
/// rd_kafka_mock_*): a broker down and back, failed requests of each kind the worker sends, slow
/// responses. The worker must ride them out without crashing and count every event once.
/// </summary>
[TestFixture]
[Category("Faults")]
public sealed class KafkaFaultTests
{
    private const int Partitions = 8;
    private const int EventsPerPhase = 1_000;
    private const double GarbageShare = 0.01;

    // Kafka API keys and error codes (kafka.apache.org/protocol#protocol_api_keys, #protocol_error_codes).
    private const short Produce = 0, Fetch = 1, OffsetCommit = 8, JoinGroup = 11, Heartbeat = 12, SyncGroup = 14;
    private const int OffsetOutOfRange = 1, LeaderNotAvailable = 5, NotLeaderOrFollower = 6, RequestTimedOut = 7, CoordinatorLoadInProgress = 14,
        CoordinatorNotAvailable = 15, NotCoordinator = 16, NotEnoughReplicas = 19, UnknownMemberId = 25, RebalanceInProgress = 27, FencedInstanceId = 82, InvalidRecord = 87;

    private EmbeddedKafkaCluster _kafka = null!;
    private RedisTestScope _redis = null!;
    private FaultLog _log = null!;

    [SetUp]
    public async Task Start()
    {
        _kafka = EmbeddedKafkaCluster.Start(brokerCount: 1);
        _kafka.CreateTopic("clicks", Partitions);
        _redis = await TestRedis.CreateScope();
        _kafka.CreateTopic(DeadLetterTopic, 1);
        _log = new FaultLog();
    }

    [TearDown]
    public async Task Stop()
    {
        _kafka.Dispose();
        await _redis.DisposeAsync();
    }

    private string DeadLetterTopic => $"{_redis.Namespace}.dead-letter";

    /// <summary>Failed requests of the consumer's kinds, pushed while the worker runs mid-stream.</summary>
    public static IEnumerable<TestCaseData> ConsumerRequestFaults()
    {
        yield return new TestCaseData(new Dictionary<short, int[]>
        {
            // The last one makes the consumer reset to the earliest offset and read every partition again.
            [Fetch] = [NotLeaderOrFollower, LeaderNotAvailable, RequestTimedOut, OffsetOutOfRange],
        }).SetArgDisplayNames("Fetch");
        yield return new TestCaseData(new Dictionary<short, int[]>
        {
            [OffsetCommit] = [CoordinatorNotAvailable, NotCoordinator, RebalanceInProgress, RequestTimedOut],
        }).SetArgDisplayNames("OffsetCommit");
        yield return new TestCaseData(new Dictionary<short, int[]>
        {
            // A heartbeat told of a rebalance, then of an unknown member: the worker rejoins, and the rejoin fails too at first.
            [Heartbeat] = [RebalanceInProgress, UnknownMemberId],
            [JoinGroup] = [CoordinatorLoadInProgress],
            [SyncGroup] = [RebalanceInProgress],
        }).SetArgDisplayNames("Heartbeat+JoinGroup+SyncGroup");
    }

    [TestCaseSource(nameof(ConsumerRequestFaults))]
    public async Task ConsumerRequestErrors_WorkerRetriesWithoutCrashing_AndCountsEveryEventOnce(Dictionary<short, int[]> errors)
    {
        using var producer = new ClickstreamProducer(_kafka.BootstrapServers);
        var (_, run, stop) = StartWorker();
        producer.ProducePlanted("clicks", EventsPerPhase, seed: 1, garbageShare: GarbageShare);
        Eventually.Until(() => PersistedTotal() == producer.Good + producer.Bad, TimeSpan.FromSeconds(60), "the first phase is checkpointed");

        _kafka.StartRequestTracking();
        var before = _kafka.RequestCounts();
        foreach (var (apiKey, codes) in errors)
        {
            _kafka.PushRequestErrors(apiKey, codes);
        }

        var clock = Stopwatch.StartNew();
        producer.ProducePlanted("clicks", EventsPerPhase, seed: 2, garbageShare: GarbageShare);
        // A pushed error fails the next request of its kind, in order: once that many requests were made, every error was served.
        Eventually.Until(() => errors.All(e => _kafka.RequestCounts().GetValueOrDefault(e.Key) - before.GetValueOrDefault(e.Key) >= e.Value.Length),
            TimeSpan.FromSeconds(60), "every pushed error was returned to a request",
            () => Assert.That(run.IsCompleted, Is.False, $"the worker keeps running ({run.Exception?.GetBaseException().Message}):" + Environment.NewLine + _log.Tail));
        Eventually.Until(() => PersistedTotal() >= producer.Good + producer.Bad, TimeSpan.FromSeconds(60), "the second phase is checkpointed:" + Environment.NewLine + _log.Tail);
        var recovered = clock.Elapsed;

        await StopAndAssertExactAsync(run, stop, producer, $"{errors.Sum(e => e.Value.Length)} request errors ({string.Join(", ", errors.Select(e => $"API {e.Key}: {string.Join("/", e.Value)}"))}); second phase checkpointed {recovered.TotalSeconds:0.0} s after the push");
    }

    [Test]
    public async Task FatalConsumerError_WorkerStopsWithThatError_PublishesNothingMore_AndARestartCountsEveryEventOnce()
    {
        using var producer = new ClickstreamProducer(_kafka.BootstrapServers);
        var threadsBefore = LibrdkafkaThreads();
        // Static membership: an offset commit answered FENCED_INSTANCE_ID is fatal for a librdkafka consumer (only this consumer commits).
        var (worker, run, stop) = StartWorker(groupInstanceId: "replica-a");
        producer.ProducePlanted("clicks", EventsPerPhase, seed: 1, garbageShare: GarbageShare);
        Eventually.Until(() => PersistedTotal() == producer.Good + producer.Bad, TimeSpan.FromSeconds(60), "the first phase is checkpointed");

        _kafka.PushRequestErrors(OffsetCommit, FencedInstanceId);
        // The next checkpoint's commit meets the error.
        producer.ProducePlanted("clicks", EventsPerPhase, seed: 2, garbageShare: GarbageShare);
        var failure = Assert.CatchAsync(() => run.WaitAsync(TimeSpan.FromSeconds(30)), "the worker stops on the fatal error:" + Environment.NewLine + _log.Tail);
        stop.Dispose();
        var persistedAtFailure = PersistedTotal();

        // The fatal error itself, not one from closing the clients afterwards (a final delta queued to the stopped publisher).
        Assert.That(failure, Is.TypeOf<KafkaException>().And.Property(nameof(KafkaException.Error)).Property(nameof(Error.Code)).EqualTo(ErrorCode.Local_Fatal),
            $"{failure}");
        Assert.That(_log.Count("Revoked"), Is.Zero, "no partition was handed over with a final delta after the failure");
        // The fatally failed consumer's Close() throws; it must still be destroyed, or librdkafka's threads outlive it.
        Assert.That(LibrdkafkaThreads(), Is.LessThanOrEqualTo(threadsBefore), "every Kafka client of the failed worker was destroyed");

        // A replica started afterwards resumes from the published checkpoints and counts every event once.
        producer.ProducePlanted("clicks", EventsPerPhase, seed: 3, garbageShare: GarbageShare);
        var (_, restarted, restartedStop) = StartWorker();
        Eventually.Until(() => PersistedTotal() >= producer.Good + producer.Bad, TimeSpan.FromSeconds(60), "the restarted worker checkpointed every phase:" + Environment.NewLine + _log.Tail);
        await StopAndAssertExactAsync(restarted, restartedStop, producer, $"fatal FENCED_INSTANCE_ID on an offset commit; persisted {persistedAtFailure} at the failure, {worker.Status.AppliedEvents} applied in the failed worker");
    }

    [Test]
    public async Task ProduceErrors_RetriableAndNot_OnTheWorkersProducers_NoDeadLetterIsLost_AndEveryEventCountsOnce()
    {
        using var producer = new ClickstreamProducer(_kafka.BootstrapServers);
        var (_, firstRun, firstStop) = StartWorker();
        producer.ProducePlanted("clicks", EventsPerPhase, seed: 1, garbageShare: GarbageShare);
        Eventually.Until(() => PersistedTotal() == producer.Good + producer.Bad, TimeSpan.FromSeconds(60), "the first phase is checkpointed");
        await firstStop.CancelAsync();
        await firstRun.WaitAsync(TimeSpan.FromSeconds(30));
        firstStop.Dispose();

        // The test's own producer is done before the errors are pushed: only the worker's producers meet them.
        producer.ProducePlanted("clicks", EventsPerPhase, seed: 2, garbageShare: 0.05);
        _kafka.StartRequestTracking();
        // INVALID_RECORD is not retriable: the producer gives the batch up and the worker must send it again itself.
        int[] codes = [InvalidRecord, InvalidRecord, NotLeaderOrFollower, RequestTimedOut, NotEnoughReplicas, LeaderNotAvailable];
        _kafka.PushRequestErrors(Produce, codes);
        var clock = Stopwatch.StartNew();
        // Item differences wait a minute, so the dead-letter producer is the one that meets the errors.
        var (_, run, stop) = StartWorker(itemSyncInterval: TimeSpan.FromMinutes(1));
        Eventually.Until(() => _kafka.RequestCounts().GetValueOrDefault(Produce) >= codes.Length, TimeSpan.FromSeconds(60), "every pushed error was returned to a Produce request",
            () => Assert.That(run.IsCompleted, Is.False, $"the worker keeps running ({run.Exception?.GetBaseException().Message}):" + Environment.NewLine + _log.Tail));
        Eventually.Until(() => PersistedTotal() >= producer.Good + producer.Bad, TimeSpan.FromSeconds(60), "the second phase is checkpointed:" + Environment.NewLine + _log.Tail);
        var recovered = clock.Elapsed;
        var postponed = _log.Count("Dead letters not acknowledged, checkpoint postponed");

        Assert.That(postponed, Is.GreaterThan(0), "a refused dead letter held the checkpoint back until it was sent again");
        await StopAndAssertExactAsync(run, stop, producer, $"{postponed} checkpoint(s) postponed until refused dead letters were sent again; {codes.Length} Produce errors ({string.Join("/", codes)}) on a restarted worker; second phase checkpointed {recovered.TotalSeconds:0.0} s after the push");
    }

    [Test]
    public async Task BrokerDownLongerThanTheSessionTimeout_ThenUp_WorkerRejoinsAndRestores_AndCountsEveryEventOnce()
    {
        var downFor = TimeSpan.FromSeconds(6);
        using var producer = new ClickstreamProducer(_kafka.BootstrapServers);
        var (_, run, stop) = StartWorker();
        producer.ProducePlanted("clicks", EventsPerPhase, seed: 1, garbageShare: GarbageShare);
        Eventually.Until(() => PersistedTotal() == producer.Good + producer.Bad, TimeSpan.FromSeconds(60), "the first phase is checkpointed");

        // The only broker: every request fails, and the group forgets the worker after session.timeout.ms (3 s).
        _kafka.SetBrokerDown(1);
        var down = Stopwatch.StartNew();
        Eventually.Until(() => down.Elapsed >= downFor, downFor + TimeSpan.FromSeconds(10), "the broker has been down long enough",
            () => Assert.That(run.IsCompleted, Is.False, "the worker keeps running while Kafka is away:" + Environment.NewLine + _log.Tail));
        var warningsWhileDown = _log.Warnings;
        _kafka.SetBrokerUp(1);
        var up = Stopwatch.StartNew();
        producer.ProducePlanted("clicks", EventsPerPhase, seed: 2, garbageShare: GarbageShare);
        Eventually.Until(() => PersistedTotal() >= producer.Good + producer.Bad, TimeSpan.FromSeconds(60), "the second phase is checkpointed:" + Environment.NewLine + _log.Tail);
        var recovered = up.Elapsed;

        Assert.That(warningsWhileDown, Is.GreaterThan(0), "the worker noticed the broker was gone");
        await StopAndAssertExactAsync(run, stop, producer, $"broker down {downFor.TotalSeconds:0} s ({warningsWhileDown} warnings logged); second phase checkpointed {recovered.TotalSeconds:0.0} s after it came back");
    }

    [Test]
    public async Task AddedRoundTripTime_SlowsTheWorkerWithoutBreakingIt_AndEveryEventCountsOnce()
    {
        var rtt = TimeSpan.FromMilliseconds(500);
        using var producer = new ClickstreamProducer(_kafka.BootstrapServers);
        var (_, run, stop) = StartWorker();
        producer.ProducePlanted("clicks", EventsPerPhase, seed: 1, garbageShare: GarbageShare);
        Eventually.Until(() => PersistedTotal() == producer.Good + producer.Bad, TimeSpan.FromSeconds(60), "the first phase (with the group join) is checkpointed");
        var clock = Stopwatch.StartNew();
        producer.ProducePlanted("clicks", EventsPerPhase, seed: 2, garbageShare: GarbageShare);
        Eventually.Until(() => PersistedTotal() == producer.Good + producer.Bad, TimeSpan.FromSeconds(60), "the second phase is checkpointed");
        var fast = clock.Elapsed;

        _kafka.SetBrokerRoundTripTime(1, rtt);
        clock.Restart();
        producer.ProducePlanted("clicks", EventsPerPhase, seed: 3, garbageShare: GarbageShare);
        Eventually.Until(() => PersistedTotal() >= producer.Good + producer.Bad, TimeSpan.FromSeconds(60), "the third phase is checkpointed under added latency:" + Environment.NewLine + _log.Tail);
        var slow = clock.Elapsed;
        _kafka.SetBrokerRoundTripTime(1, TimeSpan.Zero);

        Assert.That(run.IsCompleted, Is.False, "the worker kept running");
        Assert.That(slow, Is.GreaterThan(rtt), "the added latency was in force");
        await StopAndAssertExactAsync(run, stop, producer, $"{rtt.TotalMilliseconds:0} ms added to every response; a phase (produce and checkpoint {EventsPerPhase} events) took {slow.TotalSeconds:0.0} s with it, {fast.TotalSeconds:0.0} s without");
    }

    private (WorkerRuntime Worker, Task Run, CancellationTokenSource Stop) StartWorker(TimeSpan? itemSyncInterval = null, string? groupInstanceId = null)
    {
        var options = WorkerTestKit.Options(_kafka.BootstrapServers, _redis.Namespace, _redis.Server.Endpoint);
        if (groupInstanceId is not null)
        {
            options.Kafka.Client["group.instance.id"] = groupInstanceId;
        }

        options.MaxBatchSize = 200;
        options.ItemSyncInterval = itemSyncInterval ?? options.ItemSyncInterval;
        var store = new RedisShardCheckpoints(_redis.Connection, new CheckpointOptions { DeltaInterval = options.DeltaInterval }, options.Model, options.ModelVersion, "isgd", new Dictionary<string, string>());
        var worker = new WorkerRuntime(options, store, _log);
        var stop = new CancellationTokenSource();
        return (worker, worker.RunAsync(stop.Token), stop);
    }

    private async Task StopAndAssertExactAsync(Task run, CancellationTokenSource stop, ClickstreamProducer producer, string figures, [System.Runtime.CompilerServices.CallerMemberName] string test = "")
    {
        await stop.CancelAsync();
        await run.WaitAsync(TimeSpan.FromSeconds(30));
        stop.Dispose();
        var (applied, deadLettered) = await WorkerTestKit.PersistedAsync(_redis.Connection, _redis.Namespace, Partitions);
        var produced = producer.Good + producer.Bad;
        var deadLetters = DeadLetterTopicCount();
        FaultFigures.Report(TestContext.CurrentContext.Test.Arguments.Length > 0 ? TestContext.CurrentContext.Test.Name : test,
            $"{figures}; produced {produced} ({producer.Bad} garbage), persisted applied {applied} + dead-lettered {deadLettered}, lost {produced - applied - deadLettered}; "
            + $"dead-letter topic {deadLetters}; worker warnings {_log.Warnings}, errors {_log.Errors}");
        Assert.Multiple(() =>
        {
            Assert.That(run.IsCompletedSuccessfully, Is.True, "the worker stopped cleanly");
            Assert.That(applied, Is.EqualTo(producer.Good), "every good event applied once");
            Assert.That(deadLettered, Is.EqualTo(producer.Bad), "every refused event counted once");
            Assert.That(deadLetters, Is.GreaterThanOrEqualTo(producer.Bad), "no refused event missing from the dead-letter topic");
        });
    }

    /// <summary>librdkafka's threads in this process (named "rdk:..."): each client has some until it is destroyed.</summary>
    private static int LibrdkafkaThreads()
    {
        var count = 0;
        foreach (var task in Directory.GetDirectories("/proc/self/task"))
        {
            try
            {
                count += File.ReadAllText(Path.Combine(task, "comm")).StartsWith("rdk:", StringComparison.Ordinal) ? 1 : 0;
            }
            catch (IOException)
            {
                // The thread ended while the list was read.
            }
        }

        return count;
    }

    private long PersistedTotal() => WorkerTestKit.PersistedTotal(_redis.Connection, _redis.Namespace, Partitions);

    private long DeadLetterTopicCount()
    {
        using var consumer = new ConsumerBuilder<byte[], byte[]>(KafkaTestSettings.Consumer(_kafka.BootstrapServers, $"count-{Guid.NewGuid():N}")).Build();
        return consumer.QueryWatermarkOffsets(new TopicPartition(DeadLetterTopic, 0), TimeSpan.FromSeconds(10)).High.Value;
    }
}
