using System.CommandLine;
using StreamRec.Core.Data;

namespace StreamRec.Cli.Commands;

/// <summary><c>streamrec generate</c>: writes a deterministic synthetic clickstream to a file.</summary>
internal static class GenerateCommand
{
    public static Command Create()
    {
        var defaults = new SyntheticClickstreamOptions();
        var users = new Option<int>("--users") { Description = "Distinct users.", DefaultValueFactory = _ => defaults.Users };
        var items = new Option<int>("--items") { Description = "Catalogue size, including items released during the stream.", DefaultValueFactory = _ => defaults.Items };
        var events = new Option<long>("--events") { Description = "Events to write.", DefaultValueFactory = _ => defaults.Events };
        var clusters = new Option<int>("--clusters") { Description = "Latent taste clusters.", DefaultValueFactory = _ => defaults.Clusters };
        var shiftAt = new Option<long?>("--shift-at") { Description = "Event index from which every user's taste moves to the next cluster (abrupt drift). Default: no shift." };
        var seed = new Option<int>("--seed") { Description = "Random seed; the same seed and options give the same file.", DefaultValueFactory = _ => defaults.Seed };
        var ratingFraction = new Option<double>("--rating-fraction") { Description = "Share of events that are explicit 1-5 ratings.", DefaultValueFactory = _ => defaults.RatingFraction };
        var newItemFraction = new Option<double>("--new-item-fraction") { Description = "Share of the catalogue released over the stream rather than at its start.", DefaultValueFactory = _ => defaults.NewItemFraction };
        var output = new Option<FileInfo>("--output", "-o") { Description = "File to write.", Required = true };
        var format = new Option<string?>("--format") { Description = "csv, jsonl or proto. Default: from the output file's extension." };

        var command = new Command("generate", "Write a synthetic clickstream (taste clusters, Zipf popularity, new items, optional drift) to a file.")
        {
            users, items, events, clusters, shiftAt, seed, ratingFraction, newItemFraction, output, format,
        };

        command.SetAction((parseResult, cancellationToken) =>
        {
            var error = parseResult.InvocationConfiguration.Error;
            var file = parseResult.GetValue(output)!;
            if (!FormatOption.TryResolve(parseResult.GetValue(format), file.Name, out var outputFormat, out string? formatError))
            {
                error.WriteLine(formatError);
                return Task.FromResult(ExitCodes.BadInput);
            }

            if (outputFormat is not (InputFormat.Csv or InputFormat.JsonLines or InputFormat.Proto))
            {
                error.WriteLine($"--format: generate writes csv, jsonl or proto, not {outputFormat.ToName()}.");
                return Task.FromResult(ExitCodes.BadInput);
            }

            SyntheticClickstream stream;
            try
            {
                stream = new SyntheticClickstream(defaults with
                {
                    Users = parseResult.GetValue(users),
                    Items = parseResult.GetValue(items),
                    Events = parseResult.GetValue(events),
                    Clusters = parseResult.GetValue(clusters),
                    ShiftAt = parseResult.GetValue(shiftAt),
                    Seed = parseResult.GetValue(seed),
                    RatingFraction = parseResult.GetValue(ratingFraction),
                    NewItemFraction = parseResult.GetValue(newItemFraction),
                });
            }
            catch (ArgumentException ex)
            {
                error.WriteLine($"--{OptionName(ex.ParamName)}: {ex.Message.Split(" (Parameter")[0]}");
                return Task.FromResult(ExitCodes.BadInput);
            }

            long written;
            try
            {
                using var destination = new FileStream(file.FullName, FileMode.Create, FileAccess.Write, FileShare.None, 1 << 16);
                written = InteractionWriter.Write(destination, outputFormat, stream.TakeWhile(_ => !cancellationToken.IsCancellationRequested));
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                error.WriteLine($"--output: cannot write '{file.FullName}': {ex.Message}");
                return Task.FromResult(ExitCodes.BadInput);
            }

            parseResult.InvocationConfiguration.Output.WriteLine($"wrote {written:N0} events ({outputFormat.ToName()}) to {file.FullName}");
            return Task.FromResult(ExitCodes.Ok);
        });
        return command;
    }

    /// <summary>Maps an option record's property name to its command-line spelling.</summary>
    private static string OptionName(string? property) => property switch
    {
        nameof(SyntheticClickstreamOptions.ShiftAt) => "shift-at",
        nameof(SyntheticClickstreamOptions.RatingFraction) => "rating-fraction",
        nameof(SyntheticClickstreamOptions.NewItemFraction) => "new-item-fraction",
        null => "options",
        _ => property.ToLowerInvariant(),
    };
}
