using Confluent.Kafka;
using Google.Protobuf;
using StreamRec.Cli.Smoke;
using StreamRec.Contracts.V1;
using StreamRec.IntegrationTests.Infrastructure;
using StreamRec.Kafka.Embedded;

namespace StreamRec.IntegrationTests.Smoke;

[TestFixture]
public sealed class SmokePathTests
{
    [Test]
    public async Task ClickEvents_ThroughEightPartitionsAndAGroup_AreAllConsumedAndCommitted_AndProtobufRoundTripsThroughRedis()
    {
        using var kafka = EmbeddedKafkaCluster.Start(brokerCount: 3);
        kafka.CreateTopic("clicks", 8);
        await using var redis = await TestRedis.CreateScope();

        var result = await SmokePipeline.RunAsync(kafka.BootstrapServers, "clicks", redis.Database, redis.Key("smoke").ToString(), 2_000, CancellationToken.None);

        Assert.That(result.Consumed, Is.EqualTo(2_000));
        Assert.That(result.ConsumedPerPartition.Keys, Is.EquivalentTo(Enumerable.Range(0, 8)), "events spread over all 8 partitions");
        Assert.That(result.CommittedNextOffsets.Values.Sum(), Is.EqualTo(2_000), "next offsets cover every event");
        Assert.That(result.RedisRoundTripEqual, Is.True);
        var stored = Manifest.Parser.ParseFrom((byte[])(await redis.Database.StringGetAsync(redis.Key("smoke")))!);
        Assert.That(stored.Offsets.Sum(o => o.NextOffset), Is.EqualTo(2_000));
    }

    [Test]
    public void ClickEvent_KeepsUnknownFieldsFromNewerProducers()
    {
        // A newer producer may add fields; an older reader must parse and keep them.
        var newer = new ClickEvent { UserId = "u", ItemId = "i", Type = EventType.Click, EventTimeMs = 1 }.ToByteArray()
            .Concat(new byte[] { 0x30, 0x07 }) // field 6, varint 7
            .ToArray();

        var parsed = ClickEvent.Parser.ParseFrom(newer);

        Assert.That(parsed.UserId, Is.EqualTo("u"));
        Assert.That(parsed.ToByteArray(), Is.EqualTo(newer));
    }

    [Test]
    public void CommittedOffsets_AreVisibleToTheGroupAfterTheSmokeRun()
    {
        using var kafka = EmbeddedKafkaCluster.Start(brokerCount: 1);
        kafka.CreateTopic("clicks", 8);
        var config = KafkaTestSettings.Consumer(kafka.BootstrapServers, "committed-check");
        using (var producer = new ProducerBuilder<string, byte[]>(KafkaTestSettings.Producer(kafka.BootstrapServers)).Build())
        {
            producer.Produce(new TopicPartition("clicks", 3), new Message<string, byte[]> { Key = "u", Value = [1] });
            producer.Flush(TimeSpan.FromSeconds(10));
        }

        using (var consumer = new ConsumerBuilder<string, byte[]>(config).Build())
        {
            consumer.Subscribe("clicks");
            ConsumeResult<string, byte[]>? result = null;
            Eventually.Until(() => result is not null, TimeSpan.FromSeconds(20), "one message", () => result = consumer.Consume(100));
            consumer.Commit([new TopicPartitionOffset(result!.TopicPartition, result.Offset + 1)]);
            consumer.Close();
        }

        using var observer = new ConsumerBuilder<string, byte[]>(config).Build();
        var committed = observer.Committed([new TopicPartition("clicks", 3)], TimeSpan.FromSeconds(10)).Single();
        Assert.That(committed.Offset.Value, Is.EqualTo(1));
    }
}
