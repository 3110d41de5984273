using Confluent.Kafka;
using StreamRec.IntegrationTests.Infrastructure;
using StreamRec.Kafka.Consuming;
using StreamRec.Kafka.Embedded;

namespace StreamRec.IntegrationTests.Kafka;

[TestFixture]
public sealed class ConsumerBatchReaderTests
{
    private EmbeddedKafkaCluster _cluster = null!;

    [SetUp]
    public void StartCluster()
    {
        _cluster = EmbeddedKafkaCluster.Start(brokerCount: 1);
        _cluster.CreateTopic("alpha", 4);
        _cluster.CreateTopic("beta", 2);
    }

    [TearDown]
    public void StopCluster() => _cluster.Dispose();

    [Test]
    public void Batches_HoldEveryMessage_WithTheBytesTopicPartitionOffsetAndTimestampItWasProducedWith()
    {
        var produced = new Dictionary<(string Topic, int Partition, long Offset), (byte[]? Key, byte[]? Value, long TimestampMs)>();
        var baseTime = DateTimeOffset.UtcNow.AddMinutes(-1).ToUnixTimeMilliseconds();
        using (var producer = new ProducerBuilder<byte[]?, byte[]?>(KafkaTestSettings.Producer(_cluster.BootstrapServers)).Build())
        {
            for (var i = 0; i < 3_000; i++)
            {
                var topic = i % 3 == 0 ? "beta" : "alpha";
                var key = i % 10 == 0 ? null : BitConverter.GetBytes(i);
                var value = i % 17 == 0 ? null : Enumerable.Range(0, i % 50).Select(b => (byte)(b + i)).ToArray();
                var timestampMs = baseTime + i;
                producer.Produce(topic, new Message<byte[]?, byte[]?> { Key = key, Value = value, Timestamp = new Timestamp(timestampMs, TimestampType.CreateTime) }, report =>
                {
                    lock (produced)
                    {
                        produced[(report.Topic, report.Partition.Value, report.Offset.Value)] = (key, value, timestampMs);
                    }
                });
            }

            Assert.That(producer.Flush(TimeSpan.FromSeconds(30)), Is.Zero);
        }

        Assert.That(produced, Has.Count.EqualTo(3_000), "every message acknowledged");

        using var consumer = new ConsumerBuilder<byte[]?, byte[]?>(KafkaTestSettings.Consumer(_cluster.BootstrapServers, "batch-reader")).Build();
        consumer.Subscribe(["alpha", "beta"]);
        using var reader = ConsumerBatchReader.Create(consumer, capacity: 256);
        var seen = 0;
        var topicNames = new HashSet<string>(ReferenceEqualityComparer.Instance);
        Eventually.Until(() =>
        {
            var count = reader.Read(TimeSpan.FromMilliseconds(100));
            Assert.That(count, Is.LessThanOrEqualTo(reader.Capacity));
            for (var i = 0; i < count; i++)
            {
                var message = reader[i];
                Assert.That(message.Error, Is.EqualTo(ErrorCode.NoError), message.Error == ErrorCode.NoError ? "" : message.ErrorReason);
                Assert.That(produced.TryGetValue((message.Topic, message.Partition, message.Offset), out var expected), Is.True, message.TopicPartitionOffset.ToString());
                Assert.That(message.IsKeyNull, Is.EqualTo(expected.Key is null));
                Assert.That(message.Key.ToArray(), Is.EqualTo(expected.Key ?? []));
                Assert.That(message.IsValueNull, Is.EqualTo(expected.Value is null));
                Assert.That(message.Value.ToArray(), Is.EqualTo(expected.Value ?? []));
                Assert.That(message.Timestamp.UnixTimestampMs, Is.EqualTo(expected.TimestampMs));
                topicNames.Add(message.Topic);
                seen++;
            }

            return seen >= produced.Count;
        }, TimeSpan.FromSeconds(60), "every produced message read");

        Assert.That(seen, Is.EqualTo(produced.Count), "nothing read twice");
        Assert.That(topicNames.Select(t => t).Order(), Is.EqualTo(new[] { "alpha", "beta" }), "one string instance per topic across batches");
        Assert.That(reader.Read(TimeSpan.Zero), Is.Zero);
    }

    [Test]
    public void Release_EmptiesTheBatch_AndIndexingPastItThrows()
    {
        using (var producer = new ProducerBuilder<Null, string>(KafkaTestSettings.Producer(_cluster.BootstrapServers)).Build())
        {
            producer.Produce(new TopicPartition("alpha", 0), new Message<Null, string> { Value = "one" });
            Assert.That(producer.Flush(TimeSpan.FromSeconds(10)), Is.Zero);
        }

        using var consumer = new ConsumerBuilder<byte[]?, byte[]?>(KafkaTestSettings.Consumer(_cluster.BootstrapServers, "batch-release")).Build();
        consumer.Subscribe("alpha");
        using var reader = ConsumerBatchReader.Create(consumer, capacity: 8);
        Eventually.Until(() => reader.Read(TimeSpan.FromMilliseconds(100)) == 1, TimeSpan.FromSeconds(30), "the message read");
        Assert.That(reader[0].Value.ToArray(), Is.EqualTo("one"u8.ToArray()));

        reader.Release();

        Assert.That(reader.Count, Is.Zero);
        Assert.Throws<ArgumentOutOfRangeException>(() => _ = reader[0]);
    }
}
