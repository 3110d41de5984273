using Microsoft.Extensions.Logging.Abstractions;
using StreamRec.Core.Learners;
using StreamRec.Core.Model;
using StreamRec.IntegrationTests.Infrastructure;
using StreamRec.Kafka.Embedded;
using StreamRec.Worker.Checkpointing;
using StreamRec.Worker.Consumption;
using StreamRec.Worker.Hosting;

namespace StreamRec.IntegrationTests.Worker;

/// <summary>Two replicas learn disjoint users but share item updates through the item-deltas topic.</summary>
[TestFixture]
public sealed class ItemSyncTests
{
    private const int Partitions = 8;
    private const int Users = 300;
    private const int Items = 100;
    private const int Groups = 5;

    /// <summary>Largest difference allowed between two replicas' copies of an item after a sync (float rounding of sums).</summary>
    private const float ItemTolerance = 1e-3f;

    private EmbeddedKafkaCluster _kafka = null!;

    [SetUp]
    public void StartKafka()
    {
        _kafka = EmbeddedKafkaCluster.Start(brokerCount: 1);
        _kafka.CreateTopic("clicks", Partitions);
        _kafka.CreateTopic("recs.dead-letter", 1);
        _kafka.CreateTopic("recs.item-deltas", 1);
    }

    [TearDown]
    public void StopKafka() => _kafka.Dispose();

    private WorkerOptions Options()
    {
        var options = WorkerTestKit.Options(_kafka.BootstrapServers);
        options.Learner = new LearnerOptions { Learner = "bpr", Dimensions = 16 };
        options.ItemSyncInterval = TimeSpan.FromMilliseconds(200);
        options.MaxBatchSize = 100;
        return options;
    }

    [Test]
    public async Task TwoReplicas_ItemTablesAgreeAfterASync_AndRecallMatchesASingleReplica()
    {
        var single = await TrainAsync(replicas: 1, topicSuffix: "single");
        var pair = await TrainAsync(replicas: 2, topicSuffix: "pair");

        TestContext.Out.WriteLine($"hit@10 single replica {single:0.000}, two replicas {pair:0.000}");
        Assert.That(pair, Is.GreaterThanOrEqualTo(single * 0.95), "two replicas recommend within 5% of one");
    }

    /// <summary>Streams the same planted events through <paramref name="replicas"/> workers and returns hit@10 on held-out events.</summary>
    private async Task<double> TrainAsync(int replicas, string topicSuffix)
    {
        var topic = $"clicks-{topicSuffix}";
        _kafka.CreateTopic(topic, Partitions);
        var options = Options();
        options.Topics = [topic];
        options.GroupId = $"group-{topicSuffix}";
        options.ItemDeltasTopic = $"recs.item-deltas-{topicSuffix}";
        _kafka.CreateTopic(options.ItemDeltasTopic, 1);
        var store = new InMemoryShardCheckpoints();
        var workers = Enumerable.Range(0, replicas).Select(_ => new WorkerRuntime(options, store, NullLogger.Instance)).ToList();
        using var stop = new CancellationTokenSource();
        var runs = workers.Select(w => w.RunAsync(stop.Token)).ToList();
        Eventually.Until(() => workers.All(w => w.Status.Shards > 0) && workers.Sum(w => w.Status.Shards) == Partitions,
            TimeSpan.FromSeconds(30), "the workers own all partitions");

        using var producer = new ClickstreamProducer(_kafka.BootstrapServers);
        producer.ProducePlanted(topic, 12_000, Users, Items, Groups, seed: 11);
        Eventually.Until(() => workers.Sum(w => w.Status.AppliedEvents) == 12_000, TimeSpan.FromSeconds(60), "every event applied");
        if (replicas == 2)
        {
            Eventually.Until(() => MaxItemDifference(workers[0], workers[1]) < ItemTolerance, TimeSpan.FromSeconds(20),
                "both replicas' item tables agree after a sync");
        }

        var hits = HeldOutHitRate(workers);
        await stop.CancelAsync();
        await Task.WhenAll(runs).WaitAsync(TimeSpan.FromSeconds(30));
        return hits;
    }

    private static float MaxItemDifference(WorkerRuntime first, WorkerRuntime second)
    {
        var a = first.Model.Items.Items;
        var b = second.Model.Items.Items;
        if (a.Count != b.Count || a.Count == 0)
        {
            return float.MaxValue;
        }

        var worst = 0f;
        for (var row = 0; row < a.Count; row++)
        {
            if (!b.TryGetRow(a.Ids.IdAt(row), out var other))
            {
                return float.MaxValue;
            }

            var x = a.ReadRow(row);
            var y = b.ReadRow(other);
            for (var i = 0; i < x.Length; i++)
            {
                worst = Math.Max(worst, Math.Abs(x[i] - y[i]));
            }
        }

        return worst;
    }

    /// <summary>Share of held-out (user, item of the user's group) pairs whose item is in the user's top 10.</summary>
    private static double HeldOutHitRate(List<WorkerRuntime> workers)
    {
        var random = new Random(99);
        var top = new ScoredItem[10];
        int hits = 0, asked = 0;
        for (var i = 0; i < 2_000; i++)
        {
            var user = random.Next(Users);
            var item = (random.Next(Items / Groups) * Groups) + (user % Groups);
            var owner = workers.SelectMany(w => w.Model.ShardsSnapshot).FirstOrDefault(s => s.Learner.KnowsUser($"u{user}"));
            if (owner is null)
            {
                continue;
            }

            var count = owner.Learner.Recommend($"u{user}", top, excludeSeen: false);
            hits += top.AsSpan(0, count).ToArray().Any(t => t.ItemId == $"i{item}") ? 1 : 0;
            asked++;
        }

        return (double)hits / asked;
    }
}
