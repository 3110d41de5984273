namespace StreamRec.Core.Learners;

/// <summary>
/// One event's loss gradients as an embedding learner states them: item terms (row, loss gradient
/// <c>c_t</c>, bias gradient) in the order the user's gradient sums them, and the user's bias gradient.
/// The user's vector gradient is <c>l2·u + Σ_t c_t·item_t</c>, each item's <c>l2·item_t + c_t·u</c>;
/// <see cref="FactorLearner"/> applies them in one fused pass or through the mini-batch buffer.
/// </summary>
internal sealed class FactorStep
{
    private readonly int[] _rows;
    private readonly int[] _offsets;
    private readonly float[] _coefficients;
    private readonly float[] _biasGradients;

    public FactorStep(int maxTerms)
    {
        _rows = new int[maxTerms];
        _offsets = new int[maxTerms];
        _coefficients = new float[maxTerms];
        _biasGradients = new float[maxTerms];
    }

    /// <summary>Item terms held.</summary>
    public int Count { get; private set; }

    /// <summary>The user's bias gradient (learners without user biases leave it 0).</summary>
    public float UserBiasGradient { get; set; }

    public ReadOnlySpan<int> Rows => _rows.AsSpan(0, Count);

    /// <summary>Each term's row start in the item table's vectors.</summary>
    public ReadOnlySpan<int> Offsets => _offsets.AsSpan(0, Count);

    public ReadOnlySpan<float> Coefficients => _coefficients.AsSpan(0, Count);

    public ReadOnlySpan<float> BiasGradients => _biasGradients.AsSpan(0, Count);

    /// <summary>True when a row appears in two terms (a negative drawn twice).</summary>
    public bool HasRepeatedRow
    {
        get
        {
            ReadOnlySpan<int> rows = Rows;
            for (int i = 1; i < rows.Length; i++)
            {
                if (rows[..i].Contains(rows[i]))
                {
                    return true;
                }
            }

            return false;
        }
    }

    public void Clear()
    {
        Count = 0;
        UserBiasGradient = 0f;
    }

    public void Add(int row, int stride, float coefficient, float biasGradient)
    {
        int index = Count++;
        _rows[index] = row;
        _offsets[index] = row * stride;
        _coefficients[index] = coefficient;
        _biasGradients[index] = biasGradient;
    }
}
