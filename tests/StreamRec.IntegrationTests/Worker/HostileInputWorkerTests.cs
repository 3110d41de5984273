using System.Text;
using Confluent.Kafka;
using FsCheck.Fluent;
using Google.Protobuf;
using Microsoft.Extensions.Logging.Abstractions;
using StreamRec.Contracts.V1;
using StreamRec.Core.Events;
using StreamRec.Core.Tests.Events;
using StreamRec.IntegrationTests.Infrastructure;
using StreamRec.Worker.Checkpointing;
using StreamRec.Worker.Consumption;

namespace StreamRec.IntegrationTests.Worker;

/// <summary>Generated hostile payloads and a flood of unique users through a worker on the embedded Kafka.</summary>
[TestFixture]
public sealed class HostileInputWorkerTests : EmbeddedKafkaWorkerFixture
{
    /// <summary>Payloads of each kind in the end-to-end test; docs/reliability.md quotes them.</summary>
    public const int RandomPayloads = 1_000, MutatedPayloads = 1_000, ValidPayloads = 1_000, EmptyPayloads = 20;

    private const ulong Seed = 20261127, Gamma = 0x9E3779B97F4A7C15;

    [Test]
    public async Task GeneratedHostilePayloads_AreDeadLetteredWithTheirReason_AndEveryMessageIsCountedOnce()
    {
        var nowMs = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
        var random = new FsCheck.Rnd(Seed, Gamma);
        var payloads = new List<byte[]?>();
        payloads.AddRange(HostileEvents.RandomByteArrays().Generator.Sample(RandomPayloads, random, 50).Select(p => p.Bytes));
        payloads.AddRange(HostileEvents.MutatedProtobufs(nowMs).Sample(MutatedPayloads, random, 50).Select(p => p.Bytes));
        payloads.AddRange(HostileEvents.ValidEvents(nowMs).Sample(ValidPayloads, random, 50).Select(e => e.ToByteArray()));
        payloads.AddRange(Enumerable.Range(0, EmptyPayloads).Select(i => i % 2 == 0 ? null : Array.Empty<byte>()));
        // The decoder with the worker's rules says which ones must be refused (timestamps are minutes from any limit).
        var reference = new ClickEventDecoder(new EventValidationOptions());
        var expectedBad = payloads.Count(p => p is not { Length: > 0 } || !reference.TryDecodeProtobuf(p, out _, out _));
        Produce(payloads);
        var store = new InMemoryShardCheckpoints();
        var worker = new WorkerRuntime(WorkerTestKit.Options(Kafka.BootstrapServers), store, NullLogger.Instance);
        using var stop = new CancellationTokenSource();

        var running = worker.RunAsync(stop.Token);
        Eventually.Until(() => Persisted(store) == payloads.Count || running.IsCompleted, TimeSpan.FromSeconds(60), "every payload in a published checkpoint");
        Assert.That(running.IsCompleted, Is.False, "the worker is still running after the hostile payloads");
        await stop.CancelAsync();
        await running.WaitAsync(TimeSpan.FromSeconds(30));

        var states = Enumerable.Range(0, Partitions).Select(p => store.StateOf(new TopicPartition("clicks", p))!).ToList();
        var deadLetters = ReadAll("recs.dead-letter", expectedBad);
        Assert.Multiple(() =>
        {
            Assert.That(expectedBad, Is.InRange(RandomPayloads, payloads.Count - ValidPayloads), "the generated mix holds refused and accepted payloads");
            Assert.That(states.Sum(s => s.DeadLetteredEvents), Is.EqualTo(expectedBad));
            Assert.That(states.Sum(s => s.AppliedEvents), Is.EqualTo(payloads.Count - expectedBad));
            Assert.That(deadLetters, Has.Count.EqualTo(expectedBad), "every refused payload is in the dead-letter topic");
            Assert.That(deadLetters.Select(Reason), Has.All.Matches<string>(reason => Enum.TryParse<BadEventReason>(reason, out _)), "each with a named reason");
            Assert.That(deadLetters.Select(m => Header(m, DeadLetterPublisher.Headers.Detail)), Has.All.Not.Empty);
        });
        await TestContext.Progress.WriteLineAsync($"[StreamRec] hostile payloads: {payloads.Count} produced, {expectedBad} dead-lettered by reason "
            + string.Join(", ", deadLetters.GroupBy(Reason).OrderByDescending(g => g.Count()).Select(g => $"{g.Key} {g.Count()}")));
    }

