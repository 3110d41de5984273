using System.Diagnostics;
using Confluent.Kafka;
using StreamRec.IntegrationTests.Infrastructure;
using StreamRec.Kafka;
using StreamRec.Kafka.Embedded;

namespace StreamRec.IntegrationTests.Kafka;

[TestFixture]
public sealed class EmbeddedKafkaClusterTests
{
    private const int Partitions = 8;
    private static readonly TimeSpan _poll = TimeSpan.FromMilliseconds(100);
    private EmbeddedKafkaCluster _cluster = null!;

    [SetUp]
    public void StartCluster() => _cluster = EmbeddedKafkaCluster.Start(brokerCount: 3);

    [TearDown]
    public void StopCluster() => _cluster.Dispose();

    [Test]
    public void Start_GivesOneLoopbackListenerPerBroker()
    {
        Assert.That(_cluster.Listeners, Has.Count.EqualTo(3));
        Assert.That(_cluster.Listeners.Select(EmbeddedKafkaCluster.IsListening), Is.All.True);
    }

    [Test]
    public void CreateTopic_IsVisibleInMetadataWithItsPartitionCount()
    {
        _cluster.CreateTopic("clicks", Partitions);

        using var admin = new AdminClientBuilder(new AdminClientConfig { BootstrapServers = _cluster.BootstrapServers }).Build();
        var topic = admin.GetMetadata("clicks", TimeSpan.FromSeconds(5)).Topics.Single();

        Assert.That(topic.Error.IsError, Is.False, topic.Error.Reason);
        Assert.That(topic.Partitions, Has.Count.EqualTo(Partitions));
    }

    [Test]
    public void TwoConsumersInOneGroup_SplitEightPartitions_AndTheSurvivorOwnsAllWithinTenSeconds()
    {
        _cluster.CreateTopic("clicks", Partitions);
        var config = KafkaTestSettings.Consumer(_cluster.BootstrapServers, "split-group");
        using var first = new ConsumerBuilder<byte[], byte[]>(config).Build();
        using var second = new ConsumerBuilder<byte[], byte[]>(config).Build();
        first.Subscribe("clicks");
        second.Subscribe("clicks");

        Eventually.Until(
            () => first.Assignment.Count > 0 && second.Assignment.Count > 0 && first.Assignment.Count + second.Assignment.Count == Partitions,
            TimeSpan.FromSeconds(30),
            "both consumers own partitions and together all 8",
            () => { first.Consume(_poll); second.Consume(_poll); });
        Assert.That(first.Assignment.Intersect(second.Assignment), Is.Empty, "no partition is owned twice");

        second.Close();
        var handOver = Eventually.Until(
            () => first.Assignment.Count == Partitions,
            TimeSpan.FromSeconds(10),
            "the remaining consumer owns all 8 partitions",
            () => first.Consume(_poll));

        Assert.That(handOver, Is.LessThan(TimeSpan.FromSeconds(10)));
        first.Close();
    }

    [Test]
    public void ReopenedConsumer_ResumesExactlyAtTheCommittedOffsets()
    {
        _cluster.CreateTopic("clicks", Partitions);
        const int produced = 400;
        ProduceNumbered("clicks", produced);
        var config = KafkaTestSettings.Consumer(_cluster.BootstrapServers, "resume-group");

        var firstRun = new List<ConsumeResult<byte[], byte[]>>();
        var committed = new Dictionary<TopicPartition, long>();
        using (var consumer = new ConsumerBuilder<byte[], byte[]>(config).Build())
        {
            consumer.Subscribe("clicks");
            Eventually.Until(() => firstRun.Count >= produced / 2, TimeSpan.FromSeconds(30), "half the messages consumed",
                () => { if (consumer.Consume(_poll) is { } result) { firstRun.Add(result); } });
            foreach (var last in firstRun.GroupBy(r => r.TopicPartition).Select(g => g.MaxBy(r => r.Offset.Value)!))
            {
                committed[last.TopicPartition] = last.Offset.Value + 1;
            }

            consumer.Commit(committed.Select(c => new TopicPartitionOffset(c.Key, c.Value)));
            consumer.Close();
        }

        var secondRun = new List<ConsumeResult<byte[], byte[]>>();
        using (var consumer = new ConsumerBuilder<byte[], byte[]>(config).Build())
        {
            consumer.Subscribe("clicks");
            Eventually.Until(() => firstRun.Count + secondRun.Count >= produced, TimeSpan.FromSeconds(30), "the rest consumed",
                () => { if (consumer.Consume(_poll) is { } result) { secondRun.Add(result); } });
            consumer.Close();
        }

        foreach (var (partition, next) in committed)
        {
            var resumedAt = secondRun.Where(r => r.TopicPartition == partition).Select(r => r.Offset.Value).DefaultIfEmpty(next).Min();
            Assert.That(resumedAt, Is.EqualTo(next), $"first offset read again on {partition}");
        }

        var allValues = firstRun.Concat(secondRun).Select(r => BitConverter.ToInt32(r.Message.Value)).ToList();
        Assert.That(allValues, Is.EquivalentTo(Enumerable.Range(0, produced)), "every message exactly once");
    }

