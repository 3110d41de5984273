using System.Diagnostics;
using StackExchange.Redis;
using StreamRec.Redis;
using StreamRec.Redis.Checkpoints;

namespace StreamRec.LoadTesting;

/// <summary>Publishes a synthetic model (random vectors, 20 seen items per user, trending for every item) as a single-chain version "bench".</summary>
public static class Seeder
{
    /// <summary>The version the seeded model is published (and made active) as.</summary>
    public const string Version = "bench";

    /// <summary>Connects to <paramref name="redis"/>, seeds the model and prints what it published.</summary>
    public static async Task<int> RunAsync(string redis, string model, int items, int dimensions, int users)
    {
        await using var connection = await RedisEndpointSettings.Parse(redis, "redis").ConnectAsync();
        var clock = Stopwatch.StartNew();
        var result = await SeedAsync(connection, model, items, dimensions, users);
        Console.WriteLine($"published {model}/{Version}: {items} items x {dimensions} dims, {users} users, {result.ChunkCount} chunks, {result.ByteSize / 1e6:0.0} MB in {clock.Elapsed.TotalSeconds:0.00} s");
        return 0;
    }

    /// <summary>
    /// Publishes the synthetic model <paramref name="model"/>/<see cref="Version"/> (items <c>item0..</c>, users
    /// <c>user0..</c>) on <paramref name="connection"/>, which it does not own, and makes it the active version.
    /// </summary>
    public static async Task<PublishResult> SeedAsync(IConnectionMultiplexer connection, string model, int items, int dimensions, int users)
    {
        ArgumentNullException.ThrowIfNull(connection);
        var random = new Random(42);
        float[] Vectors(int rows)
        {
            var values = new float[rows * dimensions];
            for (var i = 0; i < values.Length; i++)
            {
                values[i] = (float)((random.NextDouble() * 2) - 1) / MathF.Sqrt(dimensions);
            }

            return values;
        }

        var itemIds = Enumerable.Range(0, items).Select(i => $"item{i}").ToArray();
        var userIds = Enumerable.Range(0, users).Select(u => $"user{u}").ToArray();
        var seen = userIds.ToDictionary(u => u, _ => Enumerable.Range(0, 20).Select(_ => itemIds[random.Next(items)]).Distinct().ToArray());
        var checkpoint = new ModelCheckpoint
        {
            Model = model,
            Version = Version,
            Learner = "isgd",
            Dimensions = dimensions,
            Items = new EmbeddingRows(dimensions, itemIds, Vectors(items), [.. itemIds.Select(_ => (float)random.NextDouble() * 0.1f)]),
            Users = [new UserPartitionRows(0, new EmbeddingRows(dimensions, userIds, Vectors(users), new float[users]), seen)],
            Trending = new TrendingState(1_790_000_000_000, [.. itemIds.Select(id => new ScoredId(id, (float)(random.NextDouble() * 10)))]),
        };

        var result = await new CheckpointStore(connection).PublishSnapshotAsync(checkpoint);
        await connection.GetDatabase().StringSetAsync(CheckpointKeys.Active(model), Version);
        return result;
    }
}
