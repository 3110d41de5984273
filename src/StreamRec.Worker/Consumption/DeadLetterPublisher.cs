using System.Globalization;
using System.Text;
using Confluent.Kafka;
using StreamRec.Core.Events;

namespace StreamRec.Worker.Consumption;

/// <summary>
/// Produces refused events, byte for byte, to the dead-letter topic with the reason in headers.
/// <see cref="Flush"/> is called before a checkpoint that covers their offsets is published, so a
/// refused event is never dropped: it is either in the dead-letter topic or consumed again.
/// </summary>
/// <remarks>Thread-safety: <see cref="Publish"/> from the consumer thread only; delivery reports arrive on librdkafka's thread.</remarks>
public sealed class DeadLetterPublisher : IDisposable
{
    /// <summary>Header names on dead-lettered messages.</summary>
    public static class Headers
    {
        public const string Reason = "streamrec.error.reason";
        public const string Detail = "streamrec.error.detail";
        public const string SourceTopic = "streamrec.source.topic";
        public const string SourcePartition = "streamrec.source.partition";
        public const string SourceOffset = "streamrec.source.offset";
    }

    private readonly IProducer<byte[]?, byte[]?> _producer;
    private readonly string _topic;
    private long _failedDeliveries;
    private string? _lastDeliveryError;

    public DeadLetterPublisher(ProducerConfig config, string topic)
    {
        ArgumentNullException.ThrowIfNull(config);
        ArgumentException.ThrowIfNullOrWhiteSpace(topic);
        _topic = topic;
        var producerConfig = new ProducerConfig(config.ToDictionary(p => p.Key, p => p.Value))
        {
            // A dead letter must not be duplicated or lost by retries.
            EnableIdempotence = true,
            Acks = Acks.All,
            CompressionType = CompressionType.Lz4,
            LingerMs = 20,
        };
        _producer = new ProducerBuilder<byte[]?, byte[]?>(producerConfig).SetLogHandler((_, _) => { }).Build();
    }

    /// <summary>The dead-letter topic's name.</summary>
    public string Topic => _topic;

    /// <summary>Queues one refused message: its key, value and timestamp as consumed, with the reason and source in headers. Delivery is confirmed by <see cref="Flush"/>.</summary>
    public void Publish(TopicPartitionOffset source, byte[]? key, byte[]? value, Timestamp timestamp, BadEvent bad)
    {
        ArgumentNullException.ThrowIfNull(source);
        var headers = new Confluent.Kafka.Headers
        {
            { Headers.Reason, Encoding.UTF8.GetBytes(bad.Reason.ToString()) },
            { Headers.Detail, Encoding.UTF8.GetBytes(bad.Detail) },
            { Headers.SourceTopic, Encoding.UTF8.GetBytes(source.Topic) },
            { Headers.SourcePartition, Encoding.UTF8.GetBytes(source.Partition.Value.ToString(CultureInfo.InvariantCulture)) },
            { Headers.SourceOffset, Encoding.UTF8.GetBytes(source.Offset.Value.ToString(CultureInfo.InvariantCulture)) },
        };
        // The producer accepts only create times: a log-append time is carried over as the create time.
        var created = timestamp.Type == TimestampType.NotAvailable ? Timestamp.Default : new Timestamp(timestamp.UnixTimestampMs, TimestampType.CreateTime);
        var message = new Message<byte[]?, byte[]?> { Key = key, Value = value, Headers = headers, Timestamp = created };
        _producer.Produce(_topic, message, report =>
        {
            if (report.Error.IsError)
            {
                Interlocked.Increment(ref _failedDeliveries);
                _lastDeliveryError = report.Error.Reason;
            }
        });
    }

    /// <summary>
    /// Waits until every queued dead letter is acknowledged. Throws when any could not be delivered,
    /// so the checkpoint covering them is not published and the events are consumed again.
    /// </summary>
    public void Flush(TimeSpan timeout)
    {
        var remaining = _producer.Flush(timeout);
        if (remaining > 0)
        {
            throw new KafkaException(new Error(ErrorCode.Local_TimedOut, $"{remaining} dead letters to '{_topic}' were not acknowledged within {timeout.TotalSeconds:0.#} s."));
        }

        var failed = Interlocked.Exchange(ref _failedDeliveries, 0);
        if (failed > 0)
        {
            throw new KafkaException(new Error(ErrorCode.Local_Fail, $"{failed} dead letters to '{_topic}' failed: {_lastDeliveryError}"));
        }
    }

    public void Dispose() => _producer.Dispose();
}
