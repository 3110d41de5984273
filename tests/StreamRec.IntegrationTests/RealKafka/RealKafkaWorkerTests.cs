using Confluent.Kafka;
using Confluent.Kafka.Admin;
using Microsoft.Extensions.Logging.Abstractions;
using StreamRec.Core.Learners;
using StreamRec.IntegrationTests.Infrastructure;
using StreamRec.Kafka;
using StreamRec.Redis.Checkpoints;
using StreamRec.Worker.Checkpointing;
using StreamRec.Worker.Consumption;
using StreamRec.Worker.Hosting;
using Testcontainers.Kafka;

namespace StreamRec.IntegrationTests.RealKafka;

/// <summary>
/// The worker's key behaviours (every event accounted for once, dead-lettering, resume after a restart,
/// two replicas sharing and taking over partitions, checkpoints in Redis) on Apache Kafka (KRaft) in a
/// container: the same assertions as the embedded-Kafka tests in Worker/. Topics are created with the
/// AdminClient, as on a real cluster. Reported Skipped where no Docker engine is reachable.
/// </summary>
[TestFixture]
[Category("RealKafka")]
public sealed class RealKafkaWorkerTests
{
    private const int Partitions = 8;

    private KafkaContainer? _kafka;
    private string _bootstrap = "";
    private string _topic = "";
    private string _model = "";

    [OneTimeSetUp]
    public async Task StartKafka()
    {
        DockerGate.RequireDocker();
        _kafka = new KafkaBuilder(RealKafkaSmokeTests.KafkaImage)
            // Groups form at once instead of after the broker's default 3 s wait.
            .WithEnvironment("KAFKA_GROUP_INITIAL_REBALANCE_DELAY_MS", "0")
            .Build();
        await _kafka.StartAsync();
        _bootstrap = _kafka.GetBootstrapAddress();
    }

    [OneTimeTearDown]
    public async Task StopKafka()
    {
        if (_kafka is not null)
        {
            await _kafka.DisposeAsync();
        }
    }

    /// <summary>Each test has its own clickstream, model and topics on the shared broker.</summary>
    [SetUp]
    public async Task CreateTopics()
    {
        var id = Guid.NewGuid().ToString("N")[..12];
        _topic = $"clicks-{id}";
        _model = $"recs-{id}";
        using var admin = new AdminClientBuilder(new AdminClientConfig { BootstrapServers = _bootstrap }).Build();
        await admin.CreateTopicsAsync(
        [
            new TopicSpecification { Name = _topic, NumPartitions = Partitions, ReplicationFactor = 1 },
            new TopicSpecification { Name = $"{_model}.dead-letter", NumPartitions = 1, ReplicationFactor = 1 },
            new TopicSpecification { Name = $"{_model}.item-deltas", NumPartitions = 1, ReplicationFactor = 1 },
        ]);
    }

    private WorkerOptions Options(string redisEndpoint = "127.0.0.1:6379") => new()
    {
        Kafka = new KafkaSettings
        {
            BootstrapServers = _bootstrap,
            Client = { ["session.timeout.ms"] = "6000", ["heartbeat.interval.ms"] = "500" },
        },
        Topics = [_topic],
        Model = _model,
        RedisEndpoint = redisEndpoint, // only used by the Redis test; the others keep checkpoints in memory
        Learner = new LearnerOptions { Learner = "isgd", Dimensions = 16 },
        DeltaInterval = TimeSpan.FromMilliseconds(200),
        MaxBatchSize = 200,
    };

    private long Persisted(InMemoryShardCheckpoints store) =>
        Enumerable.Range(0, Partitions).Select(p => store.StateOf(new TopicPartition(_topic, p))).Sum(s => s is null ? 0 : s.AppliedEvents + s.DeadLetteredEvents);

    private static async Task StopAsync(CancellationTokenSource stop, params Task[] runs)
    {
        await stop.CancelAsync();
        await Task.WhenAll(runs).WaitAsync(TimeSpan.FromSeconds(60));
    }

