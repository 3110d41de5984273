using System.Numerics.Tensors;
using StreamRec.Core.Engine;

namespace StreamRec.Core.Learners;

/// <summary>
/// Gradients computed but not yet applied: one event's in per-event mode, a whole mini-batch's in
/// batch mode. Preallocated for its capacity, so adding entries never allocates.
/// </summary>
internal sealed class GradientBuffer
{
    private readonly int _dimensions;
    private readonly EmbeddingTable?[] _tables;
    private readonly int[] _rows;
    private readonly float[] _biasGradients;
    private readonly float[] _vectorGradients;

    public GradientBuffer(int dimensions, int capacity)
    {
        _dimensions = dimensions;
        _tables = new EmbeddingTable?[capacity];
        _rows = new int[capacity];
        _biasGradients = new float[capacity];
        _vectorGradients = new float[checked(capacity * dimensions)];
    }

    public int Count { get; private set; }

    /// <summary>Adds an entry and returns its index; fill <see cref="Vector"/> and <see cref="Bias"/>.</summary>
    public int Add(EmbeddingTable table, int row)
    {
        int index = Count++;
        _tables[index] = table;
        _rows[index] = row;
        _biasGradients[index] = 0f;
        return index;
    }

    public Span<float> Vector(int index) => _vectorGradients.AsSpan(index * _dimensions, _dimensions);

    /// <summary>Starts an entry's vector gradient at the L2 term <c>l2 x parameters</c> (skips the multiply when l2 is 0).</summary>
    public Span<float> StartWithL2(int index, ReadOnlySpan<float> parameters, float l2)
    {
        Span<float> gradient = Vector(index);
        if (l2 == 0f)
        {
            gradient.Clear();
        }
        else
        {
            TensorPrimitives.Multiply(parameters, l2, gradient);
        }

        return gradient;
    }

    public ref float Bias(int index) => ref _biasGradients[index];

    /// <summary>Drops the entries added from <paramref name="count"/> on (an event abandoned half-way).</summary>
    public void Truncate(int count) => Count = count;

    /// <summary>Applies every entry with the given rates, then empties the buffer.</summary>
    public void ApplyAndClear(float rate, float biasRate)
    {
        for (int i = 0; i < Count; i++)
        {
            _tables[i]!.ApplyGradient(_rows[i], Vector(i), _biasGradients[i], rate, biasRate);
            _tables[i] = null;
        }

        Count = 0;
    }
}
