using System.Numerics.Tensors;
using System.Runtime.Intrinsics;
using StreamRec.Client;
using StreamRec.Core.Engine;

namespace StreamRec.Reader.Serving;

/// <summary>
/// Exact top-k over every item of a <see cref="ServingModel"/>. Where the items have an int8 copy, a first
/// pass over it bounds every row's score and only the rows that can reach the top k are scored in float;
/// otherwise (or with <c>prefilter: false</c>) SIMD dot products (<see cref="TensorPrimitives"/>) score every
/// row. Either way Core's <see cref="TopKScorer"/> selects (bounded heap, excluded rows skipped, ties to the
/// lower row), and both answer the same items with the same float scores. Scratch buffers are per thread,
/// so a call allocates only its result; calls on one thread must not nest.
/// </summary>
internal static class Ranking
{
    [ThreadStatic]
    private static TopKScorer? _scorer;

    [ThreadStatic]
    private static float[]? _scores;

    [ThreadStatic]
    private static ScoredRow[]? _ranked;

    [ThreadStatic]
    private static List<int>? _excluded;

    [ThreadStatic]
    private static float[]? _upperBounds;

    [ThreadStatic]
    private static float[]? _candidateScores;

    [ThreadStatic]
    private static float[]? _gathered;

    [ThreadStatic]
    private static List<int>? _candidates;

    /// <summary>Adds biases and the trending blend to the dot products, leaves out seen items, selects the top k.</summary>
    private static RecommendedItem[] Finish(ServingModel model, UserEntry user, Span<float> scores, int k, bool excludeSeen)
    {
        var items = model.Items;
        TensorPrimitives.Add(scores, items.Biases, scores);
        if (model.BlendWeight != 0f && model.Trending.LogScores.Count > 0)
        {
            TensorPrimitives.MultiplyAdd(model.Prior, model.BlendWeight, scores, scores);
        }

        return Select(items, scores, ExcludedRows(items, user, excludeSeen), k);
    }

    /// <summary>The rows of the user's seen items when they are to be left out (a per-thread list).</summary>
    private static Span<int> ExcludedRows(ItemTable items, UserEntry user, bool excludeSeen)
    {
        var excluded = _excluded ??= [];
        excluded.Clear();
        if (excludeSeen)
        {
            foreach (var id in user.Seen)
            {
                if (items.Rows.TryGetValue(id, out var row))
                {
                    excluded.Add(row);
                }
            }
        }

        return System.Runtime.InteropServices.CollectionsMarshal.AsSpan(excluded);
    }

    private static Span<ScoredRow> Ranked(int k)
    {
        if (_ranked is null || _ranked.Length < k)
        {
            _ranked = new ScoredRow[k];
        }

        return _ranked.AsSpan(0, k);
    }

    private static Span<T> Scratch<T>(ref T[]? buffer, int length)
    {
        if (buffer is null || buffer.Length < length)
        {
            buffer = new T[Math.Max(length, 1024)];
        }

        return buffer.AsSpan(0, length);
    }

    /// <summary>Most users one pass over the items scores (per-thread buffers hold one score row each).</summary>
    public const int MaxUsersPerPass = 16;

    /// <summary>Rows scored for every user before moving on: 256 rows of 64 floats (64 KiB) stay in L2.</summary>
    private const int RowBlock = 256;

    [ThreadStatic]
    private static float[][]? _batchScores;

    /// <summary>
    /// The top k items of up to <see cref="MaxUsersPerPass"/> users by <c>user·item + item bias + blend·trending</c>,
    /// as the learner ranks, each user's seen items left out on request. Exact: where the items have an int8
    /// copy (<see cref="ItemTable.Quantized"/>) each user is ranked by <see cref="Prefiltered"/>, which returns
    /// the same items and scores as scoring every row in float; otherwise by <see cref="Scanned"/>.
    /// </summary>
    /// <param name="prefilter">False forces the float scan of every row (the reference the prefiltered path is tested against).</param>
    /// <param name="approximate">
    /// When given and it has an index for these items, each user's candidates come from the index instead
    /// (<see cref="Approximate"/>), re-scored exactly; a request it cannot answer is ranked exactly.
    /// </param>
    public static RecommendedItem[][] ForUsers(ServingModel model, ReadOnlySpan<RankRequest> requests, bool prefilter = true, ApproximateSearch? approximate = null)
    {
        ArgumentOutOfRangeException.ThrowIfGreaterThan(requests.Length, MaxUsersPerPass);
        if (approximate?.Acquire(model) is { } view)
        {
            try
            {
                var results = new RecommendedItem[requests.Length][];
                var answered = 0;
                for (var b = 0; b < requests.Length; b++)
                {
                    if (Approximate(model, view, requests[b], approximate.ExtraCandidates) is { } result)
                    {
                        results[b] = result;
                        answered++;
                    }
                    else
                    {
                        results[b] = Exact(model, requests.Slice(b, 1), prefilter)[0];
                    }
                }

                approximate.Count(answered, requests.Length - answered);
                return results;
            }
            finally
            {
                view.Index.Release();
            }
        }

        approximate?.Count(0, requests.Length);
        return Exact(model, requests, prefilter);
    }