    [Test]
    public void Dispose_LeavesNoListenerOpen()
    {
        var listeners = _cluster.Listeners;
        _cluster.Dispose();

        Assert.That(listeners.Select(EmbeddedKafkaCluster.IsListening), Is.All.False);
    }

    [Test]
    public void CreateTopic_AfterDispose_ThrowsObjectDisposed()
    {
        _cluster.Dispose();

        Assert.That(() => _cluster.CreateTopic("late", 1), Throws.TypeOf<ObjectDisposedException>());
    }

    [Test]
    public void BrokerDown_RefusesConnections_AndUpAcceptsThemAgain()
    {
        var listener = _cluster.Listeners[0];

        _cluster.SetBrokerDown(1);
        Assert.That(EmbeddedKafkaCluster.IsListening(listener), Is.False);

        _cluster.SetBrokerUp(1);
        Assert.That(EmbeddedKafkaCluster.IsListening(listener), Is.True);
    }

    [Test]
    public void RequestTracking_CountsRequestsByApiKey_AndPushedErrorsFailTheNextOnes()
    {
        const short produce = 0;
        _cluster.CreateTopic("tracked", 1);
        _cluster.StartRequestTracking();
        // NOT_ENOUGH_REPLICAS (19) is retriable: the producer retries and the message still arrives once.
        _cluster.PushRequestErrors(produce, 19, 19);
        using var producer = new ProducerBuilder<Null, string>(new ProducerConfig { BootstrapServers = _cluster.BootstrapServers, RetryBackoffMs = 10 }).Build();

        var delivered = producer.ProduceAsync("tracked", new Message<Null, string> { Value = "once" }).GetAwaiter().GetResult();

        Assert.That(delivered.Offset.Value, Is.Zero, "one message, appended once");
        Assert.That(_cluster.RequestCounts().GetValueOrDefault(produce), Is.EqualTo(3), "two failed Produce requests, then the one that succeeded");
    }

    [Test]
    public void EnsureReachable_OnTheCluster_Succeeds() =>
        Assert.That(() => KafkaBootstrap.EnsureReachable(new ClientConfig { BootstrapServers = _cluster.BootstrapServers }, TimeSpan.FromSeconds(5)), Throws.Nothing);

    private void ProduceNumbered(string topic, int count)
    {
        using var producer = new ProducerBuilder<byte[], byte[]>(KafkaTestSettings.Producer(_cluster.BootstrapServers)).Build();
        for (var i = 0; i < count; i++)
        {
            producer.Produce(topic, new Message<byte[], byte[]> { Key = BitConverter.GetBytes(i), Value = BitConverter.GetBytes(i) });
        }

        Assert.That(producer.Flush(TimeSpan.FromSeconds(10)), Is.Zero, "messages left unsent");
    }
}

[TestFixture]
public sealed class KafkaBootstrapTests
{
    [Test]
    public void EnsureReachable_OnAnAddressWithNoBroker_FailsFastNamingTheSetting()
    {
        var deadAddress = $"127.0.0.1:{DevServers.LocalRedis.FreeLoopbackPort()}";
        var clock = Stopwatch.StartNew();

        var error = Assert.Throws<KafkaUnreachableException>(() =>
            KafkaBootstrap.EnsureReachable(new ClientConfig { BootstrapServers = deadAddress }, TimeSpan.FromSeconds(2), "Worker:Kafka:BootstrapServers"));

        Assert.That(error!.Message, Does.Contain("Worker:Kafka:BootstrapServers").And.Contain(deadAddress));
        Assert.That(clock.Elapsed, Is.LessThan(TimeSpan.FromSeconds(10)), "fails instead of hanging");
    }

    [TestCase("")]
    [TestCase("localhost")]
    [TestCase("localhost:notaport")]
    [TestCase("localhost:9092,broker2:70000")]
    public void ValidateFormat_RejectsMalformedServers_NamingTheSetting(string servers)
    {
        var error = Assert.Throws<FormatException>(() => KafkaBootstrap.ValidateFormat(servers, "--bootstrap-servers"));

        Assert.That(error!.Message, Does.Contain("--bootstrap-servers"));
    }

    [TestCase("localhost:9092")]
    [TestCase("b1:9092, b2:9093")]
    [TestCase("SASL_SSL://broker.example:9094")]
    public void ValidateFormat_AcceptsHostPortLists(string servers) =>
        Assert.That(() => KafkaBootstrap.ValidateFormat(servers), Throws.Nothing);
}
