using System.Numerics.Tensors;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace StreamRec.Reader.Serving;

/// <summary>
/// An int8 copy of the item vectors for the first pass of exact ranking. Row <c>r</c> is stored as codes
/// <c>c[r,d] = round(x[r,d] / s[r])</c> with <c>s[r] = max_d |x[r,d]| / 127</c>, so <c>|x[r,d] - s[r]·c[r,d]| ≤ s[r]/2</c>
/// and the dot product with a query <c>q</c> is off by at most <c>s[r]/2 · ‖q‖₁</c>: a bound that lets
/// <see cref="Ranking"/> discard rows that cannot reach the top k and re-score the rest in float.
/// Rows are laid out in blocks of <see cref="BlockRows"/>, dimension-major inside a block (16 codes of
/// dimension 0, then 16 of dimension 1, ...), so one SIMD register holds one dimension of 16 rows and a block
/// is scored with one multiply-add per dimension and no horizontal sums. The pass reads a quarter of the
/// bytes of the float rows (6.4 MB instead of 25.6 MB for 100k × 64). Immutable; thread-safe for reads.
/// </summary>
internal sealed class QuantizedItems
{
    /// <summary>Rows per block: one 512-bit register of floats.</summary>
    public const int BlockRows = 16;

    /// <summary>Largest code magnitude; codes span [-127, 127] so negation never overflows.</summary>
    public const float CodeRange = 127f;

    /// <summary>
    /// Smallest scale stored: keeps <c>x / s</c> finite and accurate for rows of tiny values (their codes
    /// round to 0, and the error stays within <c>s/2</c>).
    /// </summary>
    private const float MinScale = 1e-30f;

    private readonly sbyte[] _codes;
    private readonly float[] _scales;

    private QuantizedItems(int dimensions, int count, sbyte[] codes, float[] scales, float maxScale)
    {
        Dimensions = dimensions;
        Count = count;
        _codes = codes;
        _scales = scales;
        MaxScale = maxScale;
    }

    /// <summary>True when this machine has the SIMD instructions the first pass needs (AVX-512F, or AVX2 with FMA).</summary>
    public static bool IsSupported => Avx512F.IsSupported || (Avx2.IsSupported && Fma.IsSupported);

    public int Dimensions { get; }

    public int Count { get; }

    /// <summary>Rows rounded up to whole blocks: the length <see cref="Bound"/> reads and writes.</summary>
    public int PaddedCount => _scales.Length;

    /// <summary>Per-row scales <c>s[r]</c> (padding rows 0).</summary>
    public ReadOnlySpan<float> Scales => _scales;

    /// <summary>The largest scale of any row (never less than the current largest).</summary>
    public float MaxScale { get; }

    /// <summary>
    /// The int8 copy of <paramref name="count"/> rows of <paramref name="dimensions"/> floats, or null when
    /// the machine lacks the instructions or a value is not finite (ranking then scores the floats alone).
    /// </summary>
    public static QuantizedItems? Build(ReadOnlySpan<float> vectors, int dimensions, int count)
    {
        if (!IsSupported || count == 0 || dimensions == 0)
        {
            return null;
        }

        var padded = Padded(count);
        var codes = new sbyte[padded * dimensions];
        var scales = new float[padded];
        var maxScale = 0f;
        for (var row = 0; row < count; row++)
        {
            if (!Quantize(vectors.Slice(row * dimensions, dimensions), codes, scales, row))
            {
                return null;
            }

            maxScale = MathF.Max(maxScale, scales[row]);
        }

        return new QuantizedItems(dimensions, count, codes, scales, maxScale);
    }

