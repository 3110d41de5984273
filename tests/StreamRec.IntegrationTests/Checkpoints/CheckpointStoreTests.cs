using Google.Protobuf;
using StreamRec.Contracts.V1;
using StreamRec.IntegrationTests.Infrastructure;
using StreamRec.Redis.Checkpoints;
using static StreamRec.IntegrationTests.Checkpoints.CheckpointData;

namespace StreamRec.IntegrationTests.Checkpoints;

[TestFixture]
public sealed class CheckpointStoreTests
{
    private static readonly CheckpointOptions _smallChunks = new() { ChunkTargetBytes = 16 * 1024 };

    [Test]
    public async Task AppendedSeenItems_ExtendTheStoredHistories_KeepingTheNewest_AndAWholeListReplacesOne()
    {
        await using var scope = await TestRedis.CreateScope();
        var store = new CheckpointStore(scope.Connection, _smallChunks);
        var snapshot = Model(scope.Namespace, "v1", items: 20, usersPerPartition: 4, partitions: 1, dimensions: 4, seed: 3);
        snapshot = snapshot with
        {
            Users = [snapshot.Users[0] with { SeenItems = new Dictionary<string, string[]> { ["user-p0-0"] = ["a", "b", "c"], ["user-p0-1"] = ["x"] } }],
        };
        await store.PublishSnapshotAsync(snapshot);
        UserPartitionRows Appending(Dictionary<string, string[]>? whole, Dictionary<string, string[]> appended) =>
            new(0, EmbeddingRows.Empty(4, withBiases: true), whole) { AppendedSeenItems = appended, SeenHistoryLength = 4 };
        await store.PublishDeltaAsync(new CheckpointDelta
        {
            Model = scope.Namespace, Version = "v1",
            Users = [Appending(null, new() { ["user-p0-0"] = ["d", "e"], ["user-p0-2"] = ["p"] })],
        });
        await store.PublishDeltaAsync(new CheckpointDelta
        {
            Model = scope.Namespace, Version = "v1",
            Users = [Appending(new() { ["user-p0-1"] = ["y"] }, new() { ["user-p0-0"] = ["f"] })],
        });

        var seen = (await store.RestoreAsync(scope.Namespace, "v1")).Checkpoint.Users[0].SeenItems!;

        Assert.Multiple(() =>
        {
            Assert.That(seen["user-p0-0"], Is.EqualTo(new[] { "c", "d", "e", "f" }), "appended twice, the oldest dropped beyond 4");
            Assert.That(seen["user-p0-1"], Is.EqualTo(new[] { "y" }), "a whole list replaces");
            Assert.That(seen["user-p0-2"], Is.EqualTo(new[] { "p" }), "appended to a user with no stored history");
        });
    }

    [Test]
    public async Task Snapshot_WithAppendedSeenItems_IsRefused()
    {
        await using var scope = await TestRedis.CreateScope();
        var store = new CheckpointStore(scope.Connection);
        var snapshot = Model(scope.Namespace, "v1", items: 5, usersPerPartition: 2, partitions: 1, dimensions: 4, seed: 4);
        snapshot = snapshot with { Users = [snapshot.Users[0] with { AppendedSeenItems = new Dictionary<string, string[]> { ["user-p0-0"] = ["a"] } }] };

        var refused = Assert.ThrowsAsync<ArgumentException>(() => store.PublishSnapshotAsync(snapshot));
        Assert.That(refused!.Message, Does.Contain("append"));
    }

