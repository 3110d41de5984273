using System.CommandLine;
using StreamRec.Cli.Commands.Checkpoint;
using StreamRec.Redis.Checkpoints;

namespace StreamRec.Cli.Commands;

/// <summary>`streamrec model list|promote`: the versions of a model and which one readers follow.</summary>
public static class ModelCommand
{
    public static Command Create() => new("model", "Model versions: list them, promote one to be served.")
    {
        List(),
        Promote(),
    };

    private static Command List()
    {
        var redis = new RedisOptions();
        var model = new Option<string>("--model") { Description = "Model name.", Required = true };
        var command = new Command("list", "List the versions of a model; the active one is marked with *.") { model };
        foreach (var option in redis.All)
        {
            command.Options.Add(option);
        }

        command.SetAction((parse, _) => CheckpointCli.RunAsync(parse, redis, async connection =>
        {
            var store = new CheckpointStore(connection);
            var name = parse.GetValue(model)!;
            var versions = await store.ListVersionsAsync(name);
            if (versions.Count == 0)
            {
                Console.WriteLine($"Model '{name}' has no versions.");
                return 0;
            }

            var database = connection.GetDatabase();
            foreach (var version in versions)
            {
                var chains = await database.SetLengthAsync(CheckpointKeys.Chains(name, version.Version));
                var shape = chains > 0 ? $"{chains} chains (sharded)" : $"snapshot {version.Manifest?.SnapshotId}, delta {version.Manifest?.LastDeltaSeq}";
                Console.WriteLine($"{(version.IsActive ? "*" : " ")} {version.Version,-24} {shape}");
            }

            return 0;
        }));
        return command;
    }

    private static Command Promote()
    {
        var redis = new RedisOptions();
        var model = new Option<string>("--model") { Description = "Model name.", Required = true };
        var version = new Option<string>("--version") { Description = "The version readers should follow from now on.", Required = true };
        var command = new Command("promote", "Make a version the one readers serve, atomically.") { model, version };
        foreach (var option in redis.All)
        {
            command.Options.Add(option);
        }

        command.SetAction((parse, _) => CheckpointCli.RunAsync(parse, redis, async connection =>
        {
            var store = new CheckpointStore(connection);
            var name = parse.GetValue(model)!;
            var target = parse.GetValue(version)!;
            var previous = await store.GetActiveVersionAsync(name);
            await store.PromoteAsync(name, target);
            Console.WriteLine($"Model '{name}': readers now follow version '{target}' (was '{previous ?? "none"}').");
            return 0;
        }));
        return command;
    }
}
