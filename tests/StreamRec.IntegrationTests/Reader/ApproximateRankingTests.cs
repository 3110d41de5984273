using System.Collections.Immutable;
using StreamRec.Client;
using StreamRec.Core.Data;
using StreamRec.Core.Learners;
using StreamRec.IntegrationTests.Infrastructure;
using StreamRec.Reader.Serving;
using StreamRec.Redis.Checkpoints;

namespace StreamRec.IntegrationTests.Reader;

/// <summary>
/// The reader's approximate top-k in memory, against its exact top-k: recall on a trained and on a random
/// model, exact scores and no seen items in every answer, the exact answer when the option does not
/// apply, and correct answers after deltas that change and add rows the index does not hold.
/// </summary>
[TestFixture]
public sealed class ApproximateRankingTests
{
    private const int K = 10;
    private static readonly ApproximateIndexSettings _settings = new(Connectivity: 16, ExpansionAdd: 128, ExpansionSearch: 64);

    /// <summary>
    /// USearch is a native library (it also needs libgomp); where it cannot load, the reader ranks
    /// exactly (ApproximateServingTests covers that path too) and these tests report Skipped with the reason.
    /// </summary>
    [OneTimeSetUp]
    public void RequireNativeLibrary() => ApproximateNativeLibrary.RequireOrIgnore();

    [Test]
    public void Recall_OnAModelTrainedOnTheSyntheticClickstream_IsAtLeast97Percent()
    {
        var model = Trained();
        using var search = Indexed(model, extraCandidates: 20);

        var recall = MeanRecall(model, search.Search);

        TestContext.Out.WriteLine($"recall@{K} {recall:0.0000} over {model.UserCount} users, {model.Items.Count} items");
        Assert.That(recall, Is.GreaterThanOrEqualTo(0.97));
    }

    [Test]
    public void Recall_OnRandomGaussianVectors_IsAtLeast85Percent()
    {
        var model = Gaussian(new Random(11), items: 3_000, dimensions: 32);
        using var search = Indexed(model, extraCandidates: 20);

        var recall = MeanRecall(model, search.Search);

        TestContext.Out.WriteLine($"recall@{K} {recall:0.0000} over {model.UserCount} users, {model.Items.Count} items");
        Assert.That(recall, Is.GreaterThanOrEqualTo(0.85));
    }

    [Test]
    public void EveryAnswer_CarriesTheExactScores_InTheScansOrder_AndNoSeenItem()
    {
        var random = new Random(12);
        var model = Gaussian(random, items: 2_000, dimensions: 24);
        // Each user has seen their 30 best items: the answer must come from below them.
        var chain = model.Chains[0];
        var users = chain.Users.ToImmutableDictionary(u => u.Key, u => u.Value with { Seen = [.. Exact(model, u.Value, 30, excludeSeen: false).Select(i => i.Id)] });
        model = ServingModel.Build("m", "v1", 2, [chain with { Users = users }], "v1", 1000, previous: model);
        using var search = Indexed(model, extraCandidates: 0);

        foreach (var (id, user) in model.Chains[0].Users)
        {
            var all = Exact(model, user, model.Items.Count, excludeSeen: false).ToDictionary(i => i.Id, i => i.Score);
            var answer = Ranking.ForUsers(model, [new RankRequest(user, K, ExcludeSeen: true)], approximate: search.Search)[0];

            Assert.That(answer, Has.Length.EqualTo(K), id);
            Assert.That(answer.Select(i => i.Id).Intersect(user.Seen), Is.Empty, $"{id}: no seen item");
            Assert.That(answer.Select(i => BitConverter.SingleToInt32Bits(i.Score)), Is.EqualTo(answer.Select(i => BitConverter.SingleToInt32Bits(all[i.Id]))), $"{id}: scores bit for bit");
            Assert.That(answer.Select(i => i.Score), Is.Ordered.Descending, id);
        }

        Assert.That(search.Metrics.Rankings.WithLabels("approximate").Value, Is.EqualTo(model.UserCount));
    }

