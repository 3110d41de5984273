using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using BenchmarkDotNet.Attributes;
using StreamRec.Core.Engine;

namespace StreamRec.Benchmarks;

/// <summary>
/// How fast the per-event work of positive-only isgd and of bpr can be on this machine, written by hand without
/// the learner's generality, in the set-up of <see cref="LearnerUpdateBenchmarks"/> (10,000 users and
/// 10,000 items registered first, 64 dimensions, 4,096 events per invocation, event ids that are other
/// string instances than the registered ones). Each step adds what the engine issue requires of an update:
/// <list type="number">
/// <item>the SGD step alone, rows given by index (the floor of any embedding update);</item>
/// <item>plus both string ids looked up (the runtime's <c>Dictionary</c>, or the engine's collision-free
/// <see cref="IdMap"/> with its least-recently-active order);</item>
/// <item>plus the rest of an update: AdaGrad accumulators for both rows, the item bias, the user's bounded
/// seen history with its repeat check, the item's time-decayed trending count, and the rows' touched marks;
/// once as the learner benchmark's events need it, once in its cheapest form (the runtime's <c>Dictionary</c>,
/// and one trending factor for all events, as when many events share a millisecond).</item>
/// </list>
/// bpr gets the same by hand with 4 uniformly drawn negatives. The gap between these and
/// <see cref="LearnerUpdateBenchmarks"/> is the cost of the learners' generality (learner classes, options,
/// mini-batches, eviction); these alone bound what a learner doing this work can reach here
/// (docs/benchmarks.md, "How low an update can go on this machine").
/// </summary>
[MemoryDiagnoser]
[MedianColumn]
public class LearnerFloorBenchmarks
{
    private const int EventsPerInvoke = 4096;
    private const int Rows = 10_000;
    private const int Dimensions = 64;
    private const int HistoryLength = 200;
    private const float LearningRate = 0.2f;
    private const float L2 = 0.01f;
    private const int Negatives = 4;

    private readonly string[] _userIds = new string[EventsPerInvoke];
    private readonly string[] _itemIds = new string[EventsPerInvoke];
    private readonly int[] _userRows = new int[EventsPerInvoke];
    private readonly int[] _itemRows = new int[EventsPerInvoke];
    private readonly Dictionary<string, int> _userDictionary = new(StringComparer.Ordinal);
    private readonly Dictionary<string, int> _itemDictionary = new(StringComparer.Ordinal);
    private readonly IdMap _userMap = new(1_000_000);
    private readonly IdMap _itemMap = new(1_000_000);
    private readonly float[] _users = new float[Rows * Dimensions];
    private readonly float[] _items = new float[Rows * Dimensions];
    private readonly float[] _userAdaGrad = new float[Rows];
    private readonly float[] _itemAdaGrad = new float[2 * Rows];
    private readonly float[] _itemBiases = new float[Rows];
    private readonly long[] _seen = new long[Rows * HistoryLength];
    private readonly int[] _seenNext = new int[Rows];
    private readonly int[] _seenCount = new int[Rows];
    private readonly float[] _trending = new float[Rows];
    private readonly long[] _userTouched = new long[Rows];
    private readonly long[] _itemTouched = new long[Rows];
    private long _eventTimeMs = 1_700_000_000_000;
    private long _factorTimeMs;
    private float _factor;
    private ulong _randomState = 7;

    [GlobalSetup]
    public void Setup()
    {
        for (int row = 0; row < Rows; row++)
        {
            _userDictionary.Add($"user-{row}", row);
            _itemDictionary.Add($"item-{row}", row);
            _userMap.GetOrAdd($"user-{row}");
            _itemMap.GetOrAdd($"item-{row}");
        }

        var random = new Random(7);
        for (int i = 0; i < _users.Length; i++)
        {
            _users[i] = (float)(random.NextDouble() - 0.5) * 0.2f;
            _items[i] = (float)(random.NextDouble() - 0.5) * 0.2f;
        }

        Array.Fill(_userAdaGrad, EmbeddingTable.AdaGradInitialAccumulator);
        Array.Fill(_itemAdaGrad, EmbeddingTable.AdaGradInitialAccumulator);
        random = new Random(7);
        for (int i = 0; i < EventsPerInvoke; i++)
        {
            _userRows[i] = random.Next(Rows);
            _itemRows[i] = random.Next(Rows);
            _userIds[i] = $"user-{_userRows[i]}";
            _itemIds[i] = $"item-{_itemRows[i]}";
        }
    }

