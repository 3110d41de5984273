using System.CommandLine;
using System.Diagnostics;
using StreamRec.Core.Data;
using StreamRec.Core.Evaluation;
using StreamRec.Core.Model;

namespace StreamRec.Cli.Commands;

/// <summary>
/// <c>streamrec eval</c>: replays an event file through a learner prequentially (test, then
/// train) and prints recall/nDCG/MRR@k, coverage and MAE/RMSE, cumulative and windowed.
/// </summary>
internal static class EvalCommand
{
    // A progress line at most this often on long inputs.
    private static readonly TimeSpan ProgressInterval = TimeSpan.FromSeconds(3);

    public static Command Create()
    {
        var evaluationDefaults = new PrequentialOptions();
        var input = new Option<FileInfo>("--input", "-i") { Description = "Event file to replay.", Required = true };
        var format = new Option<string?>("--format") { Description = "movielens (u.data), ml1m (ratings.dat), csv, jsonl or proto. Default: from the file extension." };
        var learner = new Option<string>("--learner") { Description = $"Learner: {string.Join(", ", EvalLearners.Names)}.", Required = true };
        var dims = new Option<int?>("--dims") { Description = "Embedding size (default: the learner's)." };
        var learningRate = new Option<float?>("--lr") { Description = "Learning rate (default: the learner's)." };
        var l2 = new Option<float?>("--l2") { Description = "L2 regularisation (default: the learner's)." };
        var negatives = new Option<int?>("--negatives") { Description = "Negative samples per positive (default: the learner's)." };
        var halfLife = new Option<string?>("--half-life") { Description = "Popularity decay half-life on event time, e.g. 6h, 7d, 90m (default: the learner's)." };
        var seed = new Option<ulong?>("--seed") { Description = "Random seed of the learner (default: the learner's)." };
        var k = new Option<int>("--k") { Description = "Length of the recommended list.", DefaultValueFactory = _ => evaluationDefaults.K };
        var minValue = new Option<float?>("--min-value") { Description = "Positive-only: keep only events with value >= this (e.g. 5 for 5-star ratings)." };
        var sort = new Option<bool>("--sort") { Description = "Stable-sort the input by event time first (ties keep file order); loads the file into memory." };
        var skipBad = new Option<bool>("--skip-bad") { Description = "Skip and count malformed lines instead of stopping at the first." };
        var window = new Option<int>("--window") { Description = "Evaluated events covered by the windowed metrics.", DefaultValueFactory = _ => evaluationDefaults.Window };
        var sampleEvery = new Option<int>("--sample-every") { Description = "Record a point of the windowed series every this many events.", DefaultValueFactory = _ => evaluationDefaults.SampleEvery };
        var freezeAfter = new Option<long?>("--freeze-after") { Description = "Stop learning after this many events (testing goes on): the frozen baseline for drift." };
        var metrics = new Option<string>("--metrics") { Description = "ranking, rating or both.", DefaultValueFactory = _ => "both" };
        var ties = new Option<string>("--ties") { Description = "pessimistic (the held item ranks last among equal scores) or model (the model's order).", DefaultValueFactory = _ => "pessimistic" };
        var includeSeen = new Option<bool>("--include-seen") { Description = "Rank the user's earlier items too, and rank repeat events (for re-consumption streams)." };
        var report = new Option<FileInfo?>("--report") { Description = "Write the full result as JSON to this file." };

        var command = new Command("eval", "Prequential (test-then-train) evaluation of a learner on an event file.")
        {
            input, format, learner, dims, learningRate, l2, negatives, halfLife, seed, k, minValue, sort, skipBad, window, sampleEvery, freezeAfter, metrics, ties, includeSeen, report,
        };

        command.SetAction((parseResult, cancellationToken) =>
        {
            var output = parseResult.InvocationConfiguration.Output;
            var error = parseResult.InvocationConfiguration.Error;
            int Fail(string message)
            {
                error.WriteLine(message);
                return ExitCodes.BadInput;
            }

            var inputFile = parseResult.GetValue(input)!;
            if (!inputFile.Exists)
            {
                return Task.FromResult(Fail($"--input: file '{inputFile.FullName}' not found."));
            }

            if (!FormatOption.TryResolve(parseResult.GetValue(format), inputFile.Name, out var inputFormat, out string? formatError))
            {
                return Task.FromResult(Fail(formatError!));
            }

            string learnerName = parseResult.GetValue(learner)!.Trim().ToLowerInvariant();
            if (!EvalLearners.Names.Contains(learnerName))
            {
                return Task.FromResult(Fail($"--learner: '{learnerName}' is not one of {string.Join(", ", EvalLearners.Names)}."));
            }

            TimeSpan? halfLifeValue = null;
            if (parseResult.GetValue(halfLife) is { } halfLifeText)
            {
                if (!DurationText.TryParse(halfLifeText, out var parsed))
                {
                    return Task.FromResult(Fail($"--half-life: '{halfLifeText}' is not a positive duration such as 90m, 6h or 7d."));
                }

                halfLifeValue = parsed;
            }

            string metricsValue = parseResult.GetValue(metrics)!.Trim().ToLowerInvariant();
            if (metricsValue is not ("ranking" or "rating" or "both"))
            {
                return Task.FromResult(Fail($"--metrics: '{metricsValue}' is not one of ranking, rating, both."));
            }

            string tiesValue = parseResult.GetValue(ties)!.Trim().ToLowerInvariant();
            if (tiesValue is not ("pessimistic" or "model"))
            {
                return Task.FromResult(Fail($"--ties: '{tiesValue}' is not one of pessimistic, model."));
            }

            var settings = new LearnerSettings(
                learnerName,
                parseResult.GetValue(dims),
                parseResult.GetValue(learningRate),
                parseResult.GetValue(l2),
                parseResult.GetValue(negatives),
                halfLifeValue,
                parseResult.GetValue(seed));
            var evaluation = new PrequentialOptions
            {
                K = parseResult.GetValue(k),
                Window = parseResult.GetValue(window),
                SampleEvery = parseResult.GetValue(sampleEvery),
                MinValue = parseResult.GetValue(minValue),
                FreezeAfter = parseResult.GetValue(freezeAfter),
                ExcludeSeen = !parseResult.GetValue(includeSeen),
                EvaluateRanking = metricsValue is "ranking" or "both",
                EvaluateRatings = metricsValue is "rating" or "both",
                TieBreaking = tiesValue == "model" ? TieBreaking.ModelOrder : TieBreaking.Pessimistic,
            };
            try
            {
                evaluation.Validate();
            }
            catch (ArgumentException ex)
            {
                return Task.FromResult(Fail($"--{EvaluationOptionName(ex.ParamName)}: {ex.Message.Split(" (Parameter")[0]}"));
            }

            IOnlineRecommender model;
            try
            {
                model = EvalLearners.Create(settings);
            }
            catch (ArgumentException ex)
            {
                return Task.FromResult(Fail($"{EvalLearners.OptionFor(ex.ParamName)}: {ex.Message.Split(" (Parameter")[0]}"));
            }

            var run = new EvalRun(
                inputFile.FullName,
                inputFormat,
                new InteractionReaderOptions(inputFile.FullName, parseResult.GetValue(skipBad), parseResult.GetValue(sort)),
                settings,
                evaluation);
            PrequentialResult result;
            ReadStatistics statistics;
            try
            {
                (result, statistics) = Replay(run, model, error, cancellationToken);
            }
            catch (InteractionFormatException ex)
            {
                return Task.FromResult(Fail($"{ex.Message} (use --skip-bad to skip malformed lines)"));
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                return Task.FromResult(Fail($"--input: cannot read '{inputFile.FullName}': {ex.Message}"));
            }

            EvalSummary.Write(output, run, result, statistics);
            if (parseResult.GetValue(report) is { } reportFile)
            {
                try
                {
                    using var stream = new FileStream(reportFile.FullName, FileMode.Create, FileAccess.Write, FileShare.None);
                    EvalReport.Write(stream, run, result, statistics);
                }
                catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
                {
                    return Task.FromResult(Fail($"--report: cannot write '{reportFile.FullName}': {ex.Message}"));
                }

                output.WriteLine($"report written to {reportFile.FullName}");
            }

            return Task.FromResult(ExitCodes.Ok);
        });
        return command;
    }

    private static (PrequentialResult Result, ReadStatistics Statistics) Replay(EvalRun run, IOnlineRecommender model, TextWriter progress, CancellationToken cancellationToken)
    {
        var statistics = new ReadStatistics();
        using var file = new FileStream(run.InputPath, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16, FileOptions.SequentialScan);
        var evaluator = new PrequentialEvaluator(model, run.Evaluation);
        long nextCheck = 0;
        long started = Stopwatch.GetTimestamp();
        long lastReport = started;
        long eventsRead = 0;
        foreach (var interaction in InteractionReader.Read(file, run.Format, run.Reader, statistics))
        {
            evaluator.Process(interaction);
            if (++eventsRead < nextCheck)
            {
                continue;
            }

            // Look at the clock only every few thousand events.
            nextCheck = eventsRead + 4_096;
            cancellationToken.ThrowIfCancellationRequested();
            if (Stopwatch.GetElapsedTime(lastReport) >= ProgressInterval)
            {
                lastReport = Stopwatch.GetTimestamp();
                var recall = evaluator.WindowRecall;
                progress.WriteLine($"eval: {eventsRead:N0} events ({eventsRead / Stopwatch.GetElapsedTime(started).TotalSeconds:N0}/s), {file.Position * 100.0 / Math.Max(1, file.Length):F0}% of input, window recall@{run.Evaluation.K} {(recall is { } r ? r.ToString("F4", System.Globalization.CultureInfo.InvariantCulture) : "-")}");
            }
        }

        return (evaluator.GetResult(), statistics);
    }

    private static string EvaluationOptionName(string? property) => property switch
    {
        nameof(PrequentialOptions.K) => "k",
        nameof(PrequentialOptions.Window) => "window",
        nameof(PrequentialOptions.SampleEvery) => "sample-every",
        nameof(PrequentialOptions.MinValue) => "min-value",
        nameof(PrequentialOptions.FreezeAfter) => "freeze-after",
        _ => "metrics",
    };
}

/// <summary>What an eval run was asked to do, for the summary and the report.</summary>
internal sealed record EvalRun(string InputPath, InputFormat Format, InteractionReaderOptions Reader, LearnerSettings Learner, PrequentialOptions Evaluation);
