using System.Buffers.Binary;
using System.IO.Hashing;
using FsCheck;
using FsCheck.Fluent;
using Google.Protobuf;
using StackExchange.Redis;
using StreamRec.Contracts.V1;
using StreamRec.IntegrationTests.Infrastructure;
using StreamRec.Redis.Checkpoints;
using static StreamRec.IntegrationTests.Checkpoints.CheckpointData;
using PropertyAttribute = FsCheck.NUnit.PropertyAttribute;

namespace StreamRec.IntegrationTests.Checkpoints;

/// <summary>
/// Random, truncated and mutated bytes in checkpoint chunk keys: a restore names the key and falls
/// back to the previous consistent snapshot; forged chunks that pass the checksum still fail by name.
/// </summary>
[TestFixture]
public sealed class HostileChunkTests
{
    /// <summary>Corruptions tried against real Redis; docs/reliability.md quotes it.</summary>
    public const int RedisCases = 150;

    /// <summary>Forged chunks (mutated, with checksum and manifest entry made to match) decoded in memory.</summary>
    public const int ForgedCases = 2_000;

    private const ulong Seed = 7_2026, Gamma = 0x9E3779B97F4A7C15;

    [Test]
    [CancelAfter(120_000)]
    public async Task HostileBytesInAnyChunkOfTheCurrentSnapshot_AreNamedAndRestoreFallsBackToThePreviousOne()
    {
        await using var scope = await TestRedis.CreateScope();
        var store = new CheckpointStore(scope.Connection, new CheckpointOptions { ChunkTargetBytes = 4 * 1024 });
        var first = Model(scope.Namespace, "v1", items: 60, usersPerPartition: 30, partitions: 2, dimensions: 8, seed: 1);
        var second = Model(scope.Namespace, "v1", items: 60, usersPerPartition: 30, partitions: 2, dimensions: 8, seed: 2);
        var firstManifest = (await store.PublishSnapshotAsync(first)).Manifest;
        await store.PublishSnapshotAsync(second);
        var current = (await store.PublishDeltaAsync(new CheckpointDelta
        {
            Model = scope.Namespace, Version = "v1", Items = Rows("item", 5, 8, new Random(3), true),
            Users = [new UserPartitionRows(1, Rows("user-p1-", 4, 8, new Random(4), true), new Dictionary<string, string[]> { ["user-p1-0"] = ["item3"] })],
        })).Manifest;
        var keys = new CheckpointKeys(scope.Namespace, "v1");
        RedisKey[] victims =
        [
            .. current.SnapshotChunks.Select(c => keys.SnapshotChunk(current.SnapshotId, c.Index)),
            .. current.Deltas.SelectMany(d => d.Chunks.Select(c => keys.DeltaChunk(current.SnapshotId, d.Seq, c.Index))),
        ];
        var originals = new Dictionary<RedisKey, byte[]>();
        foreach (var key in victims)
        {
            originals[key] = (byte[])(await scope.Database.StringGetAsync(key))!;
        }

        var cases = Gen.Zip(Gen.Choose(0, victims.Length - 1), Corruption()).Sample(RedisCases, new Rnd(Seed, Gamma), 50);
        var byKind = new Dictionary<string, int>();
        foreach (var (victimIndex, corruption) in cases)
        {
            var victim = victims[victimIndex];
            var hostile = corruption.Apply(originals[victim]);
            if (hostile is null)
            {
                await scope.Database.KeyDeleteAsync(victim);
            }
            else
            {
                await scope.Database.StringSetAsync(victim, hostile);
            }

            var restored = await store.RestoreAsync(scope.Namespace, "v1");

            var what = $"{corruption.Name} of {victim}";
            Assert.That(restored.FellBack, Is.True, what);
            Assert.That(restored.SnapshotId, Is.EqualTo(firstManifest.SnapshotId), what);
            Assert.That(restored.SkippedSnapshots.Single().Key, Is.EqualTo(victim.ToString()), what);
            Assert.That(restored.SkippedSnapshots.Single().Message, Does.Contain(victim.ToString()), what);
            Assert.That(Map(restored.Checkpoint.Items), Is.EqualTo(Map(first.Items)), what);
            await scope.Database.StringSetAsync(victim, originals[victim]);
            byKind[corruption.Kind] = byKind.GetValueOrDefault(corruption.Kind) + 1;
        }

        var healthy = await store.RestoreAsync(scope.Namespace, "v1");
        Assert.That(healthy.FellBack, Is.False, "with every chunk put back the current snapshot restores again");
        Assert.That(byKind.Keys, Has.Count.EqualTo(6), "every kind of corruption was tried");
        await TestContext.Progress.WriteLineAsync($"[StreamRec] hostile chunks: {RedisCases} cases over {victims.Length} keys: "
            + string.Join(", ", byKind.OrderBy(k => k.Key).Select(k => $"{k.Key} {k.Value}")));
    }