    [Test]
    public async Task SnapshotThenDeltas_RestoreGivesTheSameRowsBitForBitAndTheLastOffsets()
    {
        await using var scope = await TestRedis.CreateScope();
        var store = new CheckpointStore(scope.Connection, _smallChunks);
        var snapshot = Model(scope.Namespace, "v1", items: 500, usersPerPartition: 200, partitions: 3, dimensions: 16, seed: 1);
        var random = new Random(2);
        var itemDelta1 = Rows("item", 40, 16, random, true, first: 480); // 20 updated, 20 new
        var userDelta1 = Rows("user-p1-", 10, 16, random, true);
        var itemDelta2 = Rows("item", 5, 16, random, true, first: 490);

        var published = await store.PublishSnapshotAsync(snapshot);
        await store.PublishDeltaAsync(new CheckpointDelta
        {
            Model = scope.Namespace, Version = "v1", EventTimeWatermarkMs = 1_790_000_001_000,
            Offsets = [new KafkaOffset(Topic, 1, 5000)],
            Items = itemDelta1,
            Users = [new UserPartitionRows(1, userDelta1, new Dictionary<string, string[]> { ["user-p1-0"] = ["item0", "item1", "item7"] })],
            Trending = new TrendingState(1_790_000_000_000, [new ScoredId("item3", 9.5f), new ScoredId("item999", 1.25f)]),
        });
        var last = await store.PublishDeltaAsync(new CheckpointDelta
        {
            Model = scope.Namespace, Version = "v1", EventTimeWatermarkMs = 1_790_000_002_000,
            Offsets = [new KafkaOffset(Topic, 1, 5100), new KafkaOffset(Topic, 2, 7000)],
            Items = itemDelta2,
        });

        var restored = await store.RestoreAsync(scope.Namespace, "v1");

        Assert.That(published.ChunkCount, Is.GreaterThan(10), "the snapshot was cut into many chunks");
        Assert.That(restored.FellBack, Is.False);
        Assert.That(restored.Manifest.LastDeltaSeq, Is.EqualTo(2));
        Assert.That(Map(restored.Checkpoint.Items), Is.EqualTo(Apply(snapshot.Items, itemDelta1, itemDelta2)));
        Assert.That(Map(restored.Checkpoint.Users[1].Rows), Is.EqualTo(Apply(snapshot.Users[1].Rows, userDelta1)));
        Assert.That(Map(restored.Checkpoint.Users[0].Rows), Is.EqualTo(Map(snapshot.Users[0].Rows)));
        Assert.That(restored.Checkpoint.Users[1].SeenItems!["user-p1-0"], Is.EqualTo(new[] { "item0", "item1", "item7" }));
        Assert.That(restored.Checkpoint.Offsets, Is.EqualTo(new[]
        {
            new KafkaOffset(Topic, 0, 1000), new KafkaOffset(Topic, 1, 5100), new KafkaOffset(Topic, 2, 7000),
        }));
        Assert.That(restored.Checkpoint.EventTimeWatermarkMs, Is.EqualTo(1_790_000_002_000));
        Assert.That(restored.Checkpoint.Trending!.Scores, Does.Contain(new ScoredId("item3", 9.5f)).And.Contain(new ScoredId("item999", 1.25f)));
        Assert.That(restored.Checkpoint.Trending.Scores, Has.Count.EqualTo(51));
        Assert.That(restored.Checkpoint.LearnerOptions, Is.EqualTo(snapshot.LearnerOptions));
        Assert.That(last.Manifest.PublishSeq, Is.EqualTo(3));
    }

    [Test]
    public async Task RestoreOfGivenPartitions_LoadsOnlyTheirUserRowsPlusItems()
    {
        await using var scope = await TestRedis.CreateScope();
        var store = new CheckpointStore(scope.Connection, _smallChunks);
        var snapshot = Model(scope.Namespace, "v1", items: 100, usersPerPartition: 300, partitions: 4, dimensions: 8, seed: 3);
        await store.PublishSnapshotAsync(snapshot);
        var userDelta = Rows("user-p2-", 3, 8, new Random(4), true);
        await store.PublishDeltaAsync(new CheckpointDelta { Model = scope.Namespace, Version = "v1", Users = [new UserPartitionRows(2, userDelta), new UserPartitionRows(3, userDelta)] });

        var restored = await store.RestoreAsync(scope.Namespace, "v1", RestoreScope.Partitions(0, 2));

        Assert.That(restored.Checkpoint.Users.Select(u => u.Partition), Is.EqualTo(new[] { 0, 2 }));
        Assert.That(Map(restored.Checkpoint.Users[1].Rows), Is.EqualTo(Apply(snapshot.Users[2].Rows, userDelta)));
        Assert.That(Map(restored.Checkpoint.Items), Is.EqualTo(Map(snapshot.Items)));
        Assert.That(restored.Checkpoint.Offsets, Has.Count.EqualTo(4), "offsets of every partition come with any restore");
    }

