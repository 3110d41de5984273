using Confluent.Kafka;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using StreamRec.IntegrationTests.Infrastructure;
using StreamRec.Kafka.Embedded;
using StreamRec.Worker.Checkpointing;
using StreamRec.Worker.Consumption;
using StreamRec.Worker.Hosting;

namespace StreamRec.IntegrationTests.Worker;

/// <summary>The worker on the embedded Kafka with in-memory checkpoints (the Redis store has its own tests).</summary>
[TestFixture]
public sealed class WorkerRuntimeTests : EmbeddedKafkaWorkerFixture
{
    // Checkpoints are in memory here: the Redis endpoint in the options is never used.
    private WorkerOptions Options() => WorkerTestKit.Options(Kafka.BootstrapServers);

    [Test]
    public async Task EveryEvent_IsAccountedForOnce_AndGarbageIsDeadLettered([Values] bool dedicatedLearnerThread)
    {
        using var producer = new ClickstreamProducer(Kafka.BootstrapServers);
        producer.ProducePlanted("clicks", 5_000, garbageShare: 0.01);
        var store = new InMemoryShardCheckpoints();
        var worker = new WorkerRuntime(Options(), store, NullLogger.Instance) { DedicatedLearnerThread = dedicatedLearnerThread };
        using var stop = new CancellationTokenSource();

        var running = worker.RunAsync(stop.Token);
        Eventually.Until(() => Persisted(store) == producer.Good + producer.Bad, TimeSpan.FromSeconds(60), "every event in a published checkpoint");
        await stop.CancelAsync();
        await running.WaitAsync(TimeSpan.FromSeconds(30));

        var states = Enumerable.Range(0, Partitions).Select(p => store.StateOf(new TopicPartition("clicks", p))!).ToList();
        Assert.That(states.Sum(s => s.AppliedEvents), Is.EqualTo(producer.Good));
        Assert.That(states.Sum(s => s.DeadLetteredEvents), Is.EqualTo(producer.Bad));
        Assert.That(CountMessages("recs.dead-letter"), Is.EqualTo(producer.Bad), "every refused event is in the dead-letter topic");
    }

    [Test]
    public async Task A_LearningFailure_MetFirstByARevocation_StillEndsTheRun_AndPublishesNoFinalDelta()
    {
        using var producer = new ClickstreamProducer(Kafka.BootstrapServers);
        producer.ProducePlanted("clicks", 2_000);
        var store = new InMemoryShardCheckpoints();
        using var logs = new CapturedLogs();
        using var loggers = LoggerFactory.Create(builder => builder.AddProvider(logs).SetMinimumLevel(LogLevel.Debug));
        // Inline learning makes the order certain: the failure is stored, then the next read serves the revocation.
        var worker = new WorkerRuntime(Options(), store, loggers.CreateLogger("worker")) { DedicatedLearnerThread = false };
        using var stop = new CancellationTokenSource();
        var running = worker.RunAsync(stop.Token);
        Eventually.Until(() => Persisted(store) == producer.Good, TimeSpan.FromSeconds(60), "every event in a published checkpoint");

        var failed = 0;
        worker.BeforeLearningBatch = consumer =>
        {
            if (Interlocked.Exchange(ref failed, 1) == 0)
            {
                // The revocation this queues is served by the next read, whose callback meets the failure first;
                // the stop request means the loop would end normally if it did not meet the failure again itself.
                consumer.Unsubscribe();
                stop.Cancel();
                throw new InvalidOperationException("injected learning failure");
            }
        };
        var publishedBefore = store.PublishedShards.Count;
        producer.ProducePlanted("clicks", 500, seed: 2);

        Assert.That(async () => await running.WaitAsync(TimeSpan.FromSeconds(30)), Throws.InvalidOperationException.With.Message.EqualTo("injected learning failure"));
        Assert.That(logs.Lines.Any(line => line.Contains("Revoking 8 partition(s)")), Is.True, "the revocation was served");
        Assert.That(logs.Lines.Any(line => line.Contains("after its final delta")), Is.False, "no final delta after a failed learning");
        Assert.That(logs.Lines.Any(line => line.Contains($"Worker {worker.ReplicaId} stopped")), Is.False, "a failed run does not stop gracefully (final checkpoint, commit)");
        Assert.That(store.PublishedShards.Count, Is.EqualTo(publishedBefore), "nothing published after the failure");
    }

    [Test]
    public async Task LiveEvaluation_TestsEventsOfKnownUsers_AndReportsRecall_OnlyWhenTurnedOn()
    {
        using var producer = new ClickstreamProducer(Kafka.BootstrapServers);
        producer.ProducePlanted("clicks", 5_000);
        foreach (var perSecond in new[] { 0, 1000 })
        {
            var options = Options();
            options.LiveEvaluationsPerSecond = perSecond;
            options.GroupId = $"live-{perSecond}";
            var worker = new WorkerRuntime(options, new InMemoryShardCheckpoints(), NullLogger.Instance);
            using var stop = new CancellationTokenSource();

            var running = worker.RunAsync(stop.Token);
            Eventually.Until(() => worker.Status.AppliedEvents == producer.Good, TimeSpan.FromSeconds(60), "every event applied");
            var recall = worker.Status.LiveRecall;
            await stop.CancelAsync();
            await running.WaitAsync(TimeSpan.FromSeconds(30));

            if (perSecond == 0)
            {
                Assert.That(recall, Is.Null, "no event is tested when live evaluation is off");
            }
            else
            {
                Assert.That(recall, Is.InRange(0.0, 1.0), "events of users seen before were tested");
            }
        }
    }

