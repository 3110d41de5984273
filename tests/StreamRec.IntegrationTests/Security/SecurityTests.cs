using Confluent.Kafka;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using StreamRec.DevServers;
using StreamRec.IntegrationTests.Infrastructure;
using StreamRec.IntegrationTests.Reader;
using StreamRec.Kafka;
using StreamRec.Kafka.Embedded;
using StreamRec.Reader.Hosting;
using StreamRec.Redis;
using StreamRec.Redis.Checkpoints;
using StreamRec.Worker.Checkpointing;
using StreamRec.Worker.Consumption;
using StreamRec.Worker.Hosting;
using StreamRec.Worker.ItemSync;

namespace StreamRec.IntegrationTests.Security;

/// <summary>
/// Redis AUTH and TLS and Kafka SASL and SSL settings reach the clients StreamRec builds; a real
/// password-protected redis-server accepts the right password and refuses a wrong one by name; and
/// no secret appears in any log line or error while worker and reader run with secrets configured.
/// </summary>
[TestFixture]
public sealed class SecurityTests
{
    private const string RedisPassword = "redis-S3cret-4f1c", SaslPassword = "sasl-S3cret-9a7e", SslKeyPassword = "sslkey-S3cret-2b3d", WrongPassword = "wrong-S3cret-77d0";
    private static readonly string[] _secrets = [RedisPassword, SaslPassword, SslKeyPassword, WrongPassword];

    private static KafkaSettings SecuredKafka(string bootstrapServers) => new()
    {
        BootstrapServers = bootstrapServers,
        SecurityProtocol = "sasl_ssl",
        SaslMechanism = "SCRAM-SHA-512",
        SaslUsername = "streamrec",
        SaslPassword = SaslPassword,
        SslKeyPassword = SslKeyPassword,
        Client = { ["ssl.endpoint.identification.algorithm"] = "https" },
    };

    [Test]
    public void KafkaSaslAndSsl_ReachEveryClientTheWorkerBuilds()
    {
        var options = WorkerTestKit_Options(SecuredKafka("broker-1:9094,broker-2:9094"));
        var replay = WorkerTestKit_Options(SecuredKafka("broker-1:9094"));
        replay.Replay = new ReplayOptions();
        var kafka = options.Kafka.ApplyTo(new ClientConfig());
        var configs = new Dictionary<string, ClientConfig>
        {
            ["clickstream consumer"] = WorkerRuntime.ConsumerConfigFor(options, "replica-1"),
            ["replay consumer"] = WorkerRuntime.ConsumerConfigFor(replay, "replica-1"),
            ["dead-letter producer"] = DeadLetterPublisher.ConfigFor(options.Kafka.ApplyTo(new ProducerConfig())),
            ["item-delta producer"] = ItemDeltaExchange.ProducerConfigFor(kafka),
            ["item-delta consumer"] = ItemDeltaExchange.ConsumerConfigFor(kafka, "recs.item-deltas", "replica-1"),
        };

        foreach (var (client, config) in configs)
        {
            Assert.That(config.Get("security.protocol"), Is.EqualTo("sasl_ssl"), client);
            Assert.That(config.Get("sasl.mechanism"), Is.EqualTo("SCRAM-SHA-512"), client);
            Assert.That(config.Get("sasl.username"), Is.EqualTo("streamrec"), client);
            Assert.That(config.Get("sasl.password"), Is.EqualTo(SaslPassword), client);
            Assert.That(config.Get("ssl.key.password"), Is.EqualTo(SslKeyPassword), client);
            Assert.That(config.Get("ssl.endpoint.identification.algorithm"), Is.EqualTo("https"), client);
            Assert.That(KafkaSettings.Describe(config).Select(p => p.Value), Has.None.Contains("S3cret"), $"{client}: described for logs without secrets");
        }

        Assert.That(configs["replay consumer"].Get("group.id"), Does.Contain("-replay-"));
    }

    [Test]
    public void StaticMembership_GroupInstanceId_ReachesTheClickstreamConsumerOnly_NotTheItemSyncGroup()
    {
        var settings = SecuredKafka("broker-1:9094");
        settings.Client["group.instance.id"] = "worker-0";
        var options = WorkerTestKit_Options(settings);

        Assert.That(WorkerRuntime.ConsumerConfigFor(options, "replica-1").Get("group.instance.id"), Is.EqualTo("worker-0"));
        Assert.That(ItemDeltaExchange.ConsumerConfigFor(options.Kafka.ApplyTo(new ClientConfig()), "recs.item-deltas", "replica-1").Get("group.instance.id"), Is.Null,
            "the item-sync group is new with every process");
    }

