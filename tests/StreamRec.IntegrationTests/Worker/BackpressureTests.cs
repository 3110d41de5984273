using Confluent.Kafka;
using Microsoft.Extensions.Logging.Abstractions;
using StreamRec.Core.Learners;
using StreamRec.IntegrationTests.Infrastructure;
using StreamRec.Kafka;
using StreamRec.Kafka.Embedded;
using StreamRec.Worker.Checkpointing;
using StreamRec.Worker.Consumption;
using StreamRec.Worker.Hosting;
using StreamRec.Worker.Sharding;

namespace StreamRec.IntegrationTests.Worker;

[TestFixture]
public sealed class BackpressureTests
{
    /// <summary>A store whose publishes wait until the test opens the gate, as when Redis is away.</summary>
    private sealed class GatedCheckpoints : IShardCheckpoints
    {
        private readonly InMemoryShardCheckpoints _inner = new();

        public TaskCompletionSource Gate { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public InMemoryShardCheckpoints Inner => _inner;

        public Task<ItemsRestore?> RestoreItemsAsync(CancellationToken cancellationToken) => _inner.RestoreItemsAsync(cancellationToken);

        public Task<ShardRestore?> ClaimAndRestoreShardAsync(TopicPartition partition, string ownerToken, CancellationToken cancellationToken) =>
            _inner.ClaimAndRestoreShardAsync(partition, ownerToken, cancellationToken);

        public async Task PublishShardAsync(ShardCapture capture, string ownerToken, CancellationToken cancellationToken)
        {
            await Gate.Task.WaitAsync(cancellationToken);
            await _inner.PublishShardAsync(capture, ownerToken, cancellationToken);
        }

        public async Task PublishItemsAsync(ItemsCapture capture, CancellationToken cancellationToken)
        {
            await Gate.Task.WaitAsync(cancellationToken);
            await _inner.PublishItemsAsync(capture, cancellationToken);
        }
    }

    [Test]
    public async Task WhenCheckpointsCannotBePublished_TheWorkerPausesInsteadOfDropping_AndCatchesUpAfterwards()
    {
        using var kafka = EmbeddedKafkaCluster.Start(brokerCount: 1);
        kafka.CreateTopic("clicks", 2);
        kafka.CreateTopic("recs.dead-letter", 1);
        var store = new GatedCheckpoints();
        var options = new WorkerOptions
        {
            Kafka = new KafkaSettings { BootstrapServers = kafka.BootstrapServers },
            Topics = ["clicks"],
            Model = "recs",
            RedisEndpoint = "127.0.0.1:6379",
            Learner = new LearnerOptions { Learner = "isgd", Dimensions = 8 },
            DeltaInterval = TimeSpan.FromMilliseconds(50),
            MaxPendingCheckpoints = 3,
            MaxBatchSize = 50,
        };
        var worker = new WorkerRuntime(options, store, NullLogger.Instance);
        using var producer = new ClickstreamProducer(kafka.BootstrapServers);
        using var stop = new CancellationTokenSource();
        var running = worker.RunAsync(stop.Token);

        // Keep events coming, so each delta interval has something new to capture, until the backlog is full.
        var seed = 0;
        Eventually.Until(() => worker.Status.Paused, TimeSpan.FromSeconds(30), "consumption paused with a full backlog",
            () => producer.ProducePlanted("clicks", 100, seed: ++seed));
        var pendingWhilePaused = worker.Status.PendingCheckpoints;
        store.Gate.SetResult();
        var producedWhilePaused = producer.Good;
        Eventually.Until(() => Persisted(store.Inner) == producedWhilePaused, TimeSpan.FromSeconds(30), "every event published once the store is back");
        Eventually.Until(() => !worker.Status.Paused, TimeSpan.FromSeconds(10), "consumption resumed");
        producer.ProducePlanted("clicks", 500, seed: 1_000);
        Eventually.Until(() => Persisted(store.Inner) == producer.Good, TimeSpan.FromSeconds(30), "events after the outage published too");
        await stop.CancelAsync();
        await running.WaitAsync(TimeSpan.FromSeconds(30));

        Assert.That(pendingWhilePaused, Is.LessThanOrEqualTo(options.MaxPendingCheckpoints), "the backlog is bounded");
        Assert.That(Persisted(store.Inner), Is.EqualTo(producer.Good), "nothing dropped, nothing counted twice");
    }

    private static long Persisted(InMemoryShardCheckpoints store) => WorkerTestKit.Persisted(store, partitions: 2);
}
