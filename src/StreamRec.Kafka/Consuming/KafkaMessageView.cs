using System.Runtime.InteropServices;
using System.Text;
using Confluent.Kafka;
using StreamRec.Kafka.Embedded;

namespace StreamRec.Kafka.Consuming;

/// <summary>
/// One message of a <see cref="ConsumerBatchReader"/> batch, read in place from librdkafka's
/// <c>rd_kafka_message_t</c>. Valid only until the batch is released; copy what must outlive it.
/// </summary>
public readonly unsafe struct KafkaMessageView
{
    private readonly ConsumerBatchReader _reader;
    private readonly NativeMessage* _message;

    internal KafkaMessageView(ConsumerBatchReader reader, IntPtr message)
    {
        _reader = reader;
        _message = (NativeMessage*)message;
    }

    /// <summary>NoError for a message; otherwise this entry reports a consumer error (see <see cref="ErrorReason"/>).</summary>
    public ErrorCode Error => (ErrorCode)_message->Error;

    /// <summary>The topic's name (the same string instance for every message of a topic).</summary>
    public string Topic => _reader.TopicName(_message->Topic);

    public int Partition => _message->Partition;

    public long Offset => _message->Offset;

    /// <summary>True when the message has no value at all (a tombstone), as opposed to an empty one.</summary>
    public bool IsValueNull => _message->Payload == IntPtr.Zero;

    /// <summary>The value's bytes in librdkafka's buffer.</summary>
    public ReadOnlySpan<byte> Value => IsValueNull ? [] : new ReadOnlySpan<byte>((void*)_message->Payload, checked((int)_message->Length));

    public bool IsKeyNull => _message->Key == IntPtr.Zero;

    /// <summary>The key's bytes in librdkafka's buffer.</summary>
    public ReadOnlySpan<byte> Key => IsKeyNull ? [] : new ReadOnlySpan<byte>((void*)_message->Key, checked((int)_message->KeyLength));

    /// <summary>The message's timestamp (a native call: read it only where it is needed).</summary>
    public Timestamp Timestamp
    {
        get
        {
            var unixMs = LibRdKafka.rd_kafka_message_timestamp((IntPtr)_message, out var type);
            return new Timestamp(unixMs, (TimestampType)type);
        }
    }

    public TopicPartitionOffset TopicPartitionOffset => new(Topic, Partition, Offset);

    /// <summary>For an error entry: librdkafka's description (its payload, else the error code's text).</summary>
    public string ErrorReason
    {
        get
        {
            if (Error == ErrorCode.Local_Fatal)
            {
                return _reader.FatalReason();
            }

            if (_message->Payload != IntPtr.Zero && _message->Length > 0)
            {
                return Encoding.UTF8.GetString(Value);
            }

            return Marshal.PtrToStringUTF8(LibRdKafka.rd_kafka_err2str(_message->Error)) ?? Error.ToString();
        }
    }

    /// <summary>rd_kafka_message_t (rdkafka.h), field for field.</summary>
    [StructLayout(LayoutKind.Sequential)]
    private readonly struct NativeMessage
    {
        public readonly int Error;
        public readonly IntPtr Topic;
        public readonly int Partition;
        public readonly IntPtr Payload;
        public readonly nuint Length;
        public readonly IntPtr Key;
        public readonly nuint KeyLength;
        public readonly long Offset;
        public readonly IntPtr Private;
    }
}