    [Test]
    public async Task ReaderRestoringWhileAWriterPublishes_NeverSeesTwoPublishesMixed()
    {
        await using var scope = await TestRedis.CreateScope();
        var store = new CheckpointStore(scope.Connection, new CheckpointOptions { ChunkTargetBytes = 4096, RetainSnapshots = 4 });
        const int rows = 200;
        ModelCheckpoint Uniformly(float value) => new()
        {
            Model = scope.Namespace, Version = "v1", Learner = "isgd", Dimensions = 8,
            Items = Uniform("item", rows, 8, value),
            Users = [new UserPartitionRows(0, Uniform("user", rows, 8, value))],
        };

        await store.PublishSnapshotAsync(Uniformly(1));
        using var stop = new CancellationTokenSource(TimeSpan.FromSeconds(4));
        var writer = Task.Run(async () =>
        {
            var publishes = 1;
            while (!stop.IsCancellationRequested)
            {
                publishes++;
                var value = publishes;
                // Every fourth publish is a snapshot; the others are deltas that rewrite every row.
                if (publishes % 4 == 0)
                {
                    await store.PublishSnapshotAsync(Uniformly(value));
                }
                else
                {
                    await store.PublishDeltaAsync(new CheckpointDelta
                    {
                        Model = scope.Namespace, Version = "v1",
                        Items = Uniform("item", rows, 8, value), Users = [new UserPartitionRows(0, Uniform("user", rows, 8, value))],
                    });
                }
            }

            return publishes;
        });

        var reads = 0;
        var distinctSeen = new HashSet<long>();
        while (!writer.IsCompleted)
        {
            var restored = await store.RestoreAsync(scope.Namespace, "v1");
            var expected = (float)restored.Manifest.PublishSeq;
            var values = restored.Checkpoint.Items.Vectors.Concat(restored.Checkpoint.Users[0].Rows.Vectors).Distinct().ToArray();
            Assert.That(values, Is.EqualTo(new[] { expected }), $"restore of publish {restored.Manifest.PublishSeq} holds exactly its own values");
            Assert.That(restored.FellBack, Is.False);
            distinctSeen.Add(restored.Manifest.PublishSeq);
            reads++;
        }

        var published = await writer;
        Assert.That(published, Is.GreaterThan(8), "the writer published many times");
        Assert.That(distinctSeen, Has.Count.GreaterThan(3), $"the reader saw several publishes in {reads} reads");
    }

    [Test]
    public async Task Retention_KeepsTheNewestSnapshotsWithTheirDeltasAndDeletesExactlyTheRest()
    {
        await using var scope = await TestRedis.CreateScope();
        var store = new CheckpointStore(scope.Connection, new CheckpointOptions { ChunkTargetBytes = 8192, RetainSnapshots = 2, WriteLookups = false });
        var model = Model(scope.Namespace, "v1", items: 100, usersPerPartition: 50, partitions: 2, dimensions: 8, seed: 5);
        var manifests = new List<Manifest>();
        for (var snapshot = 0; snapshot < 4; snapshot++)
        {
            manifests.Add((await store.PublishSnapshotAsync(model)).Manifest);
            for (var delta = 0; delta < 2; delta++)
            {
                manifests[^1] = (await store.PublishDeltaAsync(new CheckpointDelta
                {
                    Model = scope.Namespace, Version = "v1", Items = Rows("item", 60, 8, new Random(delta), true),
                })).Manifest;
            }
        }

        var result = await store.ApplyRetentionAsync(scope.Namespace, "v1");
        var keys = new CheckpointKeys(scope.Namespace, "v1");
        var expected = new HashSet<string>
        {
            CheckpointKeys.Active(scope.Namespace).ToString(), CheckpointKeys.Versions(scope.Namespace).ToString(),
            keys.Manifest.ToString(), keys.PublishSeq.ToString(), keys.SnapshotCounter.ToString(), keys.Snapshots.ToString(),
        };
        foreach (var manifest in manifests.TakeLast(2))
        {
            expected.Add(keys.SnapshotManifest(manifest.SnapshotId).ToString());
            expected.UnionWith(manifest.SnapshotChunks.Select(c => keys.SnapshotChunk(manifest.SnapshotId, c.Index).ToString()));
            expected.UnionWith(manifest.Deltas.SelectMany(d => d.Chunks.Select(c => keys.DeltaChunk(manifest.SnapshotId, d.Seq, c.Index).ToString())));
        }

        Assert.That(await KeysOf(scope), Is.EquivalentTo(expected));
        Assert.That(result.RetainedSnapshots, Is.EqualTo(new[] { manifests[2].SnapshotId, manifests[3].SnapshotId }));
        Assert.That(await scope.Database.SortedSetRangeByRankAsync(keys.Snapshots), Has.Length.EqualTo(2));
        var restored = await store.RestoreAsync(scope.Namespace, "v1");
        Assert.That(restored.SnapshotId, Is.EqualTo(manifests[3].SnapshotId));
    }

