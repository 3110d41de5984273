using System.Numerics.Tensors;

namespace StreamRec.Core.Engine;

/// <summary>A table row and its score.</summary>
public readonly record struct ScoredRow(int Row, float Score);

/// <summary>
/// Exact top-k over every row of an item table: scores rows in blocks with SIMD dot products
/// (<see cref="TensorPrimitives"/>), keeps the best k in a bounded min-heap, and skips excluded rows.
/// </summary>
/// <remarks>
/// <para>Ties: equal scores are ordered by lower row index first. Rows are scanned in ascending
/// order and a later row must score strictly higher to displace an earlier one, so results equal a
/// stable sort by (score descending, row ascending). NaN scores are never returned.</para>
/// <para>Reuses its scratch buffers: after warm-up a call allocates nothing. Not thread-safe: one
/// scorer per thread.</para>
/// </remarks>
public sealed class TopKScorer
{
    /// <summary>Rows scored per block before heap selection; 1 KiB of scores stays in L1.</summary>
    public const int ScoreBlockSize = 256;

    private readonly float[] _blockScores = new float[ScoreBlockSize];
    private int[] _excludedStamp = [];
    private int _stamp;
    private ScoredRow[] _heap = [];
    private int _heapCount;

    /// <summary>
    /// Writes the rows with the highest <c>query·row + bias(row) + priorWeight·prior[row]</c> into
    /// <paramref name="destination"/> (k = its length), best first, and returns how many were written.
    /// </summary>
    /// <param name="query">Query vector, length <see cref="EmbeddingTable.Dimensions"/>.</param>
    /// <param name="items">The table to rank.</param>
    /// <param name="includeBias">Add each row's bias (ignored when the table has none).</param>
    /// <param name="prior">Optional per-row additive prior (for example normalised trending counts), indexed by row; empty for none.</param>
    /// <param name="priorWeight">Multiplier of <paramref name="prior"/>.</param>
    /// <param name="excludedRows">Rows never returned (seen items); out-of-range rows are ignored.</param>
    public int TopK(ReadOnlySpan<float> query, EmbeddingTable items, bool includeBias, ReadOnlySpan<float> prior, float priorWeight, ReadOnlySpan<int> excludedRows, Span<ScoredRow> destination)
    {
        ArgumentNullException.ThrowIfNull(items);
        CheckQuery(query, items);
        int rowCount = items.Count;
        if (!prior.IsEmpty && prior.Length < rowCount)
        {
            throw new ArgumentException($"Prior has {prior.Length} entries for {rowCount} rows.", nameof(prior));
        }

        Begin(destination.Length, items.Ids.Capacity, excludedRows);
        ReadOnlySpan<float> vectors = items.AllVectors;
        ReadOnlySpan<float> biases = includeBias ? items.AllBiases : [];
        int dimensions = items.Dimensions;
        int stride = items.Stride;
        for (int start = 0; start < rowCount; start += ScoreBlockSize)
        {
            int length = Math.Min(ScoreBlockSize, rowCount - start);
            Span<float> scores = _blockScores.AsSpan(0, length);
            for (int i = 0; i < scores.Length; i++)
            {
                scores[i] = TensorPrimitives.Dot(query, vectors.Slice((start + i) * stride, dimensions));
            }

            if (!biases.IsEmpty)
            {
                TensorPrimitives.Add(scores, biases.Slice(start, length), scores);
            }

            if (!prior.IsEmpty && priorWeight != 0f)
            {
                TensorPrimitives.MultiplyAdd(prior.Slice(start, length), priorWeight, scores, scores);
            }

            OfferBlock(start, scores, destination.Length);
        }

        return Finish(destination);
    }

    /// <summary>
    /// Top-k by cosine similarity between <paramref name="query"/> and each row (rows of zero norm
    /// score 0), for item-to-item lists; exclude the query item's own row via <paramref name="excludedRows"/>.
    /// </summary>
    public int TopKCosine(ReadOnlySpan<float> query, EmbeddingTable items, ReadOnlySpan<int> excludedRows, Span<ScoredRow> destination)
    {
        ArgumentNullException.ThrowIfNull(items);
        CheckQuery(query, items);
        float queryNorm = TensorPrimitives.Norm(query);
        int rowCount = items.Count;
        Begin(destination.Length, items.Ids.Capacity, excludedRows);
        ReadOnlySpan<float> vectors = items.AllVectors;
        int dimensions = items.Dimensions;
        int stride = items.Stride;
        for (int start = 0; start < rowCount; start += ScoreBlockSize)
        {
            int length = Math.Min(ScoreBlockSize, rowCount - start);
            Span<float> scores = _blockScores.AsSpan(0, length);
            for (int i = 0; i < scores.Length; i++)
            {
                ReadOnlySpan<float> row = vectors.Slice((start + i) * stride, dimensions);
                float denominator = queryNorm * TensorPrimitives.Norm(row);
                scores[i] = denominator > 0f ? TensorPrimitives.Dot(query, row) / denominator : 0f;
            }

            OfferBlock(start, scores, destination.Length);
        }

        return Finish(destination);
    }

