using StreamRec.Core.Engine;

namespace StreamRec.Core.Learners;

/// <summary>
/// Gradients computed but not yet applied: one event's in per-event mode, a whole mini-batch's in
/// batch mode. Preallocated for its capacity, so adding entries never allocates.
/// </summary>
/// <remarks>
/// Every update reads the parameters as they were before the event (simultaneous update), so the
/// user's gradient, which needs the item vectors before their step, must be held somewhere until
/// the items are stepped; this buffer is that place. Each entry is written once, in one fused pass
/// that also sums its squares for AdaGrad (<see cref="VectorKernels"/>), and read once when applied.
/// </remarks>
internal sealed class GradientBuffer
{
    private readonly int _dimensions;
    private readonly EmbeddingTable?[] _tables;
    private readonly int[] _rows;
    private readonly float[] _biasGradients;
    private readonly float[] _squaredNorms;
    private readonly float[] _vectorGradients;

    public GradientBuffer(int dimensions, int capacity)
    {
        _dimensions = dimensions;
        _tables = new EmbeddingTable?[capacity];
        _rows = new int[capacity];
        _biasGradients = new float[capacity];
        _squaredNorms = new float[capacity];
        _vectorGradients = new float[checked(capacity * dimensions)];
    }

    public int Count { get; private set; }

    /// <summary>Adds an entry and returns its index; its vector must then be set with one of the Set methods (it holds an earlier entry's values until then), and its <see cref="Bias"/> if any.</summary>
    public int Add(EmbeddingTable table, int row)
    {
        int index = Count++;
        _tables[index] = table;
        _rows[index] = row;
        _biasGradients[index] = 0f;
        _squaredNorms[index] = 0f;
        return index;
    }

    public ReadOnlySpan<float> Vector(int index) => _vectorGradients.AsSpan(index * _dimensions, _dimensions);

    /// <summary>Sets an entry's vector gradient to <c>a·x + b·y</c> (for example <c>l2·item + g·user</c>).</summary>
    public void SetScaledSum(int index, float a, ReadOnlySpan<float> x, float b, ReadOnlySpan<float> y) =>
        _squaredNorms[index] = VectorKernels.ScaledSum(WritableVector(index), a, x, b, y);

    /// <summary>
    /// Sets an entry's vector gradient to <c>a·x + Σ_r weights[r] · rows[offsets[r] ..]</c> (for example
    /// <c>l2·user + Σ g_r · item_r</c>, with the offsets of item rows in <see cref="EmbeddingTable.AllVectors"/>).
    /// </summary>
    public void SetWeightedRowSum(int index, float a, ReadOnlySpan<float> x, ReadOnlySpan<float> rows, ReadOnlySpan<int> offsets, ReadOnlySpan<float> weights) =>
        _squaredNorms[index] = VectorKernels.WeightedRowSum(WritableVector(index), a, x, rows, offsets, weights);

    public ref float Bias(int index) => ref _biasGradients[index];

    /// <summary>Drops the entries added from <paramref name="count"/> on (an event abandoned half-way).</summary>
    public void Truncate(int count) => Count = count;

    /// <summary>Applies every entry with the given rates, then empties the buffer.</summary>
    public void ApplyAndClear(float rate, float biasRate)
    {
        for (int i = 0; i < Count; i++)
        {
            _tables[i]!.ApplyGradient(_rows[i], Vector(i), _squaredNorms[i], _biasGradients[i], rate, biasRate);
            _tables[i] = null;
        }

        Count = 0;
    }

    private Span<float> WritableVector(int index) => _vectorGradients.AsSpan(index * _dimensions, _dimensions);
}