    [Test]
    public async Task Retention_DeletesChunksOfASnapshotWhoseSwitchNeverHappened()
    {
        await using var scope = await TestRedis.CreateScope();
        var store = new CheckpointStore(scope.Connection, new CheckpointOptions { ChunkTargetBytes = 8192, RetainSnapshots = 2, WriteLookups = false });
        var model = Model(scope.Namespace, "v1", items: 50, usersPerPartition: 10, partitions: 1, dimensions: 8, seed: 6);
        await store.PublishSnapshotAsync(model);
        var keys = new CheckpointKeys(scope.Namespace, "v1");
        // A writer that died after writing chunks of snapshot 2 and before its switch.
        var orphanId = await scope.Database.StringIncrementAsync(keys.SnapshotCounter);
        await scope.Database.SortedSetAddAsync(keys.Snapshots, orphanId, orphanId);
        await scope.Database.StringSetAsync(keys.SnapshotChunk(orphanId, 0), "x");
        await scope.Database.StringSetAsync(keys.SnapshotChunk(orphanId, 1), "x");
        await store.PublishSnapshotAsync(model);
        await store.PublishSnapshotAsync(model);

        Assert.That(await scope.Database.KeyExistsAsync(keys.SnapshotChunk(orphanId, 0)), Is.False);
        Assert.That(await scope.Database.KeyExistsAsync(keys.SnapshotChunk(orphanId, 1)), Is.False);
        Assert.That((await scope.Database.SortedSetRangeByRankAsync(keys.Snapshots)).Select(v => (long)v), Is.EqualTo(new long[] { 3, 4 }));
    }

    [Test]
    public async Task CorruptChunk_FailsNamingTheKeyAndRestoreFallsBackToThePreviousSnapshot()
    {
        await using var scope = await TestRedis.CreateScope();
        var store = new CheckpointStore(scope.Connection, _smallChunks);
        var first = Model(scope.Namespace, "v1", items: 200, usersPerPartition: 20, partitions: 1, dimensions: 8, seed: 7);
        var second = Model(scope.Namespace, "v1", items: 200, usersPerPartition: 20, partitions: 1, dimensions: 8, seed: 8);
        var firstManifest = (await store.PublishSnapshotAsync(first)).Manifest;
        var secondManifest = (await store.PublishSnapshotAsync(second)).Manifest;
        var keys = new CheckpointKeys(scope.Namespace, "v1");
        var victim = keys.SnapshotChunk(secondManifest.SnapshotId, 1);
        var bytes = (byte[])(await scope.Database.StringGetAsync(victim))!;
        bytes[bytes.Length / 2] ^= 0x01;
        await scope.Database.StringSetAsync(victim, bytes);

        var restored = await store.RestoreAsync(scope.Namespace, "v1");

        Assert.That(restored.FellBack, Is.True);
        Assert.That(restored.SnapshotId, Is.EqualTo(firstManifest.SnapshotId));
        Assert.That(restored.SkippedSnapshots.Single().Key, Is.EqualTo(victim.ToString()));
        Assert.That(restored.SkippedSnapshots.Single().Message, Does.Contain(victim.ToString()).And.Contain("CRC-32"));
        Assert.That(Map(restored.Checkpoint.Items), Is.EqualTo(Map(first.Items)));
        var verification = await store.VerifyAsync(scope.Namespace, "v1");
        Assert.That(verification.Select(v => (v.SnapshotId, v.Error?.Key)), Is.EqualTo(new[] { (secondManifest.SnapshotId, (string?)victim.ToString()), (firstManifest.SnapshotId, null) }));
    }