    [Test]
    public async Task RestartedWorker_ResumesFromItsCheckpoint_WithoutApplyingAnythingTwice()
    {
        using var producer = new ClickstreamProducer(Kafka.BootstrapServers);
        producer.ProducePlanted("clicks", 3_000, seed: 1);
        var store = new InMemoryShardCheckpoints();
        using (var stop = new CancellationTokenSource())
        {
            var first = new WorkerRuntime(Options(), store, NullLogger.Instance);
            var running = first.RunAsync(stop.Token);
            Eventually.Until(() => Persisted(store) == 3_000, TimeSpan.FromSeconds(60), "first batch checkpointed");
            await stop.CancelAsync();
            await running.WaitAsync(TimeSpan.FromSeconds(30));
        }

        producer.ProducePlanted("clicks", 2_000, seed: 2);
        using (var stop = new CancellationTokenSource())
        {
            var second = new WorkerRuntime(Options(), store, NullLogger.Instance);
            var running = second.RunAsync(stop.Token);
            Eventually.Until(() => Persisted(store) >= 5_000, TimeSpan.FromSeconds(60), "second batch checkpointed");
            await stop.CancelAsync();
            await running.WaitAsync(TimeSpan.FromSeconds(30));
        }

        Assert.That(Persisted(store), Is.EqualTo(5_000), "applied exactly once across the restart");
    }

    [Test]
    public async Task DeadLetters_CarryTheRefusedMessageByteForByte_WithItsSource()
    {
        var createTime = DateTimeOffset.UtcNow.AddMinutes(-5).ToUnixTimeMilliseconds();
        byte[] garbage = [0xFF, 0x00, 0x01, 0x80, 0x7F];
        byte[] key = [0x00, 0xC3, 0x28, 0x6B];
        using (var producer = new ProducerBuilder<byte[]?, byte[]?>(KafkaTestSettings.Producer(Kafka.BootstrapServers)).Build())
        {
            var partition = new TopicPartition("clicks", 3);
            producer.Produce(partition, new Message<byte[]?, byte[]?> { Key = key, Value = garbage, Timestamp = new Timestamp(createTime, TimestampType.CreateTime) });
            producer.Produce(partition, new Message<byte[]?, byte[]?> { Key = null, Value = null, Timestamp = new Timestamp(createTime + 1, TimestampType.CreateTime) });
            Assert.That(producer.Flush(TimeSpan.FromSeconds(30)), Is.Zero);
        }

        var store = new InMemoryShardCheckpoints();
        var worker = new WorkerRuntime(Options(), store, NullLogger.Instance);
        using var stop = new CancellationTokenSource();
        var running = worker.RunAsync(stop.Token);
        Eventually.Until(() => Persisted(store) == 2, TimeSpan.FromSeconds(60), "both refused events in a published checkpoint");
        await stop.CancelAsync();
        await running.WaitAsync(TimeSpan.FromSeconds(30));

        var letters = ReadAll("recs.dead-letter", 2);
        Assert.That(letters[0].Message.Key, Is.EqualTo(key));
        Assert.That(letters[0].Message.Value, Is.EqualTo(garbage));
        Assert.That(letters[0].Message.Timestamp.UnixTimestampMs, Is.EqualTo(createTime));
        Assert.That(Header(letters[0], DeadLetterPublisher.Headers.Reason), Is.EqualTo("Malformed"));
        Assert.That(Header(letters[0], DeadLetterPublisher.Headers.SourceTopic), Is.EqualTo("clicks"));
        Assert.That(Header(letters[0], DeadLetterPublisher.Headers.SourcePartition), Is.EqualTo("3"));
        Assert.That(Header(letters[0], DeadLetterPublisher.Headers.SourceOffset), Is.EqualTo("0"));
        Assert.That(letters[1].Message.Key, Is.Null, "a null key stays null");
        Assert.That(letters[1].Message.Value, Is.Null, "a tombstone stays a tombstone");
        Assert.That(Header(letters[1], DeadLetterPublisher.Headers.Detail), Is.EqualTo("empty message value"));
        Assert.That(Header(letters[1], DeadLetterPublisher.Headers.SourceOffset), Is.EqualTo("1"));
    }