    [Test]
    public async Task HostileBytesInTheManifest_FailWithTheManifestKeyNamed()
    {
        await using var scope = await TestRedis.CreateScope();
        var store = new CheckpointStore(scope.Connection);
        await store.PublishSnapshotAsync(Model(scope.Namespace, "v1", items: 10, usersPerPartition: 5, partitions: 1, dimensions: 4, seed: 5));
        var manifest = new CheckpointKeys(scope.Namespace, "v1").Manifest;
        await scope.Database.StringSetAsync(manifest, new byte[] { 0xFF, 0xFF, 0xFF, 0x07, 0x01 });

        var error = Assert.ThrowsAsync<CheckpointCorruptException>(() => store.RestoreAsync(scope.Namespace, "v1"));

        Assert.That(error!.Key, Is.EqualTo(manifest.ToString()));
        Assert.That(error.Message, Does.Contain("no valid Manifest"));
    }

    [Test]
    public void TrendingScores_ThatAreNotAWholeNumberOfFloats_AreRefusedNamingTheKey()
    {
        // Found by the forged-chunk property below: 11 bytes of scores for 6 ids used to throw ArgumentException.
        const string key = "streamrec:{m:v1}:snapshot:1:chunk:3";
        var chunk = new CheckpointChunk { Kind = ChunkKind.Trending, Partition = -1, Values = ByteString.CopyFrom(new byte[11]) };
        chunk.Ids.Add(["item0", "item1"]);

        var error = Assert.Throws<CheckpointCorruptException>(() => new RestoredState(4, hasBiases: true, fromSnapshot: true).Apply(chunk, key));

        Assert.That(error!.Key, Is.EqualTo(key));
        Assert.That(error.Message, Does.Contain("11 bytes of trending scores"));
    }

    /// <summary>
    /// Someone who could rewrite the manifest too: mutated chunks whose checksum trailer and manifest
    /// entry are made to match, so they reach parsing and the shape checks. Every one is applied or
    /// refused with <see cref="CheckpointCorruptException"/> naming the key; nothing else is thrown.
    /// </summary>
#pragma warning disable NUnit1027 // FsCheck's [Property] supplies the parameter.
    [Property(MaxTest = ForgedCases, Arbitrary = [typeof(ForgedChunks)])]
    public Property ForgedChunk_ThatPassesTheChecksum_IsAppliedOrRefusedByName(ForgedChunk forged)
#pragma warning restore NUnit1027
    {
        const string key = "streamrec:{m:v1}:snapshot:1:chunk:0";
        try
        {
            var chunk = ChunkCodec.Decode(key, forged.Value, forged.Expected, snapshotId: 1, deltaSeq: 0);
            new RestoredState(ForgedChunks.Dimensions, hasBiases: true, fromSnapshot: true).Apply(chunk, key);
            return true.ToProperty().Collect("applied");
        }
        catch (CheckpointCorruptException ex)
        {
            return (ex.Key == key && ex.Message.Contains(key, StringComparison.Ordinal)).Label($"error does not name the key: {ex.Message}").Collect("refused");
        }
        catch (Exception ex)
        {
            return false.Label($"threw {ex.GetType().Name}: {ex.Message}");
        }
    }

    /// <summary>One way to break a stored chunk value; null from <see cref="Apply"/> deletes the key.</summary>
    private sealed record ChunkCorruption(string Kind, string Name, Func<byte[], byte[]?> Apply);

    private static Gen<ChunkCorruption> Corruption() =>
        from kind in Gen.Choose(0, 5)
        from length in Gen.Choose(0, 300)
        from position in Gen.Choose(0, int.MaxValue - 1)
        from bit in Gen.Choose(0, 7)
        from noise in Gen.ArrayOf(Gen.Choose(0, 255).Select(b => (byte)b), 300)
        select kind switch
        {
            0 => new ChunkCorruption("random", $"{length} random bytes", _ => noise[..length]),
            1 => new ChunkCorruption("truncated", $"truncated to {length} bytes", v => v[..Math.Min(length, v.Length - 1)]),
            2 => new ChunkCorruption("bit-flip", $"bit {bit} flipped", v => Flip(v, position % v.Length, bit)),
            3 => new ChunkCorruption("appended", $"{Math.Max(1, length)} bytes appended", v => [.. v, .. noise[..Math.Max(1, length)]]),
            4 => new ChunkCorruption("self-consistent", "random body with its own valid checksum", v => WithTrailer(noise[..Math.Min(length, 250)])),
            _ => new ChunkCorruption("missing", "deleted", _ => null),
        };