    [Test]
    public async Task MissingChunkInEverySnapshot_FailsWithEachKeyNamed()
    {
        await using var scope = await TestRedis.CreateScope();
        var store = new CheckpointStore(scope.Connection, _smallChunks);
        var model = Model(scope.Namespace, "v1", items: 100, usersPerPartition: 10, partitions: 1, dimensions: 8, seed: 9);
        var keys = new CheckpointKeys(scope.Namespace, "v1");
        var a = (await store.PublishSnapshotAsync(model)).Manifest;
        var b = (await store.PublishSnapshotAsync(model)).Manifest;
        await scope.Database.KeyDeleteAsync(keys.SnapshotChunk(a.SnapshotId, 0));
        await scope.Database.KeyDeleteAsync(keys.SnapshotChunk(b.SnapshotId, 2));

        var error = Assert.ThrowsAsync<CheckpointRestoreException>(() => store.RestoreAsync(scope.Namespace, "v1"));

        Assert.That(error!.Failures.Select(f => f.Key), Is.EqualTo(new[] { keys.SnapshotChunk(b.SnapshotId, 2).ToString(), keys.SnapshotChunk(a.SnapshotId, 0).ToString() }));
        Assert.That(error.Message, Does.Contain("is missing"));
    }

    [Test]
    public async Task Lookups_OneGetReadsAVectorAndTopK_CappedOldestFirstAndWithTtl()
    {
        await using var scope = await TestRedis.CreateScope();
        var store = new CheckpointStore(scope.Connection, new CheckpointOptions { MaxLookupEntries = 30, LookupTtl = TimeSpan.FromMinutes(5) });
        await store.PublishSnapshotAsync(Model(scope.Namespace, "v1", items: 10, usersPerPartition: 10, partitions: 1, dimensions: 4, seed: 10));
        var keys = new CheckpointKeys(scope.Namespace, "v1");
        var oldUsers = Rows("old-user", 20, 4, new Random(11), true);
        await store.PublishDeltaAsync(new CheckpointDelta { Model = scope.Namespace, Version = "v1", Users = [new UserPartitionRows(0, oldUsers)] });
        await Task.Delay(5); // later write time, so the next delta's keys rank newer
        var newUsers = Rows("new-user", 15, 4, new Random(12), true);
        var result = await store.PublishDeltaAsync(new CheckpointDelta
        {
            Model = scope.Namespace, Version = "v1", Users = [new UserPartitionRows(0, newUsers)],
            RecentTopK = [new UserTopK("new-user0", [new ScoredId("item3", 0.9f), new ScoredId("item1", 0.5f)])],
        });

        var raw = (byte[])(await scope.Database.StringGetAsync(keys.UserVector("new-user3")))!;
        var vector = EntityVector.Parser.ParseFrom(raw);
        Assert.That(ChunkFloats(vector.Vector), Is.EqualTo(newUsers.Vector(3).ToArray()));
        Assert.That(vector.Bias, Is.EqualTo(newUsers.Biases![3]));
        Assert.That(vector.PublishSeq, Is.EqualTo(result.Manifest.PublishSeq));
        var topK = await store.GetUserTopKAsync(scope.Namespace, "v1", "new-user0");
        Assert.That(topK!.ItemIds, Is.EqualTo(new[] { "item3", "item1" }));
        Assert.That(ChunkFloats(topK.Scores), Is.EqualTo(new[] { 0.9f, 0.5f }));
        var ttl = await scope.Database.KeyTimeToLiveAsync(keys.UserVector("new-user3"));
        Assert.That(ttl, Is.GreaterThan(TimeSpan.FromMinutes(4)).And.LessThanOrEqualTo(TimeSpan.FromMinutes(5)));
        Assert.That(await scope.Database.SortedSetLengthAsync(keys.LookupIndex), Is.EqualTo(30));
        // 36 written, 30 kept: the 6 oldest of the first delta were evicted.
        var surviving = await Task.WhenAll(oldUsers.Ids.Select(id => scope.Database.KeyExistsAsync(keys.UserVector(id))));
        Assert.That(surviving.Count(exists => !exists), Is.EqualTo(6));
        Assert.That(await store.GetUserVectorAsync(scope.Namespace, "v1", "new-user0"), Is.Not.Null);
    }