    [Test]
    public void KafkaSaslSettings_AreAcceptedByLibrdkafkaItself()
    {
        // Building real clients proves the property names and values are ones librdkafka knows (no broker needed).
        var settings = SecuredKafka("127.0.0.1:9");
        settings.SecurityProtocol = "sasl_plaintext";
        settings.SslKeyPassword = null;
        settings.Client.Clear();
        var options = WorkerTestKit_Options(settings);

        using var consumer = new ConsumerBuilder<byte[], byte[]>(WorkerRuntime.ConsumerConfigFor(options, "replica-1")).Build();
        using var producer = new ProducerBuilder<byte[], byte[]>(DeadLetterPublisher.ConfigFor(settings.ApplyTo(new ProducerConfig()))).Build();

        Assert.That(consumer.Name, Does.StartWith("replica-1"));
        Assert.That(producer.Name, Is.Not.Empty);
    }

    [Test]
    public void RedisAuthAndTls_ReachTheConnectionOptionsOfWorkerAndReader()
    {
        var worker = new WorkerOptions { RedisEndpoint = "redis.internal:6380", RedisPassword = RedisPassword, RedisUser = "streamrec", RedisTls = true };
        var reader = new ReaderOptions { RedisEndpoint = "redis.internal:6380", RedisPassword = RedisPassword, RedisUser = "streamrec", RedisTls = true };

        foreach (var settings in new[] { worker.ToRedisSettings(), reader.ToRedisSettings() })
        {
            var options = settings.ToConfigurationOptions();
            Assert.That((options.Password, options.User, options.Ssl), Is.EqualTo((RedisPassword, "streamrec", true)));
            Assert.That(options.EndPoints.Single().ToString(), Does.Contain("redis.internal").And.Contain("6380"));
            Assert.That(settings.ToString(), Does.Not.Contain(RedisPassword).And.Contain("tls").And.Contain("password set"));
            // The configuration string SE.Redis can print (for example in its own errors) hides the password too.
            Assert.That(options.ToString(includePassword: false), Does.Not.Contain(RedisPassword));
        }
    }

    [Test]
    public async Task RequirePassServer_RightPasswordConnects_WrongOrNoneFailsByNameWithoutThePassword()
    {
        using var redis = PasswordRedis.Start(RedisPassword);
        var settings = RedisEndpointSettings.Parse(redis.Endpoint, "RedisEndpoint") with { ConnectTimeout = TimeSpan.FromSeconds(3) };

        await using (var connection = await (settings with { Password = RedisPassword }).ConnectAsync())
        {
            Assert.That(await connection.GetDatabase().PingAsync(), Is.GreaterThanOrEqualTo(TimeSpan.Zero));
        }

        var wrong = Assert.ThrowsAsync<RedisUnavailableException>(() => (settings with { Password = WrongPassword }).ConnectAsync());
        var none = Assert.ThrowsAsync<RedisUnavailableException>(() => settings.ConnectAsync());

        Assert.That(wrong!.Message, Does.Contain("refused the credentials").And.Contain("RedisEndpoint").And.Contain("password set"));
        Assert.That(none!.Message, Does.Contain("refused the credentials").And.Contain("no password set"));
        Assert.That(wrong.ToString() + none, Does.Not.Contain(WrongPassword).And.Not.Contain(RedisPassword), "neither message nor inner exceptions show a password");
    }

