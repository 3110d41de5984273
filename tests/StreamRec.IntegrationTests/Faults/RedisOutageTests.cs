using System.Diagnostics;
using StreamRec.Client;
using StreamRec.DevServers;
using StreamRec.IntegrationTests.Infrastructure;
using StreamRec.IntegrationTests.Reader;
using StreamRec.IntegrationTests.Worker;
using StreamRec.Kafka.Embedded;
using StreamRec.Redis;
using StreamRec.Redis.Checkpoints;
using StreamRec.Worker.Checkpointing;
using StreamRec.Worker.Consumption;

namespace StreamRec.IntegrationTests.Faults;

/// <summary>
/// The Redis server stopped for <see cref="OutageDuration"/> while a worker learns from a live stream and a
/// reader serves its model: nothing may be lost or counted twice, the worker must hold a bounded backlog and
/// then pause, the reader must keep answering and report staleness, and both must recover by themselves.
/// </summary>
[TestFixture]
[Category("Faults")]
public sealed class RedisOutageTests
{
    /// <summary>How long redis-server stays down (the requirement's figure).</summary>
    private static readonly TimeSpan OutageDuration = TimeSpan.FromSeconds(30);

    private const int Partitions = 8;
    private const int MaxPendingCheckpoints = 10;
    private static readonly TimeSpan _sample = TimeSpan.FromMilliseconds(100);

    [Test]
    public async Task RedisDown30s_WorkerPausesAtItsBacklogBound_ReaderServesTheLastModel_BothRecover_AndEveryEventCountsOnce()
    {
        var data = Directory.CreateTempSubdirectory("streamrec-outage-");
        // Append-only and fsynced on every write: what Redis acknowledged before the kill is there after the restart.
        using var server = LocalRedis.TryStartRedisServer(data.FullName);
        if (server is null)
        {
            Assert.Ignore("redis-server required on PATH: the test stops and restarts a private server.");
        }

        try
        {
            await RunOutageAsync(server!);
        }
        finally
        {
            server!.Dispose();
            data.Delete(recursive: true);
        }
    }

