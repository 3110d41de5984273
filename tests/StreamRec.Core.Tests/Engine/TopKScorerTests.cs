using System.Numerics.Tensors;
using StreamRec.Core.Engine;

namespace StreamRec.Core.Tests.Engine;

public sealed class TopKScorerTests
{
    [TestCase(1)]
    [TestCase(10)]
    [TestCase(300)]
    [TestCase(1500)]
    public void TopKEqualsBruteForceSortByScoreThenRow(int k)
    {
        EmbeddingTable items = RandomItems(count: 1000, dimensions: 24, withBias: true);
        float[] query = RandomVector(24, seed: 5);

        ScoredRow[] actual = Run(new TopKScorer(), query, items, k, excluded: []);

        ScoredRow[] expected = BruteForce(query, items, [], k);
        Assert.That(actual, Is.EqualTo(expected).AsCollection);
    }

    [Test]
    public void ExcludedRowsAreNeverReturned()
    {
        EmbeddingTable items = RandomItems(count: 500, dimensions: 8, withBias: false);
        float[] query = RandomVector(8, seed: 9);
        int[] best = BruteForce(query, items, [], 5).Select(s => s.Row).ToArray();

        ScoredRow[] actual = Run(new TopKScorer(), query, items, 10, excluded: best);

        Assert.Multiple(() =>
        {
            Assert.That(actual.Select(s => s.Row), Has.No.AnyOf(best));
            Assert.That(actual, Is.EqualTo(BruteForce(query, items, best, 10)).AsCollection);
        });
    }

    [Test]
    public void EqualScoresRankTheLowerRowFirst()
    {
        var items = new EmbeddingTable(2, 100, 0.1f, seed: 1);
        for (int i = 0; i < 6; i++)
        {
            items.WriteRow($"item-{i}", i is 1 or 3 or 4 ? [1f, 0f] : [0f, 1f], 0f);
        }

        ScoredRow[] actual = Run(new TopKScorer(), [1f, 0f], items, 4, excluded: []);

        Assert.That(actual.Select(s => s.Row), Is.EqualTo(new[] { 1, 3, 4, 0 }));
    }

    [Test]
    public void ReusedScorerGivesTheSameAnswerAndDoesNotAllocate()
    {
        EmbeddingTable items = RandomItems(count: 2000, dimensions: 16, withBias: true);
        float[] query = RandomVector(16, seed: 3);
        var scorer = new TopKScorer();
        var destination = new ScoredRow[10];
        int[] excluded = [1, 2, 3];
        scorer.TopK(query, items, true, [], 0f, excluded, destination);
        ScoredRow[] first = [.. destination];

        var allocated = AllocationProbe.BytesPerPass(() => scorer.TopK(query, items, true, [], 0f, excluded, destination));

        Assert.That(allocated, Has.Some.Zero, string.Join(", ", allocated));
        Assert.That(destination, Is.EqualTo(first));
    }

    [Test]
    public void PriorIsAddedWithItsWeight()
    {
        var items = new EmbeddingTable(1, 10, 0f, seed: 1);
        items.WriteRow("a", [1f], 0f);
        items.WriteRow("b", [0.5f], 0f);
        var destination = new ScoredRow[2];

        new TopKScorer().TopK([1f], items, false, [0f, 1f], 2f, [], destination);

        Assert.That(destination, Is.EqualTo(new[] { new ScoredRow(1, 2.5f), new ScoredRow(0, 1f) }));
    }

    [Test]
    public void CosineRanksByAngleNotLength()
    {
        var items = new EmbeddingTable(2, 10, 0f, seed: 1);
        items.WriteRow("long-but-off", [10f, 10f], 0f);
        items.WriteRow("short-aligned", [0.1f, 0f], 0f);
        var destination = new ScoredRow[2];

        new TopKScorer().TopKCosine([1f, 0f], items, [], destination);

        Assert.Multiple(() =>
        {
            Assert.That(destination[0].Row, Is.EqualTo(1));
            Assert.That(destination[0].Score, Is.EqualTo(1f).Within(1e-6f));
            Assert.That(destination[1].Score, Is.EqualTo(MathF.Sqrt(0.5f)).Within(1e-6f));
        });
    }

    [Test]
    public void FewerRowsThanKReturnsAllRows()
    {
        EmbeddingTable items = RandomItems(count: 3, dimensions: 4, withBias: false);
        Assert.That(Run(new TopKScorer(), RandomVector(4, 1), items, 10, []), Has.Length.EqualTo(3));
    }

    private static ScoredRow[] Run(TopKScorer scorer, float[] query, EmbeddingTable items, int k, int[] excluded)
    {
        var destination = new ScoredRow[k];
        int written = scorer.TopK(query, items, includeBias: true, [], 0f, excluded, destination);
        return destination[..written];
    }

    private static ScoredRow[] BruteForce(float[] query, EmbeddingTable items, int[] excluded, int k) =>
        Enumerable.Range(0, items.Count)
            .Where(row => !excluded.Contains(row))
            .Select(row => new ScoredRow(row, TensorPrimitives.Dot(query, items.ReadRow(row)) + items.ReadBias(row)))
            .OrderByDescending(s => s.Score)
            .ThenBy(s => s.Row)
            .Take(k)
            .ToArray();

    private static EmbeddingTable RandomItems(int count, int dimensions, bool withBias)
    {
        var table = new EmbeddingTable(dimensions, count, 1f, seed: 2, hasBias: withBias);
        var random = new SeededRandom(4);
        for (int i = 0; i < count; i++)
        {
            int row = table.GetOrAddRow($"item-{i}").Row;
            // Coarse values make exact ties common, exercising the tie rule.
            float[] vector = table.ReadRow(row).ToArray().Select(v => MathF.Round(v)).ToArray();
            table.WriteRow($"item-{i}", vector, withBias ? random.NextInt(3) : 0f);
        }

        return table;
    }

    private static float[] RandomVector(int dimensions, ulong seed)
    {
        var random = new SeededRandom(seed);
        return Enumerable.Range(0, dimensions).Select(_ => MathF.Round(random.NextGaussian())).ToArray();
    }
}