    [Benchmark(OperationsPerInvoke = EventsPerInvoke, Description = "SGD step, rows by index")]
    public void StepByRow()
    {
        for (int i = 0; i < EventsPerInvoke; i++)
        {
            ConstantStep(_userRows[i], _itemRows[i]);
        }
    }

    [Benchmark(OperationsPerInvoke = EventsPerInvoke, Description = "Dictionary lookups of both ids, then the SGD step")]
    public void DictionaryLookupsThenStep()
    {
        for (int i = 0; i < EventsPerInvoke; i++)
        {
            ConstantStep(_userDictionary[_userIds[i]], _itemDictionary[_itemIds[i]]);
        }
    }

    [Benchmark(OperationsPerInvoke = EventsPerInvoke, Description = "IdMap lookups of both ids, then the SGD step")]
    public void IdMapLookupsThenStep()
    {
        for (int i = 0; i < EventsPerInvoke; i++)
        {
            ConstantStep(_userMap.GetOrAdd(_userIds[i]).Row, _itemMap.GetOrAdd(_itemIds[i]).Row);
        }
    }

    [Benchmark(OperationsPerInvoke = EventsPerInvoke, Description = "hand-written isgd update: IdMap lookups, AdaGrad step, bias, history, trending, marks")]
    public void HandWrittenIsgdUpdate()
    {
        for (int i = 0; i < EventsPerInvoke; i++)
        {
            // Every event of the learner benchmark has its own timestamp, so the trending factor is new each time.
            _eventTimeMs += 1000;
            UpdateAfterLookups(_userMap.GetOrAdd(_userIds[i]).Row, _itemMap.GetOrAdd(_itemIds[i]).Row);
        }
    }

