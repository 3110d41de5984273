using StreamRec.Core.Engine;

namespace StreamRec.Core.Tests.Engine;

public sealed class EmbeddingTableTests
{
    [Test]
    public void SameSeedGivesIdenticalRows()
    {
        float[] first = RowsOf(new EmbeddingTable(16, 100, 0.1f, seed: 7));
        float[] second = RowsOf(new EmbeddingTable(16, 100, 0.1f, seed: 7));
        Assert.That(second, Is.EqualTo(first).AsCollection);
    }

    [Test]
    public void DifferentSeedsGiveDifferentRows()
    {
        float[] first = RowsOf(new EmbeddingTable(16, 100, 0.1f, seed: 7));
        float[] second = RowsOf(new EmbeddingTable(16, 100, 0.1f, seed: 8));
        Assert.That(second, Is.Not.EqualTo(first).AsCollection);
    }

    [Test]
    public void NewRowsFollowNormalWithTheConfiguredSigma()
    {
        var table = new EmbeddingTable(64, 10_000, 0.5f, seed: 1);
        var values = new List<double>();
        for (int i = 0; i < 2000; i++)
        {
            int row = table.GetOrAddRow($"u{i}").Row;
            foreach (float v in table.ReadRow(row))
            {
                values.Add(v);
            }
        }

        double mean = values.Average();
        double std = Math.Sqrt(values.Sum(v => (v - mean) * (v - mean)) / values.Count);
        Assert.Multiple(() =>
        {
            Assert.That(mean, Is.EqualTo(0).Within(0.01));
            Assert.That(std, Is.EqualTo(0.5).Within(0.01));
        });
    }

    [Test]
    public void StrideIsPaddedToTheAlignment()
    {
        var table = new EmbeddingTable(10, 10, 0.1f, seed: 1);
        Assert.That(table.Stride, Is.EqualTo(16));
    }

    [Test]
    public void GrowingKeepsExistingRows()
    {
        var table = new EmbeddingTable(8, 1000, 0.1f, seed: 3, initialRows: 2);
        int row = table.GetOrAddRow("first").Row;
        float[] before = table.ReadRow(row).ToArray();
        for (int i = 0; i < 100; i++)
        {
            table.GetOrAddRow($"other-{i}");
        }

        Assert.That(table.ReadRow(row).ToArray(), Is.EqualTo(before).AsCollection);
    }

    [Test]
    public void WriteRowRestoresVectorAndBiasBitForBit()
    {
        var source = new EmbeddingTable(5, 10, 0.3f, seed: 11, hasBias: true);
        int sourceRow = source.GetOrAddRow("x").Row;
        source.ApplyGradient(sourceRow, [0.1f, -0.2f, 0.3f, 1e-7f, -5f], 0.123f, 0.037f, 0.011f);
        var restored = new EmbeddingTable(5, 10, 0.9f, seed: 99, hasBias: true);

        int row = restored.WriteRow("x", source.ReadRow(sourceRow), source.ReadBias(sourceRow));

        Assert.Multiple(() =>
        {
            Assert.That(Bits(restored.ReadRow(row)), Is.EqualTo(Bits(source.ReadRow(sourceRow))).AsCollection);
            Assert.That(BitConverter.SingleToInt32Bits(restored.ReadBias(row)), Is.EqualTo(BitConverter.SingleToInt32Bits(source.ReadBias(sourceRow))));
        });
    }

    [Test]
    public void RowsTouchedSinceListsOnlyRowsUpdatedAfterTheVersion()
    {
        var table = new EmbeddingTable(4, 10, 0.1f, seed: 1);
        table.GetOrAddRow("a");
        int b = table.GetOrAddRow("b").Row;
        long checkpointed = table.CurrentVersion;
        long next = table.AdvanceVersion();
        table.ApplyGradient(b, [1f, 1f, 1f, 1f], 0f, 0.1f, 0.1f);
        int c = table.GetOrAddRow("c").Row;

        Assert.Multiple(() =>
        {
            Assert.That(table.RowsTouchedSince(next), Is.EqualTo(new[] { b, c }));
            Assert.That(table.RowsTouchedSince(checkpointed), Has.Count.EqualTo(3));
        });
    }

    [Test]
    public void EvictedRowIsReinitialisedForTheNewId()
    {
        var table = new EmbeddingTable(8, 1, 0.1f, seed: 5, hasBias: true);
        int row = table.GetOrAddRow("a").Row;
        table.ApplyGradient(row, new float[8], -3f, 0.1f, 1f);
        float[] old = table.ReadRow(row).ToArray();

        IdLookup lookup = table.GetOrAddRow("b");

        Assert.Multiple(() =>
        {
            Assert.That(lookup.Row, Is.EqualTo(row));
            Assert.That(table.ReadRow(row).ToArray(), Is.Not.EqualTo(old).AsCollection);
            Assert.That(table.ReadBias(row), Is.Zero);
        });
    }

    [Test]
    public void AdaGradShrinksTheStepAsGradientsAccumulate()
    {
        var table = new EmbeddingTable(1, 1, 0f, seed: 1, hasAdaGrad: true);
        int row = table.GetOrAddRow("a").Row;
        table.ApplyGradient(row, [1f], 0f, 0.1f, 0.1f);
        float firstStep = -table.ReadRow(row)[0];
        table.ApplyGradient(row, [1f], 0f, 0.1f, 0.1f);
        float secondStep = -table.ReadRow(row)[0] - firstStep;

        Assert.Multiple(() =>
        {
            Assert.That(firstStep, Is.EqualTo(0.1f / MathF.Sqrt(1.1f)).Within(1e-6f));
            Assert.That(secondStep, Is.EqualTo(0.1f / MathF.Sqrt(2.1f)).Within(1e-6f));
        });
    }

    private static float[] RowsOf(EmbeddingTable table)
    {
        var all = new List<float>();
        for (int i = 0; i < 20; i++)
        {
            all.AddRange(table.ReadRow(table.GetOrAddRow($"id-{i}").Row).ToArray());
        }

        return [.. all];
    }

    private static int[] Bits(ReadOnlySpan<float> values)
    {
        var bits = new int[values.Length];
        for (int i = 0; i < values.Length; i++)
        {
            bits[i] = BitConverter.SingleToInt32Bits(values[i]);
        }

        return bits;
    }
}