    [Test]
    public void EqualScores_RankTheEarlierRowFirst_AmongTheRowsFound()
    {
        var random = new Random(13);
        var distinct = Enumerable.Range(0, 400).Select(_ => Gaussian(random, 16)).ToArray();
        // 1,200 rows from 400 vectors with equal biases and trending: each score is shared by three rows.
        var model = Model(random, 1_200, 16, row => distinct[row % 400], bias: _ => 0.05f, trending: _ => 1f);
        using var search = Indexed(model, extraCandidates: 20);
        var ties = 0;

        foreach (var (id, user) in model.Chains[0].Users)
        {
            var answer = Ranking.ForUsers(model, [new RankRequest(user, K, ExcludeSeen: false)], approximate: search.Search)[0];
            for (var i = 1; i < answer.Length; i++)
            {
                if (answer[i].Score.Equals(answer[i - 1].Score))
                {
                    ties++;
                    Assert.That(model.Items.Rows[answer[i].Id], Is.GreaterThan(model.Items.Rows[answer[i - 1].Id]), $"{id}: equal scores, earlier row first");
                }
            }
        }

        Assert.That(ties, Is.GreaterThan(100), "the answers hold ties to order");
    }

    [Test]
    public void Off_OrBelowTheItemThreshold_AnswersAreTheExactOnes([Values(0, 2_001)] int minItems)
    {
        var model = Gaussian(new Random(14), items: 2_000, dimensions: 16);
        using var search = Indexed(model, extraCandidates: 0, minItems: minItems);

        Assert.That(search.Search.Acquire(model), Is.Null);
        foreach (var (id, user) in model.Chains[0].Users)
        {
            var request = new RankRequest(user, K, ExcludeSeen: true);
            Assert.That(Ranking.ForUsers(model, [request], approximate: search.Search)[0], Is.EqualTo(Ranking.ForUsers(model, [request])[0]), id);
        }

        Assert.That(search.Metrics.Rankings.WithLabels("exact").Value, Is.EqualTo(model.UserCount));
        Assert.That(search.Metrics.Rankings.WithLabels("approximate").Value, Is.Zero);
    }

    [Test]
    public void AfterADelta_ChangedAndAddedRows_AreRankedFromTheServedGeneration()
    {
        var random = new Random(15);
        var model = Gaussian(random, items: 2_000, dimensions: 16);
        using var search = Indexed(model, extraCandidates: 0);
        var user = model.Chains[0].Users["user3"];
        var best = Exact(model, user, 3, excludeSeen: true).Select(i => i.Id).ToArray();

        // The user's best item turns away from them; a far row turns toward them; a new row points at them.
        var toward = user.Vector.Select(v => v * 40f).ToArray();
        var away = user.Vector.Select(v => v * -40f).ToArray();
        var far = Exact(model, user, model.Items.Count, excludeSeen: true).Last().Id;
        var chain = model.Chains[0];
        var delta = new EmbeddingRows(16, [best[0], far, "added"], [.. away, .. toward, .. toward], [0f, 0f, 1f]);
        var next = ServingModel.Build("m", "v1", 2, [chain with { Items = chain.Items.With(delta) }], "v1", 1000, previous: model);

        var view = search.Search.Acquire(next);
        Assert.That(view, Is.Not.Null, "an index of the same lineage serves the next generation");
        Assert.That(view!.Unindexed, Is.EqualTo(new[] { next.Items.Rows[best[0]], next.Items.Rows[far], next.Items.Rows["added"] }.Order()));
        view.Index.Release();

        var answer = Ranking.ForUsers(next, [new RankRequest(user, K, ExcludeSeen: true)], approximate: search.Search)[0];
        Assert.That(answer.Take(2).Select(i => i.Id), Is.EqualTo(new[] { "added", far }), "the new row and the changed row are reachable");
        Assert.That(answer.Select(i => i.Id), Does.Not.Contain(best[0]), "the row that turned away is scored as it is now");
        Assert.That(answer, Is.EqualTo(Ranking.ForUsers(next, [new RankRequest(user, K, ExcludeSeen: true)])[0]));
    }

