using System.Runtime.InteropServices;
using StreamRec.Redis.Checkpoints;

namespace StreamRec.IntegrationTests.Checkpoints;

/// <summary>Builds checkpoints and deltas with known contents, and compares tables bit for bit.</summary>
public static class CheckpointData
{
    public const string Topic = "clicks";

    /// <summary>
    /// A model with <paramref name="items"/> items and <paramref name="usersPerPartition"/> users in each of
    /// <paramref name="partitions"/> partitions; values are random bit patterns of finite floats plus -0 and a subnormal.
    /// </summary>
    public static ModelCheckpoint Model(string model, string version, int items, int usersPerPartition, int partitions, int dimensions, int seed, bool biases = true)
    {
        var random = new Random(seed);
        return new ModelCheckpoint
        {
            Model = model,
            Version = version,
            Learner = "isgd",
            LearnerOptions = new Dictionary<string, string> { ["learning-rate"] = "0.05", ["regularization"] = "0.01" },
            Dimensions = dimensions,
            EventTimeWatermarkMs = 1_790_000_000_000,
            Offsets = [.. Enumerable.Range(0, partitions).Select(p => new KafkaOffset(Topic, p, 1000 + p))],
            Items = Rows("item", items, dimensions, random, biases),
            Users = [.. Enumerable.Range(0, partitions).Select(p => new UserPartitionRows(
                p,
                Rows($"user-p{p}-", usersPerPartition, dimensions, random, biases),
                new Dictionary<string, string[]> { [$"user-p{p}-0"] = ["item0", "item1"] }))],
            Trending = new TrendingState(1_790_000_000_000, [.. Enumerable.Range(0, Math.Min(items, 50)).Select(i => new ScoredId($"item{i}", (float)random.NextDouble()))]),
        };
    }

    /// <summary>Rows whose ids are <paramref name="prefix"/> plus a number from <paramref name="first"/>.</summary>
    public static EmbeddingRows Rows(string prefix, int count, int dimensions, Random random, bool biases, int first = 0)
    {
        var vectors = new float[count * dimensions];
        for (var i = 0; i < vectors.Length; i++)
        {
            vectors[i] = (float)((random.NextDouble() * 2) - 1);
        }

        if (vectors.Length > 2)
        {
            vectors[0] = -0f;
            vectors[1] = float.Epsilon;
        }

        return new EmbeddingRows(
            dimensions,
            [.. Enumerable.Range(first, count).Select(i => $"{prefix}{i}")],
            vectors,
            biases ? [.. Enumerable.Range(0, count).Select(_ => (float)random.NextDouble())] : null);
    }

    /// <summary>Rows where every value equals <paramref name="value"/>.</summary>
    public static EmbeddingRows Uniform(string prefix, int count, int dimensions, float value) =>
        new(dimensions, [.. Enumerable.Range(0, count).Select(i => $"{prefix}{i}")], Enumerable.Repeat(value, count * dimensions).ToArray(), Enumerable.Repeat(value, count).ToArray());

    /// <summary>Id to (vector bits, bias bits) of a table.</summary>
    public static Dictionary<string, (string Vector, uint Bias)> Map(EmbeddingRows rows)
    {
        var map = new Dictionary<string, (string, uint)>();
        for (var i = 0; i < rows.Count; i++)
        {
            map[rows.Ids[i]] = (Convert.ToHexString(MemoryMarshal.AsBytes(rows.Vector(i))), rows.Biases is null ? 0 : BitConverter.SingleToUInt32Bits(rows.Biases[i]));
        }

        return map;
    }

    /// <summary><paramref name="baseRows"/> with every row of <paramref name="updates"/> applied in order.</summary>
    public static Dictionary<string, (string Vector, uint Bias)> Apply(EmbeddingRows baseRows, params EmbeddingRows?[] updates)
    {
        var map = Map(baseRows);
        foreach (var update in updates.OfType<EmbeddingRows>())
        {
            foreach (var (id, value) in Map(update))
            {
                map[id] = value;
            }
        }

        return map;
    }
}
