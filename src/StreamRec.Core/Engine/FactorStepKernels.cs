using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace StreamRec.Core.Engine;

/// <summary>
/// One event's whole SGD step on a user row and its item rows (the positive and any negatives) in
/// one pass over the rows, without materialising the gradients:
/// <c>g_u = l2·u + Σ_t c_t·item_t</c>, <c>g_t = l2·item_t + c_t·u</c>, then <c>u -= r_u·g_u</c> and
/// <c>item_t -= r_t·g_t</c>, every gradient taken from the rows as they were before the step.
/// </summary>
/// <remarks>
/// <para>Each element goes through the same operations, in the same order, as the buffered step
/// (<see cref="VectorKernels.WeightedRowSum"/> for the user, <see cref="VectorKernels.ScaledSum"/>
/// for each item, then <see cref="VectorKernels.AddScaled"/>), and <see cref="GradientSquares"/>
/// sums squares lane by lane as they do, so both paths give the same floats: the per-event path
/// takes this one, mini-batches keep the buffer.</para>
/// <para>Item rows must be distinct (a repeated row would be read after it was written); callers
/// fall back to the buffered step when a sampled negative repeats. Stateless and thread-safe.</para>
/// </remarks>
internal static class FactorStepKernels
{
    /// <summary>Most item terms a step takes here; more fall back to the buffered step.</summary>
    public const int MaxTerms = 16;

    /// <summary>
    /// <c>results[t] = user · items[offsets[t] ..]</c> for every term, each equal to
    /// <see cref="VectorKernels.Dot"/>'s result; rows are scored four at a time where the vectors are
    /// whole 512-bit chunks, so their multiply-add chains run side by side.
    /// </summary>
    public static void Dots(ReadOnlySpan<float> user, ReadOnlySpan<float> items, ReadOnlySpan<int> offsets, Span<float> results)
    {
        int length = user.Length;
        int count = offsets.Length;
        if (results.Length < count)
        {
            ThrowShape();
        }

        foreach (int offset in offsets)
        {
            if ((uint)offset > (uint)(items.Length - length))
            {
                ThrowShape();
            }
        }

        int t = 0;
        if (Vector512.IsHardwareAccelerated && length % Vector512<float>.Count == 0)
        {
            ref float us = ref MemoryMarshal.GetReference(user);
            ref float rs = ref MemoryMarshal.GetReference(items);
            for (; t <= count - 4; t += 4)
            {
                ref float r0 = ref Unsafe.Add(ref rs, offsets[t]);
                ref float r1 = ref Unsafe.Add(ref rs, offsets[t + 1]);
                ref float r2 = ref Unsafe.Add(ref rs, offsets[t + 2]);
                ref float r3 = ref Unsafe.Add(ref rs, offsets[t + 3]);
                Vector512<float> a0 = Vector512<float>.Zero, a1 = Vector512<float>.Zero, a2 = Vector512<float>.Zero, a3 = Vector512<float>.Zero;
                for (int k = 0; k < length; k += Vector512<float>.Count)
                {
                    Vector512<float> u = Vector512.LoadUnsafe(ref us, (nuint)k);
                    a0 = Vector512.MultiplyAddEstimate(u, Vector512.LoadUnsafe(ref r0, (nuint)k), a0);
                    a1 = Vector512.MultiplyAddEstimate(u, Vector512.LoadUnsafe(ref r1, (nuint)k), a1);
                    a2 = Vector512.MultiplyAddEstimate(u, Vector512.LoadUnsafe(ref r2, (nuint)k), a2);
                    a3 = Vector512.MultiplyAddEstimate(u, Vector512.LoadUnsafe(ref r3, (nuint)k), a3);
                }

                results[t] = Vector512.Sum(a0);
                results[t + 1] = Vector512.Sum(a1);
                results[t + 2] = Vector512.Sum(a2);
                results[t + 3] = Vector512.Sum(a3);
            }

            for (; t < count; t++)
            {
                ref float row = ref Unsafe.Add(ref rs, offsets[t]);
                Vector512<float> accumulator = Vector512<float>.Zero;
                for (int k = 0; k < length; k += Vector512<float>.Count)
                {
                    accumulator = Vector512.MultiplyAddEstimate(Vector512.LoadUnsafe(ref us, (nuint)k), Vector512.LoadUnsafe(ref row, (nuint)k), accumulator);
                }

                results[t] = Vector512.Sum(accumulator);
            }
        }

        for (; t < count; t++)
        {
            results[t] = VectorKernels.Dot(user, items.Slice(offsets[t], length));
        }
    }

