using System.Collections.Concurrent;
using System.Globalization;
using System.Text;
using Confluent.Kafka;
using StreamRec.Core.Events;

namespace StreamRec.Worker.Consumption;

/// <summary>
/// Produces refused events, byte for byte, to the dead-letter topic with the reason in headers.
/// <see cref="Flush"/> is called before a checkpoint that covers their offsets is published, and sends
/// again what Kafka refused, so a refused event is never dropped: it is either in the dead-letter topic
/// or consumed again (at least once: a crash after delivery and before the checkpoint repeats it).
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
    // Dead letters Kafka refused for good (the producer's own retries are over); sent again by Flush.
    private readonly ConcurrentQueue<Message<byte[]?, byte[]?>> _undelivered = new();
    private string? _lastDeliveryError;

    public DeadLetterPublisher(ProducerConfig config, string topic)
    {
        ArgumentNullException.ThrowIfNull(config);
        ArgumentException.ThrowIfNullOrWhiteSpace(topic);
        _topic = topic;
        _producer = new ProducerBuilder<byte[]?, byte[]?>(ConfigFor(config)).SetLogHandler((_, _) => { }).Build();
    }

    /// <summary>The producer configuration used: <paramref name="kafka"/> (connection and security) plus idempotent, acknowledged delivery.</summary>
    public static ProducerConfig ConfigFor(ClientConfig kafka)
    {
        ArgumentNullException.ThrowIfNull(kafka);
        return new ProducerConfig(kafka.ToDictionary(p => p.Key, p => p.Value))
        {
            // A dead letter must not be duplicated or lost by retries.
            EnableIdempotence = true,
            Acks = Acks.All,
            CompressionType = CompressionType.Lz4,
            LingerMs = 20,
        };
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
        Send(message);
    }

    /// <summary>
    /// Sends again the dead letters whose delivery failed, then waits until every queued one is
    /// acknowledged. Throws while any is unacknowledged or failed, so no checkpoint covering them is
    /// published: they are retried on the next call, or consumed again after a crash.
    /// </summary>
    public void Flush(TimeSpan timeout)
    {
        var failed = _undelivered.Count;
        for (var i = 0; i < failed && _undelivered.TryDequeue(out var message); i++)
        {
            Send(message);
        }

        var remaining = _producer.Flush(timeout);
        if (remaining > 0)
        {
            throw new KafkaException(new Error(ErrorCode.Local_TimedOut, $"{remaining} dead letters to '{_topic}' were not acknowledged within {timeout.TotalSeconds:0.#} s."));
        }

        if (!_undelivered.IsEmpty)
        {
            throw new KafkaException(new Error(ErrorCode.Local_Fail, $"{_undelivered.Count} dead letters to '{_topic}' failed ({_lastDeliveryError}); they are sent again before the next checkpoint."));
        }
    }

    public void Dispose() => _producer.Dispose();

    private void Send(Message<byte[]?, byte[]?> message) =>
        _producer.Produce(_topic, message, report =>
        {
            if (report.Error.IsError)
            {
                // The message as first built: the report's copy carries the broker's view of the timestamp.
                _lastDeliveryError = report.Error.Reason;
                _undelivered.Enqueue(message);
            }
        });
}
