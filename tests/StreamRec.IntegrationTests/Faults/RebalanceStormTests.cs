using System.Diagnostics;
using StreamRec.IntegrationTests.Infrastructure;
using StreamRec.IntegrationTests.Worker;
using StreamRec.Kafka.Embedded;
using StreamRec.Redis.Checkpoints;
using StreamRec.Worker.Checkpointing;
using StreamRec.Worker.Consumption;

namespace StreamRec.IntegrationTests.Faults;

/// <summary>
/// Workers joining and leaving one consumer group again and again while the stream flows: every move of a
/// partition is a hand-over (final delta, then a restore by the next owner) or, for a crashed worker, a
/// restore of its last published state; either way every event must count once.
/// </summary>
[TestFixture]
[Category("Faults")]
public sealed class RebalanceStormTests
{
    private const int Partitions = 8;
    private const int Cycles = 10;

    [Test]
    public async Task TenCyclesOfAddingAndRemovingWorkers_DuringAStream_CountEveryEventOnce()
    {
        using var kafka = EmbeddedKafkaCluster.Start(brokerCount: 1);
        kafka.CreateTopic("clicks", Partitions);
        await using var redis = await TestRedis.CreateScope();
        kafka.CreateTopic($"{redis.Namespace}.dead-letter", 1);
        var log = new FaultLog();
        var live = new List<(WorkerRuntime Worker, Task Run, CancellationTokenSource Stop)>();
        (WorkerRuntime, Task, CancellationTokenSource) Start()
        {
            // session.timeout.ms=3000 and heartbeat.interval.ms=500 (WorkerTestKit) keep each rebalance near 2 s.
            var options = WorkerTestKit.Options(kafka.BootstrapServers, redis.Namespace, redis.Server.Endpoint);
            options.MaxBatchSize = 200;
            // A close librdkafka never finishes is abandoned after this, well within the 30 s a removed worker gets to stop.
            options.ShutdownTimeout = TimeSpan.FromSeconds(10);
            var store = new RedisShardCheckpoints(redis.Connection, new CheckpointOptions { DeltaInterval = options.DeltaInterval }, options.Model, options.ModelVersion, "isgd", new Dictionary<string, string>());
            var worker = new WorkerRuntime(options, store, log);
            var stop = new CancellationTokenSource();
            return (worker, worker.RunAsync(stop.Token), stop);
        }

        int OwnedByLive() => live.Sum(w => w.Worker.Status.Shards);
        var clock = Stopwatch.StartNew();
        live.Add(Start());
        live.Add(Start());
        Eventually.Until(() => live.All(w => w.Worker.Status.Shards > 0) && OwnedByLive() == Partitions, TimeSpan.FromSeconds(30), "two workers share the partitions");
        // 400 events a second, 1 % garbage, through the whole storm.
        await using var stream = new SteadyStream(kafka.BootstrapServers, "clicks", eventsPerTick: 20, TimeSpan.FromMilliseconds(50), garbageShare: 0.01);
        int graceful = 0, crashed = 0;
        for (var cycle = 1; cycle <= Cycles; cycle++)
        {
            // Add a worker and, at the same moment, remove the oldest: a graceful stop (final deltas, leave the group)
            // on odd cycles, a crash (nothing more published; the group notices after the session timeout) on even ones.
            var added = Start();
            live.Add(added);
            var removed = live[0];
            live.RemoveAt(0);
            if (cycle % 2 == 1)
            {
                await removed.Stop.CancelAsync();
                graceful++;
            }
            else
            {
                removed.Worker.Abort();
                crashed++;
            }

            var stopped = await Task.WhenAny(removed.Run, Task.Delay(TimeSpan.FromSeconds(30))) == removed.Run;
            Assert.That(stopped, Is.True, $"cycle {cycle}: the {(cycle % 2 == 1 ? "gracefully stopped" : "crashed")} worker's run did not end within 30 s:" + Environment.NewLine + log.Tail);
            await removed.Run;
            removed.Stop.Dispose();
            Eventually.Until(() => added.Item1.Status.Shards > 0 && OwnedByLive() == Partitions, TimeSpan.FromSeconds(30),
                $"cycle {cycle}: the added worker owns partitions and the live ones own them all:" + Environment.NewLine + log.Tail,
                () => Assert.That(live.Any(w => w.Run.IsCompleted), Is.False, "no live worker stops by itself:" + Environment.NewLine + log.Tail));
        }

        var stormTook = clock.Elapsed;
        await stream.StopAsync();
        var produced = stream.Produced;
        Eventually.Until(() => WorkerTestKit.PersistedTotal(redis.Connection, redis.Namespace, Partitions) >= produced, TimeSpan.FromSeconds(60), "every event checkpointed after the storm:" + Environment.NewLine + log.Tail);
        foreach (var (_, run, stop) in live)
        {
            await stop.CancelAsync();
            await run.WaitAsync(TimeSpan.FromSeconds(30));
            stop.Dispose();
        }

        var (applied, deadLettered) = await WorkerTestKit.PersistedAsync(redis.Connection, redis.Namespace, Partitions);
        FaultFigures.Report(nameof(TenCyclesOfAddingAndRemovingWorkers_DuringAStream_CountEveryEventOnce),
            $"{Cycles} cycles ({Cycles} workers added, {graceful} stopped gracefully, {crashed} crashed) in {stormTook.TotalSeconds:0.0} s; "
            + $"produced {produced} ({stream.Bad} garbage), persisted applied {applied} + dead-lettered {deadLettered}, lost {produced - applied - deadLettered}; "
            + $"Kafka clients abandoned by a hung close {log.Count("did not close within")}; worker warnings {log.Warnings}, errors {log.Errors}");
        Assert.That(applied, Is.EqualTo(stream.Good), "every good event applied once");
        Assert.That(deadLettered, Is.EqualTo(stream.Bad), "every refused event counted once");
    }
}
