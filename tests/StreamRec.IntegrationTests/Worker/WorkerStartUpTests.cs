using Confluent.Kafka;
using Microsoft.Extensions.Logging.Abstractions;
using StreamRec.IntegrationTests.Infrastructure;
using StreamRec.Worker.Checkpointing;
using StreamRec.Worker.Consumption;
using StreamRec.Worker.Hosting;
using StreamRec.Worker.Sharding;

namespace StreamRec.IntegrationTests.Worker;

/// <summary>What a worker does between its start and its first applied event: settings, restores, warm-up.</summary>
[TestFixture]
public sealed class WorkerStartUpTests : EmbeddedKafkaWorkerFixture
{
    [Test]
    public void ConsumerSettings_TheWorkerChooses_AreSet_AndKafkaClientOverridesThem()
    {
        var options = WorkerTestKit.Options("127.0.0.1:9092");
        var chosen = WorkerRuntime.ConsumerConfigFor(options, "replica-1");
        Assert.Multiple(() =>
        {
            Assert.That(chosen.FetchWaitMaxMs, Is.EqualTo(100));
            Assert.That(chosen.FetchQueueBackoffMs, Is.EqualTo(WorkerRuntime.FetchQueueBackoffMs));
            Assert.That(chosen.ReconnectBackoffMs, Is.EqualTo(WorkerRuntime.ReconnectBackoffMs));
        });

        options.Kafka.Client["reconnect.backoff.ms"] = "250";
        options.Kafka.Client["fetch.queue.backoff.ms"] = "1000";
        var overridden = WorkerRuntime.ConsumerConfigFor(options, "replica-1");
        Assert.That((overridden.ReconnectBackoffMs, overridden.FetchQueueBackoffMs), Is.EqualTo((250, 1000)));
    }

    [TestCase("isgd", EventFormat.Protobuf)]
    [TestCase("bpr", EventFormat.Protobuf)]
    [TestCase("mse", EventFormat.Protobuf)]
    [TestCase("isgd", EventFormat.Json)]
    public void WarmUp_DecodesAndLearnsEverySyntheticEvent_InTheWorkersFormat(string learner, EventFormat format)
    {
        var options = WorkerTestKit.Options("127.0.0.1:9092");
        options.Learner.Learner = learner;
        options.Format = format;

        Assert.That(WorkerWarmUp.Run(options), Is.EqualTo(WorkerWarmUp.Users), "every synthetic user learned: decoding and the learner's update ran");
    }

    [Test]
    public async Task Assignment_ClaimsEveryPartitionAtOnce_AndRetriesAFailedClaimOnItsOwn()
    {
        var store = new GatedClaims(new InMemoryShardCheckpoints(), failFirstClaimOf: 3);
        var worker = new WorkerRuntime(WorkerTestKit.Options(Kafka.BootstrapServers), store, NullLogger.Instance);
        using var stop = new CancellationTokenSource();

        var running = worker.RunAsync(stop.Token);
        Eventually.Until(() => store.ClaimsInFlight == Partitions, TimeSpan.FromSeconds(30), "every partition's claim in flight before any completes");
        store.Open();
        Eventually.Until(() => worker.Status is { Ready: true, Shards: Partitions }, TimeSpan.FromSeconds(30), "every shard restored");
        await stop.CancelAsync();
        await running.WaitAsync(TimeSpan.FromSeconds(30));

        Assert.That(store.ClaimsOf(3), Is.EqualTo(2), "the failed claim was tried again");
        Assert.That(Enumerable.Range(0, Partitions).Where(p => p != 3).Select(store.ClaimsOf), Is.All.EqualTo(1), "the others once each");
    }

    /// <summary>Holds every claim until <see cref="Open"/>, so the test sees how many the worker has in flight; fails one partition's first claim.</summary>
    private sealed class GatedClaims(InMemoryShardCheckpoints inner, int failFirstClaimOf) : IShardCheckpoints
    {
        private readonly TaskCompletionSource _gate = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private readonly int[] _claims = new int[Partitions];
        private int _inFlight;

        public int ClaimsInFlight => Volatile.Read(ref _inFlight);

        public int ClaimsOf(int partition) => Volatile.Read(ref _claims[partition]);

        public void Open() => _gate.TrySetResult();

        public async Task<ShardRestore?> ClaimAndRestoreShardAsync(TopicPartition partition, string ownerToken, CancellationToken cancellationToken)
        {
            var attempt = Interlocked.Increment(ref _claims[partition.Partition.Value]);
            Interlocked.Increment(ref _inFlight);
            await _gate.Task.WaitAsync(cancellationToken);
            Interlocked.Decrement(ref _inFlight);
            return partition.Partition.Value == failFirstClaimOf && attempt == 1
                ? throw new InvalidOperationException("Redis went away during the claim")
                : await inner.ClaimAndRestoreShardAsync(partition, ownerToken, cancellationToken);
        }

        public Task<ItemsRestore?> RestoreItemsAsync(CancellationToken cancellationToken) => inner.RestoreItemsAsync(cancellationToken);

        public Task PublishShardAsync(ShardCapture capture, string ownerToken, CancellationToken cancellationToken) => inner.PublishShardAsync(capture, ownerToken, cancellationToken);

        public Task PublishItemsAsync(ItemsCapture capture, CancellationToken cancellationToken) => inner.PublishItemsAsync(capture, cancellationToken);
    }
}
