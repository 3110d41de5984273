using Microsoft.Extensions.Logging.Abstractions;
using StreamRec.Core.Learners;
using StreamRec.IntegrationTests.Infrastructure;
using StreamRec.Kafka;
using StreamRec.Kafka.Embedded;
using StreamRec.Redis.Checkpoints;
using StreamRec.Worker.Checkpointing;
using StreamRec.Worker.Consumption;
using StreamRec.Worker.Hosting;

namespace StreamRec.IntegrationTests.Worker;

/// <summary>The worker on the embedded Kafka with its checkpoints in real Redis.</summary>
[TestFixture]
public sealed class RedisWorkerTests
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

    private WorkerOptions Options()
    {
        var options = WorkerTestKit.Options(_kafka.BootstrapServers, _redis.Namespace, _redis.Server.Endpoint);
        options.MaxBatchSize = 200;
        return options;
    }

    private RedisShardCheckpoints Store(WorkerOptions options) =>
        new(_redis.Connection, new CheckpointOptions { DeltaInterval = options.DeltaInterval }, options.Model, options.ModelVersion, "isgd", new Dictionary<string, string>());

    private Task<(long Applied, long DeadLettered)> PersistedAsync(string version = "v1") =>
        WorkerTestKit.PersistedAsync(_redis.Connection, _redis.Namespace, Partitions, version);

    private long PersistedTotal(string version = "v1") => WorkerTestKit.PersistedTotal(_redis.Connection, _redis.Namespace, Partitions, version);

    [Test]
    public async Task Replay_RebuildsANewVersionFromTheEarliestOffset_WhileTheLiveOneStaysActive_ThenPromotes()
    {
        using var producer = new ClickstreamProducer(_kafka.BootstrapServers);
        producer.ProducePlanted("clicks", 4_000, seed: 3);
        var live = Options();
        using var stopLive = new CancellationTokenSource();
        var liveWorker = new WorkerRuntime(live, Store(live), NullLogger.Instance);
        var liveRun = liveWorker.RunAsync(stopLive.Token);
        Eventually.Until(() => PersistedTotal("v1") == 4_000, TimeSpan.FromSeconds(60), "live version v1 caught up");

        var backfill = Options();
        backfill.ModelVersion = "v2";
        backfill.Replay = new ReplayOptions { From = "earliest", Until = "caught-up" };
        backfill.Learner = new LearnerOptions { Learner = "bpr", Dimensions = 16 };
        var replayStore = new RedisShardCheckpoints(_redis.Connection, new CheckpointOptions { DeltaInterval = backfill.DeltaInterval },
            backfill.Model, "v2", "bpr", new Dictionary<string, string>(), activate: false);
        await new WorkerRuntime(backfill, replayStore, NullLogger.Instance).RunAsync(CancellationToken.None).WaitAsync(TimeSpan.FromSeconds(90));

        var store = new CheckpointStore(_redis.Connection);
        Assert.That(PersistedTotal("v2"), Is.EqualTo(4_000), "the backfill read the whole history once");
        Assert.That(await store.GetActiveVersionAsync(_redis.Namespace), Is.EqualTo("v1"), "the live version stays active during the backfill");
        Assert.That(PersistedTotal("v1"), Is.EqualTo(4_000), "the live version is untouched");

        await store.PromoteAsync(_redis.Namespace, "v2");
        Assert.That(await store.GetActiveVersionAsync(_redis.Namespace), Is.EqualTo("v2"));
        Assert.That((await store.ListVersionsAsync(_redis.Namespace)).Select(v => v.Version), Is.EquivalentTo(new[] { "v1", "v2" }));
        await stopLive.CancelAsync();
        await liveRun.WaitAsync(TimeSpan.FromSeconds(30));
    }

    [Test]
    public async Task WorkerOnRedis_CountsEveryEventOnce_AndRestoresItsShardsAfterARestart()
    {
        using var producer = new ClickstreamProducer(_kafka.BootstrapServers);
        producer.ProducePlanted("clicks", 3_000, seed: 1, garbageShare: 0.01);
        var options = Options();
        using (var stop = new CancellationTokenSource())
        {
            var first = new WorkerRuntime(options, Store(options), NullLogger.Instance);
            var running = first.RunAsync(stop.Token);
            Eventually.Until(() => PersistedTotal() == producer.Good + producer.Bad, TimeSpan.FromSeconds(60), "first batch checkpointed");
            await stop.CancelAsync();
            await running.WaitAsync(TimeSpan.FromSeconds(30));
        }

        producer.ProducePlanted("clicks", 2_000, seed: 2, garbageShare: 0.01);
        using (var stop = new CancellationTokenSource())
        {
            var second = new WorkerRuntime(options, Store(options), NullLogger.Instance);
            var running = second.RunAsync(stop.Token);
            Eventually.Until(() => PersistedTotal() >= producer.Good + producer.Bad, TimeSpan.FromSeconds(60), "second batch checkpointed");
            await stop.CancelAsync();
            await running.WaitAsync(TimeSpan.FromSeconds(30));
        }

        var (applied, deadLettered) = await PersistedAsync();
        Assert.That(applied, Is.EqualTo(producer.Good));
        Assert.That(deadLettered, Is.EqualTo(producer.Bad));
        Assert.That(await _redis.Database.SetLengthAsync(CheckpointKeys.Chains(_redis.Namespace, "v1")), Is.EqualTo(Partitions + 1), "a chain per partition plus the items");
        Assert.That((string?)await _redis.Database.StringGetAsync(CheckpointKeys.Active(_redis.Namespace)), Is.EqualTo("v1"));
    }

    [Test]
    public async Task LookupKeys_HoldThePublishedVectors_WrittenOncePerLookupIntervalNotPerDelta()
    {
        using var producer = new ClickstreamProducer(_kafka.BootstrapServers);
        var options = Options();
        options.DeltaInterval = TimeSpan.FromMilliseconds(50);
        // Longer than the run: lookup keys are written at the first checkpoint, then only at the final deltas.
        options.LookupInterval = TimeSpan.FromMinutes(1);
        var metrics = new StreamRec.Worker.Observability.WorkerMetrics();
        using (var stop = new CancellationTokenSource())
        {
            var worker = new WorkerRuntime(options, Store(options), NullLogger.Instance, metrics);
            var running = worker.RunAsync(stop.Token);
            for (var round = 1; round <= 4; round++)
            {
                producer.ProducePlanted("clicks", 1_000, seed: round);
                Eventually.Until(() => PersistedTotal() == round * 1_000, TimeSpan.FromSeconds(60), $"round {round} checkpointed");
            }

            await stop.CancelAsync();
            await running.WaitAsync(TimeSpan.FromSeconds(30));
        }

        // After a graceful stop every lookup key holds what the checkpoint holds (the final deltas wrote theirs too).
        var store = Store(options);
        var keys = new CheckpointKeys(_redis.Namespace, "v1");
        var users = 0;
        for (var partition = 0; partition < Partitions; partition++)
        {
            var restored = (await store.ClaimAndRestoreShardAsync(new Confluent.Kafka.TopicPartition("clicks", partition), "lookup-test", CancellationToken.None))!.Users;
            for (var row = 0; row < restored.Count; row++, users++)
            {
                var stored = StreamRec.Contracts.V1.EntityVector.Parser.ParseFrom((byte[])(await _redis.Database.StringGetAsync(keys.UserVector(restored.Ids[row])))!);
                Assert.That(ChunkCodec.BytesToFloats(stored.Vector), Is.EqualTo(restored.Vector(row).ToArray()), restored.Ids[row]);
                Assert.That(stored.Bias, Is.EqualTo(restored.Biases[row]));
            }
        }

        var items = (await store.RestoreItemsAsync(CancellationToken.None))!.Items;
        for (var row = 0; row < items.Count; row++)
        {
            var stored = StreamRec.Contracts.V1.EntityVector.Parser.ParseFrom((byte[])(await _redis.Database.StringGetAsync(keys.ItemVector(items.Ids[row])))!);
            Assert.That(ChunkCodec.BytesToFloats(stored.Vector), Is.EqualTo(items.Vector(row).ToArray()), items.Ids[row]);
        }

        var deltas = metrics.CheckpointsPublished.WithLabels("delta").Value;
        var lookupWrites = metrics.CheckpointsPublished.WithLabels("lookups").Value;
        TestContext.Out.WriteLine($"{users} users, {items.Count} items; {deltas} deltas, {lookupWrites} lookup writes");
        Assert.That(users, Is.GreaterThan(0));
        Assert.That(deltas, Is.GreaterThan(8), "many deltas were published");
        Assert.That(lookupWrites, Is.EqualTo(2), "one write at the first checkpoint, one with the final deltas");
    }

    [Test]
    public async Task TopKLookupKeys_AreWrittenForRecentlyActiveUsers_AtLookupWrites()
    {
        using var producer = new ClickstreamProducer(_kafka.BootstrapServers);
        var options = Options();
        options.DeltaInterval = TimeSpan.FromMilliseconds(50);
        options.LookupInterval = TimeSpan.FromMilliseconds(100);
        using var stop = new CancellationTokenSource();
        var worker = new WorkerRuntime(options, Store(options), NullLogger.Instance);
        var running = worker.RunAsync(stop.Token);
        var keys = new CheckpointKeys(_redis.Namespace, "v1");
        var written = Array.Empty<StackExchange.Redis.RedisValue>();
        var round = 0;
        // Rounds of events until a lookup write comes with deltas (the first captures are snapshots, which rank nothing).
        Eventually.Until(() =>
        {
            producer.ProducePlanted("clicks", 500, seed: ++round);
            Eventually.Until(() => PersistedTotal() == round * 500, TimeSpan.FromSeconds(60), $"round {round} checkpointed");
            written = [.. _redis.Database.SortedSetRangeByRank(keys.LookupIndex).Where(member => member.ToString().Contains(":topk:", StringComparison.Ordinal))];
            return written.Length > 0;
        }, TimeSpan.FromSeconds(60), "top-k lists written");
        await stop.CancelAsync();
        await running.WaitAsync(TimeSpan.FromSeconds(30));

        var list = StreamRec.Contracts.V1.TopKList.Parser.ParseFrom((byte[])(await _redis.Database.StringGetAsync(written[0].ToString()))!);
        Assert.That(list.ItemIds, Has.Count.EqualTo(10));
        Assert.That(ChunkCodec.BytesToFloats(list.Scores), Is.Ordered.Descending);
        Assert.That(written, Has.Length.LessThanOrEqualTo(RedisShardCheckpoints.TopKListsPerLookupWrite * Partitions * round * 2), "lists only for recently active users");
    }

    [Test]
    public async Task KillingOneOfTwoWorkersOnRedis_LosesNothingAndCountsNothingTwice()
    {
        using var producer = new ClickstreamProducer(_kafka.BootstrapServers);
        var options = Options();
        var survivor = new WorkerRuntime(options, Store(options), NullLogger.Instance);
        var victim = new WorkerRuntime(options, Store(options), NullLogger.Instance);
        using var stop = new CancellationTokenSource();
        var survivorRun = survivor.RunAsync(stop.Token);
        var victimRun = victim.RunAsync(stop.Token);
        Eventually.Until(() => survivor.Status.Shards > 0 && victim.Status.Shards > 0, TimeSpan.FromSeconds(30), "both workers own partitions");

        producer.ProducePlanted("clicks", 3_000, seed: 1);
        Eventually.Until(() => victim.Status.AppliedEvents > 300, TimeSpan.FromSeconds(30), "the victim has applied events");
        victim.Abort();
        await victimRun.WaitAsync(TimeSpan.FromSeconds(30));
        producer.ProducePlanted("clicks", 2_000, seed: 2);

        Eventually.Until(() => survivor.Status.Shards == Partitions, TimeSpan.FromSeconds(30), "the survivor owns every partition");
        Eventually.Until(() => PersistedTotal() >= 5_000, TimeSpan.FromSeconds(60), "every event checkpointed");
        await stop.CancelAsync();
        await survivorRun.WaitAsync(TimeSpan.FromSeconds(30));

        Assert.That(PersistedTotal(), Is.EqualTo(5_000), "no loss, no double count");
    }
}