    private List<ConsumeResult<byte[]?, byte[]?>> ReadAll(string topic, int count)
    {
        using var consumer = new ConsumerBuilder<byte[]?, byte[]?>(KafkaTestSettings.Consumer(Kafka.BootstrapServers, $"read-{Guid.NewGuid():N}")).Build();
        consumer.Assign(new TopicPartitionOffset(topic, 0, Offset.Beginning));
        var results = new List<ConsumeResult<byte[]?, byte[]?>>();
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (results.Count < count && DateTime.UtcNow < deadline)
        {
            if (consumer.Consume(TimeSpan.FromMilliseconds(200)) is { Message: not null } result)
            {
                results.Add(result);
            }
        }

        Assert.That(results, Has.Count.EqualTo(count), $"messages in {topic}");
        return results;
    }

    private static string Header(ConsumeResult<byte[]?, byte[]?> result, string name) =>
        System.Text.Encoding.UTF8.GetString(result.Message.Headers.GetLastBytes(name));

    private int CountMessages(string topic)
    {
        using var consumer = new ConsumerBuilder<byte[], byte[]>(KafkaTestSettings.Consumer(Kafka.BootstrapServers, $"count-{Guid.NewGuid():N}")).Build();
        var partition = new TopicPartition(topic, 0);
        return (int)consumer.QueryWatermarkOffsets(partition, TimeSpan.FromSeconds(10)).High.Value;
    }
}

[TestFixture]
public sealed class TwoWorkerTests : EmbeddedKafkaWorkerFixture
{
    private WorkerOptions Options()
    {
        var options = WorkerTestKit.Options(Kafka.BootstrapServers);
        options.MaxBatchSize = 100;
        return options;
    }

    [Test]
    public async Task TwoWorkers_SplitThePartitions_AndAccountForEveryEventOnce()
    {
        using var producer = new ClickstreamProducer(Kafka.BootstrapServers);
        var store = new InMemoryShardCheckpoints();
        var first = new WorkerRuntime(Options(), store, NullLogger.Instance);
        var second = new WorkerRuntime(Options(), store, NullLogger.Instance);
        using var stop = new CancellationTokenSource();
        var runs = new[] { first.RunAsync(stop.Token), second.RunAsync(stop.Token) };

        Eventually.Until(() => first.Status.Shards > 0 && second.Status.Shards > 0 && first.Status.Shards + second.Status.Shards == Partitions,
            TimeSpan.FromSeconds(30), "both workers own partitions");
        producer.ProducePlanted("clicks", 4_000);
        Eventually.Until(() => Persisted(store) == 4_000, TimeSpan.FromSeconds(60), "every event checkpointed");
        await stop.CancelAsync();
        await Task.WhenAll(runs).WaitAsync(TimeSpan.FromSeconds(30));

        Assert.That(Persisted(store), Is.EqualTo(4_000));
    }

    [Test]
    public async Task KillingOneOfTwoWorkers_LosesNothingAndCountsNothingTwice([Values] bool dedicatedLearnerThread)
    {
        using var producer = new ClickstreamProducer(Kafka.BootstrapServers);
        var store = new InMemoryShardCheckpoints();
        var survivor = new WorkerRuntime(Options(), store, NullLogger.Instance) { DedicatedLearnerThread = dedicatedLearnerThread };
        var victim = new WorkerRuntime(Options(), store, NullLogger.Instance) { DedicatedLearnerThread = dedicatedLearnerThread };
        using var stop = new CancellationTokenSource();
        var survivorRun = survivor.RunAsync(stop.Token);
        var victimRun = victim.RunAsync(stop.Token);
        Eventually.Until(() => survivor.Status.Shards > 0 && victim.Status.Shards > 0, TimeSpan.FromSeconds(30), "both workers own partitions");

        producer.ProducePlanted("clicks", 3_000, seed: 1);
        Eventually.Until(() => victim.Status.AppliedEvents > 500, TimeSpan.FromSeconds(30), "the victim has applied events");
        victim.Abort();
        await victimRun.WaitAsync(TimeSpan.FromSeconds(30));
        producer.ProducePlanted("clicks", 2_000, seed: 2);

        Eventually.Until(() => survivor.Status.Shards == Partitions, TimeSpan.FromSeconds(30), "the survivor owns every partition");
        Eventually.Until(() => Persisted(store) >= 5_000, TimeSpan.FromSeconds(60), "every event checkpointed");
        await stop.CancelAsync();
        await survivorRun.WaitAsync(TimeSpan.FromSeconds(30));

        Assert.That(Persisted(store), Is.EqualTo(5_000), "no loss, no double count");
    }
}

/// <summary>A fresh embedded Kafka per test with the "clicks" topic (8 partitions) and the dead-letter topic.</summary>
public abstract class EmbeddedKafkaWorkerFixture
{
    protected const int Partitions = 8;

    protected EmbeddedKafkaCluster Kafka { get; private set; } = null!;

    [SetUp]
    public void StartKafka()
    {
        Kafka = EmbeddedKafkaCluster.Start(brokerCount: 1);
        Kafka.CreateTopic("clicks", Partitions);
        Kafka.CreateTopic("recs.dead-letter", 1);
    }

    [TearDown]
    public void StopKafka() => Kafka.Dispose();

    protected static long Persisted(InMemoryShardCheckpoints store) => WorkerTestKit.Persisted(store, Partitions);
}