    [Test]
    public void ItemsOfAnotherLineage_OrMostlyChanged_AreRankedExactly()
    {
        var random = new Random(16);
        var model = Gaussian(random, items: 1_000, dimensions: 16);
        using var search = Indexed(model, extraCandidates: 0);
        var chain = model.Chains[0];

        // A restore (or promotion) builds a table of its own: the index says nothing about its rows.
        var restored = ItemTable.From(new EmbeddingRows(16, chain.Items.Ids, chain.Items.Vectors, chain.Items.Biases));
        Assert.That(search.Search.Acquire(ServingModel.Build("m", "v1", 2, [chain with { Items = restored }], "v1", 1000)), Is.Null);

        // A delta that rewrites more than a quarter of the rows.
        var ids = chain.Items.Ids.Take(300).ToArray();
        var rewritten = chain.Items.With(new EmbeddingRows(16, ids, [.. ids.SelectMany(_ => Gaussian(random, 16))], new float[ids.Length]));
        Assert.That(search.Search.Acquire(ServingModel.Build("m", "v1", 3, [chain with { Items = rewritten }], "v1", 1000)), Is.Null);
    }

    [Test]
    public void ASecondTableDerivedFromOneRevision_StartsALineageOfItsOwn()
    {
        var table = ItemTable.From(new EmbeddingRows(2, ["a", "b"], [1f, 0f, 0f, 1f], [0f, 0f]));
        var first = table.With(new EmbeddingRows(2, ["a"], [2f, 0f], [0f]));
        var second = table.With(new EmbeddingRows(2, ["b"], [0f, 2f], [0f]));

        Assert.That(first.Lineage, Is.SameAs(table.Lineage));
        Assert.That(first.Revision, Is.EqualTo(1));
        Assert.That(first.RowRevisions, Is.EqualTo(new long[] { 1, 0 }));
        Assert.That(second.Lineage, Is.Not.SameAs(table.Lineage), "revision 1 already names the first table's content");
    }

    [Test]
    public void ARetiredIndex_ServesTheSearchesHoldingALease_AndThenRefusesNewOnes()
    {
        var model = Gaussian(new Random(17), items: 500, dimensions: 8);
        var index = ApproximateIndex.Build(model, _settings, CancellationToken.None)!;
        var user = model.Chains[0].Users["user0"];

        Assert.That(index.TryAcquire(), Is.True);
        index.Retire();
        var rows = new List<int>();
        index.Search(user.Vector, 10, rows);
        Assert.That(rows, Has.Count.EqualTo(10), "the lease keeps the native index alive");
        index.Release();

        Assert.That(index.TryAcquire(), Is.False, "freed: later requests rank exactly");
    }

    [Test]
    public void ConcurrentSearches_GiveTheSameAnswersAsOneAtATime()
    {
        var model = Gaussian(new Random(18), items: 2_000, dimensions: 16);
        using var search = Indexed(model, extraCandidates: 10);
        var requests = model.Chains[0].Users.Values.Select(u => new RankRequest(u, K, ExcludeSeen: true)).ToArray();
        var serial = requests.Select(r => Ranking.ForUsers(model, [r], approximate: search.Search)[0]).ToArray();

        var parallel = new RecommendedItem[requests.Length][];
        Parallel.For(0, requests.Length * 4, new ParallelOptions { MaxDegreeOfParallelism = 8 },
            i => parallel[i % requests.Length] = Ranking.ForUsers(model, [requests[i % requests.Length]], approximate: search.Search)[0]);

        Assert.That(parallel, Is.EqualTo(serial));
    }

    [Test]
    public void ItemsWithANonFiniteValue_GetNoIndex()
    {
        var random = new Random(19);
        var model = Model(random, 300, 8, row => row == 7 ? [float.NaN, .. new float[7]] : Gaussian(random, 8));

        Assert.That(ApproximateIndex.Build(model, _settings, CancellationToken.None), Is.Null);
    }

    private static double MeanRecall(ServingModel model, ApproximateSearch search)
    {
        var recalls = model.Chains[0].Users.Values.Select(user =>
        {
            var request = new RankRequest(user, K, ExcludeSeen: true);
            var exact = Ranking.ForUsers(model, [request])[0].Select(i => i.Id).ToHashSet();
            var approximate = Ranking.ForUsers(model, [request], approximate: search)[0];
            return (double)approximate.Count(i => exact.Contains(i.Id)) / exact.Count;
        }).ToArray();
        return recalls.Average();
    }

