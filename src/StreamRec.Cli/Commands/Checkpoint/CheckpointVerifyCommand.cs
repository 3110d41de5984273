using System.CommandLine;
using StreamRec.Redis.Checkpoints;

namespace StreamRec.Cli.Commands.Checkpoint;

/// <summary>`streamrec checkpoint verify`: reads and checks every chunk of every retained snapshot.</summary>
public static class CheckpointVerifyCommand
{
    public static Command Create()
    {
        var redis = new RedisOptions();
        var model = new Option<string>("--model") { Description = "Model name.", Required = true };
        var version = new Option<string?>("--version") { Description = "Version (default: the active one)." };
        var command = new Command("verify", "Check the CRC-32 and structure of every chunk of each retained snapshot and its deltas. Exit 0 only when all pass.") { model, version };
        foreach (var option in redis.All)
        {
            command.Options.Add(option);
        }

        command.SetAction((parse, cancellationToken) => CheckpointCli.RunAsync(parse, redis, async connection =>
        {
            var name = parse.GetValue(model)!;
            var store = new CheckpointStore(connection);
            var chosen = parse.GetValue(version) ?? await store.GetActiveVersionAsync(name)
                ?? throw new CheckpointNotFoundException($"Model '{name}' has no active version.");
            var results = await store.VerifyAsync(name, chosen, cancellationToken);
            foreach (var result in results)
            {
                Console.WriteLine($"{name} {chosen} snapshot {result.SnapshotId}{(result.IsCurrent ? " (current)" : "")}: {result.ChunksChecked} chunks {(result.Error is null ? "OK" : "FAILED: " + result.Error.Message)}");
            }

            return results.All(r => r.Error is null) ? 0 : 1;
        }));
        return command;
    }
}
