using System.Globalization;
using StackExchange.Redis;
using StreamRec.Client;
using StreamRec.Contracts.V1;
using StreamRec.Core.Learners;
using StreamRec.Core.Model;
using StreamRec.Redis.Checkpoints;

namespace StreamRec.IntegrationTests.Reader;

/// <summary>Models trained by the engine, captured as checkpoints, published in both shapes, and a brute-force ranking.</summary>
public static class ReaderModels
{
    public const float Blend = 0.3f;
    public const string Topic = "clicks";

    /// <summary>
    /// An isgd model learned from a planted stream: <paramref name="users"/> users in 4 taste clusters,
    /// each clicking items of its own cluster (item i is in cluster i % 4), with a few hot items.
    /// </summary>
    public static ModelCheckpoint Trained(string model, string version, int users = 60, int items = 200, int dimensions = 16, int partitions = 3, int seed = 7)
    {
        var learner = (FactorLearner)LearnerFactory.Create(new LearnerOptions { Learner = "isgd", Dimensions = dimensions, Seed = (ulong)seed, TrendingBlendWeight = Blend });
        var random = new Random(seed);
        var time = 1_790_000_000_000L;
        for (var e = 0; e < users * 60; e++)
        {
            var user = random.Next(users);
            var item = random.NextDouble() < 0.1 ? random.Next(5) : (random.Next(items / 4) * 4) + (user % 4);
            learner.Learn(new Interaction($"user{user}", $"item{item}", EventType.Click, 0, time += 1000));
        }

        return Capture(learner, model, version, partitions);
    }

    public static ModelCheckpoint Capture(FactorLearner learner, string model, string version, int partitions)
    {
        var dimensions = learner.Items.Dimensions;
        var itemCount = learner.Items.Count;
        var itemIds = new string[itemCount];
        var itemVectors = new float[itemCount * dimensions];
        var itemBiases = new float[itemCount];
        var trending = new List<ScoredId>();
        for (var row = 0; row < itemCount; row++)
        {
            itemIds[row] = learner.Items.Ids.IdAt(row);
            learner.Items.ReadRow(row).CopyTo(itemVectors.AsSpan(row * dimensions));
            itemBiases[row] = learner.Items.ReadBias(row);
            trending.Add(new ScoredId(itemIds[row], (float)learner.Trending.ReadLogScore(row)));
        }

        var byPartition = Enumerable.Range(0, learner.Users.Count).GroupBy(row => row % partitions).OrderBy(g => g.Key);
        var users = byPartition.Select(group =>
        {
            var rows = group.ToArray();
            var vectors = new float[rows.Length * dimensions];
            for (var i = 0; i < rows.Length; i++)
            {
                learner.Users.ReadRow(rows[i]).CopyTo(vectors.AsSpan(i * dimensions));
            }

            var seen = rows.ToDictionary(row => learner.Users.Ids.IdAt(row), learner.SeenItemIds);
            return new UserPartitionRows(group.Key, new EmbeddingRows(dimensions, [.. rows.Select(learner.Users.Ids.IdAt)], vectors, new float[rows.Length]), seen);
        }).ToList();

        return new ModelCheckpoint
        {
            Model = model,
            Version = version,
            Learner = "isgd",
            LearnerOptions = new Dictionary<string, string> { [Serving.TrendingBlend] = Blend.ToString(CultureInfo.InvariantCulture), ["dims"] = dimensions.ToString(CultureInfo.InvariantCulture) },
            Dimensions = dimensions,
            Items = new EmbeddingRows(dimensions, itemIds, itemVectors, itemBiases),
            Users = users,
            Trending = new TrendingState(learner.Trending.OriginMs, trending),
            Offsets = [.. users.Select(u => new KafkaOffset(Topic, u.Partition, 100))],
        };
    }