/// <summary>End to end: generated stream → Kafka → worker → Redis → restored model, against the same learner in process.</summary>
[TestFixture]
public sealed class RestoredModelQualityTests
{
    private const int Partitions = 8;
    private const int TrainEvents = 30_000;
    private const int TestEvents = 3_000;

    /// <summary>The restored model's held-out recall@10 may differ from the in-process learner's by this fraction of it.</summary>
    private const double RelativeTolerance = 0.15;

    [Test]
    public async Task RestoredModel_RecallMatchesTheInProcessLearner()
    {
        using var kafka = EmbeddedKafkaCluster.Start(brokerCount: 1);
        kafka.CreateTopic("clicks", Partitions);
        await using var redis = await TestRedis.CreateScope();
        kafka.CreateTopic($"{redis.Namespace}.dead-letter", 1);
        var learner = new LearnerOptions { Learner = "bpr", Dimensions = 16 };
        var stream = new StreamRec.Core.Data.SyntheticClickstream(new StreamRec.Core.Data.SyntheticClickstreamOptions(Users: 500, Items: 300, Events: TrainEvents + TestEvents, Seed: 21)).ToList();
        var training = stream.Take(TrainEvents).ToList();
        var held = stream.Skip(TrainEvents).ToList();

        ProduceAll(kafka.BootstrapServers, training);

        var options = new WorkerOptions
        {
            Kafka = new KafkaSettings { BootstrapServers = kafka.BootstrapServers },
            Topics = ["clicks"],
            Model = redis.Namespace,
            RedisEndpoint = redis.Server.Endpoint,
            Learner = learner,
            DeltaInterval = TimeSpan.FromMilliseconds(200),
        };
        var store = new RedisShardCheckpoints(redis.Connection, new CheckpointOptions { DeltaInterval = options.DeltaInterval }, options.Model, "v1", "bpr", new Dictionary<string, string>());
        using (var stop = new CancellationTokenSource())
        {
            var worker = new WorkerRuntime(options, store, NullLogger.Instance);
            var running = worker.RunAsync(stop.Token);
            Eventually.Until(() => worker.Status.AppliedEvents == TrainEvents, TimeSpan.FromSeconds(90), "every event applied");
            await stop.CancelAsync();
            await running.WaitAsync(TimeSpan.FromSeconds(30));
        }

        var restored = new StreamRec.Worker.Sharding.ShardedModel(learner);
        var items = await store.RestoreItemsAsync(CancellationToken.None);
        restored.ApplyItems(items!.Items, items.TrendingOriginMs, items.TrendingLogScores);
        for (var partition = 0; partition < Partitions; partition++)
        {
            var tp = new Confluent.Kafka.TopicPartition("clicks", partition);
            restored.Assign(tp, await store.ClaimAndRestoreShardAsync(tp, "quality-test", CancellationToken.None));
        }

        var inProcess = LearnerFactory.Create(learner);
        foreach (var e in training)
        {
            inProcess.Learn(e);
        }

        var restoredRecall = HeldOutRecall(held, user => restored.Shards.FirstOrDefault(s => s.Learner.KnowsUser(user))?.Learner);
        var inProcessRecall = HeldOutRecall(held, user => inProcess.KnowsUser(user) ? inProcess : null);
        TestContext.Out.WriteLine($"held-out recall@10: restored {restoredRecall:0.000}, in process {inProcessRecall:0.000}");

        Assert.That(restoredRecall, Is.EqualTo(inProcessRecall).Within(RelativeTolerance * inProcessRecall));
    }

