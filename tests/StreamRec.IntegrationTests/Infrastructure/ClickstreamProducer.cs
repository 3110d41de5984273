using Confluent.Kafka;
using Google.Protobuf;
using StreamRec.Contracts.V1;

namespace StreamRec.IntegrationTests.Infrastructure;

/// <summary>Produces ClickEvents (keyed by user) and, on request, garbage, counting what it sent.</summary>
public sealed class ClickstreamProducer(string bootstrapServers) : IDisposable
{
    // Its client log stays quiet: fault tests take brokers down on purpose; unsent events fail the test below.
    private readonly IProducer<string, byte[]> _producer = new ProducerBuilder<string, byte[]>(KafkaTestSettings.Producer(bootstrapServers)).SetLogHandler((_, _) => { }).Build();

    public int Good { get; private set; }

    public int Bad { get; private set; }

    /// <summary>Events where users in group g (of <paramref name="groups"/>) click items of group g: structure to learn.</summary>
    public void ProducePlanted(string topic, int events, int users = 200, int items = 100, int groups = 5, int seed = 1, double garbageShare = 0)
    {
        var random = new Random(seed);
        var now = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
        for (var i = 0; i < events; i++)
        {
            var user = random.Next(users);
            if (garbageShare > 0 && random.NextDouble() < garbageShare)
            {
                var garbage = new byte[random.Next(1, 40)];
                random.NextBytes(garbage);
                garbage[0] = 0xFF; // never a valid first tag
                _producer.Produce(topic, new Message<string, byte[]> { Key = $"u{user}", Value = garbage });
                Bad++;
                continue;
            }

            var group = user % groups;
            var item = (random.Next(items / groups) * groups) + group;
            var click = new ClickEvent { UserId = $"u{user}", ItemId = $"i{item}", Type = EventType.Click, EventTimeMs = now - events + i };
            _producer.Produce(topic, new Message<string, byte[]> { Key = click.UserId, Value = click.ToByteArray() });
            Good++;
        }

        var unsent = _producer.Flush(TimeSpan.FromSeconds(30));
        Assert.That(unsent, Is.Zero, "events not delivered to the embedded Kafka");
    }

    public void Dispose() => _producer.Dispose();
}
