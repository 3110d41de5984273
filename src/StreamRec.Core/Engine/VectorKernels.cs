using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace StreamRec.Core.Engine;

/// <summary>
/// Fused loops over short float vectors (embedding rows) for the per-event update path.
/// </summary>
/// <remarks>
/// <para>At 64 dimensions a <c>TensorPrimitives</c> call costs 4–9 ns, mostly in its length checks
/// and dispatch, and an update made of separate calls (scale, multiply-add, sum of squares, apply)
/// reads and writes each gradient several times. These loops compute a whole gradient and its sum
/// of squares in one pass, with 512-bit vectors where the hardware has them, then 256-bit, then a
/// scalar tail. Multiply-adds use <c>MultiplyAddEstimate</c> (fused where the CPU has FMA), so
/// results are bit-for-bit repeatable on one machine, not across machines with different SIMD.</para>
/// <para>Stateless and thread-safe.</para>
/// </remarks>
internal static class VectorKernels
{
    /// <summary>Σ x_k y_k.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Dot(ReadOnlySpan<float> x, ReadOnlySpan<float> y)
    {
        int length = x.Length;
        if (y.Length != length)
        {
            ThrowLengthMismatch();
        }

        ref float xs = ref MemoryMarshal.GetReference(x);
        ref float ys = ref MemoryMarshal.GetReference(y);
        int k = 0;
        float sum = 0f;
        if (Vector512.IsHardwareAccelerated && length >= Vector512<float>.Count)
        {
            Vector512<float> accumulator = Vector512<float>.Zero;
            for (; k <= length - Vector512<float>.Count; k += Vector512<float>.Count)
            {
                accumulator = Vector512.MultiplyAddEstimate(Vector512.LoadUnsafe(ref xs, (nuint)k), Vector512.LoadUnsafe(ref ys, (nuint)k), accumulator);
            }

            sum = Vector512.Sum(accumulator);
        }

        if (Vector256.IsHardwareAccelerated && length - k >= Vector256<float>.Count)
        {
            Vector256<float> accumulator = Vector256<float>.Zero;
            for (; k <= length - Vector256<float>.Count; k += Vector256<float>.Count)
            {
                accumulator = Vector256.MultiplyAddEstimate(Vector256.LoadUnsafe(ref xs, (nuint)k), Vector256.LoadUnsafe(ref ys, (nuint)k), accumulator);
            }

            sum += Vector256.Sum(accumulator);
        }

        for (; k < length; k++)
        {
            sum = float.MultiplyAddEstimate(Unsafe.Add(ref xs, k), Unsafe.Add(ref ys, k), sum);
        }

        return sum;
    }

    /// <summary>
    /// <c>destination = a·x + b·y</c> (a term is left out when its coefficient is 0, so a non-finite
    /// row never turns 0 into NaN); returns Σ destination².
    /// </summary>
    public static float ScaledSum(Span<float> destination, float a, ReadOnlySpan<float> x, float b, ReadOnlySpan<float> y)
    {
        int length = destination.Length;
        if (x.Length != length || y.Length != length)
        {
            ThrowLengthMismatch();
        }

        if (a == 0f)
        {
            return Scaled(destination, b, y);
        }

        if (b == 0f)
        {
            return Scaled(destination, a, x);
        }

        ref float ds = ref MemoryMarshal.GetReference(destination);
        ref float xs = ref MemoryMarshal.GetReference(x);
        ref float ys = ref MemoryMarshal.GetReference(y);
        int k = 0;
        float squares = 0f;
        if (Vector512.IsHardwareAccelerated && length >= Vector512<float>.Count)
        {
            Vector512<float> av = Vector512.Create(a);
            Vector512<float> bv = Vector512.Create(b);
            Vector512<float> accumulator = Vector512<float>.Zero;
            for (; k <= length - Vector512<float>.Count; k += Vector512<float>.Count)
            {
                Vector512<float> value = Vector512.MultiplyAddEstimate(Vector512.LoadUnsafe(ref ys, (nuint)k), bv, Vector512.LoadUnsafe(ref xs, (nuint)k) * av);
                value.StoreUnsafe(ref ds, (nuint)k);
                accumulator = Vector512.MultiplyAddEstimate(value, value, accumulator);
            }

            squares = Vector512.Sum(accumulator);
        }

        if (Vector256.IsHardwareAccelerated && length - k >= Vector256<float>.Count)
        {
            Vector256<float> av = Vector256.Create(a);
            Vector256<float> bv = Vector256.Create(b);
            Vector256<float> accumulator = Vector256<float>.Zero;
            for (; k <= length - Vector256<float>.Count; k += Vector256<float>.Count)
            {
                Vector256<float> value = Vector256.MultiplyAddEstimate(Vector256.LoadUnsafe(ref ys, (nuint)k), bv, Vector256.LoadUnsafe(ref xs, (nuint)k) * av);
                value.StoreUnsafe(ref ds, (nuint)k);
                accumulator = Vector256.MultiplyAddEstimate(value, value, accumulator);
            }

            squares += Vector256.Sum(accumulator);
        }

        for (; k < length; k++)
        {
            float value = float.MultiplyAddEstimate(Unsafe.Add(ref ys, k), b, Unsafe.Add(ref xs, k) * a);
            Unsafe.Add(ref ds, k) = value;
            squares = float.MultiplyAddEstimate(value, value, squares);
        }

        return squares;
    }

