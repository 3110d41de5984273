using System.Collections.Immutable;
using System.Diagnostics;
using System.Globalization;
using StreamRec.Client;
using StreamRec.Core.Data;
using StreamRec.Core.Learners;
using StreamRec.Reader.Serving;
using StreamRec.Redis.Checkpoints;

namespace StreamRec.Benchmarks;

/// <summary>
/// Recall@k and per-request latency of the reader's approximate top-k against its exact top-k in the same
/// run, for a model of random Gaussian vectors (the worst case: no structure for the graph to use) or one
/// trained on the synthetic clickstream, plus the index build time. Not a BenchmarkDotNet benchmark:
/// recall and the latency distribution (p99) are what it reports.
/// <code>dotnet run -c Release --project tests/StreamRec.Benchmarks -- approximate --items 100000 --dims 64 --model gaussian</code>
/// </summary>
internal static class ApproximateRecall
{
    public static void Run(string[] args)
    {
        var items = Option(args, "--items", 100_000);
        var dimensions = Option(args, "--dims", 64);
        var queries = Option(args, "--queries", 1_000);
        var k = Option(args, "--k", 10);
        var connectivity = Option(args, "--connectivity", 16);
        var expansionAdd = Option(args, "--expansion-add", 128);
        var expansionSearch = Option(args, "--expansion-search", 64);
        var kind = args.SkipWhile(a => a != "--model").Skip(1).FirstOrDefault() ?? "gaussian";
        var extras = (args.SkipWhile(a => a != "--extra").Skip(1).FirstOrDefault() ?? "0,50,200").Split(',').Select(int.Parse).ToArray();

        var clock = Stopwatch.StartNew();
        var model = kind == "trained" ? Trained(items, dimensions) : Gaussian(items, dimensions);
        var users = model.Chains[0].Users.Values.Take(queries).ToArray();
        Console.WriteLine($"model {kind}: {model.Items.Count:N0} items x {dimensions}, {model.UserCount:N0} users, made in {clock.Elapsed.TotalSeconds:0.0} s; {users.Length} queries, k {k}, 20 seen items left out");

        var built = ApproximateIndex.Build(model, new ApproximateIndexSettings(connectivity, expansionAdd, expansionSearch), CancellationToken.None)!;
        Console.WriteLine($"index build (connectivity {connectivity}, expansion add {expansionAdd}, search {expansionSearch}, one thread): {built.BuildTime.TotalSeconds:0.00} s");

        var requests = users.Select(u => new RankRequest(u, k, ExcludeSeen: true)).ToArray();
        // Warm both paths (JIT, per-thread buffers).
        foreach (var request in requests.Take(20))
        {
            Ranking.ForUsers(model, [request]);
        }

        var exact = new RecommendedItem[requests.Length][];
        var exactTimes = Time(requests, r => Ranking.ForUsers(model, [r])[0], exact);
        Console.WriteLine($"exact (int8 pass + float re-score): p50 {Percentile(exactTimes, 0.5):0.000} ms, p99 {Percentile(exactTimes, 0.99):0.000} ms");
        foreach (var extra in extras)
        {
            var search = new ApproximateSearch(1, extra);
            built.TryAcquire();
            search.Publish(built);
            foreach (var request in requests.Take(20))
            {
                Ranking.ForUsers(model, [request], approximate: search);
            }

            var approximate = new RecommendedItem[requests.Length][];
            var times = Time(requests, r => Ranking.ForUsers(model, [r], approximate: search)[0], approximate);
            var recalls = exact.Zip(approximate, (e, a) => e.Length == 0 ? 1.0 : (double)a.Select(i => i.Id).Intersect(e.Select(i => i.Id)).Count() / e.Length).ToArray();
            Console.WriteLine($"approximate, extra candidates {extra} (asks k + 20 + {extra}): recall@{k} mean {recalls.Average():0.0000}, min {recalls.Min():0.00}, " +
                $"exact answers {recalls.Count(r => r == 1.0) / (double)recalls.Length:P1}; p50 {Percentile(times, 0.5):0.000} ms, p99 {Percentile(times, 0.99):0.000} ms");
            search.Publish(null);
        }

        built.Retire();
    }

    private static double[] Time(RankRequest[] requests, Func<RankRequest, RecommendedItem[]> rank, RecommendedItem[][] answers)
    {
        var times = new double[requests.Length];
        for (var i = 0; i < requests.Length; i++)
        {
            var started = Stopwatch.GetTimestamp();
            answers[i] = rank(requests[i]);
            times[i] = Stopwatch.GetElapsedTime(started).TotalMilliseconds;
        }

        return times;
    }

