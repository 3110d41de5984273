using System.Collections.Immutable;
using System.Runtime.Intrinsics.X86;
using StreamRec.Reader.Serving;
using StreamRec.Redis.Checkpoints;

namespace StreamRec.IntegrationTests.Reader;

/// <summary>
/// The reader's ranking in memory: the exact int8-prefiltered path must answer exactly what the float scan
/// of every row answers (same ids, same order, bit-identical scores), whatever the data.
/// </summary>
[TestFixture]
public sealed class RankingTests
{
    private const int UserCount = 60;

    [SetUp]
    public void RequireTheInt8Pass()
    {
        if (!QuantizedItems.IsSupported)
        {
            Assert.Ignore("This machine has neither AVX-512F nor AVX2 with FMA: the reader ranks by the float scan alone.");
        }
    }

    [Test]
    public void Prefiltered_AnswersEqualTheFloatScan_ForRandomModels()
    {
        var random = new Random(1);
        var model = Model(random, items: 4_000, dimensions: 32, row => Gaussian(random, 32, 1f));

        AssertPrefilteredEqualsScan(model, ks: [1, 10, 100]);
    }

    [Test]
    public void Prefiltered_KeepsTheScansTieOrder_WhenRowsRepeat()
    {
        var random = new Random(2);
        var distinct = Enumerable.Range(0, 8).Select(_ => Gaussian(random, 16, 1f)).ToArray();
        // 2,000 rows built from 8 vectors, with equal biases and trending: every score is shared by 250 rows.
        var model = Model(random, items: 2_000, dimensions: 16, row => distinct[row % 8], bias: _ => 0.05f, trending: _ => 1f);

        AssertPrefilteredEqualsScan(model, ks: [1, 10, 100, 300]);
    }

    [Test]
    public void Prefiltered_AnswersEqualTheFloatScan_ForRowsOfVeryDifferentMagnitudes()
    {
        var random = new Random(3);
        // 33 dimensions leaves one over after pairs; 1,001 rows leave a partial block; zero rows and rows from 1e-6 to 1e3.
        var model = Model(random, items: 1_001, dimensions: 33,
            row => row % 50 == 0 ? new float[33] : Gaussian(random, 33, MathF.Pow(10f, random.Next(-6, 4))));

        AssertPrefilteredEqualsScan(model, ks: [1, 10, 100]);
    }

    [Test]
    public void Prefiltered_AnswersEqualTheFloatScan_WhenSeenItemsAreTheBest()
    {
        var random = new Random(4);
        var model = Model(random, items: 3_000, dimensions: 24, row => Gaussian(random, 24, 1f));
        // Each user has seen exactly their 30 best items: the answer must come from below them.
        var users = model.Chains[0].Users.ToImmutableDictionary(
            user => user.Key,
            user => user.Value with { Seen = [.. Ranking.ForUsers(model, [new RankRequest(user.Value, 30, ExcludeSeen: false)], prefilter: false)[0].Select(i => i.Id)] });
        var withSeen = ServingModel.Build("m", "v1", 2, [model.Chains[0] with { Users = users }], "v1", 1000);

        AssertPrefilteredEqualsScan(withSeen, ks: [10, 100]);
    }

    [Test]
    public void AfterADelta_TheInt8CopyCoversReplacedAndAddedRows()
    {
        var random = new Random(5);
        var model = Model(random, items: 2_000, dimensions: 32, row => Gaussian(random, 32, 1f));
        var chain = model.Chains[0];
        // Replace 100 rows with much larger vectors (new scales) and add 37 rows.
        var ids = Enumerable.Range(0, 100).Select(i => $"item{i * 20}").Concat(Enumerable.Range(0, 37).Select(i => $"new{i}")).ToArray();
        var vectors = ids.SelectMany(_ => Gaussian(random, 32, 20f)).ToArray();
        var updated = chain with { Items = chain.Items.With(new EmbeddingRows(32, ids, vectors, [.. ids.Select(_ => (float)random.NextDouble())])) };
        var next = ServingModel.Build("m", "v1", 2, [updated], "v1", 1000, previous: model);

        Assert.That(next.Prior, Is.Not.SameAs(model.Prior), "items changed: the prior is rebuilt");
        Assert.That(next.Items.Quantized, Is.Not.Null);
        Assert.That(next.Items.Quantized!.Count, Is.EqualTo(2_037));
        AssertPrefilteredEqualsScan(next, ks: [10, 100]);
        var answers = Ranking.ForUsers(next, [new RankRequest(next.Chains[0].Users["user0"], 100, ExcludeSeen: false)])[0];
        Assert.That(answers.Count(i => i.Id.StartsWith("new", StringComparison.Ordinal)), Is.GreaterThan(0), "the added rows are ranked");
    }

    [Test]
    public void UsersOnlyChange_SharesWhatItemsAndTrendingDetermine()
    {
        var random = new Random(9);
        var model = Model(random, items: 1_000, dimensions: 16, row => Gaussian(random, 16, 1f));
        var chain = model.Chains[0];
        var users = chain.Users.SetItem("user0", chain.Users["user0"] with { Vector = Gaussian(random, 16, 1f) });

        var next = ServingModel.Build("m", "v1", 2, [chain with { Users = users }], "v1", 1000, previous: model);

        Assert.That(next.Prior, Is.SameAs(model.Prior));
        Assert.That(next.ApproximateOffsets, Is.SameAs(model.ApproximateOffsets));
        Assert.That(next.TopTrending, Is.SameAs(model.TopTrending));
        AssertPrefilteredEqualsScan(next, ks: [10]);
    }

