using System.CommandLine;
using System.Globalization;
using StreamRec.Redis.Checkpoints;

namespace StreamRec.Cli.Commands.Checkpoint;

/// <summary>`streamrec checkpoint list`: the versions of a model and the retained snapshots of one.</summary>
public static class CheckpointListCommand
{
    public static Command Create()
    {
        var redis = new RedisOptions();
        var model = new Option<string>("--model") { Description = "Model name.", Required = true };
        var version = new Option<string?>("--version") { Description = "Version whose snapshots to list (default: the active one)." };
        var command = new Command("list", "List a model's versions (the active one marked) and the retained snapshots of one version.") { model, version };
        foreach (var option in redis.All)
        {
            command.Options.Add(option);
        }

        command.SetAction((parse, cancellationToken) => CheckpointCli.RunAsync(parse, redis, async connection =>
        {
            var name = parse.GetValue(model)!;
            var store = new CheckpointStore(connection);
            var versions = await store.ListVersionsAsync(name);
            if (versions.Count == 0)
            {
                Console.WriteLine($"Model '{name}' has no published versions.");
                return 1;
            }

            Console.WriteLine("active  version  publish_seq  snapshot  deltas  created_at");
            foreach (var info in versions)
            {
                var m = info.Manifest;
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"{(info.IsActive ? "*" : " "),-7} {info.Version}  {m?.PublishSeq}  {m?.SnapshotId}  {m?.LastDeltaSeq}  {(m is null ? "-" : DateTimeOffset.FromUnixTimeMilliseconds(m.CreatedAtMs).ToString("O", CultureInfo.InvariantCulture))}"));
            }

            var chosen = parse.GetValue(version) ?? versions.FirstOrDefault(v => v.IsActive)?.Version ?? versions[^1].Version;
            var verification = await store.VerifyAsync(name, chosen, cancellationToken);
            Console.WriteLine($"Retained snapshots of {chosen}:");
            foreach (var snapshot in verification)
            {
                Console.WriteLine($"  snapshot {snapshot.SnapshotId}{(snapshot.IsCurrent ? " (current)" : "")}: {snapshot.ChunksChecked} chunks, {(snapshot.Error is null ? "ok" : "CORRUPT: " + snapshot.Error.Message)}");
            }

            return 0;
        }));
        return command;
    }
}
