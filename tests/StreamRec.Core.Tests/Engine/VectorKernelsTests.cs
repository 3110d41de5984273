using StreamRec.Core.Engine;

namespace StreamRec.Core.Tests.Engine;

/// <summary>
/// The fused kernels against plain double-precision loops, at lengths that exercise the 512-bit,
/// 256-bit and scalar parts alone and together.
/// </summary>
public sealed class VectorKernelsTests
{
    private static readonly int[] Lengths = [1, 5, 8, 13, 16, 24, 31, 32, 64, 72, 100];

    [TestCaseSource(nameof(Lengths))]
    public void DotMatchesAPlainLoop(int length)
    {
        float[] x = RandomVector(length, 1);
        float[] y = RandomVector(length, 2);
        double expected = Enumerable.Range(0, length).Sum(k => (double)x[k] * y[k]);

        Assert.That(VectorKernels.Dot(x, y), Is.EqualTo(expected).Within(1e-5 * length));
    }

    [TestCaseSource(nameof(Lengths))]
    public void ScaledSumWritesTheSumAndReturnsItsSquares(int length)
    {
        float[] x = RandomVector(length, 3);
        float[] y = RandomVector(length, 4);
        var destination = new float[length];

        float squares = VectorKernels.ScaledSum(destination, 0.3f, x, -1.7f, y);

        double[] expected = [.. Enumerable.Range(0, length).Select(k => (0.3 * x[k]) - (1.7 * y[k]))];
        Assert.Multiple(() =>
        {
            Assert.That(destination, Is.EqualTo(expected).Within(1e-5));
            Assert.That(squares, Is.EqualTo(expected.Sum(v => v * v)).Within(1e-4 * length));
        });
    }

    [Test]
    public void ScaledSumLeavesOutTermsWithZeroCoefficients()
    {
        float[] infinite = [float.PositiveInfinity, float.NaN, 1f, 2f, 3f, 4f, 5f, 6f, 7f];
        float[] finite = [1f, 2f, 3f, 4f, 5f, 6f, 7f, 8f, 9f];
        var destination = new float[infinite.Length];

        float squares = VectorKernels.ScaledSum(destination, 0f, infinite, 2f, finite);

        Assert.Multiple(() =>
        {
            Assert.That(destination, Is.EqualTo(finite.Select(v => 2f * v)));
            Assert.That(squares, Is.EqualTo(finite.Sum(v => 4f * v * v)));
            Assert.That(VectorKernels.ScaledSum(destination, 0f, infinite, 0f, infinite), Is.Zero);
            Assert.That(destination, Is.All.Zero);
        });
    }

    [TestCaseSource(nameof(Lengths))]
    public void WeightedRowSumAddsEveryRowOnce(int length)
    {
        const int stride = 104;
        float[] x = RandomVector(length, 5);
        float[] rows = RandomVector(stride * 6, 6);
        int[] offsets = [2 * stride, 5 * stride, 0, 2 * stride];
        float[] weights = [0.5f, -1.25f, 2f, 0.75f];
        var destination = new float[length];

        float squares = VectorKernels.WeightedRowSum(destination, 0.01f, x, rows, offsets, weights);

        double[] expected = [.. Enumerable.Range(0, length).Select(k => (0.01 * x[k]) + Enumerable.Range(0, offsets.Length).Sum(r => (double)weights[r] * rows[offsets[r] + k]))];
        Assert.Multiple(() =>
        {
            Assert.That(destination, Is.EqualTo(expected).Within(1e-5));
            Assert.That(squares, Is.EqualTo(expected.Sum(v => v * v)).Within(1e-4 * length));
        });
    }

    [Test]
    public void WeightedRowSumRejectsARowPastTheEnd()
    {
        var destination = new float[8];
        Assert.That(() => VectorKernels.WeightedRowSum(destination, 1f, new float[8], new float[15], [8], [1f]), Throws.ArgumentException);
    }

    [TestCaseSource(nameof(Lengths))]
    public void AddScaledUpdatesInPlace(int length)
    {
        float[] target = RandomVector(length, 7);
        float[] before = [.. target];
        float[] x = RandomVector(length, 8);

        VectorKernels.AddScaled(target, -0.2f, x);

        Assert.That(target, Is.EqualTo(Enumerable.Range(0, length).Select(k => before[k] - (0.2 * x[k]))).Within(1e-6));
    }

    private static float[] RandomVector(int length, int seed)
    {
        var random = new Random(seed);
        return [.. Enumerable.Range(0, length).Select(_ => (float)((random.NextDouble() * 2) - 1))];
    }
}