    [Benchmark(OperationsPerInvoke = EventsPerInvoke, Description = "the same, with Dictionary lookups and one timestamp for all events")]
    public void HandWrittenIsgdUpdateCheapest()
    {
        for (int i = 0; i < EventsPerInvoke; i++)
        {
            UpdateAfterLookups(_userDictionary[_userIds[i]], _itemDictionary[_itemIds[i]]);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private void UpdateAfterLookups(int user, int item)
    {
        RecordHistoryAndTrending(user, item);
        AdaGradStep(user, item);
        _userTouched[user] = 1;
        _itemTouched[item] = 1;
    }

    [Benchmark(OperationsPerInvoke = EventsPerInvoke, Description = "hand-written bpr update, 4 uniform negatives: IdMap lookups, AdaGrad steps, biases, history, trending, marks")]
    public void HandWrittenBprUpdate()
    {
        for (int i = 0; i < EventsPerInvoke; i++)
        {
            _eventTimeMs += 1000;
            int user = _userMap.GetOrAdd(_userIds[i]).Row;
            int item = _itemMap.GetOrAdd(_itemIds[i]).Row;
            RecordHistoryAndTrending(user, item);
            BprStep(user, item);
        }
    }

    private void BprStep(int userRow, int positiveRow)
    {
        Span<int> rows = stackalloc int[1 + Negatives];
        Span<float> coefficients = stackalloc float[1 + Negatives];
        rows[0] = positiveRow;
        for (int n = 1; n <= Negatives; n++)
        {
            int row;
            do
            {
                row = (int)(((_randomState = (_randomState * 6364136223846793005UL) + 1442695040888963407UL) >> 33) % Rows);
            }
            while (row == positiveRow);
            rows[n] = row;
            // As the learner does: every negative's row and side entries start loading before the first dot product.
            Prefetch(ref _items[row * Dimensions], 4);
            Prefetch(ref _itemAdaGrad[2 * row], 1);
            Prefetch(ref _itemBiases[row], 1);
            Prefetch(ref Unsafe.As<long, float>(ref _itemTouched[row]), 1);
        }

        ref float user = ref _users[userRow * Dimensions];
        Load(ref user, out var u0, out var u1, out var u2, out var u3);
        float positiveScore = Dot(u0, u1, u2, u3, ref _items[positiveRow * Dimensions]) + _itemBiases[positiveRow];
        float sum = 0f;
        for (int n = 1; n <= Negatives; n++)
        {
            float margin = positiveScore - (Dot(u0, u1, u2, u3, ref _items[rows[n] * Dimensions]) + _itemBiases[rows[n]]);
            float lossGradient = -1f / (1f + MathF.Exp(margin));
            coefficients[n] = -lossGradient;
            sum += lossGradient;
        }

        coefficients[0] = sum;
        var l2 = Vector512.Create(L2);
        Vector512<float> gu0 = l2 * u0, gu1 = l2 * u1, gu2 = l2 * u2, gu3 = l2 * u3;
        for (int t = 0; t <= Negatives; t++)
        {
            int row = rows[t];
            ref float item = ref _items[row * Dimensions];
            Load(ref item, out var i0, out var i1, out var i2, out var i3);
            var c = Vector512.Create(coefficients[t]);
            gu0 += c * i0;
            gu1 += c * i1;
            gu2 += c * i2;
            gu3 += c * i3;
            var gi0 = (l2 * i0) + (c * u0);
            var gi1 = (l2 * i1) + (c * u1);
            var gi2 = (l2 * i2) + (c * u2);
            var gi3 = (l2 * i3) + (c * u3);
            float squares = Dot(gi0, gi1, gi2, gi3, gi0, gi1, gi2, gi3);
            var rate = Vector512.Create(-LearningRate / MathF.Sqrt(_itemAdaGrad[2 * row] += squares / Dimensions));
            Store(ref item, i0 + (rate * gi0), i1 + (rate * gi1), i2 + (rate * gi2), i3 + (rate * gi3));
            float bias = _itemBiases[row];
            float biasGradient = coefficients[t] + (L2 * bias);
            _itemBiases[row] = bias - (LearningRate / MathF.Sqrt(_itemAdaGrad[(2 * row) + 1] += biasGradient * biasGradient) * biasGradient);
            _itemTouched[row] = 1;
        }

        float userSquares = Dot(gu0, gu1, gu2, gu3, gu0, gu1, gu2, gu3);
        var userRate = Vector512.Create(-LearningRate / MathF.Sqrt(_userAdaGrad[userRow] += userSquares / Dimensions));
        Store(ref user, u0 + (userRate * gu0), u1 + (userRate * gu1), u2 + (userRate * gu2), u3 + (userRate * gu3));
        _userTouched[userRow] = 1;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static unsafe void Prefetch(ref float start, int cacheLines)
    {
        float* address = (float*)Unsafe.AsPointer(ref start);
        for (int line = 0; line < cacheLines; line++)
        {
            Sse.Prefetch0(address + (16 * line));
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static float Dot(Vector512<float> u0, Vector512<float> u1, Vector512<float> u2, Vector512<float> u3, ref float row)
    {
        Load(ref row, out var r0, out var r1, out var r2, out var r3);
        return Dot(u0, u1, u2, u3, r0, r1, r2, r3);
    }

    /// <summary>The dot product of two 64-float rows held as four vectors each.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static float Dot(Vector512<float> a0, Vector512<float> a1, Vector512<float> a2, Vector512<float> a3, Vector512<float> b0, Vector512<float> b1, Vector512<float> b2, Vector512<float> b3) =>
        Vector512.Sum((a0 * b0) + (a1 * b1) + ((a2 * b2) + (a3 * b3)));

    /// <summary>The user's history and the item's trending count (one <c>exp</c> per new timestamp, as <see cref="DecayedItemCounts"/>).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private void RecordHistoryAndTrending(int user, int item)
    {
        RecordSeen(user, item);
        if (_eventTimeMs != _factorTimeMs)
        {
            _factorTimeMs = _eventTimeMs;
            _factor = (float)Math.Exp((_eventTimeMs - 1_700_000_000_000) * 1e-12);
        }

        _trending[item] += _factor;
    }

    private void RecordSeen(int user, int item)
    {
        int next = _seenNext[user];
        int count = _seenCount[user];
        long key = ((long)item << 32) | 1;
        for (int back = 1; back <= SeenItems.RepeatWindow && back <= count; back++)
        {
            int slot = next - back;
            if (_seen[(user * HistoryLength) + (slot < 0 ? slot + HistoryLength : slot)] == key)
            {
                return;
            }
        }

        _seen[(user * HistoryLength) + next] = key;
        _seenNext[user] = next + 1 == HistoryLength ? 0 : next + 1;
        _seenCount[user] = Math.Min(count + 1, HistoryLength);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private void ConstantStep(int userRow, int itemRow)
    {
        ref float user = ref _users[userRow * Dimensions];
        ref float item = ref _items[itemRow * Dimensions];
        Load(ref user, out var u0, out var u1, out var u2, out var u3);
        Load(ref item, out var i0, out var i1, out var i2, out var i3);
        float error = 1f - Dot(u0, u1, u2, u3, i0, i1, i2, i3);
        var decay = Vector512.Create(1f - (LearningRate * L2));
        var step = Vector512.Create(LearningRate * error);
        Store(ref user, (u0 * decay) + (i0 * step), (u1 * decay) + (i1 * step), (u2 * decay) + (i2 * step), (u3 * decay) + (i3 * step));
        Store(ref item, (i0 * decay) + (u0 * step), (i1 * decay) + (u1 * step), (i2 * decay) + (u2 * step), (i3 * decay) + (u3 * step));
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private void AdaGradStep(int userRow, int itemRow)
    {
        ref float user = ref _users[userRow * Dimensions];
        ref float item = ref _items[itemRow * Dimensions];
        Load(ref user, out var u0, out var u1, out var u2, out var u3);
        Load(ref item, out var i0, out var i1, out var i2, out var i3);
        float bias = _itemBiases[itemRow];
        float lossGradient = -(1f - (Dot(u0, u1, u2, u3, i0, i1, i2, i3) + bias));
        var l2 = Vector512.Create(L2);
        var c = Vector512.Create(lossGradient);
        var gu0 = (l2 * u0) + (c * i0);
        var gu1 = (l2 * u1) + (c * i1);
        var gu2 = (l2 * u2) + (c * i2);
        var gu3 = (l2 * u3) + (c * i3);
        var gi0 = (l2 * i0) + (c * u0);
        var gi1 = (l2 * i1) + (c * u1);
        var gi2 = (l2 * i2) + (c * u2);
        var gi3 = (l2 * i3) + (c * u3);
        float userSquares = Dot(gu0, gu1, gu2, gu3, gu0, gu1, gu2, gu3);
        float itemSquares = Dot(gi0, gi1, gi2, gi3, gi0, gi1, gi2, gi3);
        var userRate = Vector512.Create(-LearningRate / MathF.Sqrt(_userAdaGrad[userRow] += userSquares / Dimensions));
        var itemRate = Vector512.Create(-LearningRate / MathF.Sqrt(_itemAdaGrad[2 * itemRow] += itemSquares / Dimensions));
        Store(ref user, u0 + (userRate * gu0), u1 + (userRate * gu1), u2 + (userRate * gu2), u3 + (userRate * gu3));
        Store(ref item, i0 + (itemRate * gi0), i1 + (itemRate * gi1), i2 + (itemRate * gi2), i3 + (itemRate * gi3));
        float biasGradient = lossGradient + (L2 * bias);
        float biasAccumulator = _itemAdaGrad[(2 * itemRow) + 1] += biasGradient * biasGradient;
        _itemBiases[itemRow] = bias - (LearningRate / MathF.Sqrt(biasAccumulator) * biasGradient);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Load(ref float row, out Vector512<float> v0, out Vector512<float> v1, out Vector512<float> v2, out Vector512<float> v3)
    {
        v0 = Vector512.LoadUnsafe(ref row, 0);
        v1 = Vector512.LoadUnsafe(ref row, 16);
        v2 = Vector512.LoadUnsafe(ref row, 32);
        v3 = Vector512.LoadUnsafe(ref row, 48);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Store(ref float row, Vector512<float> v0, Vector512<float> v1, Vector512<float> v2, Vector512<float> v3)
    {
        v0.StoreUnsafe(ref row, 0);
        v1.StoreUnsafe(ref row, 16);
        v2.StoreUnsafe(ref row, 32);
        v3.StoreUnsafe(ref row, 48);
    }
}
