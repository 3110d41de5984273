using StackExchange.Redis;
using StreamRec.DevServers;

namespace StreamRec.IntegrationTests.Infrastructure;

/// <summary>
/// The Redis server every Redis test in this assembly shares, chosen once: the server named by
/// <c>STREAMREC_TEST_REDIS</c> (host:port) when set, else <c>redis-server</c> from PATH on a free
/// port, else an embedded Garnet. Tests isolate themselves with <see cref="CreateScope"/>.
/// </summary>
public static class TestRedis
{
    /// <summary>Environment variable naming an already running Redis for the tests.</summary>
    public const string EnvironmentVariable = "STREAMREC_TEST_REDIS";

    private static readonly Lazy<Task<(LocalRedis Server, ConnectionMultiplexer Connection)>> _shared = new(StartAsync);

    /// <summary>The server in use (started on first use).</summary>
    public static async Task<LocalRedis> ServerAsync() => (await _shared.Value).Server;

    /// <summary>A fresh key namespace on the shared server; disposing it deletes every key under it.</summary>
    public static async Task<RedisTestScope> CreateScope()
    {
        var (server, connection) = await _shared.Value;
        return new RedisTestScope(server, connection, $"test-{Guid.NewGuid():N}");
    }

    internal static async Task StopAsync()
    {
        if (!_shared.IsValueCreated)
        {
            return;
        }

        var (server, connection) = await _shared.Value;
        await connection.DisposeAsync();
        server.Dispose();
    }

    private static async Task<(LocalRedis, ConnectionMultiplexer)> StartAsync()
    {
        var external = Environment.GetEnvironmentVariable(EnvironmentVariable);
        var server = string.IsNullOrWhiteSpace(external) ? LocalRedis.StartRedisServerOrEmbedded() : LocalRedis.External(external);
        var options = StreamRec.Redis.RedisEndpointSettings.Parse(server.Endpoint, EnvironmentVariable).ToConfigurationOptions();
        options.AllowAdmin = true; // INFO and SCAN for the test output and the scopes' clean-up
        var connection = await ConnectionMultiplexer.ConnectAsync(options);
        // Shown in the test run's output so a reader of CI logs knows which server was exercised.
        var info = (await connection.GetServer(connection.GetEndPoints()[0]).InfoAsync("server")).SelectMany(group => group)
            .ToDictionary(pair => pair.Key, pair => pair.Value);
        var product = info.TryGetValue("garnet_version", out var garnet) ? $"garnet {garnet}"
            : $"redis_version {info.GetValueOrDefault("redis_version", "?")}, executable {info.GetValueOrDefault("executable", "?")}";
        await TestContext.Progress.WriteLineAsync($"[StreamRec] Redis tests run against {server.Description} ({product})");
        return (server, connection);
    }
}

/// <summary>One test's slice of the shared Redis: keys under <see cref="Namespace"/> are deleted on dispose.</summary>
public sealed class RedisTestScope(LocalRedis server, ConnectionMultiplexer connection, string @namespace) : IAsyncDisposable
{
    public LocalRedis Server { get; } = server;

    public ConnectionMultiplexer Connection { get; } = connection;

    public IDatabase Database => Connection.GetDatabase();

    /// <summary>A unique prefix for this test; use it as the model name or key prefix.</summary>
    public string Namespace { get; } = @namespace;

    public RedisKey Key(string suffix) => $"{Namespace}:{suffix}";

    public async ValueTask DisposeAsync()
    {
        foreach (var endpoint in Connection.GetEndPoints())
        {
            var serverApi = Connection.GetServer(endpoint);
            // Hash-tagged keys ({ns}:...) and plain ones (ns:...) both contain the namespace.
            await foreach (var key in serverApi.KeysAsync(pattern: $"*{Namespace}*", pageSize: 1000))
            {
                await Database.KeyDeleteAsync(key);
            }
        }
    }
}
