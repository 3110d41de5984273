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

    /// <summary>
    /// The <paramref name="k"/> items with the highest <c>user·item + item bias + blend·trending</c>, as the
    /// learner ranks; the user's seen items left out when <paramref name="excludeSeen"/>.
    /// </summary>
    public static RecommendedItem[] ForUser(ServingModel model, UserEntry user, int k, bool excludeSeen)
    {
        var items = model.Items;
        var scores = Scores(items.Count);
        var vectors = items.Vectors.AsSpan();
        var dimensions = items.Dimensions;
        ReadOnlySpan<float> query = user.Vector;
        for (var row = 0; row < scores.Length; row++)
        {
            scores[row] = TensorPrimitives.Dot(query, vectors.Slice(row * dimensions, dimensions));
        }

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
