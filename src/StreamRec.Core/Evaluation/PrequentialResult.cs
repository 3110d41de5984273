namespace StreamRec.Core.Evaluation;

/// <summary>Top-k quality over a set of evaluated events. Rates are null when nothing was evaluated.</summary>
/// <param name="Evaluated">Events ranked.</param>
/// <param name="Hits">Events whose held item was in the top k.</param>
/// <param name="Recall">Hits / Evaluated (one held item per event, so recall@k equals the hit rate).</param>
/// <param name="Ndcg">Mean of 1/log2(rank+1) over evaluated events, 0 for a miss.</param>
/// <param name="Mrr">Mean of 1/rank over evaluated events, 0 for a miss.</param>
public sealed record RankingMetrics(long Evaluated, long Hits, double? Recall, double? Ndcg, double? Mrr);

/// <summary>Rating prediction error. Null when no rating was predicted.</summary>
/// <param name="Predicted">Rating events the model gave a prediction for.</param>
public sealed record RatingMetrics(long Predicted, double? Mae, double? Rmse);

/// <summary>One point of the windowed series, for charts of drift and recovery.</summary>
/// <param name="Events">Processed events (after the min-value filter) when the point was taken.</param>
/// <param name="Evaluated">Ranked events so far.</param>
/// <param name="Recall">Windowed recall@k.</param>
/// <param name="Ndcg">Windowed nDCG@k.</param>
/// <param name="Mrr">Windowed MRR@k.</param>
/// <param name="Mae">Windowed MAE over the last window of rating predictions.</param>
/// <param name="Rmse">Windowed RMSE over the last window of rating predictions.</param>
/// <param name="CumulativeRecall">Recall@k over all ranked events so far.</param>
public sealed record WindowPoint(long Events, long Evaluated, double? Recall, double? Ndcg, double? Mrr, double? Mae, double? Rmse, double? CumulativeRecall);

/// <summary>The outcome of a prequential run; a snapshot, safe to keep after the run goes on.</summary>
public sealed record PrequentialResult
{
    /// <summary>The model's name.</summary>
    public required string Learner { get; init; }

    /// <summary>The options the run used.</summary>
    public required PrequentialOptions Options { get; init; }

    /// <summary>Events given to the evaluator, before the min-value filter.</summary>
    public required long EventsRead { get; init; }

    /// <summary>Events dropped by the min-value filter.</summary>
    public required long FilteredOut { get; init; }

    /// <summary>Events that passed the filter: tested (where applicable) and offered for learning.</summary>
    public required long Processed { get; init; }

    /// <summary>Events the model learned from (fewer than <see cref="Processed"/> when frozen).</summary>
    public required long Learned { get; init; }

    /// <summary>Events not ranked because the user already had the item (see <see cref="PrequentialOptions.ExcludeSeen"/>).</summary>
    public required long RepeatsNotRanked { get; init; }

    /// <summary>Ranked events whose item had never appeared before: always misses.</summary>
    public required long UnseenItemEvents { get; init; }

    /// <summary>Ranking quality over every ranked event.</summary>
    public required RankingMetrics Ranking { get; init; }

    /// <summary>Ranking quality over events of users the model already knew.</summary>
    public required RankingMetrics KnownUsers { get; init; }

    /// <summary>Ranking quality over events of users the model had never seen (its cold-start ranking).</summary>
    public required RankingMetrics ColdStart { get; init; }

    /// <summary>Ranking quality over the last <see cref="PrequentialOptions.Window"/> ranked events.</summary>
    public required RankingMetrics WindowRanking { get; init; }

    /// <summary>Distinct items recommended / distinct items seen in the stream; null before any item or without ranking.</summary>
    public required double? Coverage { get; init; }

    /// <summary>Distinct items that appeared in any recommended top-k list.</summary>
    public required long DistinctItemsRecommended { get; init; }

    /// <summary>Distinct items in the processed events.</summary>
    public required long DistinctItemsSeen { get; init; }

    /// <summary>Rating error over every predicted rating event.</summary>
    public required RatingMetrics Ratings { get; init; }

    /// <summary>Rating error over the last <see cref="PrequentialOptions.Window"/> predictions.</summary>
    public required RatingMetrics WindowRatings { get; init; }

    /// <summary>Rating events the model returned no prediction for.</summary>
    public required long RatingsUnpredicted { get; init; }

    /// <summary>Predictions that were NaN or infinite: a diverged model. Not included in MAE/RMSE.</summary>
    public required long NonFinitePredictions { get; init; }

    /// <summary>The windowed series, one point every <see cref="PrequentialOptions.SampleEvery"/> processed events.</summary>
    public required IReadOnlyList<WindowPoint> Series { get; init; }

    /// <summary>Wall time since the evaluator was created.</summary>
    public required TimeSpan Elapsed { get; init; }

    /// <summary>Events read per second of <see cref="Elapsed"/>.</summary>
    public double EventsPerSecond => Elapsed > TimeSpan.Zero ? EventsRead / Elapsed.TotalSeconds : 0;
}
