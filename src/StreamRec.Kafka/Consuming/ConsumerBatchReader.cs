using System.Reflection;
using System.Runtime.InteropServices;
using System.Text;
using Confluent.Kafka;
using StreamRec.Kafka.Embedded;

namespace StreamRec.Kafka.Consuming;

/// <summary>
/// Takes messages from a Confluent.Kafka consumer in batches straight from librdkafka's consumer
/// queue (<c>rd_kafka_consume_batch_queue</c>), and lends them as views over librdkafka's own
/// buffers: no result objects, no copied keys or values, no topic strings per message.
/// </summary>
/// <remarks>
/// <para>
/// The consumer stays in charge of everything else (subscription, rebalance callbacks, commits,
/// pause and resume): its callbacks run on the thread calling <see cref="Read"/>, as they do inside
/// <c>Consume()</c>. Confluent.Kafka's per-message <c>Consume()</c> costs about a microsecond of
/// marshalling and several allocations per message; this path costs a few tens of nanoseconds.
/// </para>
/// <para>
/// Ownership: the messages of a batch stay valid until <see cref="Release"/> or the next
/// <see cref="Read"/>; spans taken from them must not outlive that. Dispose the reader before the
/// consumer is closed or disposed. Not thread-safe: use it from the consumer's thread only.
/// </para>
/// </remarks>
public sealed unsafe class ConsumerBatchReader : IDisposable
{
    private readonly SafeHandle _client;
    private readonly IntPtr _queue;
    private readonly IntPtr[] _messages;
    private readonly List<KnownTopic> _topics = [];
    private int _count;
    private bool _disposed;

    private ConsumerBatchReader(SafeHandle client, int capacity)
    {
        _client = client;
        var added = false;
        client.DangerousAddRef(ref added);
        _queue = LibRdKafka.rd_kafka_queue_get_consumer(client.DangerousGetHandle());
        if (_queue == IntPtr.Zero)
        {
            client.DangerousRelease();
            throw new InvalidOperationException("The consumer has no consumer queue (librdkafka returned none).");
        }

        _messages = new IntPtr[capacity];
    }

    /// <summary>Most messages one <see cref="Read"/> returns.</summary>
    public int Capacity => _messages.Length;

    /// <summary>Messages of the current batch.</summary>
    public int Count => _count;

    /// <summary>The <paramref name="index"/>th message of the current batch.</summary>
    public KafkaMessageView this[int index]
    {
        get
        {
            ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual((uint)index, (uint)_count, nameof(index));
            return new KafkaMessageView(this, _messages[index]);
        }
    }

    /// <summary>Attaches to <paramref name="consumer"/>'s librdkafka queue.</summary>
    /// <param name="capacity">Most messages per batch.</param>
    /// <exception cref="NotSupportedException">This Confluent.Kafka version does not expose its librdkafka handle the way this reader expects.</exception>
    public static ConsumerBatchReader Create(IClient consumer, int capacity)
    {
        ArgumentNullException.ThrowIfNull(consumer);
        ArgumentOutOfRangeException.ThrowIfLessThan(capacity, 1);
        LibRdKafka.EnsureLoaded();
        return new ConsumerBatchReader(NativeHandleOf(consumer), capacity);
    }

    /// <summary>
    /// Releases the previous batch, then takes the messages queued now, up to <see cref="Capacity"/>;
    /// when none are queued, waits up to <paramref name="timeout"/> for the first one (and takes
    /// whatever came with it). Rebalance and other callbacks run inside this call.
    /// </summary>
    /// <returns>How many messages the batch holds; 0 when the wait timed out.</returns>
    public int Read(TimeSpan timeout)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        Release();
        _batchStamp++;
        fixed (IntPtr* messages = _messages)
        {
            var taken = Take(messages, 0, _messages.Length);
            if (taken == 0)
            {
                // A batch call waits for a full batch or its timeout: wait for one message only.
                taken = Take(messages, (int)Math.Clamp(timeout.TotalMilliseconds, 0, int.MaxValue), 1);
                if (taken == 1 && _messages.Length > 1)
                {
                    taken += Take(messages + 1, 0, _messages.Length - 1);
                }
            }

            _count = taken;
        }

        return _count;
    }

    /// <summary>Gives the current batch's messages back to librdkafka.</summary>
    public void Release()
    {
        for (var i = 0; i < _count; i++)
        {
            LibRdKafka.rd_kafka_message_destroy(_messages[i]);
            _messages[i] = IntPtr.Zero;
        }

        _count = 0;
    }

    public void Dispose()
    {
        if (_disposed)
        {
            return;
        }

        _disposed = true;
        Release();
        LibRdKafka.rd_kafka_queue_destroy(_queue);
        _client.DangerousRelease();
    }

    private int Take(IntPtr* messages, int timeoutMs, int size)
    {
        var taken = LibRdKafka.rd_kafka_consume_batch_queue(_queue, timeoutMs, messages, (nuint)size);
        if (taken < 0)
        {
            throw new KafkaException(new Error(ErrorCode.Local_Fail, "rd_kafka_consume_batch_queue failed on the consumer queue."));
        }

        return (int)taken;
    }

    /// <summary>The topic's name for a topic handle, as a string kept from earlier batches when the name is unchanged.</summary>
    internal string TopicName(IntPtr topic)
    {
        if (topic == IntPtr.Zero)
        {
            return "";
        }

        foreach (var known in _topics)
        {
            if (known.Handle == topic && known.Batch == _batchStamp)
            {
                return known.Name;
            }
        }

        // First sight in this batch: read the name (a handle's address may be reused by another topic later).
        var native = MemoryMarshal.CreateReadOnlySpanFromNullTerminated((byte*)LibRdKafka.rd_kafka_topic_name(topic));
        for (var i = 0; i < _topics.Count; i++)
        {
            if (native.SequenceEqual(_topics[i].Utf8))
            {
                _topics[i] = _topics[i] with { Handle = topic, Batch = _batchStamp };
                return _topics[i].Name;
            }
        }

        var name = new KnownTopic(topic, _batchStamp, Encoding.UTF8.GetString(native), native.ToArray());
        _topics.Add(name);
        return name.Name;
    }

    private long _batchStamp;

    internal string FatalReason()
    {
        var buffer = new byte[512];
        var code = LibRdKafka.rd_kafka_fatal_error(_client.DangerousGetHandle(), buffer, (nuint)buffer.Length);
        var length = Array.IndexOf(buffer, (byte)0);
        return $"{(ErrorCode)code}: {Encoding.UTF8.GetString(buffer, 0, length < 0 ? buffer.Length : length)}";
    }

    private static SafeHandle NativeHandleOf(IClient client)
    {
        // Confluent.Kafka keeps its rd_kafka_t in Handle.LibrdkafkaHandle (internal); the version is
        // pinned centrally and the tests exercise this path, so a change there fails loudly.
        var property = typeof(Handle).GetProperty("LibrdkafkaHandle", BindingFlags.Instance | BindingFlags.NonPublic | BindingFlags.Public);
        if (property?.GetValue(client.Handle) is SafeHandle handle && !handle.IsInvalid && !handle.IsClosed)
        {
            return handle;
        }

        throw new NotSupportedException(
            $"Confluent.Kafka {typeof(Handle).Assembly.GetName().Version} does not expose its librdkafka handle as Handle.LibrdkafkaHandle; batch consumption needs it.");
    }

    private readonly record struct KnownTopic(IntPtr Handle, long Batch, string Name, byte[] Utf8);
}