    private static RecommendedItem[][] Exact(ServingModel model, ReadOnlySpan<RankRequest> requests, bool prefilter)
    {
        if (prefilter && model.Items.Quantized is { } quantized)
        {
            var results = new RecommendedItem[requests.Length][];
            for (var b = 0; b < requests.Length; b++)
            {
                results[b] = Prefiltered(model, quantized, requests[b]) ?? Scanned(model, [requests[b]])[0];
            }

            return results;
        }

        return Scanned(model, requests);
    }

    /// <summary>
    /// Scores every row in float for all <paramref name="requests"/> in one pass over the item vectors: each
    /// block of rows is scored for every user while it is in cache.
    /// </summary>
    private static RecommendedItem[][] Scanned(ServingModel model, ReadOnlySpan<RankRequest> requests)
    {
        var items = model.Items;
        var count = items.Count;
        var buffers = _batchScores ??= new float[MaxUsersPerPass][];
        for (var b = 0; b < requests.Length; b++)
        {
            if (buffers[b] is null || buffers[b].Length < count)
            {
                buffers[b] = new float[Math.Max(count, 1024)];
            }
        }

        var vectors = items.Vectors.AsSpan();
        var dimensions = items.Dimensions;
        for (var start = 0; start < count; start += RowBlock)
        {
            var end = Math.Min(count, start + RowBlock);
            for (var b = 0; b < requests.Length; b++)
            {
                ReadOnlySpan<float> query = requests[b].User.Vector;
                var scores = buffers[b];
                for (var row = start; row < end; row++)
                {
                    scores[row] = TensorPrimitives.Dot(query, vectors.Slice(row * dimensions, dimensions));
                }
            }
        }

        var results = new RecommendedItem[requests.Length][];
        for (var b = 0; b < requests.Length; b++)
        {
            var scores = buffers[b].AsSpan(0, count);
            results[b] = Finish(model, requests[b].User, scores, requests[b].K, requests[b].ExcludeSeen);
        }

        return results;
    }

    /// <summary>
    /// Exact top k in two passes. The int8 pass gives every row an approximate score <c>a</c> (biases and
    /// trending added as in float) whose error is at most <c>e[r] = 0.51 · s[r] · ‖q‖₁ + slack</c> (0.5 from
    /// rounding the codes, 0.01 and <c>slack</c> for float rounding in both passes). The k-th best lower bound
    /// <c>a - e</c> among rows not left out is a score at least k rows reach exactly, so a row whose upper
    /// bound <c>a + e</c> is below it cannot be in the top k. The few rows left are scored in float exactly as
    /// <see cref="Scanned"/> scores them and ranked with the same tie rule, so the answer is the same.
    /// Null when the query has a value that is not finite (the bound does not hold; the caller scans).
    /// </summary>
    private static RecommendedItem[]? Prefiltered(ServingModel model, QuantizedItems quantized, RankRequest request)
    {
        ReadOnlySpan<float> query = request.User.Vector;
        var queryL1 = TensorPrimitives.SumOfMagnitudes(query);
        if (!float.IsFinite(queryL1))
        {
            return null;
        }

        var items = model.Items;
        var blend = model.BlendWeight != 0f && model.Trending.LogScores.Count > 0 ? model.BlendWeight : 0f;
        // Every intermediate of either pass is below this in magnitude (the prior is at most 1); float
        // rounding moves a score by a few 2^-24 of it, so 2^-18 of it is a safe slack.
        var magnitude = (1.51f * QuantizedItems.CodeRange * quantized.MaxScale * queryL1) + items.MaxBiasMagnitude + MathF.Abs(blend);
        var slack = (magnitude * (1f / (1 << 18))) + 1e-37f;
        var excluded = ExcludedRows(items, request.User, request.ExcludeSeen);
        excluded.Sort();
        var k = request.K;
        var upper = Scratch(ref _upperBounds, quantized.PaddedCount);
        var kthLower = quantized.Bound(query, model.ApproximateOffsets, 0.51f * queryL1, excluded, k, upper);
        // Bounds written without slack: a row may reach the top k when upper + slack >= kth lower - slack.
        var threshold = kthLower - (2 * slack);
        var candidates = Candidates(upper[..items.Count], threshold, excluded);
        return RankCandidates(model, query, candidates, k);
    }

