using System.Diagnostics;
using StreamRec.IntegrationTests.Infrastructure;
using StreamRec.IntegrationTests.Worker;
using StreamRec.Worker.Checkpointing;
using StreamRec.Worker.Consumption;

namespace StreamRec.IntegrationTests.Faults;

/// <summary>
/// A Kafka client whose close never returns (librdkafka's destroy can wait forever for a group handler that waits
/// for an answer nobody will give): the worker abandons it when its shutdown time is up, so its run still ends.
/// The hang is made through the worker's hook on the closing thread.
/// </summary>
[TestFixture]
[Category("Faults")]
public sealed class HungKafkaCloseTests : EmbeddedKafkaWorkerFixture
{
    private static readonly TimeSpan _shutdownTimeout = TimeSpan.FromSeconds(3);

    [TestCase(false, TestName = "AGracefulStop_WhoseConsumerCloseNeverReturns_EndsWithinTheShutdownTimeout")]
    [TestCase(true, TestName = "ACrash_WhoseConsumerDestroyNeverReturns_EndsWithinTheShutdownTimeout")]
    public async Task StopWithAHungConsumerClose(bool crash)
    {
        var options = WorkerTestKit.Options(Kafka.BootstrapServers);
        options.ShutdownTimeout = _shutdownTimeout;
        var log = new FaultLog();
        var worker = new WorkerRuntime(options, new InMemoryShardCheckpoints(), log);
        var closeReached = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var closeReleased = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        worker.BeforeKafkaClientClose = client =>
        {
            if (client == "consumer")
            {
                closeReached.TrySetResult();
                closeReleased.Task.Wait();
            }
        };
        using var stop = new CancellationTokenSource();
        var run = worker.RunAsync(stop.Token);
        try
        {
            Eventually.Until(() => worker.Status.Shards == Partitions, TimeSpan.FromSeconds(30), "the worker owns every partition");
            var clock = Stopwatch.StartNew();
            if (crash)
            {
                worker.Abort();
            }
            else
            {
                await stop.CancelAsync();
            }

            var ended = await Task.WhenAny(run, Task.Delay(_shutdownTimeout + TimeSpan.FromSeconds(20))) == run;
            var took = clock.Elapsed;

            Assert.That(closeReached.Task.IsCompleted, Is.True, "the consumer's close was reached:" + Environment.NewLine + log.Tail);
            Assert.That(ended, Is.True, "the run ends although the consumer's close never returns:" + Environment.NewLine + log.Tail);
            await run;
            Assert.That(took, Is.GreaterThan(_shutdownTimeout - TimeSpan.FromMilliseconds(100)), "the close had the whole shutdown time");
            // Generous for loaded CI machines; without the bound the run would end only when the test releases the close.
            Assert.That(took, Is.LessThan(_shutdownTimeout + TimeSpan.FromSeconds(5)), "the run ended soon after the shutdown time was up");
            Assert.That(log.Count("Kafka consumer did not close within"), Is.EqualTo(1), "the abandoned consumer is named in a warning:" + Environment.NewLine + log.Tail);
            Assert.That(worker.Metrics.KafkaClientsAbandoned.WithLabels("consumer").Value, Is.EqualTo(1), "and counted");
        }
        finally
        {
            // The abandoned thread goes on to close the consumer and the clients after it.
            closeReleased.TrySetResult();
            await stop.CancelAsync();
        }
    }

    [Test]
    public async Task AStopWhoseClientsCloseInTime_AbandonsNothing()
    {
        var options = WorkerTestKit.Options(Kafka.BootstrapServers);
        options.ShutdownTimeout = _shutdownTimeout;
        var log = new FaultLog();
        var worker = new WorkerRuntime(options, new InMemoryShardCheckpoints(), log);
        var closed = new List<string>();
        worker.BeforeKafkaClientClose = closed.Add;
        using var stop = new CancellationTokenSource();
        var run = worker.RunAsync(stop.Token);
        Eventually.Until(() => worker.Status.Shards == Partitions, TimeSpan.FromSeconds(30), "the worker owns every partition");

        await stop.CancelAsync();
        await run.WaitAsync(_shutdownTimeout + TimeSpan.FromSeconds(20));

        Assert.That(closed, Is.EqualTo(new[] { "consumer", "dead-letter producer", "item-sync clients" }), "every client closed, the consumer first");
        Assert.That(log.Count("did not close within"), Is.Zero, log.Tail);
        Assert.That(worker.Metrics.KafkaClientsAbandoned.WithLabels("consumer").Value, Is.Zero);
    }
}
