using Confluent.Kafka;
using StreamRec.IntegrationTests.Infrastructure;
using Testcontainers.Kafka;

namespace StreamRec.IntegrationTests.RealKafka;

/// <summary>
/// The same client behaviour as the embedded-Kafka tests, on Apache Kafka (KRaft) in a container.
/// Reported Skipped where no Docker engine is reachable.
/// </summary>
[TestFixture]
[Category("RealKafka")]
public sealed class RealKafkaSmokeTests
{
    /// <summary>The official Apache Kafka image, KRaft mode.</summary>
    public const string KafkaImage = "apache/kafka:3.9.1";

    private KafkaContainer? _kafka;

    [OneTimeSetUp]
    public async Task StartKafka()
    {
        DockerGate.RequireDocker();
        _kafka = new KafkaBuilder(KafkaImage).Build();
        await _kafka.StartAsync();
    }

    [OneTimeTearDown]
    public async Task StopKafka()
    {
        if (_kafka is not null)
        {
            await _kafka.DisposeAsync();
        }
    }

    [Test]
    public void ProducedMessages_AreConsumedByAGroup_AndCommitsResume()
    {
        var bootstrap = _kafka!.GetBootstrapAddress();
        using (var producer = new ProducerBuilder<string, string>(KafkaTestSettings.Producer(bootstrap)).Build())
        {
            for (var i = 0; i < 100; i++)
            {
                producer.Produce("clicks", new Message<string, string> { Key = $"user-{i % 10}", Value = i.ToString(System.Globalization.CultureInfo.InvariantCulture) });
            }

            Assert.That(producer.Flush(TimeSpan.FromSeconds(30)), Is.Zero);
        }

        var config = KafkaTestSettings.Consumer(bootstrap, "real-kafka-smoke");
        var seen = new HashSet<string>();
        using (var consumer = new ConsumerBuilder<string, string>(config).Build())
        {
            consumer.Subscribe("clicks");
            Eventually.Until(() => seen.Count == 100, TimeSpan.FromSeconds(60), "100 messages", () =>
            {
                if (consumer.Consume(200) is { } result)
                {
                    seen.Add(result.Message.Value);
                    consumer.StoreOffset(result);
                }
            });
            consumer.Commit();
            consumer.Close();
        }

        using var again = new ConsumerBuilder<string, string>(config).Build();
        again.Subscribe("clicks");
        var extra = again.Consume(TimeSpan.FromSeconds(5));
        Assert.That(extra, Is.Null, "nothing is read twice after the commit");
        again.Close();
    }
}
