using System.CommandLine;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Hosting;
using StreamRec.Reader.Hosting;

namespace StreamRec.Cli.Commands;

/// <summary>
/// `streamrec reader`: serves top-k recommendations over HTTP from the latest checkpoint of a model.
/// Settings as configuration, for example <c>--Model=shop --RedisEndpoint=localhost:6379 --HttpPort=8080</c>,
/// or STREAMREC_ environment variables (docs/reader.md lists them).
/// </summary>
public static class ReaderCommand
{
    public static Command Create()
    {
        var command = new Command("reader", "Serve top-k recommendations over HTTP from the latest checkpoint in Redis.");
        command.TreatUnmatchedTokensAsErrors = false;
        command.SetAction(async (parse, cancellationToken) =>
        {
            var builder = WebApplication.CreateSlimBuilder([.. parse.UnmatchedTokens]);
            builder.AddStreamRecReader();
            // Checked here too so a bad setting prints one clean list instead of a host start-up failure.
            var errors = (builder.Configuration.Get<ReaderOptions>() ?? new ReaderOptions()).Validate();
            if (errors.Count > 0)
            {
                await Console.Error.WriteLineAsync("Invalid reader configuration:" + Environment.NewLine + string.Join(Environment.NewLine, errors.Select(e => "  " + e)));
                return ExitCodes.BadInput;
            }

            await using var app = builder.Build();
            app.MapStreamRecReader();
            await app.StartAsync(cancellationToken);
            await app.WaitForShutdownAsync(cancellationToken);
            return ExitCodes.Ok;
        });
        return command;
    }
}