    /// <summary>
    /// The top k of <paramref name="candidates"/> (rows, ascending, none excluded), each scored exactly as
    /// <see cref="Scanned"/> scores every row, with the same element-wise operations, so scores are bit for
    /// bit the scan's; with rows ascending the scorer's tie rule (lower index first) is the scan's.
    /// </summary>
    private static RecommendedItem[] RankCandidates(ServingModel model, ReadOnlySpan<float> query, ReadOnlySpan<int> candidates, int k)
    {
        var items = model.Items;
        var blend = model.BlendWeight != 0f && model.Trending.LogScores.Count > 0 ? model.BlendWeight : 0f;
        var exact = Scratch(ref _candidateScores, candidates.Length);
        var vectors = items.Vectors.AsSpan();
        var dimensions = items.Dimensions;
        for (var i = 0; i < candidates.Length; i++)
        {
            exact[i] = TensorPrimitives.Dot(query, vectors.Slice(candidates[i] * dimensions, dimensions));
        }

        var gathered = Scratch(ref _gathered, candidates.Length);
        for (var i = 0; i < candidates.Length; i++)
        {
            gathered[i] = items.Biases[candidates[i]];
        }

        TensorPrimitives.Add(exact, gathered, exact);
        if (blend != 0f)
        {
            for (var i = 0; i < candidates.Length; i++)
            {
                gathered[i] = model.Prior[candidates[i]];
            }

            TensorPrimitives.MultiplyAdd(gathered, blend, exact, exact);
        }

        var ranked = Ranked(k);
        var written = (_scorer ??= new TopKScorer()).TopKOfScores(exact, [], ranked);
        var result = new RecommendedItem[written];
        for (var i = 0; i < written; i++)
        {
            result[i] = new RecommendedItem(items.Ids[candidates[ranked[i].Row]], ranked[i].Score);
        }

        return result;
    }

    /// <summary>
    /// Approximate top k: the index proposes <c>k + excluded + extra</c> rows by <c>[item, offset]·[user, 1]</c>
    /// as the items stood at its build; rows it does not hold as they are now (changed or appended since)
    /// are added; seen rows are left out; and all are ranked by <see cref="RankCandidates"/> from this
    /// generation. Returned items and scores are therefore exact for the items returned; an item may be
    /// missing only where the graph search missed it (among rows of equal score, the earliest rows found,
    /// which need not be the earliest rows). Null when the query has a value that is not finite, the native
    /// search failed or the candidates are fewer than the answer needs (the caller ranks exactly).
    /// </summary>
    private static RecommendedItem[]? Approximate(ServingModel model, ApproximateView view, RankRequest request, int extraCandidates)
    {
        ReadOnlySpan<float> query = request.User.Vector;
        if (!float.IsFinite(TensorPrimitives.SumOfMagnitudes(query)))
        {
            return null;
        }

        var items = model.Items;
        var excluded = ExcludedRows(items, request.User, request.ExcludeSeen);
        excluded.Sort();
        var distinctExcluded = CountDistinct(excluded);
        var k = request.K;
        var rows = _candidates ??= new List<int>();
        rows.Clear();
        if (!view.Index.Search(query, (int)Math.Min(view.Index.Count, (long)k + distinctExcluded + extraCandidates), rows))
        {
            return null;
        }

        // Rows out of date in the index are scored from the unindexed list instead, so none is ranked twice.
        var kept = 0;
        var proposed = System.Runtime.InteropServices.CollectionsMarshal.AsSpan(rows);
        foreach (var row in proposed)
        {
            if (view.IsIndexed(row))
            {
                proposed[kept++] = row;
            }
        }

        System.Runtime.InteropServices.CollectionsMarshal.SetCount(rows, kept);
        rows.AddRange(view.Unindexed);
        rows.Sort();
        var candidates = System.Runtime.InteropServices.CollectionsMarshal.AsSpan(rows);
        kept = 0;
        foreach (var row in candidates)
        {
            if (excluded.BinarySearch(row) < 0)
            {
                candidates[kept++] = row;
            }
        }

        if (kept < Math.Min(k, items.Count - distinctExcluded))
        {
            return null;
        }

        return RankCandidates(model, query, candidates[..kept], k);
    }