    private static RecommendedItem[] Exact(ServingModel model, UserEntry user, int k, bool excludeSeen) =>
        Ranking.ForUsers(model, [new RankRequest(user, k, excludeSeen)], prefilter: false)[0];

    private static IndexedModel Indexed(ServingModel model, int extraCandidates, int minItems = 1)
    {
        var metrics = new StreamRec.Reader.Observability.ReaderMetrics();
        var search = new ApproximateSearch(minItems, extraCandidates, metrics);
        search.Publish(ApproximateIndex.Build(model, _settings, CancellationToken.None));
        return new IndexedModel(search, metrics);
    }

    /// <summary>An isgd model (blend 0.3) learned from 60,000 events of the synthetic clickstream: 8 taste clusters, Zipf popularity.</summary>
    private static ServingModel Trained()
    {
        const int dimensions = 32;
        var learner = (FactorLearner)LearnerFactory.Create(new LearnerOptions { Learner = "isgd", Dimensions = dimensions, Seed = 3, TrendingBlendWeight = 0.3f });
        foreach (var interaction in new SyntheticClickstream(new SyntheticClickstreamOptions(Users: 600, Items: 3_000, Events: 60_000, Seed: 3)))
        {
            learner.Learn(interaction);
        }

        var checkpoint = ReaderModels.Capture(learner, "m", "v1", partitions: 1);
        var partition = checkpoint.Users[0];
        var users = Enumerable.Range(0, partition.Rows.Count).ToImmutableDictionary(
            row => partition.Rows.Ids[row],
            row => new UserEntry(partition.Rows.Vector(row).ToArray(), 0f, partition.SeenItems![partition.Rows.Ids[row]]));
        var chain = new ChainContent("v1", 1, 0, 1, 0, "isgd", checkpoint.LearnerOptions, ItemTable.From(checkpoint.Items), TrendingTable.From(checkpoint.Trending), users);
        return ServingModel.Build("m", "v1", 1, [chain], "v1", 1000);
    }

    private static ServingModel Gaussian(Random random, int items, int dimensions) => Model(random, items, dimensions, _ => Gaussian(random, dimensions));

    private static float[] Gaussian(Random random, int dimensions) =>
        [.. Enumerable.Range(0, dimensions).Select(_ => (float)(Math.Sqrt(-2 * Math.Log(1 - random.NextDouble())) * Math.Cos(2 * Math.PI * random.NextDouble())) / MathF.Sqrt(dimensions))];

    /// <summary>A one-chain model (isgd, trending blend 0.3) of the given rows and 100 Gaussian users with 20 seen items each.</summary>
    private static ServingModel Model(Random random, int items, int dimensions, Func<int, float[]> row, Func<int, float>? bias = null, Func<int, float>? trending = null)
    {
        var ids = Enumerable.Range(0, items).Select(i => $"item{i}").ToArray();
        var vectors = Enumerable.Range(0, items).SelectMany(row).ToArray();
        var table = ItemTable.From(new EmbeddingRows(dimensions, ids, vectors, [.. Enumerable.Range(0, items).Select(i => bias?.Invoke(i) ?? (float)random.NextDouble() * 0.1f)]));
        var trend = TrendingTable.From(new TrendingState(1_790_000_000_000, [.. Enumerable.Range(0, items).Select(i => new ScoredId(ids[i], trending?.Invoke(i) ?? (float)(random.NextDouble() * 5)))]));
        var users = Enumerable.Range(0, 100).ToImmutableDictionary(
            u => $"user{u}",
            _ => new UserEntry(Gaussian(random, dimensions), 0f, [.. Enumerable.Range(0, 20).Select(_ => ids[random.Next(items)])]));
        var chain = new ChainContent("v1", 1, 0, 1, 0, "isgd", new Dictionary<string, string> { [ServingModel.TrendingBlendOption] = "0.3" }, table, trend, users);
        return ServingModel.Build("m", "v1", 1, [chain], "v1", 1000);
    }

    /// <summary>An approximate search with one published index; disposing retires the index.</summary>
    private sealed record IndexedModel(ApproximateSearch Search, StreamRec.Reader.Observability.ReaderMetrics Metrics) : IDisposable
    {
        public void Dispose() => Search.Publish(null);
    }
}
