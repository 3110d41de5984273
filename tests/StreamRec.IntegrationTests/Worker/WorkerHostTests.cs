using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.Options;
using StreamRec.DevServers;
using StreamRec.IntegrationTests.Infrastructure;
using StreamRec.Kafka.Embedded;
using StreamRec.Worker.Checkpointing;
using StreamRec.Worker.Hosting;

namespace StreamRec.IntegrationTests.Worker;

/// <summary>The worker as deployed: a host configured from settings, with its HTTP endpoints.</summary>
[TestFixture]
public sealed class WorkerHostTests
{
    private EmbeddedKafkaCluster _kafka = null!;

    [SetUp]
    public void StartKafka()
    {
        _kafka = EmbeddedKafkaCluster.Start(brokerCount: 1);
        _kafka.CreateTopic("clicks", 4);
    }

    [TearDown]
    public void StopKafka() => _kafka.Dispose();

    private string[] Settings(int port) =>
    [
        $"--Kafka:BootstrapServers={_kafka.BootstrapServers}",
        "--Kafka:Client:session.timeout.ms=3000",
        "--Kafka:Client:heartbeat.interval.ms=500",
        "--Topics:0=clicks",
        "--Model=hosted",
        "--RedisEndpoint=127.0.0.1:6379",
        "--Learner:Learner=isgd",
        "--DeltaInterval=00:00:00.200",
        $"--HttpPort={port}",
    ];

    [Test]
    public async Task HostedWorker_ServesHealthReadinessAndMetrics()
    {
        var port = LocalRedis.FreeLoopbackPort();
        var builder = WebApplication.CreateSlimBuilder(Settings(port));
        builder.AddStreamRecWorker(_ => new InMemoryShardCheckpoints());
        await using var app = builder.Build();
        app.MapStreamRecWorkerEndpoints();
        await app.StartAsync();
        using var early = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{port}") };
        var earlyReady = await early.GetAsync(new Uri("/readyz", UriKind.Relative));
        using var producer = new ClickstreamProducer(_kafka.BootstrapServers);
        producer.ProducePlanted("clicks", 500);
        using var http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{port}") };

        var health = await http.GetAsync(new Uri("/healthz", UriKind.Relative));
        string metrics = "";
        Eventually.Until(() =>
        {
            metrics = http.GetStringAsync(new Uri("/metrics", UriKind.Relative)).GetAwaiter().GetResult();
            return metrics.Contains("streamrec_worker_events_total{outcome=\"applied\",reason=\"\"} 500", StringComparison.Ordinal);
        }, TimeSpan.FromSeconds(30), "500 applied events in /metrics");
        var ready = await http.GetAsync(new Uri("/readyz", UriKind.Relative));
        await app.StopAsync();

        Assert.That((int)earlyReady.StatusCode, Is.AnyOf(200, 503), "readiness before any event is an answer, not an error");
        Assert.That((int)health.StatusCode, Is.EqualTo(200));
        Assert.That((int)ready.StatusCode, Is.EqualTo(200));
        Assert.That(metrics, Does.Contain("streamrec_worker_checkpoints_published_total"));
        Assert.That(metrics, Does.Contain("streamrec_worker_consumer_lag"));
    }

    [Test]
    public void HostWithBadSettings_FailsAtStartNamingTheSetting()
    {
        var builder = WebApplication.CreateSlimBuilder(["--Kafka:BootstrapServers=nohost", "--Topics:0=clicks", "--Model=bad model", "--RedisEndpoint=127.0.0.1:6379",
            "--LookupInterval=00:00:00.100"]);
        builder.AddStreamRecWorker(_ => new InMemoryShardCheckpoints());
        var app = builder.Build();

        var error = Assert.ThrowsAsync<OptionsValidationException>(() => app.StartAsync());

        Assert.That(error!.Message, Does.Contain("Kafka:BootstrapServers").And.Contain("Model").And.Contain("LookupInterval must be at least DeltaInterval"));
    }
}
