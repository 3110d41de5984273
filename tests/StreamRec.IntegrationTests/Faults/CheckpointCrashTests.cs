using Confluent.Kafka;
using StreamRec.Contracts.V1;
using StreamRec.IntegrationTests.Infrastructure;
using StreamRec.IntegrationTests.Worker;
using StreamRec.Kafka.Embedded;
using StreamRec.Redis.Checkpoints;
using StreamRec.Worker.Checkpointing;
using StreamRec.Worker.Consumption;

namespace StreamRec.IntegrationTests.Faults;

/// <summary>
/// A worker killed inside a checkpoint publish, after its chunks are in Redis and before the manifest
/// switch that would make them current: the next worker must restore the previous checkpoint and count
/// every event exactly once.
/// </summary>
[TestFixture]
[Category("Faults")]
public sealed class CheckpointCrashTests
{
    private const int Partitions = 8;
    private EmbeddedKafkaCluster _kafka = null!;
    private RedisTestScope _redis = null!;

    [SetUp]
    public async Task Start()
    {
        _kafka = EmbeddedKafkaCluster.Start(brokerCount: 1);
        _kafka.CreateTopic("clicks", Partitions);
        _redis = await TestRedis.CreateScope();
        _kafka.CreateTopic($"{_redis.Namespace}.dead-letter", 1);
    }

    [TearDown]
    public async Task Stop()
    {
        _kafka.Dispose();
        await _redis.DisposeAsync();
    }

    /// <summary>The publish the crash interrupted: the manifest it was about to make current.</summary>
    private sealed record CrashPoint(Manifest Interrupted, TimeSpan At);

