using StreamRec.Client;
using StreamRec.IntegrationTests.Infrastructure;
using StreamRec.Redis.Checkpoints;
using static StreamRec.IntegrationTests.Reader.ReaderModels;

namespace StreamRec.IntegrationTests.Reader;

[TestFixture]
public sealed class ReaderServingTests
{
    private static readonly TimeSpan _timeout = TimeSpan.FromSeconds(10);

    [Test]
    public async Task SingleChainVersion_AnswersEqualABruteForceRankingOfEveryItem()
    {
        await using var scope = await TestRedis.CreateScope();
        var store = new CheckpointStore(scope.Connection);
        var checkpoint = Trained(scope.Namespace, "v1");
        await store.PublishSnapshotAsync(checkpoint);
        await using var reader = await RunningReader.StartAsync(scope.Namespace, scope.Server.Endpoint);
        await reader.UntilAsync(c => c.IsReadyAsync(), ready => ready, _timeout, "the reader loads v1");

        foreach (var user in new[] { "user0", "user1", "user17", "user42" })
        {
            var excluding = await reader.Client.GetRecommendationsAsync(user, k: 10, excludeSeen: true);
            var including = await reader.Client.GetRecommendationsAsync(user, k: 25, excludeSeen: false);

            Assert.That(excluding.Source, Is.EqualTo(RecommendationSources.Personalized));
            Assert.That(excluding.ModelVersion, Is.EqualTo("v1"));
            AssertTopK(excluding.Items, BruteForce(checkpoint, user, excludeSeen: true), 10);
            AssertTopK(including.Items, BruteForce(checkpoint, user, excludeSeen: false), 25);
        }
    }

    [Test]
    public async Task ShardedVersion_ServesTheUsersOfEveryPartitionChainWithTheItemsChain()
    {
        await using var scope = await TestRedis.CreateScope();
        var store = new CheckpointStore(scope.Connection);
        var checkpoint = Trained(scope.Namespace, "v1", partitions: 4);
        await PublishShardedAsync(store, scope.Database, checkpoint);
        await using var reader = await RunningReader.StartAsync(scope.Namespace, scope.Server.Endpoint);
        await reader.UntilAsync(c => c.IsReadyAsync(), ready => ready, _timeout, "the reader loads the sharded v1");

        var batch = await reader.Client.GetRecommendationsAsync(["user0", "user1", "user2", "user3", "nobody"], k: 10);

        Assert.That(batch.ModelVersion, Is.EqualTo("v1"));
        for (var i = 0; i < 4; i++)
        {
            Assert.That(batch.Results[i].Source, Is.EqualTo(RecommendationSources.Personalized), $"user{i} is in partition chain {i}");
            AssertTopK(batch.Results[i].Items, BruteForce(checkpoint, $"user{i}", excludeSeen: true), 10);
        }

        Assert.That(batch.Results[4].Source, Is.EqualTo(RecommendationSources.Trending));
    }

    [Test]
    public async Task UnknownUser_GetsTheTrendingListWhichRanksByPopularity()
    {
        await using var scope = await TestRedis.CreateScope();
        var store = new CheckpointStore(scope.Connection);
        var checkpoint = Trained(scope.Namespace, "v1");
        await store.PublishSnapshotAsync(checkpoint);
        await using var reader = await RunningReader.StartAsync(scope.Namespace, scope.Server.Endpoint);
        await reader.UntilAsync(c => c.IsReadyAsync(), ready => ready, _timeout, "the reader loads v1");

        var answer = await reader.Client.GetRecommendationsAsync("someone-new", k: 8);
        var trending = await reader.Client.GetTrendingAsync(k: 8);

        var max = checkpoint.Trending!.Scores.Max(s => s.Score);
        var expected = checkpoint.Trending.Scores.OrderByDescending(s => s.Score).Take(8).Select(s => MathF.Exp(s.Score - max)).ToArray();
        Assert.That(answer.Source, Is.EqualTo(RecommendationSources.Trending));
        Assert.That(answer.Items, Is.EqualTo(trending.Items));
        Assert.That(trending.Items.Select(i => i.Score), Is.EqualTo(expected).Within(1e-5f));
        Assert.That(trending.Items[0].Score, Is.EqualTo(1f).Within(1e-6f), "the most popular item scores 1");
    }

    [Test]
    public async Task SimilarItems_AreTheCosineTopKWithoutTheItemItself()
    {
        await using var scope = await TestRedis.CreateScope();
        var store = new CheckpointStore(scope.Connection);
        var checkpoint = Trained(scope.Namespace, "v1");
        await store.PublishSnapshotAsync(checkpoint);
        await using var reader = await RunningReader.StartAsync(scope.Namespace, scope.Server.Endpoint);
        await reader.UntilAsync(c => c.IsReadyAsync(), ready => ready, _timeout, "the reader loads v1");

        var similar = await reader.Client.GetSimilarItemsAsync("item8", k: 10);

        var items = checkpoint.Items;
        var query = items.Vector(Array.IndexOf(items.Ids, "item8")).ToArray();
        static double Norm(ReadOnlySpan<float> v)
        {
            double sum = 0;
            foreach (var x in v)
            {
                sum += (double)x * x;
            }

            return Math.Sqrt(sum);
        }

        var reference = Enumerable.Range(0, items.Count).Where(row => items.Ids[row] != "item8").Select(row =>
        {
            var vector = items.Vector(row);
            double dot = 0;
            for (var d = 0; d < vector.Length; d++)
            {
                dot += (double)query[d] * vector[d];
            }

            return new RecommendedItem(items.Ids[row], (float)(dot / (Norm(query) * Norm(vector))));
        }).OrderByDescending(i => i.Score).ToList();
        Assert.That(similar.Items.Select(i => i.Id), Does.Not.Contain("item8"));
        AssertTopK(similar.Items, reference, 10);
        Assert.That(similar.Items.Count(i => int.Parse(i.Id[4..], System.Globalization.CultureInfo.InvariantCulture) % 4 == 0), Is.GreaterThanOrEqualTo(7),
            "items of the planted cluster of item8 are the most similar");
    }
}