    private static async Task RunOutageAsync(LocalRedis server)
    {
        using var kafka = EmbeddedKafkaCluster.Start(brokerCount: 1);
        kafka.CreateTopic("clicks", Partitions);
        const string model = "outage";
        kafka.CreateTopic($"{model}.dead-letter", 1);
        // The worker's connection is made as the worker host makes it; the test reads counts through its own.
        await using var workerConnection = await RedisEndpointSettings.Parse(server.Endpoint, "RedisEndpoint").ConnectAsync();
        await using var testConnection = await RedisEndpointSettings.Parse(server.Endpoint, "test").ConnectAsync();
        var options = WorkerTestKit.Options(kafka.BootstrapServers, model, server.Endpoint);
        options.MaxPendingCheckpoints = MaxPendingCheckpoints;
        var store = new RedisShardCheckpoints(workerConnection, new CheckpointOptions { DeltaInterval = options.DeltaInterval }, model, options.ModelVersion, "isgd", new Dictionary<string, string>());
        var log = new FaultLog();
        var worker = new WorkerRuntime(options, store, log);
        using var stopWorker = new CancellationTokenSource();
        var workerRun = worker.RunAsync(stopWorker.Token);
        // 1,000 events a second, 1 % garbage, for the whole test.
        await using var stream = new SteadyStream(kafka.BootstrapServers, "clicks", eventsPerTick: 50, TimeSpan.FromMilliseconds(50), garbageShare: 0.01);
        await using var reader = await RunningReader.StartAsync(model, server.Endpoint);
        var (before, _) = await reader.UntilAsync(c => c.GetRecommendationsAsync("u1"), a => a.Source == "personalized", TimeSpan.FromSeconds(60), "the reader serves the worker's model");
        Eventually.Until(() => WorkerTestKit.PersistedTotal(testConnection, model, Partitions) > 1_000, TimeSpan.FromSeconds(60), "the worker has published before the outage");
        var appliedAtKill = worker.Status.AppliedEvents + worker.Status.DeadLetteredEvents;

        server.KillServerProcess();
        var outage = Stopwatch.StartNew();
        TimeSpan? pausedAt = null;
        long appliedAtPause = 0, producedAtPause = 0;
        double pendingPeak = 0, stalenessPeak = 0;
        int readerAnswers = 0, readerChanged = 0;
        // The reader may still swap to what was published just before the kill; from its first answer on it cannot change.
        UserRecommendations? first = null;
        var readerFailures = new List<string>();
        using (var timer = new PeriodicTimer(_sample))
        {
            while (outage.Elapsed < OutageDuration && await timer.WaitForNextTickAsync())
            {
                Assert.That(workerRun.IsCompleted, Is.False, "the worker keeps running during the outage:" + Environment.NewLine + log.Tail);
                pendingPeak = Math.Max(pendingPeak, worker.Metrics.PendingCheckpoints.Value);
                if (pausedAt is null && worker.Metrics.Paused.Value == 1)
                {
                    pausedAt = outage.Elapsed;
                    appliedAtPause = worker.Status.AppliedEvents + worker.Status.DeadLetteredEvents;
                    producedAtPause = stream.Produced;
                }

                try
                {
                    var answer = await reader.Client.GetRecommendationsAsync("u1");
                    readerAnswers++;
                    first ??= answer;
                    readerChanged += answer.Version == first.Version && answer.Items.SequenceEqual(first.Items) ? 0 : 1;
                    stalenessPeak = Math.Max(stalenessPeak, await reader.MetricAsync("streamrec_reader_staleness_seconds") ?? 0);
                }
                catch (HttpRequestException ex)
                {
                    readerFailures.Add(ex.Message);
                }
            }
        }

        var appliedAtEnd = worker.Status.AppliedEvents + worker.Status.DeadLetteredEvents;
        var pausedAtEnd = worker.Metrics.Paused.Value;
        var readyDuring = await reader.Client.IsReadyAsync();
        var pollFailures = await reader.MetricAsync("streamrec_reader_poll_failures_total") ?? 0;
        var lagAtEnd = stream.Produced - appliedAtEnd;

        var publishedDuringOutage = PublishedCheckpoints(worker);
        var outageLasted = outage.Elapsed;
        server.RestartServerProcess();
        var recovery = Stopwatch.StartNew();
        // Each figure is the time from the restart until the condition was seen (an upper bound: they are awaited in turn).
        await reader.UntilAsync(async _ => await reader.MetricAsync("streamrec_reader_staleness_seconds") ?? 99, s => s < 1, TimeSpan.FromSeconds(60), "the reader polls Redis again");
        var readerFresh = recovery.Elapsed;
        Eventually.Until(() => worker.Metrics.Paused.Value == 0, TimeSpan.FromSeconds(60), "the worker resumes consuming:" + Environment.NewLine + log.Tail);
        var workerResumed = recovery.Elapsed;
        var (after, _) = await reader.UntilAsync(c => c.GetRecommendationsAsync("u1"), a => a.Version > first!.Version, TimeSpan.FromSeconds(60), "the reader serves a newer model");
        var readerUpdated = recovery.Elapsed;
        await stream.StopAsync();
        var produced = stream.Produced;
        Eventually.Until(() => WorkerTestKit.PersistedTotal(testConnection, model, Partitions) >= produced, TimeSpan.FromSeconds(90), "every event published after the outage");
        var caughtUpAfter = recovery.Elapsed;
        await stopWorker.CancelAsync();
        await workerRun.WaitAsync(TimeSpan.FromSeconds(30));

        var (applied, deadLettered) = await WorkerTestKit.PersistedAsync(testConnection, model, Partitions);
        FaultFigures.Report(nameof(RedisDown30s_WorkerPausesAtItsBacklogBound_ReaderServesTheLastModel_BothRecover_AndEveryEventCountsOnce),
            $"outage {outageLasted.TotalSeconds:0.0} s; produced {produced} ({stream.Bad} garbage), persisted applied {applied} + dead-lettered {deadLettered}, lost {produced - applied - deadLettered}; "
            + $"worker paused {pausedAt?.TotalSeconds:0.0} s into the outage after learning {appliedAtPause - appliedAtKill} events in memory, backlog peak {pendingPeak} of {MaxPendingCheckpoints} checkpoints, "
            + $"{appliedAtEnd - appliedAtPause} events applied while paused, {lagAtEnd} events waiting in Kafka at the end of the outage, {worker.Metrics.PublishFailures.Value} failed publish attempts; "
            + $"after the restart: worker resumed within {workerResumed.TotalSeconds:0.0} s, every event published within {caughtUpAfter.TotalSeconds:0.0} s; "
            + $"reader: {readerAnswers} answers during the outage, {readerFailures.Count} failed, {readerChanged} changed, staleness peak {stalenessPeak:0.0} s, {pollFailures} failed polls, "
            + $"fresh again within {readerFresh.TotalSeconds:0.0} s and serving a newer model within {readerUpdated.TotalSeconds:0.0} s of the restart");

        Assert.Multiple(() =>
        {
            Assert.That(applied, Is.EqualTo(stream.Good), "every good event applied once");
            Assert.That(deadLettered, Is.EqualTo(stream.Bad), "every refused event counted once");
            Assert.That(pausedAt, Is.Not.Null, "the worker paused consumption when its backlog was full");
            Assert.That(pendingPeak, Is.EqualTo(MaxPendingCheckpoints), "the unpublished backlog fills up to MaxPendingCheckpoints and no further (streamrec_worker_pending_checkpoints)");
            Assert.That(appliedAtEnd, Is.EqualTo(appliedAtPause), "nothing more is learned while paused: memory stays bounded");
            Assert.That(pausedAtEnd, Is.EqualTo(1), "still paused when Redis returns");
            Assert.That(lagAtEnd, Is.GreaterThan(producedAtPause - appliedAtPause), "the stream waited in Kafka instead");
            Assert.That(worker.Metrics.PublishFailures.Value, Is.GreaterThan(0), "publishes failed and were retried");
            Assert.That(PublishedCheckpoints(worker), Is.GreaterThan(publishedDuringOutage), "the worker published after the outage");
            Assert.That(readerFailures, Is.Empty, "the reader answered every request during the outage");
            Assert.That(readerAnswers, Is.GreaterThan(100));
            Assert.That(readerChanged, Is.Zero, "the reader served its last model unchanged");
            Assert.That(readyDuring, Is.True, "the reader stays ready: it has a model to serve");
            Assert.That(stalenessPeak, Is.GreaterThan(OutageDuration.TotalSeconds - 5), "the reader reports how stale its model is");
            Assert.That(pollFailures, Is.GreaterThan(0), "the reader counts its failed polls");
            Assert.That(first!.Version, Is.GreaterThanOrEqualTo(before.Version), "the reader served its newest model during the outage");
            Assert.That(after.Version, Is.GreaterThan(first.Version), "the reader follows new checkpoints again");
        });
    }

    /// <summary>Checkpoints the worker has published, of all kinds.</summary>
    private static double PublishedCheckpoints(WorkerRuntime worker) =>
        worker.Metrics.CheckpointsPublished.WithLabels("delta").Value + worker.Metrics.CheckpointsPublished.WithLabels("snapshot").Value;
}
