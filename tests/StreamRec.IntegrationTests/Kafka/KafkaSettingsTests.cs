using Confluent.Kafka;
using StreamRec.Kafka;

namespace StreamRec.IntegrationTests.Kafka;

[TestFixture]
public sealed class KafkaSettingsTests
{
    private static KafkaSettings SaslSsl() => new()
    {
        BootstrapServers = "broker:9094",
        SecurityProtocol = "sasl_ssl",
        SaslMechanism = "SCRAM-SHA-512",
        SaslUsername = "streamrec",
        SaslPassword = "kafka-pa55word",
        SslKeyPassword = "key-pa55word",
        Client = { ["socket.keepalive.enable"] = "true" },
    };

    [Test]
    public void ApplyTo_CarriesSaslAndSslAndPassthroughPropertiesToTheClient()
    {
        var config = SaslSsl().ApplyTo(new ConsumerConfig { GroupId = "g" });

        Assert.That(config.Get("security.protocol"), Is.EqualTo("sasl_ssl"));
        Assert.That(config.Get("sasl.mechanism"), Is.EqualTo("SCRAM-SHA-512"));
        Assert.That(config.Get("sasl.username"), Is.EqualTo("streamrec"));
        Assert.That(config.Get("sasl.password"), Is.EqualTo("kafka-pa55word"));
        Assert.That(config.Get("ssl.key.password"), Is.EqualTo("key-pa55word"));
        Assert.That(config.Get("socket.keepalive.enable"), Is.EqualTo("true"));
        Assert.That(config.BootstrapServers, Is.EqualTo("broker:9094"));
    }

    [Test]
    public void DescribeAndToString_NeverShowSecrets()
    {
        var settings = SaslSsl();
        var described = string.Join(",", KafkaSettings.Describe(settings.ApplyTo(new ProducerConfig())));

        Assert.That(described + settings, Does.Not.Contain("pa55word"));
        Assert.That(described, Does.Contain("[sasl.password, ***]"));
    }

    [Test]
    public void Validate_NamesEveryBadSetting()
    {
        var settings = new KafkaSettings
        {
            BootstrapServers = "nohost",
            SecurityProtocol = "carrier_pigeon",
            SaslMechanism = "MAGIC",
            SslCaLocation = "/nonexistent/ca.pem",
        };

        var errors = settings.Validate("Worker:Kafka");

        Assert.That(errors, Has.Some.Contains("Worker:Kafka:BootstrapServers"));
        Assert.That(errors, Has.Some.Contains("Worker:Kafka:SecurityProtocol"));
        Assert.That(errors, Has.Some.Contains("Worker:Kafka:SaslMechanism"));
        Assert.That(errors, Has.Some.Contains("Worker:Kafka:SslCaLocation"));
    }

    [Test]
    public void Validate_SaslWithoutCredentials_IsAnError()
    {
        var settings = new KafkaSettings { BootstrapServers = "b:9092", SecurityProtocol = "sasl_plaintext", SaslMechanism = "PLAIN" };

        Assert.That(settings.Validate(), Has.Some.Contains("SaslPassword"));
    }

    [Test]
    public void Validate_PlainSettings_HaveNoErrors() =>
        Assert.That(new KafkaSettings { BootstrapServers = "localhost:9092" }.Validate(), Is.Empty);
}