    [Test]
    public async Task EveryEvent_IsAccountedForOnce_AndGarbageIsDeadLettered()
    {
        using var producer = new ClickstreamProducer(_bootstrap);
        producer.ProducePlanted(_topic, 5_000, garbageShare: 0.01);
        var store = new InMemoryShardCheckpoints();
        var worker = new WorkerRuntime(Options(), store, NullLogger.Instance);
        using var stop = new CancellationTokenSource();

        var running = worker.RunAsync(stop.Token);
        Eventually.Until(() => Persisted(store) == producer.Good + producer.Bad, TimeSpan.FromSeconds(90), "every event in a published checkpoint");
        await StopAsync(stop, running);

        var states = Enumerable.Range(0, Partitions).Select(p => store.StateOf(new TopicPartition(_topic, p))!).ToList();
        Assert.That(states.Sum(s => s.AppliedEvents), Is.EqualTo(producer.Good));
        Assert.That(states.Sum(s => s.DeadLetteredEvents), Is.EqualTo(producer.Bad));
        Assert.That(CountMessages($"{_model}.dead-letter"), Is.EqualTo(producer.Bad), "every refused event is in the dead-letter topic");
    }

    [Test]
    public async Task RestartedWorker_ResumesFromItsCheckpoint_WithoutApplyingAnythingTwice()
    {
        using var producer = new ClickstreamProducer(_bootstrap);
        producer.ProducePlanted(_topic, 3_000, seed: 1);
        var store = new InMemoryShardCheckpoints();
        using (var stop = new CancellationTokenSource())
        {
            var running = new WorkerRuntime(Options(), store, NullLogger.Instance).RunAsync(stop.Token);
            Eventually.Until(() => Persisted(store) == 3_000, TimeSpan.FromSeconds(90), "first batch checkpointed");
            await StopAsync(stop, running);
        }

        producer.ProducePlanted(_topic, 2_000, seed: 2);
        using (var stop = new CancellationTokenSource())
        {
            var running = new WorkerRuntime(Options(), store, NullLogger.Instance).RunAsync(stop.Token);
            Eventually.Until(() => Persisted(store) >= 5_000, TimeSpan.FromSeconds(90), "second batch checkpointed");
            await StopAsync(stop, running);
        }

        Assert.That(Persisted(store), Is.EqualTo(5_000), "applied exactly once across the restart");
    }

    [Test]
    public async Task TwoWorkers_SplitThePartitions_AndAccountForEveryEventOnce()
    {
        using var producer = new ClickstreamProducer(_bootstrap);
        var store = new InMemoryShardCheckpoints();
        var first = new WorkerRuntime(Options(), store, NullLogger.Instance);
        var second = new WorkerRuntime(Options(), store, NullLogger.Instance);
        using var stop = new CancellationTokenSource();
        var runs = new[] { first.RunAsync(stop.Token), second.RunAsync(stop.Token) };

        Eventually.Until(() => first.Status.Shards > 0 && second.Status.Shards > 0 && first.Status.Shards + second.Status.Shards == Partitions,
            TimeSpan.FromSeconds(60), "both workers own partitions");
        producer.ProducePlanted(_topic, 4_000);
        Eventually.Until(() => Persisted(store) == 4_000, TimeSpan.FromSeconds(90), "every event checkpointed");
        await StopAsync(stop, runs);

        Assert.That(Persisted(store), Is.EqualTo(4_000));
    }

    [Test]
    public async Task KillingOneOfTwoWorkers_LosesNothingAndCountsNothingTwice()
    {
        using var producer = new ClickstreamProducer(_bootstrap);
        var store = new InMemoryShardCheckpoints();
        var survivor = new WorkerRuntime(Options(), store, NullLogger.Instance);
        var victim = new WorkerRuntime(Options(), store, NullLogger.Instance);
        using var stop = new CancellationTokenSource();
        var survivorRun = survivor.RunAsync(stop.Token);
        var victimRun = victim.RunAsync(stop.Token);
        Eventually.Until(() => survivor.Status.Shards > 0 && victim.Status.Shards > 0, TimeSpan.FromSeconds(60), "both workers own partitions");

        producer.ProducePlanted(_topic, 3_000, seed: 1);
        Eventually.Until(() => victim.Status.AppliedEvents > 300, TimeSpan.FromSeconds(60), "the victim has applied events");
        victim.Abort();
        await victimRun.WaitAsync(TimeSpan.FromSeconds(60));
        producer.ProducePlanted(_topic, 2_000, seed: 2);

        Eventually.Until(() => survivor.Status.Shards == Partitions, TimeSpan.FromSeconds(60), "the survivor owns every partition");
        Eventually.Until(() => Persisted(store) >= 5_000, TimeSpan.FromSeconds(90), "every event checkpointed");
        await StopAsync(stop, survivorRun);

        Assert.That(Persisted(store), Is.EqualTo(5_000), "no loss, no double count");
    }

