using System.CommandLine;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Hosting;
using StreamRec.Worker.Hosting;

namespace StreamRec.Cli.Commands;

/// <summary>
/// `streamrec worker`: runs a worker replica, or with --replay a backfill into a new model version.
/// Any other setting is given as configuration, for example
/// <c>--Kafka:BootstrapServers=localhost:9092 --Topics:0=clicks --Model=shop --RedisEndpoint=localhost:6379</c>,
/// or as STREAMREC_ environment variables (docs/operations.md lists them).
/// </summary>
public static class WorkerCommand
{
    public static Command Create()
    {
        var replay = new Option<bool>("--replay") { Description = "Rebuild a model version from the topics' history (a backfill), then exit." };
        var from = new Option<string>("--from") { Description = "Replay start: earliest, an ISO-8601 time, or a file of 'topic,partition,offset' lines.", DefaultValueFactory = _ => "earliest" };
        var until = new Option<string>("--until") { Description = "Replay end: caught-up (the end of the topics at start) or an ISO-8601 time.", DefaultValueFactory = _ => "caught-up" };
        var version = new Option<string?>("--model-version") { Description = "The model version to write (a replay needs a new one; `streamrec model promote` makes it live)." };
        var command = new Command("worker", "Run a worker replica: consume the clickstream, learn per shard, publish checkpoints to Redis.")
        {
            replay, from, until, version,
        };
        command.TreatUnmatchedTokensAsErrors = false;
        command.SetAction(async (parse, cancellationToken) =>
        {
            var args = new List<string>(parse.UnmatchedTokens);
            if (parse.GetValue(version) is { } modelVersion)
            {
                args.Add($"--ModelVersion={modelVersion}");
            }

            if (parse.GetValue(replay))
            {
                if (parse.GetValue(version) is null)
                {
                    await Console.Error.WriteLineAsync("--replay needs --model-version: a backfill writes a new version and leaves the live one alone.");
                    return ExitCodes.BadInput;
                }

                args.Add($"--Replay:From={parse.GetValue(from)}");
                args.Add($"--Replay:Until={parse.GetValue(until)}");
            }

            var builder = WebApplication.CreateSlimBuilder([.. args]);
            builder.AddStreamRecWorker();
            // Checked here too so a bad setting prints one clean list instead of a host start-up failure.
            var errors = (builder.Configuration.Get<WorkerOptions>() ?? new WorkerOptions()).Validate();
            if (errors.Count > 0)
            {
                await Console.Error.WriteLineAsync("Invalid worker configuration:" + Environment.NewLine + string.Join(Environment.NewLine, errors.Select(e => "  " + e)));
                return ExitCodes.BadInput;
            }

            await using var app = builder.Build();
            app.MapStreamRecWorkerEndpoints();
            try
            {
                await app.StartAsync(cancellationToken);
                await app.WaitForShutdownAsync(cancellationToken);
            }
            catch (Microsoft.Extensions.Options.OptionsValidationException ex)
            {
                await Console.Error.WriteLineAsync("Invalid worker configuration:" + Environment.NewLine + string.Join(Environment.NewLine, ex.Failures.Select(f => "  " + f)));
                return ExitCodes.BadInput;
            }

            return Environment.ExitCode;
        });
        return command;
    }
}
