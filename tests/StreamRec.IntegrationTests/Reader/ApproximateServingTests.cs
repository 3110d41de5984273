using StreamRec.IntegrationTests.Infrastructure;
using StreamRec.Redis.Checkpoints;
using static StreamRec.IntegrationTests.Reader.ReaderModels;

namespace StreamRec.IntegrationTests.Reader;

/// <summary>
/// A hosted reader with approximate search on, following checkpoints in a real Redis: it builds its index
/// in the background, answers through it, reaches items added by a delta at once, and rebuilds once
/// enough rows changed.
/// </summary>
[TestFixture]
public sealed class ApproximateServingTests
{
    private static readonly TimeSpan _timeout = TimeSpan.FromSeconds(20);

    [OneTimeSetUp]
    public void RequireNativeLibrary() => ApproximateNativeLibrary.RequireOrIgnore();

    [Test]
    public async Task ApproximateReader_AnswersThroughItsIndex_ReachesNewItems_AndRebuildsAfterManyChanges()
    {
        await using var scope = await TestRedis.CreateScope();
        var store = new CheckpointStore(scope.Connection);
        var checkpoint = Trained(scope.Namespace, "v1");
        await store.PublishSnapshotAsync(checkpoint);
        await using var reader = await RunningReader.StartAsync(scope.Namespace, scope.Server.Endpoint, new Dictionary<string, string?>
        {
            ["ApproximateSearchMinItems"] = "50",
            // Asks the index for every row, so the graph search cannot miss and answers are the exact ones.
            ["ApproximateSearchExtraCandidates"] = "1000",
        });

        await reader.UntilAsync(_ => reader.MetricAsync("streamrec_reader_approximate_index_rows"), rows => rows == checkpoint.Items.Count, _timeout, "the index is built");
        var answer = await reader.Client.GetRecommendationsAsync("user5", k: 10);
        AssertTopK(answer.Items, BruteForce(checkpoint, "user5", excludeSeen: true), 10);
        Assert.That(await reader.MetricAsync("streamrec_reader_rankings_total{path=\"approximate\"}"), Is.EqualTo(1));
        Assert.That(await reader.MetricAsync("streamrec_reader_approximate_index_build_seconds_count"), Is.EqualTo(1));

        // An item the index has never seen, pointed at user5 with a large bias: scored with the unindexed rows.
        var user = checkpoint.Users.SelectMany(p => Enumerable.Range(0, p.Rows.Count).Select(r => (Id: p.Rows.Ids[r], Vector: p.Rows.Vector(r).ToArray()))).Single(u => u.Id == "user5").Vector;
        await store.PublishDeltaAsync(new CheckpointDelta { Model = scope.Namespace, Version = "v1", Items = new EmbeddingRows(checkpoint.Dimensions, ["brand-new"], user, [1000f]) });
        await reader.UntilAsync(c => c.GetRecommendationsAsync("user5"), a => a.Items[0].Id == "brand-new", _timeout, "the new item tops user5's list");
        Assert.That(await reader.MetricAsync("streamrec_reader_rankings_total{path=\"approximate\"}"), Is.GreaterThanOrEqualTo(2));
        Assert.That(await reader.MetricAsync("streamrec_reader_rankings_total{path=\"exact\"}"), Is.Null, "no request fell back to the exact path");

        // A tenth of the rows rewritten (the rebuild fraction is 5%): a new index replaces the old one.
        var rewritten = checkpoint.Items.Ids.Take(checkpoint.Items.Count / 10).ToArray();
        var random = new Random(3);
        await store.PublishDeltaAsync(new CheckpointDelta
        {
            Model = scope.Namespace, Version = "v1",
            Items = new EmbeddingRows(checkpoint.Dimensions, rewritten, [.. rewritten.SelectMany(_ => Enumerable.Range(0, checkpoint.Dimensions).Select(_ => (float)random.NextDouble()))], new float[rewritten.Length]),
        });
        await reader.UntilAsync(_ => reader.MetricAsync("streamrec_reader_approximate_index_build_seconds_count"), builds => builds >= 2, _timeout, "the index is rebuilt");
        await reader.UntilAsync(_ => reader.MetricAsync("streamrec_reader_approximate_index_unindexed_rows"), rows => rows == 0, _timeout, "the new index holds every row as served");
        Assert.That(await reader.MetricAsync("streamrec_reader_approximate_index_lag_generations"), Is.Zero);
        Assert.That((await reader.Client.GetRecommendationsAsync("user5")).Items[0].Id, Is.EqualTo("brand-new"));
    }
}
