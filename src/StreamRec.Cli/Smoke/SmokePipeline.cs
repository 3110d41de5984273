using System.Diagnostics;
using Confluent.Kafka;
using Google.Protobuf;
using StackExchange.Redis;
using StreamRec.Contracts.V1;
using StreamRec.Kafka;

namespace StreamRec.Cli.Smoke;

/// <summary>What one smoke run did, for the console and for tests to check.</summary>
public sealed record SmokeResult(
    int Produced,
    int Consumed,
    IReadOnlyDictionary<int, int> ConsumedPerPartition,
    IReadOnlyDictionary<int, long> CommittedNextOffsets,
    bool RedisRoundTripEqual,
    string RedisKey,
    TimeSpan Elapsed);

/// <summary>
/// The end-to-end check that the parts StreamRec stands on work on this machine: ClickEvents
/// produced to a partitioned topic keyed by user, consumed in a consumer group with manual commits,
/// and a protobuf message written to Redis and read back.
/// </summary>
public static class SmokePipeline
{
    private static readonly TimeSpan _poll = TimeSpan.FromMilliseconds(100);

    /// <summary>Runs the smoke path against a topic that already exists with its partitions.</summary>
    public static async Task<SmokeResult> RunAsync(
        string bootstrapServers, string topic, IDatabase redis, string redisKey, int events, CancellationToken cancellationToken)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(events, 1);
        var clock = Stopwatch.StartNew();
        var sent = ProduceClickEvents(bootstrapServers, topic, events);

        var consumedPerPartition = new Dictionary<int, int>();
        var nextOffsets = new Dictionary<TopicPartition, long>();
        var consumer = new ConsumerBuilder<string, byte[]>(new ConsumerConfig
        {
            BootstrapServers = bootstrapServers,
            GroupId = $"streamrec-smoke-{Guid.NewGuid():N}",
            EnableAutoCommit = false,
            EnableAutoOffsetStore = false,
            AutoOffsetReset = AutoOffsetReset.Earliest,
            SessionTimeoutMs = 3000,
            HeartbeatIntervalMs = 500,
        }).Build();
        var consumed = 0;
        try
        {
            consumer.Subscribe(topic);
            var deadline = Stopwatch.StartNew();
            while (consumed < sent && deadline.Elapsed < TimeSpan.FromSeconds(60))
            {
                cancellationToken.ThrowIfCancellationRequested();
                if (consumer.Consume(_poll) is not { } result)
                {
                    continue;
                }

                var click = ClickEvent.Parser.ParseFrom(result.Message.Value);
                if (click.UserId != result.Message.Key)
                {
                    throw new InvalidDataException($"Message key '{result.Message.Key}' is not the event's user id '{click.UserId}'.");
                }

                consumed++;
                consumedPerPartition[result.Partition.Value] = consumedPerPartition.GetValueOrDefault(result.Partition.Value) + 1;
                nextOffsets[result.TopicPartition] = result.Offset.Value + 1;
            }

            consumer.Commit(nextOffsets.Select(o => new TopicPartitionOffset(o.Key, o.Value)));
        }
        finally
        {
            consumer.Close();
            consumer.Dispose();
        }

        var manifest = new Manifest { Model = "smoke", Version = "v1", CreatedAtMs = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() };
        manifest.Offsets.AddRange(nextOffsets.Select(o => new PartitionOffset { Topic = o.Key.Topic, Partition = o.Key.Partition.Value, NextOffset = o.Value }));
        await redis.StringSetAsync(redisKey, manifest.ToByteArray(), TimeSpan.FromMinutes(10)).ConfigureAwait(false);
        var stored = (byte[]?)await redis.StringGetAsync(redisKey).ConfigureAwait(false);
        var roundTripEqual = stored is not null && Manifest.Parser.ParseFrom(stored).Equals(manifest);

        return new SmokeResult(
            sent,
            consumed,
            consumedPerPartition,
            nextOffsets.ToDictionary(o => o.Key.Partition.Value, o => o.Value),
            roundTripEqual,
            redisKey,
            clock.Elapsed);
    }

    private static int ProduceClickEvents(string bootstrapServers, string topic, int events)
    {
        var config = new ProducerConfig { BootstrapServers = bootstrapServers, CompressionType = CompressionType.Lz4, LingerMs = 5 };
        using var producer = new ProducerBuilder<string, byte[]>(config).Build();
        var startMs = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
        for (var i = 0; i < events; i++)
        {
            var click = new ClickEvent
            {
                UserId = $"user-{i % 97}",
                ItemId = $"item-{i * 31 % 211}",
                Type = (EventType)(1 + i % 4),
                EventTimeMs = startMs + i,
            };
            producer.Produce(topic, new Message<string, byte[]> { Key = click.UserId, Value = click.ToByteArray() });
        }

        var unsent = producer.Flush(TimeSpan.FromSeconds(30));
        if (unsent > 0)
        {
            throw new KafkaUnreachableException($"{unsent} of {events} smoke events were not delivered to {bootstrapServers} within 30 s.");
        }

        return events;
    }
}
