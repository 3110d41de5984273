using StackExchange.Redis;
using StreamRec.DevServers;

namespace StreamRec.Cli.Bench;

/// <summary>What every section of one bench run shares: sizes, the Redis it writes to, and where progress goes.</summary>
internal sealed record BenchContext(BenchSettings Settings, LocalRedis Redis, IConnectionMultiplexer Connection, TextWriter Log)
{
    /// <summary>Options every figure carries: the run's mode and the Redis it ran against.</summary>
    public Dictionary<string, object?> Options(params (string Key, object? Value)[] extra)
    {
        var options = new Dictionary<string, object?> { ["mode"] = Settings.Mode, ["redis"] = Redis.Kind.ToString() };
        foreach (var (key, value) in extra)
        {
            options[key] = value;
        }

        return options;
    }
}
