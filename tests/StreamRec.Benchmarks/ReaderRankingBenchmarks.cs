using System.Collections.Immutable;
using BenchmarkDotNet.Attributes;
using StreamRec.Reader.Serving;
using StreamRec.Redis.Checkpoints;

namespace StreamRec.Benchmarks;

/// <summary>
/// The reader's top-10 of one user over 100k items x 64 dims (biases, trending blend 0.3, 20 seen items
/// left out), as the load harness seeds it: the float scan of every row against the exact int8-prefiltered path.
/// </summary>
[MemoryDiagnoser]
[MedianColumn]
[MinColumn]
public class ReaderRankingBenchmarks
{
    private const int ItemCount = 100_000;
    private const int Dimensions = 64;
    private const int UserCount = 256;

    private ServingModel _model = null!;
    private RankRequest[] _requests = null!;
    private int _next;

    [GlobalSetup]
    public void Setup()
    {
        var random = new Random(42);
        float[] Vectors(int rows) => [.. Enumerable.Range(0, rows * Dimensions).Select(_ => (float)((random.NextDouble() * 2) - 1) / MathF.Sqrt(Dimensions))];
        var itemIds = Enumerable.Range(0, ItemCount).Select(i => $"item{i}").ToArray();
        var items = ItemTable.From(new EmbeddingRows(Dimensions, itemIds, Vectors(ItemCount), [.. itemIds.Select(_ => (float)random.NextDouble() * 0.1f)]));
        var trending = TrendingTable.From(new TrendingState(1_790_000_000_000, [.. itemIds.Select(id => new ScoredId(id, (float)(random.NextDouble() * 10)))]));
        var userVectors = Vectors(UserCount);
        var users = Enumerable.Range(0, UserCount).ToImmutableDictionary(
            u => $"user{u}",
            u => new UserEntry(userVectors[(u * Dimensions)..((u + 1) * Dimensions)], 0f, [.. Enumerable.Range(0, 20).Select(_ => itemIds[random.Next(ItemCount)])]));
        var chain = new ChainContent("bench", 1, 0, 1, 0, "isgd", new Dictionary<string, string> { [ServingModel.TrendingBlendOption] = "0.3" }, items, trending, users);
        _model = ServingModel.Build("bench", "bench", 1, [chain], "bench", 100);
        _requests = [.. users.Values.Select(user => new RankRequest(user, 10, ExcludeSeen: true))];
    }

    [Benchmark(Baseline = true, Description = "float scan of every row")]
    public int Scan() => Ranking.ForUsers(_model, _requests.AsSpan(Next(), 1), prefilter: false)[0].Length;

    [Benchmark(Description = "int8 first pass, float re-score")]
    public int Prefiltered() => Ranking.ForUsers(_model, _requests.AsSpan(Next(), 1))[0].Length;

    private int Next() => _next = (_next + 1) % UserCount;
}