    [Test]
    public async Task RestoredSeenHistories_EqualTheInProcessLearners_AfterDeltasThatAppendToThem()
    {
        var learner = new LearnerOptions { Learner = "isgd", Dimensions = 8, SeenHistoryLength = 12 };
        var stream = new StreamRec.Core.Data.SyntheticClickstream(new StreamRec.Core.Data.SyntheticClickstreamOptions(Users: 150, Items: 400, Events: 6_000, Seed: 8)).ToList();
        using var kafka = EmbeddedKafkaCluster.Start(brokerCount: 1);
        kafka.CreateTopic("clicks", Partitions);
        await using var redis = await TestRedis.CreateScope();
        kafka.CreateTopic($"{redis.Namespace}.dead-letter", 1);
        var options = WorkerTestKit.Options(kafka.BootstrapServers, redis.Namespace, redis.Server.Endpoint);
        options.Learner = learner;
        var store = new RedisShardCheckpoints(redis.Connection, new CheckpointOptions { DeltaInterval = options.DeltaInterval }, options.Model, "v1", "isgd", new Dictionary<string, string>());
        using (var stop = new CancellationTokenSource())
        {
            var worker = new WorkerRuntime(options, store, NullLogger.Instance);
            var running = worker.RunAsync(stop.Token);
            // Three rounds, each checkpointed before the next: the first publish of a chain is a snapshot, later ones deltas.
            for (var round = 1; round <= 3; round++)
            {
                ProduceAll(kafka.BootstrapServers, stream.Skip((round - 1) * 2_000).Take(2_000));
                Eventually.Until(() => WorkerTestKit.PersistedTotal(redis.Connection, redis.Namespace, Partitions, "v1") == round * 2_000, TimeSpan.FromSeconds(60), $"round {round} checkpointed");
            }

            await stop.CancelAsync();
            await running.WaitAsync(TimeSpan.FromSeconds(30));
        }

        var restored = new StreamRec.Worker.Sharding.ShardedModel(learner);
        var items = await store.RestoreItemsAsync(CancellationToken.None);
        restored.ApplyItems(items!.Items, items.TrendingOriginMs, items.TrendingLogScores);
        var appendedChunks = 0;
        for (var partition = 0; partition < Partitions; partition++)
        {
            var tp = new Confluent.Kafka.TopicPartition("clicks", partition);
            restored.Assign(tp, await store.ClaimAndRestoreShardAsync(tp, "seen-test", CancellationToken.None));
            var manifest = await new CheckpointStore(redis.Connection).GetManifestAsync(redis.Namespace, CheckpointKeys.ChainVersion("v1", RedisShardCheckpoints.PartitionChain(tp)));
            appendedChunks += manifest!.Deltas.Sum(d => d.Chunks.Count(c => c.Kind == StreamRec.Contracts.V1.ChunkKind.SeenItemsAppended));
        }

        var inProcess = (FactorLearner)LearnerFactory.Create(learner);
        foreach (var e in stream)
        {
            inProcess.Learn(e);
        }

        Assert.That(appendedChunks, Is.GreaterThan(0), "deltas carried appended seen items");
        Assert.Multiple(() =>
        {
            foreach (var user in stream.Select(e => e.UserId).Distinct())
            {
                var shard = restored.Shards.Single(s => s.Learner.KnowsUser(user)).Learner;
                shard.Users.TryGetRow(user, out var restoredRow);
                inProcess.Users.TryGetRow(user, out var liveRow);
                Assert.That(shard.SeenItemIds(restoredRow), Is.EqualTo(inProcess.SeenItemIds(liveRow)), user);
            }
        });
    }