    /// <summary>
    /// <c>destination = a·x + Σ_r weights[r] · rows[offsets[r] ..]</c> over rows of one row-major
    /// array (the a·x term is left out when a is 0); returns Σ destination². One pass: each chunk of
    /// the destination is summed in registers over all rows and stored once.
    /// </summary>
    public static float WeightedRowSum(Span<float> destination, float a, ReadOnlySpan<float> x, ReadOnlySpan<float> rows, ReadOnlySpan<int> offsets, ReadOnlySpan<float> weights)
    {
        int length = destination.Length;
        int count = offsets.Length;
        if (x.Length != length || weights.Length != count)
        {
            ThrowLengthMismatch();
        }

        foreach (int offset in offsets)
        {
            if ((uint)offset > (uint)(rows.Length - length))
            {
                ThrowLengthMismatch();
            }
        }

        ref float ds = ref MemoryMarshal.GetReference(destination);
        ref float xs = ref MemoryMarshal.GetReference(x);
        ref float rs = ref MemoryMarshal.GetReference(rows);
        ref int os = ref MemoryMarshal.GetReference(offsets);
        ref float ws = ref MemoryMarshal.GetReference(weights);
        int k = 0;
        float squares = 0f;
        if (Vector512.IsHardwareAccelerated && length >= Vector512<float>.Count)
        {
            Vector512<float> av = Vector512.Create(a);
            Vector512<float> accumulator = Vector512<float>.Zero;
            for (; k <= length - Vector512<float>.Count; k += Vector512<float>.Count)
            {
                Vector512<float> value = a == 0f ? Vector512<float>.Zero : Vector512.LoadUnsafe(ref xs, (nuint)k) * av;
                for (int r = 0; r < count; r++)
                {
                    value = Vector512.MultiplyAddEstimate(Vector512.LoadUnsafe(ref rs, (nuint)(Unsafe.Add(ref os, r) + k)), Vector512.Create(Unsafe.Add(ref ws, r)), value);
                }

                value.StoreUnsafe(ref ds, (nuint)k);
                accumulator = Vector512.MultiplyAddEstimate(value, value, accumulator);
            }

            squares = Vector512.Sum(accumulator);
        }

        if (Vector256.IsHardwareAccelerated && length - k >= Vector256<float>.Count)
        {
            Vector256<float> av = Vector256.Create(a);
            Vector256<float> accumulator = Vector256<float>.Zero;
            for (; k <= length - Vector256<float>.Count; k += Vector256<float>.Count)
            {
                Vector256<float> value = a == 0f ? Vector256<float>.Zero : Vector256.LoadUnsafe(ref xs, (nuint)k) * av;
                for (int r = 0; r < count; r++)
                {
                    value = Vector256.MultiplyAddEstimate(Vector256.LoadUnsafe(ref rs, (nuint)(Unsafe.Add(ref os, r) + k)), Vector256.Create(Unsafe.Add(ref ws, r)), value);
                }

                value.StoreUnsafe(ref ds, (nuint)k);
                accumulator = Vector256.MultiplyAddEstimate(value, value, accumulator);
            }

            squares += Vector256.Sum(accumulator);
        }

        for (; k < length; k++)
        {
            float value = a == 0f ? 0f : Unsafe.Add(ref xs, k) * a;
            for (int r = 0; r < count; r++)
            {
                value = float.MultiplyAddEstimate(Unsafe.Add(ref rs, Unsafe.Add(ref os, r) + k), Unsafe.Add(ref ws, r), value);
            }

            Unsafe.Add(ref ds, k) = value;
            squares = float.MultiplyAddEstimate(value, value, squares);
        }

        return squares;
    }

