using Confluent.Kafka;

namespace StreamRec.IntegrationTests.Infrastructure;

/// <summary>Client settings that keep consumer-group tests fast on the embedded and on real Kafka.</summary>
public static class KafkaTestSettings
{
    /// <summary>
    /// A consumer in <paramref name="groupId"/> with manual commits and short session timeouts: the mock
    /// broker waits session.timeout.ms - 1 s before a rebalance, so defaults would make tests slow.
    /// </summary>
    public static ConsumerConfig Consumer(string bootstrapServers, string groupId) => new()
    {
        BootstrapServers = bootstrapServers,
        GroupId = groupId,
        EnableAutoCommit = false,
        EnableAutoOffsetStore = false,
        AutoOffsetReset = AutoOffsetReset.Earliest,
        SessionTimeoutMs = 3000,
        HeartbeatIntervalMs = 500,
        PartitionAssignmentStrategy = PartitionAssignmentStrategy.CooperativeSticky,
    };

    public static ProducerConfig Producer(string bootstrapServers) => new()
    {
        BootstrapServers = bootstrapServers,
        CompressionType = CompressionType.Lz4,
        LingerMs = 5,
        EnableIdempotence = false,
    };
}
