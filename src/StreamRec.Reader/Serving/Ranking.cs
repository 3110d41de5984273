using System.Numerics.Tensors;
using StreamRec.Client;
using StreamRec.Core.Engine;

namespace StreamRec.Reader.Serving;

/// <summary>
/// Exact top-k over every item of a <see cref="ServingModel"/>: SIMD dot products
/// (<see cref="TensorPrimitives"/>) into a per-thread score buffer, then Core's <see cref="TopKScorer"/>
/// (bounded heap, excluded rows skipped, ties to the lower row). Scratch buffers are per thread, so a call
/// allocates only its result; calls on one thread must not nest.
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

    /// <summary>Adds biases and the trending blend to the dot products, leaves out seen items, selects the top k.</summary>
    private static RecommendedItem[] Finish(ServingModel model, UserEntry user, Span<float> scores, int k, bool excludeSeen)
    {
        var items = model.Items;
        TensorPrimitives.Add(scores, items.Biases, scores);
        if (model.BlendWeight != 0f && model.Trending.LogScores.Count > 0)
        {
            TensorPrimitives.MultiplyAdd(model.Prior, model.BlendWeight, scores, scores);
        }

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

        return Select(items, scores, System.Runtime.InteropServices.CollectionsMarshal.AsSpan(excluded), k);
    }

    /// <summary>Most users one pass over the items scores (per-thread buffers hold one score row each).</summary>
    public const int MaxUsersPerPass = 16;

    /// <summary>Rows scored for every user before moving on: 256 rows of 64 floats (64 KiB) stay in L2.</summary>
    private const int RowBlock = 256;

    [ThreadStatic]
    private static float[][]? _batchScores;

    /// <summary>
    /// The top k items of up to <see cref="MaxUsersPerPass"/> users by <c>user·item + item bias + blend·trending</c>,
    /// as the learner ranks, each user's seen items left out on request. One pass over the item vectors: each block of rows is scored for every user while it is in cache, so the item table is read
    /// from memory once per pass instead of once per user.
    /// </summary>
    public static RecommendedItem[][] ForUsers(ServingModel model, ReadOnlySpan<RankRequest> requests)
    {
        ArgumentOutOfRangeException.ThrowIfGreaterThan(requests.Length, MaxUsersPerPass);
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
        if (_ranked is null || _ranked.Length < k)
        {
            _ranked = new ScoredRow[k];
        }

        var written = scorer.TopKOfScores(scores, excluded, _ranked.AsSpan(0, k));
        var result = new RecommendedItem[written];
        for (var i = 0; i < written; i++)
        {
            result[i] = new RecommendedItem(items.Ids[_ranked[i].Row], _ranked[i].Score);
        }

        return result;
    }
}

/// <summary>One user's ranking request.</summary>
internal readonly record struct RankRequest(UserEntry User, int K, bool ExcludeSeen);