    private static int CountDistinct(ReadOnlySpan<int> sorted)
    {
        var distinct = 0;
        for (var i = 0; i < sorted.Length; i++)
        {
            if (i == 0 || sorted[i] != sorted[i - 1])
            {
                distinct++;
            }
        }

        return distinct;
    }

    /// <summary>Rows, ascending, whose upper bound reaches <paramref name="threshold"/> and that are not in <paramref name="sortedExcluded"/>.</summary>
    private static ReadOnlySpan<int> Candidates(ReadOnlySpan<float> upper, float threshold, ReadOnlySpan<int> sortedExcluded)
    {
        var rows = _candidates ??= new List<int>();
        rows.Clear();
        var row = 0;
        var thresholds = Vector256.Create(threshold);
        for (; row + Vector256<float>.Count <= upper.Length; row += Vector256<float>.Count)
        {
            var reaching = Vector256.GreaterThanOrEqual(Vector256.Create(upper[row..]), thresholds).ExtractMostSignificantBits();
            while (reaching != 0)
            {
                AddUnlessExcluded(rows, row + System.Numerics.BitOperations.TrailingZeroCount(reaching), sortedExcluded);
                reaching &= reaching - 1;
            }
        }

        for (; row < upper.Length; row++)
        {
            if (upper[row] >= threshold)
            {
                AddUnlessExcluded(rows, row, sortedExcluded);
            }
        }

        return System.Runtime.InteropServices.CollectionsMarshal.AsSpan(rows);
    }

    private static void AddUnlessExcluded(List<int> rows, int row, ReadOnlySpan<int> sortedExcluded)
    {
        if (sortedExcluded.BinarySearch(row) < 0)
        {
            rows.Add(row);
        }
    }

    /// <summary>The <paramref name="k"/> items most similar to row <paramref name="itemRow"/> by cosine, the item itself excluded.</summary>
    public static RecommendedItem[] Similar(ServingModel model, int itemRow, int k)
    {
        var items = model.Items;
        var scores = Scores(items.Count);
        var vectors = items.Vectors.AsSpan();
        var dimensions = items.Dimensions;
        var query = items.Vector(itemRow);
        for (var row = 0; row < scores.Length; row++)
        {
            scores[row] = TensorPrimitives.Dot(query, vectors.Slice(row * dimensions, dimensions));
        }

        // cos = dot / (|q| |row|); rows of zero norm have inverse norm 0 and so score 0.
        TensorPrimitives.Multiply(scores, items.InverseNorms, scores);
        TensorPrimitives.Multiply(scores, items.InverseNorms[itemRow], scores);
        return Select(items, scores, [itemRow], k);
    }

    private static Span<float> Scores(int count)
    {
        if (_scores is null || _scores.Length < count)
        {
            _scores = new float[Math.Max(count, 1024)];
        }

        return _scores.AsSpan(0, count);
    }

    private static RecommendedItem[] Select(ItemTable items, ReadOnlySpan<float> scores, ReadOnlySpan<int> excluded, int k)
    {
        var scorer = _scorer ??= new TopKScorer();
        var ranked = Ranked(k);
        var written = scorer.TopKOfScores(scores, excluded, ranked);
        var result = new RecommendedItem[written];
        for (var i = 0; i < written; i++)
        {
            result[i] = new RecommendedItem(items.Ids[ranked[i].Row], ranked[i].Score);
        }

        return result;
    }
}

/// <summary>One user's ranking request.</summary>
internal readonly record struct RankRequest(UserEntry User, int K, bool ExcludeSeen);