    /// <summary>
    /// A copy for a table of <paramref name="count"/> rows (at least <see cref="Count"/>) in which only
    /// <paramref name="changedRows"/> differ from this one: those rows are quantized again, the rest copied.
    /// </summary>
    public QuantizedItems? With(ReadOnlySpan<float> vectors, int count, ReadOnlySpan<int> changedRows)
    {
        var padded = Padded(count);
        var codes = new sbyte[padded * Dimensions];
        _codes.CopyTo(codes, 0);
        var scales = new float[padded];
        _scales.CopyTo(scales, 0);
        var maxScale = MaxScale;
        foreach (var row in changedRows)
        {
            if (!Quantize(vectors.Slice(row * Dimensions, Dimensions), codes, scales, row))
            {
                return null;
            }

            maxScale = MathF.Max(maxScale, scales[row]);
        }

        return new QuantizedItems(Dimensions, count, codes, scales, maxScale);
    }

    /// <summary>
    /// One pass over the codes that bounds every row's score. With <c>a[r] = s[r] · Σ_d q[d]·c[r,d]</c>, writes
    /// <c>s[r]·spread + a[r] + offsets[r]</c> (the upper bound without slack) into <paramref name="upper"/> for
    /// every row including padding, and returns the k-th largest lower bound <c>a[r] - s[r]·spread + offsets[r]</c>
    /// among rows not in <paramref name="sortedExcluded"/> (negative infinity when fewer than k rows qualify).
    /// Padding rows must have an offset of negative infinity. NaN bounds never qualify.
    /// </summary>
    /// <param name="offsets">Per-row additive terms (bias and trending blend), <see cref="PaddedCount"/> long.</param>
    /// <param name="spread">The code error's weight: <c>0.51 · ‖q‖₁</c>.</param>
    /// <param name="forceAvx2">Use the AVX2 pass even where AVX-512 exists (tests compare the two).</param>
    public float Bound(ReadOnlySpan<float> query, ReadOnlySpan<float> offsets, float spread, ReadOnlySpan<int> sortedExcluded, int k, Span<float> upper, bool forceAvx2 = false)
    {
        ArgumentOutOfRangeException.ThrowIfNotEqual(query.Length, Dimensions);
        ArgumentOutOfRangeException.ThrowIfLessThan(offsets.Length, PaddedCount);
        ArgumentOutOfRangeException.ThrowIfLessThan(upper.Length, PaddedCount);
        ArgumentOutOfRangeException.ThrowIfLessThan(k, 1);
        var selection = new LowerBoundSelection(k, sortedExcluded);
        if (Avx512F.IsSupported && !forceAvx2)
        {
            BoundAvx512(query, offsets, spread, ref selection, upper);
        }
        else
        {
            BoundAvx2(query, offsets, spread, ref selection, upper);
        }

        return selection.Threshold;
    }