    [Test]
    public async Task LookupsOff_DeltaWritesNoLookupKeysUntilWriteLookupsIsCalled()
    {
        await using var scope = await TestRedis.CreateScope();
        var store = new CheckpointStore(scope.Connection, new CheckpointOptions { WriteLookups = false });
        await store.PublishSnapshotAsync(Model(scope.Namespace, "v1", items: 10, usersPerPartition: 10, partitions: 1, dimensions: 4, seed: 19));
        var delta = new CheckpointDelta { Model = scope.Namespace, Version = "v1", Items = Rows("item", 3, 4, new Random(20), true) };
        var published = await store.PublishDeltaAsync(delta);

        Assert.That(published.LookupKeysWritten, Is.Zero);
        Assert.That(await store.GetItemVectorAsync(scope.Namespace, "v1", "item1"), Is.Null);

        var written = await store.WriteLookupsAsync(delta, published);

        Assert.That(written, Is.EqualTo(3));
        Assert.That(ChunkFloats((await store.GetItemVectorAsync(scope.Namespace, "v1", "item1"))!.Vector), Is.EqualTo(delta.Items.Vector(1).ToArray()));
    }

    [Test]
    public async Task Promote_SwitchesTheActiveVersionAndListVersionsShowsBoth()
    {
        await using var scope = await TestRedis.CreateScope();
        var store = new CheckpointStore(scope.Connection, _smallChunks);
        var live = Model(scope.Namespace, "live", items: 20, usersPerPartition: 5, partitions: 1, dimensions: 4, seed: 13);
        var replay = Model(scope.Namespace, "replay-2026-11-27", items: 30, usersPerPartition: 5, partitions: 1, dimensions: 4, seed: 14);
        await store.PublishSnapshotAsync(live);
        await store.PublishSnapshotAsync(replay);

        Assert.That(await store.GetActiveVersionAsync(scope.Namespace), Is.EqualTo("live"), "the first version published becomes active; a backfill does not touch it");
        Assert.That((await store.RestoreAsync(scope.Namespace)).Checkpoint.Items.Count, Is.EqualTo(20));

        await store.PromoteAsync(scope.Namespace, "replay-2026-11-27");

        Assert.That(await store.GetActiveVersionAsync(scope.Namespace), Is.EqualTo("replay-2026-11-27"));
        Assert.That((await store.RestoreAsync(scope.Namespace)).Checkpoint.Items.Count, Is.EqualTo(30));
        var versions = await store.ListVersionsAsync(scope.Namespace);
        Assert.That(versions.Select(v => (v.Version, v.IsActive)), Is.EqualTo(new[] { ("live", false), ("replay-2026-11-27", true) }));
        Assert.ThrowsAsync<CheckpointNotFoundException>(() => store.PromoteAsync(scope.Namespace, "never-published"));
    }

