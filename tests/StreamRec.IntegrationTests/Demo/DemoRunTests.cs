using System.Text.Json;
using Confluent.Kafka;
using StreamRec.Cli.Demo;
using StreamRec.IntegrationTests.Infrastructure;

namespace StreamRec.IntegrationTests.Demo;

/// <summary>`streamrec demo` run in-process on its own embedded Kafka and local Redis, short and slow.</summary>
[TestFixture]
public sealed class DemoRunTests
{
    private string _directory = null!;

    [SetUp]
    public void CreateDirectory() => _directory = Directory.CreateTempSubdirectory("streamrec-demo-").FullName;

    [TearDown]
    public void DeleteDirectory() => Directory.Delete(_directory, recursive: true);

    [Test]
    [CancelAfter(60_000)]
    public async Task ShortDemo_CountsEveryMessageOnce_LearnsTheShift_AndWritesJsonAndHtml()
    {
        var options = new DemoOptions
        {
            Duration = TimeSpan.FromSeconds(10), Rate = 2_000, Partitions = 4, Workers = 2, ReportDirectory = _directory, SampleInterval = TimeSpan.FromSeconds(3),
        };
        DemoReport report;
        await using (var demo = await DemoRun.StartAsync(options, TestContext.Progress))
        {
            report = await demo.Completion;
        }

        var (jsonPath, htmlPath) = report.WriteTo(_directory);
        Assert.Multiple(() =>
        {
            Assert.That(report.CountsMatch, Is.True);
            Assert.That(report.EventsApplied + report.EventsDeadLettered, Is.EqualTo(report.EventsProduced));
            Assert.That(report.EventsProduced, Is.EqualTo(report.GeneratedEvents + report.MalformedProduced + report.ProbeEvents));
            Assert.That(report.GeneratedEvents, Is.EqualTo(options.TotalEvents));
            Assert.That(report.MalformedProduced, Is.GreaterThan(0));
            Assert.That(report.EventsDeadLettered, Is.EqualTo(report.MalformedProduced), "exactly the malformed messages are refused");
            Assert.That(report.CheckpointsPublished, Is.GreaterThan(0));
            Assert.That(report.FreshnessProbes, Is.GreaterThan(10));
            Assert.That(report.FreshnessMsP99, Is.Not.Null.And.GreaterThan(0));
            Assert.That(report.RecallAt10OnlineAfterShiftMean, Is.GreaterThan(report.RecallAt10FrozenAfterShiftMean ?? 1), "the online model adapts to the shift; the frozen one cannot");
            Assert.That(report.RecallSeries, Is.Not.Empty);
            Assert.That(report.ReaderUrl, Does.StartWith("http://127.0.0.1:"));
            Assert.That(report.ReaderRequests, Is.GreaterThan(report.FreshnessProbes));
            Assert.That(report.ReaderErrors, Is.Zero);
            Assert.That(report.ResourceSamples, Has.Count.InRange(3, 5), "a soak sample every 3 s of a 10 s stream and its drain");
            Assert.That(report.ResourceSamples.Select(s => s.Minutes), Is.Ordered.Ascending);
            Assert.That(report.ResourceSamples, Has.All.Matches<ResourceSample>(s => s.WorkingSetMiB > s.LiveHeapMiB && s.LiveHeapMiB > 0));
            Assert.That(report.MaxLag, Is.EqualTo(report.ResourceSamples.Max(s => s.Lag)));
            Assert.That(report.FreshnessCheckpointMsP50, Is.Not.Null.And.LessThanOrEqualTo(report.FreshnessMsP50!.Value), "the reader answers after the checkpoint is published");
        });

        using var json = JsonDocument.Parse(await File.ReadAllTextAsync(jsonPath));
        string[] required =
        [
            "events_produced", "events_applied", "events_dead_lettered", "checkpoints_published", "freshness_ms_p50", "freshness_ms_p99",
            "recall_at_10_online", "recall_at_10_frozen", "recall_at_10_trending", "reader_requests", "reader_errors", "duration_s",
            "bootstrap_servers", "redis", "reader_url", "resource_samples", "live_heap_growth_mib_per_hour", "max_lag",
        ];
        Assert.That(required.Where(name => !json.RootElement.TryGetProperty(name, out _)), Is.Empty, "fields missing from report.json");
        var sample = json.RootElement.GetProperty("resource_samples")[0];
        Assert.That(new[] { "minutes", "working_set_mib", "live_heap_mib", "lag", "events_counted" }.Where(name => !sample.TryGetProperty(name, out _)), Is.Empty, "soak sample fields");

        var html = await File.ReadAllTextAsync(htmlPath);
        Assert.That(html, Does.Not.Contain("<script").And.Not.Contain("src=").And.Not.Contain("href="), "nothing loaded from elsewhere: the page opens offline");
        Assert.That(html.Split("<svg").Length - 1, Is.EqualTo(3), "recall, freshness and throughput charts");
    }

    [Test]
    [CancelAfter(60_000)]
    public async Task GarbageFromAnOutsideProducer_IsDeadLetteredAndCounted()
    {
        const int Garbage = 50;
        var options = new DemoOptions { Duration = TimeSpan.FromSeconds(6), Rate = 1_000, Partitions = 4, Workers = 1, MalformedShare = 0, ReportDirectory = null };
        await using var demo = await DemoRun.StartAsync(options, TestContext.Progress);

        // A separate client, as kcat or another service would be, knowing only the printed address.
        using (var outsider = new ProducerBuilder<string, byte[]>(KafkaTestSettings.Producer(demo.BootstrapServers)).Build())
        {
            for (var i = 0; i < Garbage; i++)
            {
                outsider.Produce(demo.Topic, new Message<string, byte[]> { Key = $"outsider-{i}", Value = [0xFF, 0x00, (byte)i] });
            }

            Assert.That(outsider.Flush(TimeSpan.FromSeconds(10)), Is.Zero, "every garbage message delivered");
        }

        var report = await demo.Completion;
        using var monitor = new ConsumerBuilder<byte[], byte[]>(KafkaTestSettings.Consumer(demo.BootstrapServers, "dead-letter-check")).Build();
        var deadLetterTopicMessages = monitor.QueryWatermarkOffsets(new TopicPartition(demo.DeadLetterTopic, 0), TimeSpan.FromSeconds(10)).High.Value;
        monitor.Close();

        Assert.Multiple(() =>
        {
            Assert.That(report.EventsFromOtherProducers, Is.EqualTo(Garbage));
            Assert.That(report.MalformedProduced, Is.Zero);
            Assert.That(report.EventsDeadLettered, Is.EqualTo(Garbage), "counted in the persisted checkpoints");
            Assert.That(deadLetterTopicMessages, Is.EqualTo(Garbage), "and put on the dead-letter topic");
            Assert.That(report.EventsApplied, Is.EqualTo(report.EventsProducedByDemo));
            Assert.That(report.CountsMatch, Is.True);
        });
    }
}