    /// <summary><c>target += scale · x</c>.</summary>
    public static void AddScaled(Span<float> target, float scale, ReadOnlySpan<float> x)
    {
        int length = target.Length;
        if (x.Length != length)
        {
            ThrowLengthMismatch();
        }

        ref float ts = ref MemoryMarshal.GetReference(target);
        ref float xs = ref MemoryMarshal.GetReference(x);
        int k = 0;
        if (Vector512.IsHardwareAccelerated && length >= Vector512<float>.Count)
        {
            Vector512<float> sv = Vector512.Create(scale);
            for (; k <= length - Vector512<float>.Count; k += Vector512<float>.Count)
            {
                Vector512.MultiplyAddEstimate(Vector512.LoadUnsafe(ref xs, (nuint)k), sv, Vector512.LoadUnsafe(ref ts, (nuint)k)).StoreUnsafe(ref ts, (nuint)k);
            }
        }

        if (Vector256.IsHardwareAccelerated && length - k >= Vector256<float>.Count)
        {
            Vector256<float> sv = Vector256.Create(scale);
            for (; k <= length - Vector256<float>.Count; k += Vector256<float>.Count)
            {
                Vector256.MultiplyAddEstimate(Vector256.LoadUnsafe(ref xs, (nuint)k), sv, Vector256.LoadUnsafe(ref ts, (nuint)k)).StoreUnsafe(ref ts, (nuint)k);
            }
        }

        for (; k < length; k++)
        {
            Unsafe.Add(ref ts, k) = float.MultiplyAddEstimate(Unsafe.Add(ref xs, k), scale, Unsafe.Add(ref ts, k));
        }
    }

    /// <summary><c>destination = a·x</c>; returns Σ destination².</summary>
    private static float Scaled(Span<float> destination, float a, ReadOnlySpan<float> x)
    {
        if (a == 0f)
        {
            destination.Clear();
            return 0f;
        }

        ref float ds = ref MemoryMarshal.GetReference(destination);
        ref float xs = ref MemoryMarshal.GetReference(x);
        int length = destination.Length;
        int k = 0;
        float squares = 0f;
        if (Vector512.IsHardwareAccelerated && length >= Vector512<float>.Count)
        {
            Vector512<float> av = Vector512.Create(a);
            Vector512<float> accumulator = Vector512<float>.Zero;
            for (; k <= length - Vector512<float>.Count; k += Vector512<float>.Count)
            {
                Vector512<float> value = Vector512.LoadUnsafe(ref xs, (nuint)k) * av;
                value.StoreUnsafe(ref ds, (nuint)k);
                accumulator = Vector512.MultiplyAddEstimate(value, value, accumulator);
            }

            squares = Vector512.Sum(accumulator);
        }

        if (Vector256.IsHardwareAccelerated && length - k >= Vector256<float>.Count)
        {
            Vector256<float> av = Vector256.Create(a);
            Vector256<float> accumulator = Vector256<float>.Zero;
            for (; k <= length - Vector256<float>.Count; k += Vector256<float>.Count)
            {
                Vector256<float> value = Vector256.LoadUnsafe(ref xs, (nuint)k) * av;
                value.StoreUnsafe(ref ds, (nuint)k);
                accumulator = Vector256.MultiplyAddEstimate(value, value, accumulator);
            }

            squares += Vector256.Sum(accumulator);
        }

        for (; k < length; k++)
        {
            float value = Unsafe.Add(ref xs, k) * a;
            Unsafe.Add(ref ds, k) = value;
            squares = float.MultiplyAddEstimate(value, value, squares);
        }

        return squares;
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static void ThrowLengthMismatch() => throw new ArgumentException("Vector lengths differ.");
}