    /// <summary>
    /// The squared norms of the user's gradient (returned) and of each item's
    /// (<paramref name="itemSquares"/>), for AdaGrad, which needs them before the step. The user's and
    /// any item not taken four at a time come from <see cref="VectorKernels.WeightedRowSum"/> and
    /// <see cref="VectorKernels.ScaledSum"/> themselves (their gradients land in <paramref name="scratch"/>).
    /// </summary>
    /// <param name="user">The user row (<c>Dimensions</c> floats).</param>
    /// <param name="l2">L2 coefficient.</param>
    /// <param name="items">The item table's vectors.</param>
    /// <param name="offsets">Each term's row start in <paramref name="items"/>.</param>
    /// <param name="coefficients">Each term's loss gradient <c>c_t</c>.</param>
    /// <param name="itemSquares">Receives each term's squared gradient norm.</param>
    /// <param name="scratch">A row's worth of floats the kernels may overwrite.</param>
    public static float GradientSquares(ReadOnlySpan<float> user, float l2, ReadOnlySpan<float> items, ReadOnlySpan<int> offsets, ReadOnlySpan<float> coefficients, Span<float> itemSquares, Span<float> scratch)
    {
        int length = user.Length;
        int count = Check(length, items, offsets, coefficients, itemSquares.Length);
        Span<float> gradient = scratch[..length];
        int first = 0;
        if (Vector512.IsHardwareAccelerated && length % Vector512<float>.Count == 0)
        {
            ref float us = ref MemoryMarshal.GetReference(user);
            ref float rs = ref MemoryMarshal.GetReference(items);
            // Four rows side by side; each row's lanes add up in the same order as ScaledSum's alone.
            for (; first <= count - 4; first += 4)
            {
                ref float r0 = ref Unsafe.Add(ref rs, offsets[first]);
                ref float r1 = ref Unsafe.Add(ref rs, offsets[first + 1]);
                ref float r2 = ref Unsafe.Add(ref rs, offsets[first + 2]);
                ref float r3 = ref Unsafe.Add(ref rs, offsets[first + 3]);
                float c0 = coefficients[first], c1 = coefficients[first + 1], c2 = coefficients[first + 2], c3 = coefficients[first + 3];
                Vector512<float> a0 = Vector512<float>.Zero, a1 = Vector512<float>.Zero, a2 = Vector512<float>.Zero, a3 = Vector512<float>.Zero;
                for (int k = 0; k < length; k += Vector512<float>.Count)
                {
                    Vector512<float> u = Vector512.LoadUnsafe(ref us, (nuint)k);
                    Vector512<float> g0 = ItemGradient(Vector512.LoadUnsafe(ref r0, (nuint)k), u, l2, c0);
                    Vector512<float> g1 = ItemGradient(Vector512.LoadUnsafe(ref r1, (nuint)k), u, l2, c1);
                    Vector512<float> g2 = ItemGradient(Vector512.LoadUnsafe(ref r2, (nuint)k), u, l2, c2);
                    Vector512<float> g3 = ItemGradient(Vector512.LoadUnsafe(ref r3, (nuint)k), u, l2, c3);
                    a0 = Vector512.MultiplyAddEstimate(g0, g0, a0);
                    a1 = Vector512.MultiplyAddEstimate(g1, g1, a1);
                    a2 = Vector512.MultiplyAddEstimate(g2, g2, a2);
                    a3 = Vector512.MultiplyAddEstimate(g3, g3, a3);
                }

                itemSquares[first] = Vector512.Sum(a0);
                itemSquares[first + 1] = Vector512.Sum(a1);
                itemSquares[first + 2] = Vector512.Sum(a2);
                itemSquares[first + 3] = Vector512.Sum(a3);
            }
        }

        for (int t = first; t < count; t++)
        {
            itemSquares[t] = VectorKernels.ScaledSum(gradient, l2, items.Slice(offsets[t], length), coefficients[t], user);
        }

        return VectorKernels.WeightedRowSum(gradient, l2, user, items, offsets, coefficients);
    }

