using System.Diagnostics;
using StreamRec.DevServers;
using StreamRec.IntegrationTests.Infrastructure;
using StreamRec.Redis;

namespace StreamRec.IntegrationTests.Redis;

[TestFixture]
public sealed class RedisEndpointSettingsTests
{
    [TestCase("")]
    [TestCase("localhost")]
    [TestCase("localhost:")]
    [TestCase("localhost:http")]
    [TestCase("localhost:0")]
    [TestCase("localhost:65536")]
    [TestCase(":6379")]
    [TestCase("a,b:6379")]
    public void Parse_MalformedAddress_ThrowsNamingTheSetting(string address)
    {
        var error = Assert.Throws<FormatException>(() => RedisEndpointSettings.Parse(address, "Worker:Redis:Endpoint"));

        Assert.That(error!.Message, Does.Contain("Worker:Redis:Endpoint"));
    }

    [TestCase("127.0.0.1:6379", "127.0.0.1", 6379)]
    [TestCase("redis.internal:6380", "redis.internal", 6380)]
    [TestCase("[::1]:6379", "::1", 6379)]
    public void Parse_HostPort_GivesHostAndPort(string address, string host, int port)
    {
        var settings = RedisEndpointSettings.Parse(address);

        Assert.That((settings.Host, settings.Port), Is.EqualTo((host, port)));
    }

    [Test]
    public void ToString_NeverShowsThePassword()
    {
        var settings = RedisEndpointSettings.Parse("127.0.0.1:6379") with { Password = "s3cret-pa55" };

        Assert.That(settings.ToString(), Does.Not.Contain("s3cret-pa55").And.Contain("password set"));
    }

    [Test]
    public void ConnectAsync_ToAPortWithNoServer_FailsWithinTheTimeoutNamingTheSetting()
    {
        var settings = RedisEndpointSettings.Parse($"127.0.0.1:{LocalRedis.FreeLoopbackPort()}", "--redis") with
        {
            ConnectTimeout = TimeSpan.FromSeconds(1),
            Password = "never-printed",
        };
        var clock = Stopwatch.StartNew();

        var error = Assert.ThrowsAsync<RedisUnavailableException>(() => settings.ConnectAsync());

        Assert.That(error!.Message, Does.Contain("--redis").And.Not.Contain("never-printed"));
        Assert.That(clock.Elapsed, Is.LessThan(TimeSpan.FromSeconds(10)), "fails instead of hanging");
    }

    [Test]
    public async Task ConnectAsync_ToTheTestServer_AnswersPing()
    {
        var server = await TestRedis.ServerAsync();
        await using var connection = await RedisEndpointSettings.Parse(server.Endpoint).ConnectAsync();

        var latency = await connection.GetDatabase().PingAsync();

        Assert.That(latency, Is.GreaterThanOrEqualTo(TimeSpan.Zero));
    }
}

[TestFixture]
public sealed class RedisTestScopeTests
{
    [Test]
    public async Task Dispose_DeletesOnlyTheScopesOwnKeys()
    {
        var other = await TestRedis.CreateScope();
        await other.Database.StringSetAsync(other.Key("keep"), "1");
        var scope = await TestRedis.CreateScope();
        await scope.Database.StringSetAsync(scope.Key("a"), "1");
        await scope.Database.StringSetAsync($"{{{scope.Namespace}}}:tagged", "1");

        await scope.DisposeAsync();

        Assert.That(await scope.Database.KeyExistsAsync(scope.Key("a")), Is.False);
        Assert.That(await scope.Database.KeyExistsAsync($"{{{scope.Namespace}}}:tagged"), Is.False);
        Assert.That(await other.Database.KeyExistsAsync(other.Key("keep")), Is.True);
        await other.DisposeAsync();
    }
}

[TestFixture]
public sealed class EmbeddedGarnetTests
{
    [Test]
    public async Task StartEmbedded_ServesSetAndGetOfBinaryValues()
    {
        using var garnet = LocalRedis.StartEmbedded();
        await using var connection = await RedisEndpointSettings.Parse(garnet.Endpoint).ConnectAsync();
        var value = Enumerable.Range(0, 4096).Select(i => (byte)i).ToArray();

        await connection.GetDatabase().StringSetAsync("binary", value);
        var read = (byte[]?)await connection.GetDatabase().StringGetAsync("binary");

        Assert.That(garnet.Kind, Is.EqualTo(LocalRedisKind.EmbeddedGarnet));
        Assert.That(read, Is.EqualTo(value));
    }
}
