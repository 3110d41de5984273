using StreamRec.IntegrationTests.Infrastructure;
using StreamRec.Redis.Checkpoints;
using static StreamRec.IntegrationTests.Checkpoints.CheckpointData;

namespace StreamRec.IntegrationTests.Checkpoints;

[TestFixture]
public sealed class ReadDeltaTests
{
    [Test]
    public async Task ReadDelta_ReturnsOnlyThatDeltasRowsSeenItemsAndTrending()
    {
        await using var scope = await TestRedis.CreateScope();
        var store = new CheckpointStore(scope.Connection, new CheckpointOptions { ChunkTargetBytes = 4 * 1024 });
        await store.PublishSnapshotAsync(Model(scope.Namespace, "v1", items: 200, usersPerPartition: 50, partitions: 2, dimensions: 8, seed: 1));
        var random = new Random(5);
        var items1 = Rows("item", 30, 8, random, true, first: 190);
        var users1 = Rows("user-p1-", 4, 8, random, true);
        var items2 = Rows("item", 3, 8, random, true, first: 7);
        await store.PublishDeltaAsync(new CheckpointDelta
        {
            Model = scope.Namespace, Version = "v1", Items = items1,
            Users = [new UserPartitionRows(1, users1, new Dictionary<string, string[]> { ["user-p1-2"] = ["item3", "item4"] })],
            Trending = new TrendingState(1_790_000_000_000, [new ScoredId("item195", 3.5f)]),
        });
        var last = await store.PublishDeltaAsync(new CheckpointDelta { Model = scope.Namespace, Version = "v1", Items = items2 });

        var first = await store.ReadDeltaAsync(scope.Namespace, "v1", last.Manifest, 1);
        var second = await store.ReadDeltaAsync(scope.Namespace, "v1", last.Manifest, 2);

        Assert.That(Map(first.Items), Is.EqualTo(Map(items1)));
        Assert.That(first.Users, Has.Count.EqualTo(1));
        Assert.That(first.Users[0].Partition, Is.EqualTo(1));
        Assert.That(Map(first.Users[0].Rows), Is.EqualTo(Map(users1)));
        Assert.That(first.Users[0].SeenItems!["user-p1-2"], Is.EqualTo(new[] { "item3", "item4" }));
        Assert.That(first.Trending!.Scores, Is.EqualTo(new[] { new ScoredId("item195", 3.5f) }));
        Assert.That(Map(second.Items), Is.EqualTo(Map(items2)));
        Assert.That(second.Users, Is.Empty);
        Assert.That(second.Trending!.Scores, Is.Empty);
    }

    [Test]
    public async Task ReadDelta_KeepsAppendedSeenItemsApartFromWholeHistories()
    {
        await using var scope = await TestRedis.CreateScope();
        var store = new CheckpointStore(scope.Connection);
        await store.PublishSnapshotAsync(Model(scope.Namespace, "v1", items: 10, usersPerPartition: 3, partitions: 1, dimensions: 4, seed: 6));
        var published = await store.PublishDeltaAsync(new CheckpointDelta
        {
            Model = scope.Namespace, Version = "v1",
            Users =
            [
                new UserPartitionRows(0, EmbeddingRows.Empty(4, withBiases: true), new Dictionary<string, string[]> { ["user-p0-1"] = ["item5"] })
                {
                    AppendedSeenItems = new Dictionary<string, string[]> { ["user-p0-0"] = ["item2", "item3"] },
                    SeenHistoryLength = 50,
                },
            ],
        });

        var users = (await store.ReadDeltaAsync(scope.Namespace, "v1", published.Manifest, 1)).Users.Single();

        Assert.That(users.SeenItems, Is.EquivalentTo(new Dictionary<string, string[]> { ["user-p0-1"] = ["item5"] }));
        Assert.That(users.AppendedSeenItems, Is.EquivalentTo(new Dictionary<string, string[]> { ["user-p0-0"] = ["item2", "item3"] }),
            "a follower appends these to the history it holds, which this delta alone does not know");
        Assert.That(users.SeenHistoryLength, Is.EqualTo(50));
    }

    [Test]
    public async Task ReadDelta_OfASequenceTheManifestDoesNotList_Throws()
    {
        await using var scope = await TestRedis.CreateScope();
        var store = new CheckpointStore(scope.Connection);
        var published = await store.PublishSnapshotAsync(Model(scope.Namespace, "v1", items: 10, usersPerPartition: 2, partitions: 1, dimensions: 4, seed: 2));

        Assert.ThrowsAsync<ArgumentOutOfRangeException>(() => store.ReadDeltaAsync(scope.Namespace, "v1", published.Manifest, 1));
    }

    [Test]
    public async Task ReadDelta_WhoseChunkIsGone_ThrowsCorruptNamingTheKey()
    {
        await using var scope = await TestRedis.CreateScope();
        var store = new CheckpointStore(scope.Connection);
        await store.PublishSnapshotAsync(Model(scope.Namespace, "v1", items: 10, usersPerPartition: 2, partitions: 1, dimensions: 4, seed: 3));
        var delta = await store.PublishDeltaAsync(new CheckpointDelta { Model = scope.Namespace, Version = "v1", Items = Rows("item", 2, 4, new Random(1), true) });
        var chunkKey = new CheckpointKeys(scope.Namespace, "v1").DeltaChunk(delta.Manifest.SnapshotId, 1, 0);
        await scope.Database.KeyDeleteAsync(chunkKey);

        var error = Assert.ThrowsAsync<CheckpointCorruptException>(() => store.ReadDeltaAsync(scope.Namespace, "v1", delta.Manifest, 1));
        Assert.That(error!.Message, Does.Contain(chunkKey.ToString()));
    }
}
