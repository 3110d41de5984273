using System.CommandLine;
using StreamRec.Redis.Checkpoints;

namespace StreamRec.Cli.Commands.Checkpoint;

/// <summary>`streamrec checkpoint export`: restores a version and writes its content to a file.</summary>
public static class CheckpointExportCommand
{
    public static Command Create()
    {
        var redis = new RedisOptions();
        var model = new Option<string>("--model") { Description = "Model name.", Required = true };
        var version = new Option<string?>("--version") { Description = "Version (default: the active one)." };
        var output = new Option<FileInfo>("--output") { Description = "File to write.", Required = true };
        var format = new Option<string>("--format") { Description = "json, or protobuf (length-delimited Manifest then CheckpointChunks).", DefaultValueFactory = _ => "json" };
        format.AcceptOnlyFromAmong("json", "protobuf");
        var command = new Command("export", "Restore a version (snapshot plus deltas) and write its content as JSON or protobuf.") { model, version, output, format };
        foreach (var option in redis.All)
        {
            command.Options.Add(option);
        }

        command.SetAction((parse, cancellationToken) => CheckpointCli.RunAsync(parse, redis, async connection =>
        {
            var restored = await new CheckpointStore(connection).RestoreAsync(parse.GetValue(model)!, parse.GetValue(version), cancellationToken: cancellationToken);
            var file = parse.GetValue(output)!;
            await using (var stream = file.Create())
            {
                if (parse.GetValue(format) == "protobuf")
                {
                    CheckpointExport.WriteProtobuf(restored, stream);
                }
                else
                {
                    CheckpointExport.WriteJson(restored, stream);
                }
            }

            foreach (var skipped in restored.SkippedSnapshots)
            {
                await Console.Error.WriteLineAsync($"Skipped a newer snapshot: {skipped.Message}");
            }

            Console.WriteLine($"Exported {restored.Checkpoint.Model} {restored.Checkpoint.Version} snapshot {restored.SnapshotId} + {restored.Manifest.LastDeltaSeq} deltas: {restored.Checkpoint.Items.Count} items, {restored.Checkpoint.Users.Sum(u => u.Rows.Count)} users to {file.FullName}");
            return 0;
        }));
        return command;
    }
}