    [TestCase("delta")]
    [TestCase("snapshot")]
    public async Task KilledBetweenChunksAndManifestSwitch_NextWorkerRestoresThePreviousCheckpoint_AndCountsEveryEventOnce(string kind)
    {
        var options = WorkerTestKit.Options(_kafka.BootstrapServers, _redis.Namespace, _redis.Server.Endpoint);
        options.MaxBatchSize = 200;
        // Snapshots every second, so a snapshot that replaces an earlier one comes up while the stream runs.
        options.SnapshotInterval = TimeSpan.FromSeconds(1);
        var clock = System.Diagnostics.Stopwatch.StartNew();
        CrashPoint? crash = null;
        WorkerRuntime? victim = null;
        var hooked = new RedisShardCheckpoints(_redis.Connection, new CheckpointOptions { DeltaInterval = options.DeltaInterval, SnapshotInterval = options.SnapshotInterval },
            options.Model, options.ModelVersion, "isgd", new Dictionary<string, string>())
        {
            BeforeManifestSwitch = async (manifest, cancellationToken) =>
            {
                // A partition chain's publish of the wanted kind after at least two others (the first snapshot of a
                // new chain may hold no event yet), so the checkpoint to fall back on holds events.
                var wanted = (kind == "snapshot" ? manifest.LastDeltaSeq == 0 : manifest.LastDeltaSeq > 0)
                    && manifest.PublishSeq > 2 && manifest.Version.Contains("--clicks--", StringComparison.Ordinal);
                if (Volatile.Read(ref crash) is null && !wanted)
                {
                    return;
                }

                if (Interlocked.CompareExchange(ref crash, new CrashPoint(manifest.Clone(), clock.Elapsed), null) is null)
                {
                    victim!.Abort();
                }

                // The process is dead from here on: this switch and any later one never happen.
                await Task.Delay(Timeout.Infinite, cancellationToken);
            },
        };
        var log = new FaultLog();
        using var producer = new ClickstreamProducer(_kafka.BootstrapServers);
        producer.ProducePlanted("clicks", 2_000, seed: 1, garbageShare: 0.01);
        victim = new WorkerRuntime(options, hooked, log);
        var victimRun = victim.RunAsync(CancellationToken.None);
        var seed = 1;
        Eventually.Until(() => Volatile.Read(ref crash) is not null, TimeSpan.FromSeconds(60), $"the worker reaches a {kind} switch that replaces a checkpoint",
            () => producer.ProducePlanted("clicks", 50, seed: ++seed, garbageShare: 0.01));
        await victimRun.WaitAsync(TimeSpan.FromSeconds(30));
        var interrupted = crash!.Interrupted;
        var appliedByVictim = victim.Status.AppliedEvents;

        // Redis holds the interrupted publish's chunks, and the previous checkpoint is still the current one.
        var checkpoints = new CheckpointStore(_redis.Connection);
        var keys = new CheckpointKeys(_redis.Namespace, interrupted.Version);
        var current = await checkpoints.GetManifestAsync(_redis.Namespace, interrupted.Version);
        var firstChunk = interrupted.LastDeltaSeq == 0 ? keys.SnapshotChunk(interrupted.SnapshotId, 0) : keys.DeltaChunk(interrupted.SnapshotId, interrupted.LastDeltaSeq, 0);
        Assert.That(await _redis.Database.KeyExistsAsync(firstChunk), Is.True, "the crash came after the chunks were written");
        Assert.That(current!.PublishSeq, Is.EqualTo(interrupted.PublishSeq - 1), "the switch never happened: the previous checkpoint is current");
        var verification = await checkpoints.VerifyAsync(_redis.Namespace, interrupted.Version);
        Assert.That(verification.Single(v => v.IsCurrent).Error, Is.Null, "the current checkpoint is whole");
        var restoredOffset = current.Offsets.Single().NextOffset;
        var interruptedOffset = interrupted.Offsets.Single().NextOffset;
        Assert.That(restoredOffset, Is.GreaterThan(0), "the previous checkpoint holds events");
        Assert.That(interruptedOffset, Is.GreaterThan(restoredOffset), "the interrupted publish covered events the previous checkpoint does not");

        producer.ProducePlanted("clicks", 1_000, seed: 1_000, garbageShare: 0.01);
        var successorStore = new RedisShardCheckpoints(_redis.Connection, new CheckpointOptions { DeltaInterval = options.DeltaInterval, SnapshotInterval = options.SnapshotInterval },
            options.Model, options.ModelVersion, "isgd", new Dictionary<string, string>());
        var successor = new WorkerRuntime(options, successorStore, log);
        using var stop = new CancellationTokenSource();
        var restarted = clock.Elapsed;
        var successorRun = successor.RunAsync(stop.Token);
        var produced = producer.Good + producer.Bad;
        var caughtUp = Eventually.Until(() => PersistedTotal() >= produced, TimeSpan.FromSeconds(60), "every event checkpointed after the restart");
        await stop.CancelAsync();
        await successorRun.WaitAsync(TimeSpan.FromSeconds(30));

        var (applied, deadLettered) = await WorkerTestKit.PersistedAsync(_redis.Connection, _redis.Namespace, Partitions);
        var partition = new TopicPartition("clicks", int.Parse(interrupted.Version[(interrupted.Version.LastIndexOf('-') + 1)..], System.Globalization.CultureInfo.InvariantCulture));
        FaultFigures.Report(nameof(KilledBetweenChunksAndManifestSwitch_NextWorkerRestoresThePreviousCheckpoint_AndCountsEveryEventOnce) + $"({kind})",
            $"produced {produced} ({producer.Bad} garbage), persisted applied {applied} + dead-lettered {deadLettered}, lost {produced - applied - deadLettered}; "
            + $"crash at {crash.At.TotalSeconds:0.0} s in a {kind} of {partition.Topic}/{partition.Partition.Value} (publish {interrupted.PublishSeq}, offset {interruptedOffset}, previous checkpoint at offset {restoredOffset}); "
            + $"victim had applied {appliedByVictim} in memory; successor caught up {caughtUp.TotalSeconds:0.0} s after its start ({restarted.TotalSeconds:0.0} s)");
        Assert.That(applied, Is.EqualTo(producer.Good), "every good event applied once");
        Assert.That(deadLettered, Is.EqualTo(producer.Bad), "every refused event counted once");
        Assert.That(DeadLetterTopicCount(), Is.GreaterThanOrEqualTo(producer.Bad), "no refused event is missing from the dead-letter topic (re-consumed ones may appear twice)");
    }

    private long PersistedTotal() => WorkerTestKit.PersistedTotal(_redis.Connection, _redis.Namespace, Partitions);

    private long DeadLetterTopicCount()
    {
        using var consumer = new ConsumerBuilder<byte[], byte[]>(KafkaTestSettings.Consumer(_kafka.BootstrapServers, $"count-{Guid.NewGuid():N}")).Build();
        return consumer.QueryWatermarkOffsets(new TopicPartition($"{_redis.Namespace}.dead-letter", 0), TimeSpan.FromSeconds(10)).High.Value;
    }
}