    private static void ProduceAll(string bootstrapServers, IEnumerable<StreamRec.Core.Model.Interaction> events)
    {
        using var producer = new Confluent.Kafka.ProducerBuilder<string, byte[]>(KafkaTestSettings.Producer(bootstrapServers)).Build();
        foreach (var e in events)
        {
            var click = new StreamRec.Contracts.V1.ClickEvent { UserId = e.UserId, ItemId = e.ItemId, Type = e.Type, Value = e.Value, EventTimeMs = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() };
            producer.Produce("clicks", new Confluent.Kafka.Message<string, byte[]> { Key = e.UserId, Value = Google.Protobuf.MessageExtensions.ToByteArray(click) });
        }

        producer.Flush(TimeSpan.FromSeconds(30));
    }

    private static double HeldOutRecall(List<StreamRec.Core.Model.Interaction> held, Func<string, StreamRec.Core.Model.IOnlineRecommender?> modelOf)
    {
        var top = new StreamRec.Core.Model.ScoredItem[10];
        int hits = 0, asked = 0;
        foreach (var e in held)
        {
            if (modelOf(e.UserId) is not { } model)
            {
                continue;
            }

            var count = model.Recommend(e.UserId, top, excludeSeen: false);
            hits += top.AsSpan(0, count).ToArray().Any(t => t.ItemId == e.ItemId) ? 1 : 0;
            asked++;
        }

        return (double)hits / asked;
    }
}