    /// <summary>Publishes <paramref name="checkpoint"/> as a sharded version: an items chain and one chain per partition, listed in the chain set.</summary>
    public static async Task PublishShardedAsync(CheckpointStore store, IDatabase db, ModelCheckpoint checkpoint, bool activate = true)
    {
        var model = checkpoint.Model;
        var version = checkpoint.Version;
        var itemsChain = CheckpointKeys.ChainVersion(version, "items");
        await db.SetAddAsync(CheckpointKeys.Chains(model, version), itemsChain);
        await store.PublishSnapshotAsync(checkpoint with { Version = itemsChain, Users = [], Offsets = [], RegisterVersion = false });
        foreach (var users in checkpoint.Users)
        {
            var chain = PartitionChain(version, users.Partition);
            await db.SetAddAsync(CheckpointKeys.Chains(model, version), chain);
            await store.PublishSnapshotAsync(checkpoint with
            {
                Version = chain,
                Items = EmbeddingRows.Empty(checkpoint.Dimensions, withBiases: true),
                Trending = null,
                Users = [users],
                Offsets = [.. checkpoint.Offsets.Where(o => o.Partition == users.Partition)],
                RegisterVersion = false,
            });
        }

        await db.SortedSetAddAsync(CheckpointKeys.Versions(model), version, 1);
        if (activate)
        {
            await db.StringSetAsync(CheckpointKeys.Active(model), version);
        }
    }

    public static string PartitionChain(string version, int partition) =>
        CheckpointKeys.ChainVersion(version, string.Create(CultureInfo.InvariantCulture, $"{Topic}--{partition}"));

    /// <summary>Every item scored as the learner blends (double precision), seen items left out on request, best first.</summary>
    public static List<RecommendedItem> BruteForce(ModelCheckpoint checkpoint, string userId, bool excludeSeen)
    {
        var partition = checkpoint.Users.Single(p => p.Rows.Ids.Contains(userId));
        var userRow = Array.IndexOf(partition.Rows.Ids, userId);
        var user = partition.Rows.Vector(userRow).ToArray();
        var seen = excludeSeen ? partition.SeenItems!.GetValueOrDefault(userId, []).ToHashSet() : [];
        var trending = checkpoint.Trending!.Scores.ToDictionary(s => s.Id, s => (double)s.Score);
        var max = trending.Values.Max();
        var items = checkpoint.Items;
        var all = new List<RecommendedItem>();
        for (var row = 0; row < items.Count; row++)
        {
            if (seen.Contains(items.Ids[row]))
            {
                continue;
            }

            var vector = items.Vector(row);
            double score = items.Biases![row];
            for (var d = 0; d < vector.Length; d++)
            {
                score += (double)user[d] * vector[d];
            }

            score += Blend * (trending.TryGetValue(items.Ids[row], out var s) ? Math.Exp(s - max) : 0);
            all.Add(new RecommendedItem(items.Ids[row], (float)score));
        }

        return [.. all.OrderByDescending(i => i.Score)];
    }

    /// <summary>
    /// Asserts <paramref name="answer"/> is an exact top-k of <paramref name="reference"/>: the k best scores,
    /// each item carrying its own reference score (float rounding aside; ties may order either way).
    /// </summary>
    public static void AssertTopK(IReadOnlyList<RecommendedItem> answer, List<RecommendedItem> reference, int k)
    {
        const float tolerance = 1e-4f;
        Assert.That(answer, Has.Count.EqualTo(Math.Min(k, reference.Count)));
        var byId = reference.ToDictionary(r => r.Id, r => r.Score);
        for (var i = 0; i < answer.Count; i++)
        {
            Assert.That(byId.ContainsKey(answer[i].Id), Is.True, $"{answer[i].Id} may not be recommended (seen or unknown)");
            Assert.That(answer[i].Score, Is.EqualTo(byId[answer[i].Id]).Within(tolerance), $"score of {answer[i].Id}");
            Assert.That(answer[i].Score, Is.EqualTo(reference[i].Score).Within(tolerance), $"rank {i} score");
        }
    }

    /// <summary>Names the learner option the reader takes the blend weight from.</summary>
    public static class Serving
    {
        public const string TrendingBlend = "trending_blend";
    }
}
