using System.CommandLine;
using StackExchange.Redis;
using StreamRec.Redis;
using StreamRec.Redis.Checkpoints;

namespace StreamRec.Cli.Commands.Checkpoint;

/// <summary>`streamrec checkpoint ...`: inspect, check, export and benchmark model checkpoints in Redis.</summary>
public static class CheckpointCommand
{
    /// <summary>Environment variable read for the Redis password when --password is not given.</summary>
    public const string PasswordVariable = "STREAMREC_REDIS_PASSWORD";

    public static Command Create() => new("checkpoint", "Model checkpoints in Redis: list, inspect, verify, export, bench.")
    {
        CheckpointListCommand.Create(),
        CheckpointInspectCommand.Create(),
        CheckpointVerifyCommand.Create(),
        CheckpointExportCommand.Create(),
        CheckpointBenchCommand.Create(),
    };
}

/// <summary>The connection options every checkpoint sub-command takes.</summary>
internal sealed class RedisOptions
{
    public Option<string> Redis { get; } = new("--redis") { Description = "Redis address, host:port.", Required = true };

    public Option<string?> Password { get; } = new("--password") { Description = $"Redis password (or set {CheckpointCommand.PasswordVariable}). Never printed." };

    public Option<string?> User { get; } = new("--user") { Description = "Redis ACL user name." };

    public Option<bool> Tls { get; } = new("--tls") { Description = "Connect with TLS." };

    public IEnumerable<Option> All => [Redis, Password, User, Tls];

    public RedisEndpointSettings Settings(ParseResult parse) => RedisEndpointSettings.Parse(parse.GetValue(Redis), "--redis") with
    {
        Password = parse.GetValue(Password) ?? Environment.GetEnvironmentVariable(CheckpointCommand.PasswordVariable),
        User = parse.GetValue(User),
        UseTls = parse.GetValue(Tls),
    };
}

/// <summary>Runs a sub-command's body with a connection, turning expected failures into one line on stderr without secrets.</summary>
internal static class CheckpointCli
{
    public static async Task<int> RunAsync(ParseResult parse, RedisOptions redis, Func<ConnectionMultiplexer, Task<int>> body)
    {
        RedisEndpointSettings? settings = null;
        try
        {
            settings = redis.Settings(parse);
            await using var connection = await settings.ConnectAsync();
            return await body(connection);
        }
        catch (Exception ex) when (ex is FormatException or RedisUnavailableException or RedisException or CheckpointNotFoundException
            or CheckpointRestoreException or CheckpointCorruptException or ArgumentException or IOException)
        {
            var message = ex.Message;
            if (!string.IsNullOrEmpty(settings?.Password))
            {
                message = message.Replace(settings.Password, "***", StringComparison.Ordinal);
            }

            await Console.Error.WriteLineAsync($"streamrec checkpoint: {message}");
            return 1;
        }
    }
}