    [Test]
    [CancelAfter(90_000)]
    public async Task WorkerAndReaderWithSecrets_NeverLogThemOrPutThemInErrors()
    {
        using var redis = PasswordRedis.Start(RedisPassword);
        using var kafka = EmbeddedKafkaCluster.Start(brokerCount: 1);
        kafka.CreateTopic("clicks", 2);
        var logs = new CapturedLogs();
        var errors = new List<string>();

        // Worker: the right Redis password (it connects), and SASL credentials the plaintext embedded broker cannot accept (it fails, and logs).
        var port = LocalRedis.FreeLoopbackPort();
        var builder = WebApplication.CreateSlimBuilder(
        [
            $"--Kafka:BootstrapServers={kafka.BootstrapServers}", "--Kafka:SecurityProtocol=sasl_plaintext", "--Kafka:SaslMechanism=PLAIN",
            "--Kafka:SaslUsername=streamrec", $"--Kafka:SaslPassword={SaslPassword}", $"--Kafka:SslKeyPassword={SslKeyPassword}",
            "--Topics:0=clicks", "--Model=secured", $"--RedisEndpoint={redis.Endpoint}", $"--RedisPassword={RedisPassword}",
            "--Learner:Learner=isgd", $"--HttpPort={port}",
        ]);
        builder.Logging.ClearProviders().SetMinimumLevel(LogLevel.Trace).AddProvider(logs);
        builder.AddStreamRecWorker();
        await using (var app = builder.Build())
        {
            app.MapStreamRecWorkerEndpoints();
            await app.StartAsync();
            Eventually.Until(() => logs.Lines.Any(l => l.Contains("Kafka", StringComparison.Ordinal) && l.StartsWith("Warning", StringComparison.Ordinal)),
                TimeSpan.FromSeconds(30), "the worker logs the broker's refusal of its SASL handshake");
            await app.StopAsync();
        }

        // Reader: the right password serves a model; a wrong one keeps retrying and logging.
        await using (var publisher = await (RedisEndpointSettings.Parse(redis.Endpoint) with { Password = RedisPassword }).ConnectAsync())
        {
            await new CheckpointStore(publisher).PublishSnapshotAsync(ReaderModels.Trained("secured", "v1"));
        }

        await using (var reader = await RunningReader.StartAsync("secured", redis.Endpoint, new Dictionary<string, string?> { ["RedisPassword"] = RedisPassword }, logs))
        {
            await reader.UntilAsync(c => c.IsReadyAsync(), ready => ready, TimeSpan.FromSeconds(15), "the reader loads the model with the password");
        }

        await using (var reader = await RunningReader.StartAsync("secured", redis.Endpoint, new Dictionary<string, string?> { ["RedisPassword"] = WrongPassword }, logs))
        {
            var before = logs.Lines.Count;
            Eventually.Until(() => logs.Lines.Skip(before).Any(l => l.StartsWith("Warning", StringComparison.Ordinal) || l.StartsWith("Error", StringComparison.Ordinal)),
                TimeSpan.FromSeconds(30), "the reader with a wrong password logs its failures");
            Assert.That(await reader.Client.IsReadyAsync(), Is.False, "a wrong password serves nothing");
        }

        // Errors at start: invalid settings next to secrets, and a refused connection.
        errors.Add(Assert.Throws<OptionsValidationException>(() => StartWorkerWithBadSetting(kafka.BootstrapServers))!.Message);
        errors.Add(Assert.ThrowsAsync<RedisUnavailableException>(() => (RedisEndpointSettings.Parse(redis.Endpoint) with { Password = WrongPassword }).ConnectAsync())!.ToString());

        var everything = string.Join(Environment.NewLine, logs.Lines.Concat(errors));
        Assert.That(logs.Lines, Has.Count.GreaterThan(20), "enough was logged to be worth scanning");
        foreach (var secret in _secrets)
        {
            Assert.That(everything, Does.Not.Contain(secret), $"a secret in {logs.Lines.Count} log lines and {errors.Count} errors");
        }

        await TestContext.Progress.WriteLineAsync($"[StreamRec] secret scan: {logs.Lines.Count} log lines and {errors.Count} error messages, no secret found");
    }

    private static void StartWorkerWithBadSetting(string bootstrapServers)
    {
        var builder = WebApplication.CreateSlimBuilder(
        [
            $"--Kafka:BootstrapServers={bootstrapServers}", "--Kafka:SecurityProtocol=carrier_pigeon", $"--Kafka:SaslPassword={SaslPassword}",
            "--Topics:0=clicks", "--Model=secured", "--RedisEndpoint=127.0.0.1:1", $"--RedisPassword={RedisPassword}", "--HttpPort=0",
        ]);
        builder.AddStreamRecWorker(_ => new InMemoryShardCheckpoints());
        using var app = builder.Build();
        app.StartAsync().GetAwaiter().GetResult();
    }

    private static WorkerOptions WorkerTestKit_Options(KafkaSettings kafka)
    {
        var options = StreamRec.IntegrationTests.Worker.WorkerTestKit.Options(kafka.BootstrapServers);
        options.Kafka = kafka;
        return options;
    }
}
