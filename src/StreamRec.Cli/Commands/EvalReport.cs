using System.Text.Json;
using StreamRec.Core.Data;
using StreamRec.Core.Evaluation;

namespace StreamRec.Cli.Commands;

/// <summary>
/// The JSON report of <c>streamrec eval --report</c>. Field names are snake_case and stable;
/// metrics that do not apply (no rating predicted, nothing ranked) are null.
/// </summary>
internal static class EvalReport
{
    public static void Write(Stream stream, EvalRun run, PrequentialResult result, ReadStatistics statistics)
    {
        using var json = new Utf8JsonWriter(stream, new JsonWriterOptions { Indented = true });
        json.WriteStartObject();
        json.WriteString("learner", result.Learner);
        json.WriteString("input", run.InputPath);
        json.WriteString("format", run.Format.ToName());

        json.WriteStartObject("options");
        json.WriteNumber("k", run.Evaluation.K);
        json.WriteNumber("window", run.Evaluation.Window);
        json.WriteNumber("sample_every", run.Evaluation.SampleEvery);
        Number(json, "min_value", run.Evaluation.MinValue);
        Number(json, "freeze_after", run.Evaluation.FreezeAfter);
        json.WriteBoolean("sort", run.Reader.SortByTime);
        json.WriteBoolean("skip_bad", run.Reader.SkipBad);
        json.WriteBoolean("exclude_seen", run.Evaluation.ExcludeSeen);
        json.WriteString("ties", run.Evaluation.TieBreaking == TieBreaking.Pessimistic ? "pessimistic" : "model");
        json.WriteString("metrics", run.Evaluation is { EvaluateRanking: true, EvaluateRatings: true } ? "both" : run.Evaluation.EvaluateRanking ? "ranking" : "rating");
        Number(json, "dims", run.Learner.Dimensions);
        Number(json, "lr", run.Learner.LearningRate);
        Number(json, "l2", run.Learner.L2);
        Number(json, "negatives", run.Learner.Negatives);
        Number(json, "half_life_seconds", run.Learner.HalfLife?.TotalSeconds);
        Number(json, "seed", run.Learner.Seed);
        json.WriteEndObject();

        json.WriteNumber("events", result.EventsRead);
        json.WriteNumber("skipped_bad", statistics.Skipped);
        json.WriteNumber("filtered_out", result.FilteredOut);
        json.WriteNumber("processed", result.Processed);
        json.WriteNumber("learned", result.Learned);
        json.WriteNumber("evaluated", result.Ranking.Evaluated);
        json.WriteNumber("repeats_not_ranked", result.RepeatsNotRanked);
        json.WriteNumber("unseen_item_events", result.UnseenItemEvents);
        json.WriteNumber("k", run.Evaluation.K);
        json.WriteNumber("hits", result.Ranking.Hits);
        Number(json, "recall_at_k", result.Ranking.Recall);
        Number(json, "ndcg_at_k", result.Ranking.Ndcg);
        Number(json, "mrr_at_k", result.Ranking.Mrr);
        Number(json, "coverage", result.Coverage);
        json.WriteNumber("distinct_items_recommended", result.DistinctItemsRecommended);
        json.WriteNumber("distinct_items_seen", result.DistinctItemsSeen);
        Number(json, "mae", result.Ratings.Mae);
        Number(json, "rmse", result.Ratings.Rmse);
        json.WriteNumber("ratings_predicted", result.Ratings.Predicted);
        json.WriteNumber("ratings_unpredicted", result.RatingsUnpredicted);
        json.WriteNumber("non_finite_predictions", result.NonFinitePredictions);
        Ranking(json, "known_users", result.KnownUsers);
        Ranking(json, "cold_start", result.ColdStart);

        json.WriteStartObject("window");
        json.WriteNumber("size", run.Evaluation.Window);
        json.WriteNumber("evaluated", result.WindowRanking.Evaluated);
        Number(json, "recall_at_k", result.WindowRanking.Recall);
        Number(json, "ndcg_at_k", result.WindowRanking.Ndcg);
        Number(json, "mrr_at_k", result.WindowRanking.Mrr);
        Number(json, "mae", result.WindowRatings.Mae);
        Number(json, "rmse", result.WindowRatings.Rmse);
        json.WriteEndObject();

        json.WriteStartArray("series");
        foreach (var point in result.Series)
        {
            json.WriteStartObject();
            json.WriteNumber("events", point.Events);
            json.WriteNumber("evaluated", point.Evaluated);
            Number(json, "recall_at_k", point.Recall);
            Number(json, "ndcg_at_k", point.Ndcg);
            Number(json, "mrr_at_k", point.Mrr);
            Number(json, "mae", point.Mae);
            Number(json, "rmse", point.Rmse);
            Number(json, "cumulative_recall_at_k", point.CumulativeRecall);
            json.WriteEndObject();
        }

        json.WriteEndArray();
        json.WriteNumber("elapsed_seconds", result.Elapsed.TotalSeconds);
        json.WriteNumber("events_per_second", result.EventsPerSecond);
        json.WriteEndObject();
    }

    private static void Ranking(Utf8JsonWriter json, string name, RankingMetrics metrics)
    {
        json.WriteStartObject(name);
        json.WriteNumber("evaluated", metrics.Evaluated);
        json.WriteNumber("hits", metrics.Hits);
        Number(json, "recall_at_k", metrics.Recall);
        Number(json, "ndcg_at_k", metrics.Ndcg);
        Number(json, "mrr_at_k", metrics.Mrr);
        json.WriteEndObject();
    }

    private static void Number(Utf8JsonWriter json, string name, double? value)
    {
        if (value is { } v && double.IsFinite(v))
        {
            json.WriteNumber(name, v);
        }
        else
        {
            json.WriteNull(name);
        }
    }
}