    private static byte[] Flip(byte[] value, int position, int bit)
    {
        var copy = (byte[])value.Clone();
        copy[position] ^= (byte)(1 << bit);
        return copy;
    }

    /// <summary>Appends the chunk checksum trailer (tag and CRC-32) to a body.</summary>
    internal static byte[] WithTrailer(byte[] body)
    {
        var value = new byte[body.Length + ChunkCodec.TrailerLength];
        body.CopyTo(value, 0);
        value[body.Length] = ChunkCodec.ChecksumTag;
        BinaryPrimitives.WriteUInt32LittleEndian(value.AsSpan(body.Length + 1), Crc32.HashToUInt32(body));
        return value;
    }
}

/// <summary>A chunk value and the manifest entry forged to match it.</summary>
public sealed record ForgedChunk(byte[] Value, ChunkRef Expected, string Mutations)
{
    public override string ToString() => $"{Mutations}: {Convert.ToHexString(Value)}";
}

/// <summary>Valid chunks of each kind, mutated, with a matching checksum trailer and manifest entry.</summary>
public static class ForgedChunks
{
    public const int Dimensions = 4;

    public static Arbitrary<ForgedChunk> Chunks() =>
        (from source in Gen.Elements(Sources())
         from count in Gen.Choose(1, 3)
         from mutations in Gen.ArrayOf(Mutation(), count)
         select Forge(source, mutations)).ToArbitrary();

    private static Gen<(int Kind, int Position, int Value)> Mutation() =>
        from kind in Gen.Choose(0, 3)
        from position in Gen.Choose(0, int.MaxValue - 1)
        from value in Gen.Choose(0, 255)
        select (kind, position, value);

    private static ForgedChunk Forge((CheckpointChunk Chunk, byte[] Body) source, (int Kind, int Position, int Value)[] mutations)
    {
        var body = new List<byte>(source.Body);
        var names = new List<string>();
        foreach (var (kind, position, next) in mutations)
        {
            var at = body.Count == 0 ? 0 : position % body.Count;
            switch (kind)
            {
                case 0 when body.Count > 0:
                    body[at] = (byte)next;
                    names.Add($"set {at} to {next:x2}");
                    break;
                case 1:
                    body.Insert(at, (byte)next);
                    names.Add($"insert {next:x2} at {at}");
                    break;
                case 2 when body.Count > 0:
                    body.RemoveAt(at);
                    names.Add($"delete at {at}");
                    break;
                default:
                    body.RemoveRange(at, body.Count - at);
                    names.Add($"truncate to {at}");
                    break;
            }
        }

        var value = HostileChunkTests.WithTrailer([.. body]);
        var expected = new ChunkRef
        {
            Index = 0, Kind = source.Chunk.Kind, Partition = source.Chunk.Partition, RowCount = source.Chunk.Ids.Count,
            ByteSize = value.Length, Crc32 = Crc32.HashToUInt32(body.ToArray()),
        };
        return new ForgedChunk(value, expected, string.Join(", ", names));
    }

    private static (CheckpointChunk Chunk, byte[] Body)[] Sources()
    {
        var random = new Random(11);
        var rows = CheckpointData.Rows("id", 6, Dimensions, random, biases: true);
        var model = CheckpointData.Model("m", "v1", items: 6, usersPerPartition: 6, partitions: 1, dimensions: Dimensions, seed: 12);
        CheckpointChunk[] chunks =
        [
            .. ChunkCodec.EmbeddingChunks(ChunkKind.Items, -1, rows, 1 << 20),
            .. ChunkCodec.EmbeddingChunks(ChunkKind.Users, 0, rows, 1 << 20),
            .. ChunkCodec.TrendingChunks(model.Trending!, 1 << 20),
            .. ChunkCodec.SeenItemChunks(0, new Dictionary<string, string[]> { ["u1"] = ["a", "b"], ["u2"] = ["c"] }, 1 << 20),
            .. ChunkCodec.SeenItemChunks(0, new Dictionary<string, string[]> { ["u1"] = ["d"], ["u3"] = ["e", "f"] }, 1 << 20, appendedHistoryLength: 3),
        ];
        return [.. chunks.Select(chunk =>
        {
            chunk.SnapshotId = 1;
            var value = ChunkCodec.Encode(chunk, out _);
            return (chunk, value[..^ChunkCodec.TrailerLength]);
        })];
    }
}
