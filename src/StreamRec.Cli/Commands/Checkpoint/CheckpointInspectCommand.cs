using System.CommandLine;
using Google.Protobuf;
using StreamRec.Redis.Checkpoints;

namespace StreamRec.Cli.Commands.Checkpoint;

/// <summary>`streamrec checkpoint inspect`: a version's manifest as JSON.</summary>
public static class CheckpointInspectCommand
{
    public static Command Create()
    {
        var redis = new RedisOptions();
        var model = new Option<string>("--model") { Description = "Model name.", Required = true };
        var version = new Option<string?>("--version") { Description = "Version (default: the active one)." };
        var command = new Command("inspect", "Print a version's manifest (snapshot, deltas, chunks, offsets) as JSON.") { model, version };
        foreach (var option in redis.All)
        {
            command.Options.Add(option);
        }

        command.SetAction((parse, cancellationToken) => CheckpointCli.RunAsync(parse, redis, async connection =>
        {
            var name = parse.GetValue(model)!;
            var manifest = await new CheckpointStore(connection).GetManifestAsync(name, parse.GetValue(version))
                ?? throw new CheckpointNotFoundException($"Model '{name}' has no manifest for version '{parse.GetValue(version) ?? "(active)"}'.");
            Console.WriteLine(new JsonFormatter(JsonFormatter.Settings.Default.WithFormatDefaultValues(true)).Format(manifest));
            return 0;
        }));
        return command;
    }
}