    [Test]
    public async Task Follower_YieldsTheCurrentManifestThenEachPublishAndPromotion()
    {
        await using var scope = await TestRedis.CreateScope();
        var store = new CheckpointStore(scope.Connection, _smallChunks);
        await store.PublishSnapshotAsync(Model(scope.Namespace, "v1", items: 10, usersPerPartition: 5, partitions: 1, dimensions: 4, seed: 15));
        var follower = new CheckpointFollower(scope.Connection, scope.Namespace, TimeSpan.FromSeconds(30));
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        await using var manifests = follower.FollowAsync(timeout.Token).GetAsyncEnumerator(timeout.Token);

        Assert.That(await manifests.MoveNextAsync(), Is.True);
        Assert.That(manifests.Current.PublishSeq, Is.EqualTo(1));
        await store.PublishDeltaAsync(new CheckpointDelta { Model = scope.Namespace, Version = "v1", Items = Rows("item", 2, 4, new Random(1), true) });
        Assert.That(await manifests.MoveNextAsync(), Is.True);
        Assert.That((manifests.Current.PublishSeq, manifests.Current.LastDeltaSeq), Is.EqualTo((2L, 1L)));
        await store.PublishSnapshotAsync(Model(scope.Namespace, "v2", items: 10, usersPerPartition: 5, partitions: 1, dimensions: 4, seed: 16));
        await store.PromoteAsync(scope.Namespace, "v2");
        Assert.That(await manifests.MoveNextAsync(), Is.True);
        Assert.That(manifests.Current.Version, Is.EqualTo("v2"));
        Assert.That(follower.FoundByPolling, Is.Zero, "a 30 s poll interval means notifications did the work");
    }

    [Test]
    public async Task Follower_FindsAPublishByPollingWhenTheNotificationIsLost()
    {
        await using var scope = await TestRedis.CreateScope();
        var store = new CheckpointStore(scope.Connection, _smallChunks);
        var keys = new CheckpointKeys(scope.Namespace, "v1");
        var first = (await store.PublishSnapshotAsync(Model(scope.Namespace, "v1", items: 10, usersPerPartition: 5, partitions: 1, dimensions: 4, seed: 17))).Manifest;
        var follower = new CheckpointFollower(scope.Connection, scope.Namespace, TimeSpan.FromMilliseconds(100));
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        await using var manifests = follower.FollowAsync(timeout.Token).GetAsyncEnumerator(timeout.Token);
        Assert.That(await manifests.MoveNextAsync(), Is.True);

        // A manifest change that sends no message, as if the notification were lost.
        var silent = first.Clone();
        silent.PublishSeq = 42;
        await scope.Database.StringSetAsync(keys.Manifest, silent.ToByteArray());

        Assert.That(await manifests.MoveNextAsync(), Is.True);
        Assert.That(manifests.Current.PublishSeq, Is.EqualTo(42));
        Assert.That(follower.FoundByPolling, Is.EqualTo(1));
    }

    [Test]
    public async Task DeltaWithoutASnapshot_FailsSayingASnapshotIsNeeded()
    {
        await using var scope = await TestRedis.CreateScope();
        var store = new CheckpointStore(scope.Connection);

        var error = Assert.ThrowsAsync<CheckpointNotFoundException>(() => store.PublishDeltaAsync(new CheckpointDelta { Model = scope.Namespace, Version = "v1" }));

        Assert.That(error!.Message, Does.Contain("publish a snapshot"));
    }

    [Test]
    public async Task WriterThatLostTheRace_GetsAConflictAndItsChunksAreRemoved()
    {
        await using var scope = await TestRedis.CreateScope();
        var keys = new CheckpointKeys(scope.Namespace, "v1");
        var store = new CheckpointStore(scope.Connection, _smallChunks);
        await store.PublishSnapshotAsync(Model(scope.Namespace, "v1", items: 10, usersPerPartition: 5, partitions: 1, dimensions: 4, seed: 18));
        // Another writer publishes while this one writes its chunks.
        var loser = new CheckpointStore(scope.Connection, _smallChunks) { BeforeSwitch = (_, _) => scope.Database.StringIncrementAsync(keys.PublishSeq) };

        Assert.ThrowsAsync<CheckpointConflictException>(() =>
            loser.PublishDeltaAsync(new CheckpointDelta { Model = scope.Namespace, Version = "v1", Items = Rows("item", 3, 4, new Random(1), true) }));

        Assert.That(await scope.Database.KeyExistsAsync(keys.DeltaChunk(1, 1, 0)), Is.False);
        Assert.That((await store.GetManifestAsync(scope.Namespace, "v1"))!.LastDeltaSeq, Is.Zero);
    }

