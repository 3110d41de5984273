using System.CommandLine;
using System.Diagnostics;
using StreamRec.Cli.Commands.Checkpoint;
using StreamRec.Core.Data;
using StreamRec.Core.Learners;
using StreamRec.Redis.Checkpoints;

namespace StreamRec.Cli.Commands;

/// <summary>
/// `streamrec train`: a backfill from a file. Trains a learner over the events in order and publishes
/// the model to Redis as it goes: a snapshot first, a delta every --delta-every events, a new
/// snapshot every --snapshot-every events, and a last delta at the end.
/// </summary>
internal static class TrainCommand
{
    public static Command Create()
    {
        var redis = new RedisOptions();
        var input = new Option<FileInfo>("--input", "-i") { Description = "Event file to train on.", Required = true };
        var format = new Option<string?>("--format") { Description = "movielens, ml1m, csv, jsonl or proto. Default: from the file extension." };
        var model = new Option<string>("--model") { Description = "Model name (the Redis namespace).", Required = true };
        var version = new Option<string>("--version") { Description = "Model version to write.", DefaultValueFactory = _ => "v1" };
        var learner = new Option<string>("--learner") { Description = $"Learner with embeddings: {string.Join(", ", LearnerFactory.FactorNames)}.", DefaultValueFactory = _ => "bpr" };
        var dims = new Option<int?>("--dims") { Description = "Embedding size (default: the learner's)." };
        var learningRate = new Option<float?>("--lr") { Description = "Learning rate (default: the learner's)." };
        var l2 = new Option<float?>("--l2") { Description = "L2 regularisation (default: the learner's)." };
        var negatives = new Option<int?>("--negatives") { Description = "Negative samples per positive (default: the learner's)." };
        var halfLife = new Option<string?>("--half-life") { Description = "Trending half-life on event time, e.g. 6h, 7d (default: the learner's)." };
        var seed = new Option<ulong?>("--seed") { Description = "Random seed (default: the learner's)." };
        var minValue = new Option<float?>("--min-value") { Description = "Keep only events with value >= this." };
        var sort = new Option<bool>("--sort") { Description = "Stable-sort the input by event time first." };
        var skipBad = new Option<bool>("--skip-bad") { Description = "Skip and count malformed lines instead of stopping." };
        var deltaEvery = new Option<int>("--delta-every") { Description = "Events between deltas.", DefaultValueFactory = _ => 10_000 };
        var snapshotEvery = new Option<int>("--snapshot-every") { Description = "Events between snapshots.", DefaultValueFactory = _ => 1_000_000 };
        var command = new Command("train", "Train over a file and publish snapshots and deltas to Redis as it goes (a backfill from a file).")
        {
            input, format, model, version, learner, dims, learningRate, l2, negatives, halfLife, seed, minValue, sort, skipBad, deltaEvery, snapshotEvery,
        };
        foreach (var option in redis.All)
        {
            command.Options.Add(option);
        }

        command.SetAction(async (parse, cancellationToken) =>
        {
            var file = parse.GetValue(input)!;
            if (!file.Exists)
            {
                await Console.Error.WriteLineAsync($"--input: file '{file.FullName}' not found.");
                return ExitCodes.BadInput;
            }

            if (!FormatOption.TryResolve(parse.GetValue(format), file.Name, out var inputFormat, out var formatError))
            {
                await Console.Error.WriteLineAsync(formatError);
                return ExitCodes.BadInput;
            }

            if (parse.GetValue(deltaEvery) < 1 || parse.GetValue(snapshotEvery) < parse.GetValue(deltaEvery))
            {
                await Console.Error.WriteLineAsync("--delta-every must be at least 1 and --snapshot-every at least --delta-every.");
                return ExitCodes.BadInput;
            }

            TimeSpan? halfLifeValue = null;
            if (parse.GetValue(halfLife) is { } halfLifeText)
            {
                if (!DurationText.TryParse(halfLifeText, out var parsed))
                {
                    await Console.Error.WriteLineAsync($"--half-life: '{halfLifeText}' is not a duration such as 6h or 7d.");
                    return ExitCodes.BadInput;
                }

                halfLifeValue = parsed;
            }

            FactorLearner factor;
            try
            {
                var settings = new LearnerSettings(parse.GetValue(learner)!, parse.GetValue(dims), parse.GetValue(learningRate), parse.GetValue(l2),
                    parse.GetValue(negatives), halfLifeValue, parse.GetValue(seed));
                factor = EvalLearners.Create(settings) as FactorLearner
                    ?? throw new ArgumentException($"'{settings.Learner}' has no embeddings to publish; use one of {string.Join(", ", LearnerFactory.FactorNames)}.", "Learner");
                CheckpointKeys.ValidateName(parse.GetValue(model)!, "--model");
                CheckpointKeys.ValidateName(parse.GetValue(version)!, "--version");
            }
            catch (ArgumentException ex)
            {
                await Console.Error.WriteLineAsync($"{EvalLearners.OptionFor(ex.ParamName)}: {ex.Message}");
                return ExitCodes.BadInput;
            }

            return await CheckpointCli.RunAsync(parse, redis, async connection =>
            {
                var store = new CheckpointStore(connection);
                var options = new Dictionary<string, string> { ["source"] = file.Name };
                var checkpoints = new LearnerCheckpoints(factor, parse.GetValue(model)!, parse.GetValue(version)!, options);
                var statistics = new ReadStatistics();
                var readerOptions = new InteractionReaderOptions(file.FullName, parse.GetValue(skipBad), parse.GetValue(sort));
                var clock = Stopwatch.StartNew();
                long events = 0, learned = 0, watermark = 0, snapshots = 0, deltas = 0;
                var filter = parse.GetValue(minValue);
                var published = false;
                KafkaOffset Position() => new($"file:{file.Name}", 0, events, learned, statistics.Skipped);
                await using var stream = file.OpenRead();
                try
                {
                    foreach (var interaction in InteractionReader.Read(stream, inputFormat, readerOptions, statistics))
                    {
                        cancellationToken.ThrowIfCancellationRequested();
                        events++;
                        if (filter is { } min && interaction.Value < min)
                        {
                            continue;
                        }

                        factor.Learn(interaction);
                        learned++;
                        watermark = Math.Max(watermark, interaction.EventTimeMs);
                        if (!published || learned % parse.GetValue(snapshotEvery) == 0)
                        {
                            await store.PublishSnapshotAsync(checkpoints.Snapshot(Position(), watermark), cancellationToken);
                            published = true;
                            snapshots++;
                        }
                        else if (learned % parse.GetValue(deltaEvery) == 0)
                        {
                            await store.PublishDeltaAsync(checkpoints.Delta(Position(), watermark), cancellationToken);
                            deltas++;
                            Console.Error.WriteLine($"{learned:N0} events learned, {snapshots} snapshots, {deltas} deltas, {learned / clock.Elapsed.TotalSeconds:N0} events/s");
                        }
                    }
                }
                catch (InteractionFormatException ex)
                {
                    await Console.Error.WriteLineAsync(ex.Message);
                    return ExitCodes.BadInput;
                }

                if (!published)
                {
                    await Console.Error.WriteLineAsync($"--input: '{file.Name}' holds no events to train on.");
                    return ExitCodes.BadInput;
                }

                await store.PublishDeltaAsync(checkpoints.Delta(Position(), watermark), cancellationToken);
                deltas++;
                Console.WriteLine($"Trained {factor.Name} on {learned:N0} of {events:N0} events ({statistics.Skipped} bad lines skipped) in {clock.Elapsed.TotalSeconds:0.0} s; " +
                    $"published {snapshots} snapshots and {deltas} deltas of model '{parse.GetValue(model)}' version '{parse.GetValue(version)}'.");
                return ExitCodes.Ok;
            });
        });
        return command;
    }
}