    /// <summary>Top-k over precomputed per-row scores (popularity, trending).</summary>
    public int TopKOfScores(ReadOnlySpan<float> scores, ReadOnlySpan<int> excludedRows, Span<ScoredRow> destination)
    {
        Begin(destination.Length, scores.Length, excludedRows);
        OfferBlock(0, scores, destination.Length);
        return Finish(destination);
    }

    private static void CheckQuery(ReadOnlySpan<float> query, EmbeddingTable items)
    {
        if (query.Length != items.Dimensions)
        {
            throw new ArgumentException($"Query length {query.Length} differs from the table's {items.Dimensions} dimensions.", nameof(query));
        }
    }

    private void Begin(int k, int rowCapacity, ReadOnlySpan<int> excludedRows)
    {
        if (_heap.Length < k)
        {
            _heap = new ScoredRow[k];
        }

        _heapCount = 0;
        if (_excludedStamp.Length < rowCapacity)
        {
            _excludedStamp = new int[rowCapacity];
            _stamp = 0;
        }

        if (++_stamp == int.MaxValue)
        {
            Array.Clear(_excludedStamp);
            _stamp = 1;
        }

        foreach (int row in excludedRows)
        {
            if ((uint)row < (uint)_excludedStamp.Length)
            {
                _excludedStamp[row] = _stamp;
            }
        }
    }

    private void OfferBlock(int firstRow, ReadOnlySpan<float> scores, int k)
    {
        if (k == 0)
        {
            return;
        }

        ScoredRow[] heap = _heap;
        int[] excluded = _excludedStamp;
        int stamp = _stamp;
        int heapCount = _heapCount;
        int i = 0;

        // Fill phase: the heap is not full yet, so every valid row enters.
        for (; i < scores.Length && heapCount < k; i++)
        {
            float score = scores[i];
            int row = firstRow + i;
            if (!float.IsNaN(score) && !(row < excluded.Length && excluded[row] == stamp))
            {
                heap[heapCount] = new ScoredRow(row, score);
                SiftUp(heap, heapCount++);
            }
        }

        _heapCount = heapCount;
        if (i == scores.Length)
        {
            return;
        }

        // Selection phase. Most blocks hold nothing better than the current k-th score: one SIMD
        // max decides that (a NaN max means "look row by row").
        float threshold = heap[0].Score;
        ReadOnlySpan<float> rest = scores[i..];
        float blockMax = TensorPrimitives.Max(rest);
        if (blockMax <= threshold)
        {
            return;
        }

        for (; i < scores.Length; i++)
        {
            float score = scores[i];
            // Strictly greater: an equal score on a later (higher) row never displaces an earlier row.
            // NaN compares false and is dropped here.
            if (!(score > threshold))
            {
                continue;
            }

            int row = firstRow + i;
            if (row < excluded.Length && excluded[row] == stamp)
            {
                continue;
            }

            heap[0] = new ScoredRow(row, score);
            SiftDown(heap, 0, k);
            threshold = heap[0].Score;
        }
    }

    private int Finish(Span<ScoredRow> destination)
    {
        int count = _heapCount;
        // Pop the worst into the last free slot until empty: destination ends up best first.
        for (int remaining = count; remaining > 0; remaining--)
        {
            destination[remaining - 1] = _heap[0];
            _heap[0] = _heap[remaining - 1];
            SiftDown(_heap, 0, remaining - 1);
        }

        _heapCount = 0;
        return count;
    }

    /// <summary>True when <paramref name="a"/> ranks below <paramref name="b"/>: lower score, or equal score and higher row.</summary>
    private static bool RanksBelow(in ScoredRow a, in ScoredRow b) => a.Score < b.Score || (a.Score == b.Score && a.Row > b.Row);

    private static void SiftUp(ScoredRow[] heap, int index)
    {
        ScoredRow item = heap[index];
        while (index > 0)
        {
            int parent = (index - 1) >> 1;
            if (!RanksBelow(item, heap[parent]))
            {
                break;
            }

            heap[index] = heap[parent];
            index = parent;
        }

        heap[index] = item;
    }

    private static void SiftDown(ScoredRow[] heap, int index, int count)
    {
        if (count == 0)
        {
            return;
        }

        ScoredRow item = heap[index];
        while (true)
        {
            int child = (2 * index) + 1;
            if (child >= count)
            {
                break;
            }

            if (child + 1 < count && RanksBelow(heap[child + 1], heap[child]))
            {
                child++;
            }

            if (!RanksBelow(heap[child], item))
            {
                break;
            }

            heap[index] = heap[child];
            index = child;
        }

        heap[index] = item;
    }
}