    private static double Percentile(double[] values, double p)
    {
        var sorted = values.Order().ToArray();
        return sorted[Math.Min(sorted.Length - 1, (int)(p * sorted.Length))];
    }

    private static int Option(string[] args, string name, int fallback)
    {
        var at = Array.IndexOf(args, name);
        return at >= 0 && at + 1 < args.Length ? int.Parse(args[at + 1], CultureInfo.InvariantCulture) : fallback;
    }

    /// <summary>Gaussian item and user vectors, small random biases, trending for every item (blend 0.3), 20 seen items per user.</summary>
    private static ServingModel Gaussian(int itemCount, int dimensions)
    {
        var random = new Random(42);
        float[] Vectors(int rows)
        {
            var values = new float[rows * dimensions];
            for (var i = 0; i < values.Length; i++)
            {
                values[i] = (float)(Math.Sqrt(-2 * Math.Log(1 - random.NextDouble())) * Math.Cos(2 * Math.PI * random.NextDouble()) / Math.Sqrt(dimensions));
            }

            return values;
        }

        var ids = Enumerable.Range(0, itemCount).Select(i => $"item{i}").ToArray();
        var table = ItemTable.From(new EmbeddingRows(dimensions, ids, Vectors(itemCount), [.. ids.Select(_ => (float)random.NextDouble() * 0.1f)]));
        var trending = TrendingTable.From(new TrendingState(1_790_000_000_000, [.. ids.Select(id => new ScoredId(id, (float)(random.NextDouble() * 10)))]));
        const int userCount = 2_000;
        var userVectors = Vectors(userCount);
        var users = Enumerable.Range(0, userCount).ToImmutableDictionary(
            u => $"user{u}",
            u => new UserEntry(userVectors[(u * dimensions)..((u + 1) * dimensions)], 0f, [.. Enumerable.Range(0, 20).Select(_ => ids[random.Next(itemCount)])]));
        var chain = new ChainContent("bench", 1, 0, 1, 0, "isgd", new Dictionary<string, string> { [ServingModel.TrendingBlendOption] = "0.3" }, table, trending, users);
        return ServingModel.Build("bench", "bench", 1, [chain], "bench", 100);
    }

    /// <summary>An isgd model (blend 0.3) learned from the synthetic clickstream: 16 taste clusters, Zipf popularity, ten events per item.</summary>
    private static ServingModel Trained(int itemCount, int dimensions)
    {
        var learner = (FactorLearner)LearnerFactory.Create(new LearnerOptions
        {
            Learner = "isgd", Dimensions = dimensions, TrendingBlendWeight = 0.3f, MaxItems = Math.Max(itemCount, 1024), MaxUsers = 1_000_000,
        });
        var stream = new SyntheticClickstream(new SyntheticClickstreamOptions(Users: Math.Max(2_000, itemCount / 10), Items: itemCount, Events: itemCount * 10L, Clusters: 16, ZipfExponent: 0.6));
        foreach (var interaction in stream)
        {
            learner.Learn(interaction);
        }

        var rows = learner.Items.Count;
        var ids = new string[rows];
        var vectors = new float[rows * dimensions];
        var biases = new float[rows];
        var trending = new List<ScoredId>(rows);
        for (var row = 0; row < rows; row++)
        {
            ids[row] = learner.Items.Ids.IdAt(row);
            learner.Items.ReadRow(row).CopyTo(vectors.AsSpan(row * dimensions));
            biases[row] = learner.Items.ReadBias(row);
            trending.Add(new ScoredId(ids[row], (float)learner.Trending.ReadLogScore(row)));
        }

        var users = Enumerable.Range(0, learner.Users.Count).ToImmutableDictionary(
            row => learner.Users.Ids.IdAt(row),
            row => new UserEntry(learner.Users.ReadRow(row).ToArray(), 0f, [.. learner.SeenItemIds(row).TakeLast(20)]));
        var chain = new ChainContent("bench", 1, 0, 1, 0, "isgd", new Dictionary<string, string> { [ServingModel.TrendingBlendOption] = "0.3" },
            ItemTable.From(new EmbeddingRows(dimensions, ids, vectors, biases)), TrendingTable.From(new TrendingState(learner.Trending.OriginMs, trending)), users);
        return ServingModel.Build("bench", "bench", 1, [chain], "bench", 100);
    }
}