    /// <summary>Applies the step: the user row moves by <c>-userRate·g_u</c>, item row t by <c>-itemRates[t]·g_t</c>.</summary>
    public static void Step(Span<float> user, float userRate, float l2, Span<float> items, ReadOnlySpan<int> offsets, ReadOnlySpan<float> coefficients, ReadOnlySpan<float> itemRates)
    {
        int length = user.Length;
        int count = Check(length, items, offsets, coefficients, itemRates.Length);
        ref float us = ref MemoryMarshal.GetReference(user);
        ref float rs = ref MemoryMarshal.GetReference(items);
        ref int os = ref MemoryMarshal.GetReference(offsets);
        ref float cs = ref MemoryMarshal.GetReference(coefficients);
        ref float ratesRef = ref MemoryMarshal.GetReference(itemRates);
        int k = 0;
        if (Vector512.IsHardwareAccelerated && length >= Vector512<float>.Count)
        {
            for (; k <= length - Vector512<float>.Count; k += Vector512<float>.Count)
            {
                Vector512<float> u = Vector512.LoadUnsafe(ref us, (nuint)k);
                Vector512<float> userGradient = l2 == 0f ? Vector512<float>.Zero : u * Vector512.Create(l2);
                for (int t = 0; t < count; t++)
                {
                    ref float itemRef = ref Unsafe.Add(ref rs, Unsafe.Add(ref os, t) + k);
                    Vector512<float> item = Vector512.LoadUnsafe(ref itemRef);
                    float c = Unsafe.Add(ref cs, t);
                    userGradient = Vector512.MultiplyAddEstimate(item, Vector512.Create(c), userGradient);
                    Vector512.MultiplyAddEstimate(ItemGradient(item, u, l2, c), Vector512.Create(-Unsafe.Add(ref ratesRef, t)), item).StoreUnsafe(ref itemRef);
                }

                Vector512.MultiplyAddEstimate(userGradient, Vector512.Create(-userRate), u).StoreUnsafe(ref us, (nuint)k);
            }
        }

        if (Vector256.IsHardwareAccelerated && length - k >= Vector256<float>.Count)
        {
            for (; k <= length - Vector256<float>.Count; k += Vector256<float>.Count)
            {
                Vector256<float> u = Vector256.LoadUnsafe(ref us, (nuint)k);
                Vector256<float> userGradient = l2 == 0f ? Vector256<float>.Zero : u * Vector256.Create(l2);
                for (int t = 0; t < count; t++)
                {
                    ref float itemRef = ref Unsafe.Add(ref rs, Unsafe.Add(ref os, t) + k);
                    Vector256<float> item = Vector256.LoadUnsafe(ref itemRef);
                    float c = Unsafe.Add(ref cs, t);
                    userGradient = Vector256.MultiplyAddEstimate(item, Vector256.Create(c), userGradient);
                    Vector256.MultiplyAddEstimate(ItemGradient(item, u, l2, c), Vector256.Create(-Unsafe.Add(ref ratesRef, t)), item).StoreUnsafe(ref itemRef);
                }

                Vector256.MultiplyAddEstimate(userGradient, Vector256.Create(-userRate), u).StoreUnsafe(ref us, (nuint)k);
            }
        }

        for (; k < length; k++)
        {
            float u = Unsafe.Add(ref us, k);
            float userGradient = l2 == 0f ? 0f : u * l2;
            for (int t = 0; t < count; t++)
            {
                ref float item = ref Unsafe.Add(ref rs, Unsafe.Add(ref os, t) + k);
                float c = Unsafe.Add(ref cs, t);
                userGradient = float.MultiplyAddEstimate(item, c, userGradient);
                item = float.MultiplyAddEstimate(ItemGradient(item, u, l2, c), -Unsafe.Add(ref ratesRef, t), item);
            }

            Unsafe.Add(ref us, k) = float.MultiplyAddEstimate(userGradient, -userRate, u);
        }
    }

    // l2·item + c·u with ScaledSum's cases: a zero coefficient's term is left out, so a non-finite
    // row never turns 0 into NaN, and both zero clears.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<float> ItemGradient(Vector512<float> item, Vector512<float> user, float l2, float c) =>
        l2 == 0f ? (c == 0f ? Vector512<float>.Zero : user * Vector512.Create(c))
        : c == 0f ? item * Vector512.Create(l2)
        : Vector512.MultiplyAddEstimate(user, Vector512.Create(c), item * Vector512.Create(l2));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<float> ItemGradient(Vector256<float> item, Vector256<float> user, float l2, float c) =>
        l2 == 0f ? (c == 0f ? Vector256<float>.Zero : user * Vector256.Create(c))
        : c == 0f ? item * Vector256.Create(l2)
        : Vector256.MultiplyAddEstimate(user, Vector256.Create(c), item * Vector256.Create(l2));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static float ItemGradient(float item, float user, float l2, float c) =>
        l2 == 0f ? (c == 0f ? 0f : user * c)
        : c == 0f ? item * l2
        : float.MultiplyAddEstimate(user, c, item * l2);

    private static int Check(int length, ReadOnlySpan<float> items, ReadOnlySpan<int> offsets, ReadOnlySpan<float> coefficients, int perTermLength)
    {
        int count = offsets.Length;
        if (coefficients.Length != count || perTermLength < count || count > MaxTerms)
        {
            ThrowShape();
        }

        foreach (int offset in offsets)
        {
            if ((uint)offset > (uint)(items.Length - length))
            {
                ThrowShape();
            }
        }

        return count;
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static void ThrowShape() => throw new ArgumentException("Step terms do not match the rows.");
}
