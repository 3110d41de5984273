using Confluent.Kafka;
using StreamRec.IntegrationTests.Infrastructure;
using StreamRec.Redis.Checkpoints;
using StreamRec.Worker.Checkpointing;
using StreamRec.Worker.Sharding;

namespace StreamRec.IntegrationTests.Worker;

/// <summary>The worker's Redis store on its own: idempotent deltas and lookup rows of partitions lost.</summary>
[TestFixture]
public sealed class RedisShardCheckpointsTests
{
    private static readonly TopicPartition _partition = new("clicks", 3);

    [Test]
    public async Task ADeltaPublishedTwice_IsAppliedOnce_SoItsSeenItemsAreNotAppendedTwice()
    {
        await using var redis = await TestRedis.CreateScope();
        var store = Store(redis);
        await store.ClaimAndRestoreShardAsync(_partition, "owner", CancellationToken.None);
        await store.PublishShardAsync(Capture(isSnapshot: true, nextOffset: 10, whole: new() { ["u1"] = ["a"] }, appended: []), "owner", CancellationToken.None);
        var delta = Capture(isSnapshot: false, nextOffset: 20, whole: [], appended: new() { ["u1"] = ["b", "c"] });

        await store.PublishShardAsync(delta, "owner", CancellationToken.None);
        await store.PublishShardAsync(delta, "owner", CancellationToken.None); // as after a switch whose reply was lost

        var manifest = await new CheckpointStore(redis.Connection).GetManifestAsync(redis.Namespace, CheckpointKeys.ChainVersion("v1", RedisShardCheckpoints.PartitionChain(_partition)));
        var restored = await store.ClaimAndRestoreShardAsync(_partition, "owner", CancellationToken.None);
        Assert.That(manifest!.LastDeltaSeq, Is.EqualTo(1));
        Assert.That(restored!.SeenItems["u1"], Is.EqualTo(new[] { "a", "b", "c" }));
        Assert.That(restored.NextOffset, Is.EqualTo(20));
    }

    [Test]
    public async Task LookupRowsOfAPartitionForgotten_AreNotWrittenLater()
    {
        await using var redis = await TestRedis.CreateScope();
        var store = Store(redis);
        var other = new TopicPartition("clicks", 4);
        foreach (var partition in new[] { _partition, other })
        {
            await store.ClaimAndRestoreShardAsync(partition, "owner", CancellationToken.None);
            await store.PublishShardAsync(Capture(isSnapshot: true, nextOffset: 10, whole: [], appended: [], partition: partition), "owner", CancellationToken.None);
            await store.PublishShardAsync(Capture(isSnapshot: false, nextOffset: 20, whole: [], appended: [], partition: partition, user: $"u{partition.Partition.Value}"), "owner", CancellationToken.None);
        }

        store.ForgetLookups(_partition); // lost: another replica owns it now
        await store.WriteLookupsAsync(CancellationToken.None);

        var keys = new CheckpointKeys(redis.Namespace, "v1");
        Assert.That(await redis.Database.KeyExistsAsync(keys.UserVector("u3")), Is.False, "the lost partition's user");
        Assert.That(await redis.Database.KeyExistsAsync(keys.UserVector("u4")), Is.True, "the other partition's user is written");
    }

    private static RedisShardCheckpoints Store(RedisTestScope redis) =>
        new(redis.Connection, new CheckpointOptions(), redis.Namespace, "v1", "isgd", new Dictionary<string, string>());

    private static ShardCapture Capture(bool isSnapshot, long nextOffset, Dictionary<string, string[]> whole, Dictionary<string, string[]> appended,
        TopicPartition? partition = null, string user = "u1") =>
        new(partition ?? _partition, isSnapshot, nextOffset, nextOffset, 0, 0, new TableRows(2, [user], [0.5f, -0.25f], [0.1f], [1f], [1f]), whole, new Dictionary<string, double>())
        {
            AppendedSeenItems = appended,
            SeenHistoryLength = 10,
        };
}