    [Test]
    public void Options_Validate_ListsEveryProblem()
    {
        var options = new CheckpointOptions { DeltaInterval = TimeSpan.FromSeconds(2), RetainSnapshots = 1, ChunkTargetBytes = 10 };

        var errors = options.Validate();

        Assert.That(errors, Has.Count.EqualTo(3));
        Assert.That(() => new CheckpointStore(null!, options), Throws.ArgumentNullException);
        Assert.That(new CheckpointOptions().Validate(), Is.Empty);
        Assert.That(new CheckpointOptions().DeltaInterval, Is.LessThanOrEqualTo(TimeSpan.FromSeconds(1)));
    }

    [Test]
    public void Policy_SnapshotsWhenDueOrTheChainIsLong_DeltaAfterTheInterval()
    {
        var time = new ManualTime(DateTimeOffset.FromUnixTimeMilliseconds(1_000_000));
        var policy = new CheckpointPolicy(new CheckpointOptions { SnapshotInterval = TimeSpan.FromMinutes(1), MaxDeltaChainCount = 2, MaxDeltaChainBytes = 1000 }, time);
        var manifest = new Manifest { SnapshotCreatedAtMs = 1_000_000, CreatedAtMs = 1_000_000 };

        Assert.That(policy.Decide(null), Is.EqualTo(CheckpointAction.Snapshot));
        Assert.That(policy.Decide(manifest), Is.EqualTo(CheckpointAction.None));
        time.Now = time.Now.AddSeconds(1);
        Assert.That(policy.Decide(manifest), Is.EqualTo(CheckpointAction.Delta));
        manifest.Deltas.Add(new DeltaRef { ByteSize = 1000 });
        Assert.That(policy.Decide(manifest), Is.EqualTo(CheckpointAction.Snapshot), "chain bytes");
        manifest.Deltas[0].ByteSize = 1;
        manifest.Deltas.Add(new DeltaRef { ByteSize = 1 });
        Assert.That(policy.Decide(manifest), Is.EqualTo(CheckpointAction.Snapshot), "chain count");
        manifest.Deltas.Clear();
        time.Now = time.Now.AddMinutes(1);
        Assert.That(policy.Decide(manifest), Is.EqualTo(CheckpointAction.Snapshot), "snapshot interval");
    }

    [Test]
    public void Keys_ControlKeysOfAVersionShareOneHashTagAndNamesAreChecked()
    {
        var keys = new CheckpointKeys("recs", "v1");

        Assert.That(new[] { keys.Manifest, keys.PublishSeq, keys.Snapshots, keys.SnapshotManifest(3), keys.LookupIndex }.Select(k => k.ToString()),
            Has.All.StartWith("streamrec:{recs:v1}:"));
        Assert.That(keys.SnapshotChunk(3, 0).ToString(), Is.EqualTo("streamrec:recs:v1:snap:3:chunk:0"));
        Assert.That(CheckpointKeys.Active("recs").ToString(), Is.EqualTo("streamrec:{recs}:active"));
        Assert.That(() => new CheckpointKeys("re{cs}", "v1"), Throws.ArgumentException);
    }

    internal static float[] ChunkFloats(ByteString bytes) =>
        System.Runtime.InteropServices.MemoryMarshal.Cast<byte, float>(bytes.Span).ToArray();

    private static async Task<HashSet<string>> KeysOf(RedisTestScope scope)
    {
        var keys = new HashSet<string>();
        foreach (var endpoint in scope.Connection.GetEndPoints())
        {
            await foreach (var key in scope.Connection.GetServer(endpoint).KeysAsync(pattern: $"*{scope.Namespace}*", pageSize: 1000))
            {
                keys.Add(key.ToString());
            }
        }

        return keys;
    }

    private sealed class ManualTime(DateTimeOffset now) : TimeProvider
    {
        public DateTimeOffset Now { get; set; } = now;

        public override DateTimeOffset GetUtcNow() => Now;
    }
}