    private void BoundAvx512(ReadOnlySpan<float> query, ReadOnlySpan<float> offsets, float spread, ref LowerBoundSelection selection, Span<float> upper)
    {
        ref var codes = ref MemoryMarshal.GetArrayDataReference(_codes);
        ref var scales = ref MemoryMarshal.GetArrayDataReference(_scales);
        ref var queryStart = ref MemoryMarshal.GetReference(query);
        ref var offsetStart = ref MemoryMarshal.GetReference(offsets);
        ref var output = ref MemoryMarshal.GetReference(upper);
        Span<float> lowerLanes = stackalloc float[BlockRows];
        var spreads = Vector512.Create(spread);
        var dimensions = Dimensions;
        var blockBytes = BlockRows * dimensions;
        for (var block = 0; block < _scales.Length / BlockRows; block++)
        {
            ref var blockCodes = ref Unsafe.Add(ref codes, block * blockBytes);
            // Two accumulators so consecutive multiply-adds do not wait on each other.
            var even = Vector512<float>.Zero;
            var odd = Vector512<float>.Zero;
            var d = 0;
            for (; d + 1 < dimensions; d += 2)
            {
                var first = Avx512F.ConvertToVector512Single(Avx512F.ConvertToVector512Int32(Vector128.LoadUnsafe(ref blockCodes, (nuint)(d * BlockRows))));
                var second = Avx512F.ConvertToVector512Single(Avx512F.ConvertToVector512Int32(Vector128.LoadUnsafe(ref blockCodes, (nuint)((d + 1) * BlockRows))));
                even = Avx512F.FusedMultiplyAdd(Vector512.Create(Unsafe.Add(ref queryStart, d)), first, even);
                odd = Avx512F.FusedMultiplyAdd(Vector512.Create(Unsafe.Add(ref queryStart, d + 1)), second, odd);
            }

            if (d < dimensions)
            {
                var last = Avx512F.ConvertToVector512Single(Avx512F.ConvertToVector512Int32(Vector128.LoadUnsafe(ref blockCodes, (nuint)(d * BlockRows))));
                even = Avx512F.FusedMultiplyAdd(Vector512.Create(Unsafe.Add(ref queryStart, d)), last, even);
            }

            var at = (nuint)(block * BlockRows);
            var sum = even + odd;
            var scale = Vector512.LoadUnsafe(ref scales, at);
            var offset = Vector512.LoadUnsafe(ref offsetStart, at);
            Avx512F.FusedMultiplyAdd(sum + spreads, scale, offset).StoreUnsafe(ref output, at);
            var lower = Avx512F.FusedMultiplyAdd(sum - spreads, scale, offset);
            var above = Vector512.GreaterThan(lower, Vector512.Create(selection.Threshold)).ExtractMostSignificantBits();
            if (above != 0)
            {
                lower.CopyTo(lowerLanes);
                selection.Offer(lowerLanes, (uint)above, block * BlockRows);
            }
        }
    }

    private void BoundAvx2(ReadOnlySpan<float> query, ReadOnlySpan<float> offsets, float spread, ref LowerBoundSelection selection, Span<float> upper)
    {
        ref var codes = ref MemoryMarshal.GetArrayDataReference(_codes);
        ref var scales = ref MemoryMarshal.GetArrayDataReference(_scales);
        ref var queryStart = ref MemoryMarshal.GetReference(query);
        ref var offsetStart = ref MemoryMarshal.GetReference(offsets);
        ref var output = ref MemoryMarshal.GetReference(upper);
        Span<float> lowerLanes = stackalloc float[BlockRows];
        var spreads = Vector256.Create(spread);
        var dimensions = Dimensions;
        var blockBytes = BlockRows * dimensions;
        for (var block = 0; block < _scales.Length / BlockRows; block++)
        {
            ref var blockCodes = ref Unsafe.Add(ref codes, block * blockBytes);
            var low = Vector256<float>.Zero;
            var high = Vector256<float>.Zero;
            for (var d = 0; d < dimensions; d++)
            {
                var weight = Vector256.Create(Unsafe.Add(ref queryStart, d));
                var packed = Vector128.LoadUnsafe(ref blockCodes, (nuint)(d * BlockRows));
                var lowRows = Avx.ConvertToVector256Single(Avx2.ConvertToVector256Int32(packed));
                var highRows = Avx.ConvertToVector256Single(Avx2.ConvertToVector256Int32(Sse2.ShiftRightLogical128BitLane(packed, 8)));
                low = Fma.MultiplyAdd(weight, lowRows, low);
                high = Fma.MultiplyAdd(weight, highRows, high);
            }

            var at = (nuint)(block * BlockRows);
            var lowScale = Vector256.LoadUnsafe(ref scales, at);
            var highScale = Vector256.LoadUnsafe(ref scales, at + 8);
            var lowOffset = Vector256.LoadUnsafe(ref offsetStart, at);
            var highOffset = Vector256.LoadUnsafe(ref offsetStart, at + 8);
            Fma.MultiplyAdd(low + spreads, lowScale, lowOffset).StoreUnsafe(ref output, at);
            Fma.MultiplyAdd(high + spreads, highScale, highOffset).StoreUnsafe(ref output, at + 8);
            var lowLower = Fma.MultiplyAdd(low - spreads, lowScale, lowOffset);
            var highLower = Fma.MultiplyAdd(high - spreads, highScale, highOffset);
            var threshold = Vector256.Create(selection.Threshold);
            var above = Vector256.GreaterThan(lowLower, threshold).ExtractMostSignificantBits()
                | (Vector256.GreaterThan(highLower, threshold).ExtractMostSignificantBits() << 8);
            if (above != 0)
            {
                lowLower.CopyTo(lowerLanes);
                highLower.CopyTo(lowerLanes[8..]);
                selection.Offer(lowerLanes, above, block * BlockRows);
            }
        }
    }

