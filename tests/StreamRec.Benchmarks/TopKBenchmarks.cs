using System.Numerics.Tensors;
using BenchmarkDotNet.Attributes;
using StreamRec.Core.Engine;

namespace StreamRec.Benchmarks;

/// <summary>
/// Exact top-10 over 100k items x 64 dims against the floor it cannot beat: a bare dot-product scan
/// over the same matrix (the baseline, so the ratio column is the overhead of selection and exclusion).
/// </summary>
[MemoryDiagnoser]
[MedianColumn]
[MinColumn]
public class TopKBenchmarks
{
    private const int ItemCount = 100_000;
    private const int Dimensions = 64;
    private const int K = 10;

    private readonly TopKScorer _scorer = new();
    private readonly ScoredRow[] _destination = new ScoredRow[K];
    private readonly int[] _excluded = new int[50];
    private EmbeddingTable _items = null!;
    private float[] _query = null!;

    [GlobalSetup]
    public void Setup()
    {
        _items = new EmbeddingTable(Dimensions, ItemCount, 0.1f, seed: 1, hasBias: true, initialRows: ItemCount);
        for (int i = 0; i < ItemCount; i++)
        {
            _items.GetOrAddRow($"item-{i}");
        }

        var random = new SeededRandom(2);
        _query = new float[Dimensions];
        for (int i = 0; i < Dimensions; i++)
        {
            _query[i] = random.NextGaussian();
        }

        for (int i = 0; i < _excluded.Length; i++)
        {
            _excluded[i] = random.NextInt(ItemCount);
        }
    }

    [Benchmark(Baseline = true, Description = "bare dot-product scan")]
    public float DotScan()
    {
        ReadOnlySpan<float> vectors = _items.AllVectors;
        int stride = _items.Stride;
        float sum = 0f;
        for (int row = 0; row < ItemCount; row++)
        {
            sum += TensorPrimitives.Dot(_query, vectors.Slice(row * stride, Dimensions));
        }

        return sum;
    }

    [Benchmark(Description = "exact top-10, bias, 50 excluded")]
    public int TopK() => _scorer.TopK(_query, _items, includeBias: true, [], 0f, _excluded, _destination);
}