    [Test]
    public async Task WorkerOnRedis_CountsEveryEventOnce_AcrossARestart()
    {
        await using var redis = await TestRedis.CreateScope();
        using var producer = new ClickstreamProducer(_bootstrap);
        producer.ProducePlanted(_topic, 3_000, seed: 1, garbageShare: 0.01);
        var options = Options(redis.Server.Endpoint);
        options.Model = redis.Namespace; // keys under the test's namespace; the topics follow the model name
        await CreateModelTopicsAsync(redis.Namespace);
        RedisShardCheckpoints Store() =>
            new(redis.Connection, new CheckpointOptions { DeltaInterval = options.DeltaInterval }, options.Model, options.ModelVersion, "isgd", new Dictionary<string, string>());
        long PersistedTotal()
        {
            var (applied, deadLettered) = PersistedInRedisAsync(redis).GetAwaiter().GetResult();
            return applied + deadLettered;
        }

        using (var stop = new CancellationTokenSource())
        {
            var running = new WorkerRuntime(options, Store(), NullLogger.Instance).RunAsync(stop.Token);
            Eventually.Until(() => PersistedTotal() == producer.Good + producer.Bad, TimeSpan.FromSeconds(90), "first batch checkpointed");
            await StopAsync(stop, running);
        }

        producer.ProducePlanted(_topic, 2_000, seed: 2, garbageShare: 0.01);
        using (var stop = new CancellationTokenSource())
        {
            var running = new WorkerRuntime(options, Store(), NullLogger.Instance).RunAsync(stop.Token);
            Eventually.Until(() => PersistedTotal() >= producer.Good + producer.Bad, TimeSpan.FromSeconds(90), "second batch checkpointed");
            await StopAsync(stop, running);
        }

        var (applied, deadLettered) = await PersistedInRedisAsync(redis);
        Assert.That(applied, Is.EqualTo(producer.Good));
        Assert.That(deadLettered, Is.EqualTo(producer.Bad));
    }

    private async Task CreateModelTopicsAsync(string model)
    {
        using var admin = new AdminClientBuilder(new AdminClientConfig { BootstrapServers = _bootstrap }).Build();
        await admin.CreateTopicsAsync(
        [
            new TopicSpecification { Name = $"{model}.dead-letter", NumPartitions = 1, ReplicationFactor = 1 },
            new TopicSpecification { Name = $"{model}.item-deltas", NumPartitions = 1, ReplicationFactor = 1 },
        ]);
    }

    private async Task<(long Applied, long DeadLettered)> PersistedInRedisAsync(RedisTestScope redis)
    {
        var store = new CheckpointStore(redis.Connection);
        long applied = 0, deadLettered = 0;
        for (var partition = 0; partition < Partitions; partition++)
        {
            var manifest = await store.GetManifestAsync(redis.Namespace, CheckpointKeys.ChainVersion("v1", $"{_topic}--{partition}"));
            applied += manifest?.Offsets.Sum(o => o.AppliedEvents) ?? 0;
            deadLettered += manifest?.Offsets.Sum(o => o.DeadLetteredEvents) ?? 0;
        }

        return (applied, deadLettered);
    }

    private int CountMessages(string topic)
    {
        using var consumer = new ConsumerBuilder<byte[], byte[]>(KafkaTestSettings.Consumer(_bootstrap, $"count-{Guid.NewGuid():N}")).Build();
        return (int)consumer.QueryWatermarkOffsets(new TopicPartition(topic, 0), TimeSpan.FromSeconds(10)).High.Value;
    }
}