    private static int Padded(int count) => (count + BlockRows - 1) / BlockRows * BlockRows;

    private static bool Quantize(ReadOnlySpan<float> row, sbyte[] codes, float[] scales, int rowIndex)
    {
        var largest = MathF.Abs(TensorPrimitives.MaxMagnitude(row));
        if (!float.IsFinite(largest))
        {
            return false;
        }

        var scale = MathF.Max(largest / CodeRange, MinScale);
        scales[rowIndex] = scale;
        var block = rowIndex / BlockRows * BlockRows * row.Length;
        var lane = rowIndex % BlockRows;
        for (var d = 0; d < row.Length; d++)
        {
            codes[block + (d * BlockRows) + lane] = (sbyte)Math.Clamp(MathF.Round(row[d] / scale), -CodeRange, CodeRange);
        }

        return true;
    }
}

/// <summary>
/// The k-th largest of the lower bounds offered, rows in a sorted exclusion list skipped: a min-heap of k
/// values in a per-thread buffer. Offered only lanes above the current threshold, so after the first
/// blocks it is rarely touched.
/// </summary>
internal ref struct LowerBoundSelection
{
    [ThreadStatic]
    private static float[]? _heap;

    private readonly Span<float> _values;
    private readonly ReadOnlySpan<int> _sortedExcluded;
    private int _count;

    public LowerBoundSelection(int k, ReadOnlySpan<int> sortedExcluded)
    {
        if (_heap is null || _heap.Length < k)
        {
            _heap = new float[k];
        }

        _values = _heap.AsSpan(0, k);
        _sortedExcluded = sortedExcluded;
        _count = 0;
        Threshold = float.NegativeInfinity;
    }

    /// <summary>The k-th largest value offered so far; negative infinity until k were.</summary>
    public float Threshold { get; private set; }

    /// <summary>Offers the lanes of <paramref name="lanes"/> set in <paramref name="mask"/>; lane i is row <paramref name="firstRow"/> + i.</summary>
    public void Offer(scoped ReadOnlySpan<float> lanes, uint mask, int firstRow)
    {
        while (mask != 0)
        {
            var lane = System.Numerics.BitOperations.TrailingZeroCount(mask);
            mask &= mask - 1;
            var value = lanes[lane];
            if (!(value > Threshold) || _sortedExcluded.BinarySearch(firstRow + lane) >= 0)
            {
                continue;
            }

            if (_count < _values.Length)
            {
                _values[_count] = value;
                SiftUp(_count++);
                if (_count == _values.Length)
                {
                    Threshold = _values[0];
                }
            }
            else
            {
                _values[0] = value;
                SiftDown();
                Threshold = _values[0];
            }
        }
    }

    private readonly void SiftUp(int index)
    {
        var value = _values[index];
        while (index > 0)
        {
            var parent = (index - 1) / 2;
            if (_values[parent] <= value)
            {
                break;
            }

            _values[index] = _values[parent];
            index = parent;
        }

        _values[index] = value;
    }

    private readonly void SiftDown()
    {
        var count = _values.Length;
        var value = _values[0];
        var index = 0;
        while (true)
        {
            var child = (2 * index) + 1;
            if (child >= count)
            {
                break;
            }

            if (child + 1 < count && _values[child + 1] < _values[child])
            {
                child++;
            }

            if (_values[child] >= value)
            {
                break;
            }

            _values[index] = _values[child];
            index = child;
        }

        _values[index] = value;
    }
}