    [Test]
    public void ItemsWithANonFiniteValue_HaveNoInt8Copy_AndAreStillRanked()
    {
        var random = new Random(6);
        var model = Model(random, items: 500, dimensions: 16, row => row == 77 ? [.. Enumerable.Repeat(float.NaN, 16)] : Gaussian(random, 16, 1f));

        Assert.That(model.Items.Quantized, Is.Null);
        AssertPrefilteredEqualsScan(model, ks: [10]);
        Assert.That(Ranking.ForUsers(model, [Request(model, "user0", 10, false)])[0], Has.Length.EqualTo(10));
    }

    [Test]
    public void UserWithANonFiniteValue_IsRankedByTheScan()
    {
        var random = new Random(7);
        var model = Model(random, items: 500, dimensions: 16, row => Gaussian(random, 16, 1f));
        var user = model.Chains[0].Users["user0"] with { Vector = [float.PositiveInfinity, .. new float[15]] };

        var prefiltered = Ranking.ForUsers(model, [new RankRequest(user, 10, false)])[0];
        var scanned = Ranking.ForUsers(model, [new RankRequest(user, 10, false)], prefilter: false)[0];

        Assert.That(prefiltered, Is.EqualTo(scanned));
    }

    [Test]
    public void Bounds_HoldForEveryRow_OnBothSimdPasses([Values] bool forceAvx2)
    {
        if (forceAvx2 && !(Avx2.IsSupported && Fma.IsSupported))
        {
            Assert.Ignore("No AVX2 with FMA on this machine.");
        }

        var random = new Random(8);
        var model = Model(random, items: 3_001, dimensions: 48, row => Gaussian(random, 48, MathF.Pow(10f, random.Next(-2, 3))));
        var quantized = model.Items.Quantized!;
        foreach (var (_, user) in model.Chains[0].Users.Take(10))
        {
            var l1 = user.Vector.Sum(MathF.Abs);
            var upper = new float[quantized.PaddedCount];
            var kthLower = quantized.Bound(user.Vector, model.ApproximateOffsets, 0.51f * l1, [], 10, upper, forceAvx2);
            var exact = Enumerable.Range(0, model.Items.Count).Select(row =>
                model.ApproximateOffsets[row] + model.Items.Vector(row).ToArray().Zip(user.Vector, (a, b) => (double)a * b).Sum()).ToArray();

            for (var row = 0; row < exact.Length; row++)
            {
                Assert.That(upper[row], Is.GreaterThanOrEqualTo(exact[row] - 1e-6), $"upper bound of row {row}");
            }

            Assert.That(kthLower, Is.LessThanOrEqualTo(exact.OrderDescending().ElementAt(9) + 1e-6), "the 10th lower bound is at most the 10th score");
            Assert.That(kthLower, Is.GreaterThan(exact.OrderDescending().ElementAt(9) - (0.02 * l1 * quantized.MaxScale * 127)), "and close to it");
        }
    }

    private static void AssertPrefilteredEqualsScan(ServingModel model, int[] ks)
    {
        foreach (var k in ks)
        {
            foreach (var excludeSeen in new[] { true, false })
            {
                foreach (var (id, user) in model.Chains[0].Users)
                {
                    var request = new RankRequest(user, k, excludeSeen);
                    var prefiltered = Ranking.ForUsers(model, [request])[0];
                    var scanned = Ranking.ForUsers(model, [request], prefilter: false)[0];
                    Assert.That(prefiltered.Select(i => i.Id), Is.EqualTo(scanned.Select(i => i.Id)), $"{id}, k {k}, exclude seen {excludeSeen}");
                    Assert.That(prefiltered.Select(i => BitConverter.SingleToInt32Bits(i.Score)), Is.EqualTo(scanned.Select(i => BitConverter.SingleToInt32Bits(i.Score))),
                        $"{id}, k {k}: scores bit for bit");
                }
            }
        }
    }

    private static RankRequest Request(ServingModel model, string user, int k, bool excludeSeen) => new(model.Chains[0].Users[user], k, excludeSeen);

    private static float[] Gaussian(Random random, int dimensions, float scale) =>
        [.. Enumerable.Range(0, dimensions).Select(_ => scale * (float)(Math.Sqrt(-2 * Math.Log(1 - random.NextDouble())) * Math.Cos(2 * Math.PI * random.NextDouble())) / MathF.Sqrt(dimensions))];

    /// <summary>A one-chain model (isgd, trending blend 0.3) of the given item rows and <see cref="UserCount"/> Gaussian users with 20 seen items each.</summary>
    private static ServingModel Model(Random random, int items, int dimensions, Func<int, float[]> row, Func<int, float>? bias = null, Func<int, float>? trending = null)
    {
        var ids = Enumerable.Range(0, items).Select(i => $"item{i}").ToArray();
        var vectors = Enumerable.Range(0, items).SelectMany(row).ToArray();
        var table = ItemTable.From(new EmbeddingRows(dimensions, ids, vectors, [.. Enumerable.Range(0, items).Select(i => bias?.Invoke(i) ?? (float)random.NextDouble() * 0.1f)]));
        var trend = TrendingTable.From(new TrendingState(1_790_000_000_000, [.. Enumerable.Range(0, items).Select(i => new ScoredId(ids[i], trending?.Invoke(i) ?? (float)(random.NextDouble() * 5)))]));
        var users = Enumerable.Range(0, UserCount).ToImmutableDictionary(
            u => $"user{u}",
            _ => new UserEntry(Gaussian(random, dimensions, 1f), 0f, [.. Enumerable.Range(0, 20).Select(_ => ids[random.Next(items)])]));
        var chain = new ChainContent("v1", 1, 0, 1, 0, "isgd", new Dictionary<string, string> { [ServingModel.TrendingBlendOption] = "0.3" }, table, trend, users);
        return ServingModel.Build("m", "v1", 1, [chain], "v1", 1000);
    }
}
