using Confluent.Kafka;
using StackExchange.Redis;
using StreamRec.Core.Learners;
using StreamRec.Kafka;
using StreamRec.Redis.Checkpoints;
using StreamRec.Worker.Checkpointing;
using StreamRec.Worker.Hosting;

namespace StreamRec.IntegrationTests.Worker;

/// <summary>Settings and counts the worker tests share.</summary>
internal static class WorkerTestKit
{
    /// <summary>
    /// A worker on the "clicks" topic with short group timeouts (the mock broker waits session.timeout.ms - 1 s
    /// before a rebalance), a 200 ms delta interval and a 10 s shutdown timeout, so tests finish in seconds.
    /// </summary>
    public static WorkerOptions Options(string bootstrapServers, string model = "recs", string redisEndpoint = "127.0.0.1:6379") => new()
    {
        Kafka = new KafkaSettings
        {
            BootstrapServers = bootstrapServers,
            Client = { ["session.timeout.ms"] = "3000", ["heartbeat.interval.ms"] = "500" },
        },
        Topics = ["clicks"],
        Model = model,
        RedisEndpoint = redisEndpoint,
        Learner = new LearnerOptions { Learner = "isgd", Dimensions = 16 },
        DeltaInterval = TimeSpan.FromMilliseconds(200),
        // Well inside the 30 s the tests give a stopped worker: a Kafka client whose close hangs is abandoned in time.
        ShutdownTimeout = TimeSpan.FromSeconds(10),
    };

    /// <summary>Applied plus dead-lettered events over the partitions of a topic, as persisted in memory.</summary>
    public static long Persisted(InMemoryShardCheckpoints store, int partitions, string topic = "clicks") =>
        Enumerable.Range(0, partitions).Select(p => store.StateOf(new TopicPartition(topic, p))).Sum(s => s is null ? 0 : s.AppliedEvents + s.DeadLetteredEvents);

    /// <summary>Applied and dead-lettered events over the partitions of a topic, as the published manifests in Redis count them.</summary>
    public static async Task<(long Applied, long DeadLettered)> PersistedAsync(IConnectionMultiplexer connection, string model, int partitions, string version = "v1", string topic = "clicks")
    {
        var store = new CheckpointStore(connection);
        long applied = 0, deadLettered = 0;
        for (var partition = 0; partition < partitions; partition++)
        {
            var manifest = await store.GetManifestAsync(model, CheckpointKeys.ChainVersion(version, $"{topic}--{partition}"));
            applied += manifest?.Offsets.Sum(o => o.AppliedEvents) ?? 0;
            deadLettered += manifest?.Offsets.Sum(o => o.DeadLetteredEvents) ?? 0;
        }

        return (applied, deadLettered);
    }

    /// <summary>Applied plus dead-lettered events in Redis (for polling in <c>Eventually.Until</c>).</summary>
    public static long PersistedTotal(IConnectionMultiplexer connection, string model, int partitions, string version = "v1")
    {
        var (applied, deadLettered) = PersistedAsync(connection, model, partitions, version).GetAwaiter().GetResult();
        return applied + deadLettered;
    }
}
