using System.Globalization;
using StreamRec.Core.Data;
using StreamRec.Core.Evaluation;

namespace StreamRec.Cli.Commands;

/// <summary>The human-readable table printed at the end of <c>streamrec eval</c>.</summary>
internal static class EvalSummary
{
    public static void Write(TextWriter output, EvalRun run, PrequentialResult result, ReadStatistics statistics)
    {
        int k = run.Evaluation.K;
        output.WriteLine($"learner {result.Learner} on {Path.GetFileName(run.InputPath)} ({run.Format.ToName()})");
        output.WriteLine($"events {result.EventsRead:N0}, skipped bad {statistics.Skipped:N0}, filtered out {result.FilteredOut:N0}, learned {result.Learned:N0}, repeats not ranked {result.RepeatsNotRanked:N0}, unseen-item events {result.UnseenItemEvents:N0}");
        output.WriteLine($"{result.EventsPerSecond:N0} events/s over {result.Elapsed.TotalSeconds:F1} s");
        output.WriteLine();
        output.WriteLine($"{"",-22}{"evaluated",12}{$"recall@{k}",12}{$"ndcg@{k}",12}{$"mrr@{k}",12}");
        Row(output, "all", result.Ranking);
        Row(output, "known users", result.KnownUsers);
        Row(output, "cold-start users", result.ColdStart);
        Row(output, $"last {run.Evaluation.Window:N0}", result.WindowRanking);
        output.WriteLine();
        output.WriteLine($"coverage {Number(result.Coverage)} ({result.DistinctItemsRecommended:N0} of {result.DistinctItemsSeen:N0} items recommended)");
        output.WriteLine($"ratings predicted {result.Ratings.Predicted:N0}: MAE {Number(result.Ratings.Mae)}, RMSE {Number(result.Ratings.Rmse)}; last {run.Evaluation.Window:N0}: MAE {Number(result.WindowRatings.Mae)}, RMSE {Number(result.WindowRatings.Rmse)}");
        if (result.NonFinitePredictions > 0)
        {
            output.WriteLine($"warning: {result.NonFinitePredictions:N0} predictions were NaN or infinite (the model diverged)");
        }
    }

    private static void Row(TextWriter output, string label, RankingMetrics metrics) =>
        output.WriteLine($"{label,-22}{metrics.Evaluated,12:N0}{Number(metrics.Recall),12}{Number(metrics.Ndcg),12}{Number(metrics.Mrr),12}");

    private static string Number(double? value) => value is { } v ? v.ToString("F4", CultureInfo.InvariantCulture) : "-";
}