    [Test]
    public async Task FloodOfUniqueUsers_KeepsEveryShardsUserTableWithinItsCap_AndCountsTheEvictions()
    {
        const int cap = 200, users = 12_000;
        var options = WorkerTestKit.Options(Kafka.BootstrapServers);
        options.Learner.MaxUsers = cap;
        var nowMs = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
        Produce(Enumerable.Range(0, users).Select(i => new ClickEvent
        {
            UserId = $"flood-{i}", ItemId = $"i{i % 50}", Type = EventType.Click, EventTimeMs = nowMs - users + i,
        }.ToByteArray()).ToList<byte[]?>());
        var store = new InMemoryShardCheckpoints();
        var worker = new WorkerRuntime(options, store, NullLogger.Instance);
        using var stop = new CancellationTokenSource();

        var running = worker.RunAsync(stop.Token);
        Eventually.Until(() => Persisted(store) == users, TimeSpan.FromSeconds(60), "every event in a published checkpoint");
        // Read while the worker idles: a graceful stop hands the shards back and drops them.
        var tables = worker.Model.ShardsSnapshot.Select(s => s.Learner.Users.Ids).ToList();
        var held = tables.Sum(t => t.Count);
        var evicted = tables.Sum(t => t.EvictionCount);
        Eventually.Until(() => Gauge(worker, "users") == evicted, TimeSpan.FromSeconds(10), "the evictions gauge reports the shards' evictions");
        await stop.CancelAsync();
        await running.WaitAsync(TimeSpan.FromSeconds(30));

        Assert.That(tables, Has.Count.EqualTo(Partitions));
        Assert.That(tables.Select(t => t.Count), Has.All.LessThanOrEqualTo(cap), "no shard holds more users than its cap");
        Assert.That(held + evicted, Is.EqualTo(users), "each unique user is held or was evicted: the overflow is counted exactly");
        Assert.That(evicted, Is.EqualTo(users - (Partitions * cap)), "every shard filled to its cap (the flood spreads over all partitions)");
    }

    private static double Gauge(WorkerRuntime worker, string table)
    {
        using var stream = new MemoryStream();
        worker.Metrics.Registry.CollectAndExportAsTextAsync(stream).GetAwaiter().GetResult();
        var line = Encoding.UTF8.GetString(stream.ToArray()).Split('\n').FirstOrDefault(l => l.StartsWith($"streamrec_worker_table_evictions{{table=\"{table}\"}}", StringComparison.Ordinal));
        return line is null ? -1 : double.Parse(line.Split(' ')[^1], System.Globalization.CultureInfo.InvariantCulture);
    }

    private void Produce(List<byte[]?> payloads)
    {
        using var producer = new ProducerBuilder<byte[]?, byte[]?>(KafkaTestSettings.Producer(Kafka.BootstrapServers)).Build();
        for (var i = 0; i < payloads.Count; i++)
        {
            // Keys spread the payloads over every partition.
            producer.Produce("clicks", new Message<byte[]?, byte[]?> { Key = BitConverter.GetBytes(i), Value = payloads[i] });
        }

        Assert.That(producer.Flush(TimeSpan.FromSeconds(30)), Is.Zero, "payloads not delivered to the embedded Kafka");
    }

    private List<Message<byte[], byte[]>> ReadAll(string topic, int expected)
    {
        using var consumer = new ConsumerBuilder<byte[], byte[]>(KafkaTestSettings.Consumer(Kafka.BootstrapServers, $"read-{Guid.NewGuid():N}")).Build();
        consumer.Assign(new TopicPartitionOffset(topic, 0, Offset.Beginning));
        var messages = new List<Message<byte[], byte[]>>();
        Eventually.Until(() => messages.Count >= expected, TimeSpan.FromSeconds(30), $"{expected} messages in {topic}", () =>
        {
            if (consumer.Consume(TimeSpan.FromMilliseconds(200)) is { IsPartitionEOF: false } result)
            {
                messages.Add(result.Message);
            }
        });
        return messages;
    }

    private static string Reason(Message<byte[], byte[]> message) => Header(message, DeadLetterPublisher.Headers.Reason);

    private static string Header(Message<byte[], byte[]> message, string name) =>
        message.Headers.TryGetLastBytes(name, out var bytes) ? Encoding.UTF8.GetString(bytes) : "";
}
