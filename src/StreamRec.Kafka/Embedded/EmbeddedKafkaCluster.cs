using System.Net;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using System.Text;

namespace StreamRec.Kafka.Embedded;

/// <summary>
/// An in-process Kafka cluster on librdkafka's mock broker: the real Kafka protocol over real TCP
/// listeners on 127.0.0.1, usable by any client (Confluent.Kafka, kcat, another process).
/// For tests, the demo and the bench; production uses a real Kafka.
/// </summary>
/// <remarks>
/// Limits of the mock, measured: each partition keeps at most 5 MiB or 100,000 batches (older data
/// disappears silently, so producers should compress with lz4); CreateTopics, DeleteRecords,
/// DescribeConfigs and DescribeConsumerGroups are not supported (use <see cref="CreateTopic"/>);
/// ListConsumerGroups crashes the process on exit and must not be called.
/// Thread-safety: all members may be called from any thread; <see cref="Dispose"/> once.
/// </remarks>
public sealed class EmbeddedKafkaCluster : IDisposable
{
    /// <summary>The mock broker's default first join wait is 3 s; tests and the demo want none.</summary>
    public const int DefaultInitialRebalanceDelayMs = 0;

    private const int ProducerType = 0;
    private readonly Lock _lock = new();
    private IntPtr _handle;
    private IntPtr _cluster;

    private EmbeddedKafkaCluster(IntPtr handle, IntPtr cluster, int brokerCount)
    {
        _handle = handle;
        _cluster = cluster;
        BrokerCount = brokerCount;
        BootstrapServers = Marshal.PtrToStringUTF8(LibRdKafka.rd_kafka_mock_cluster_bootstraps(cluster))
            ?? throw new InvalidOperationException("The mock cluster reported no bootstrap servers.");
    }

    /// <summary>Comma-separated <c>127.0.0.1:port</c> listeners, one per broker.</summary>
    public string BootstrapServers { get; }

    /// <summary>Number of brokers; broker ids are 1..BrokerCount.</summary>
    public int BrokerCount { get; }

    /// <summary>The TCP endpoints of the brokers' listeners.</summary>
    public IReadOnlyList<IPEndPoint> Listeners =>
        [.. BootstrapServers.Split(',').Select(IPEndPoint.Parse)];

    /// <summary>Starts a mock cluster with <paramref name="brokerCount"/> brokers.</summary>
    /// <param name="brokerCount">1 or more brokers.</param>
    /// <param name="initialRebalanceDelayMs">How long the first join of a consumer group waits for more members.</param>
    public static EmbeddedKafkaCluster Start(int brokerCount = 3, int initialRebalanceDelayMs = DefaultInitialRebalanceDelayMs)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(brokerCount, 1);
        ArgumentOutOfRangeException.ThrowIfNegative(initialRebalanceDelayMs);
        LibRdKafka.EnsureLoaded();

        var errors = new byte[512];
        var conf = LibRdKafka.rd_kafka_conf_new();
        // The handle only hosts the cluster; it never produces. Keep its own logging quiet.
        Set(conf, "log_level", "3", errors);
        Set(conf, "bootstrap.servers", "", errors);
        var handle = LibRdKafka.rd_kafka_new(ProducerType, conf, errors, (nuint)errors.Length);
        if (handle == IntPtr.Zero)
        {
            throw new InvalidOperationException("librdkafka could not create the handle for the mock cluster: " + ErrorText(errors));
        }

        var cluster = LibRdKafka.rd_kafka_mock_cluster_new(handle, brokerCount);
        if (cluster == IntPtr.Zero)
        {
            LibRdKafka.rd_kafka_destroy(handle);
            throw new InvalidOperationException($"librdkafka could not start a mock cluster of {brokerCount} brokers.");
        }

        LibRdKafka.rd_kafka_mock_group_initial_rebalance_delay_ms(cluster, initialRebalanceDelayMs);
        return new EmbeddedKafkaCluster(handle, cluster, brokerCount);
    }

    /// <summary>Creates a topic. Creating one that exists is an error.</summary>
    public void CreateTopic(string topic, int partitions, int replicationFactor = 1)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(topic);
        ArgumentOutOfRangeException.ThrowIfLessThan(partitions, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(replicationFactor, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(replicationFactor, BrokerCount);
        Check(LibRdKafka.rd_kafka_mock_topic_create(Cluster, topic, partitions, replicationFactor), $"create topic '{topic}'");
    }

    /// <summary>Takes broker <paramref name="brokerId"/> (1-based) down: its listener refuses connections.</summary>
    public void SetBrokerDown(int brokerId) =>
        Check(LibRdKafka.rd_kafka_mock_broker_set_down(Cluster, brokerId), $"set broker {brokerId} down");

    /// <summary>Brings broker <paramref name="brokerId"/> back up.</summary>
    public void SetBrokerUp(int brokerId) =>
        Check(LibRdKafka.rd_kafka_mock_broker_set_up(Cluster, brokerId), $"set broker {brokerId} up");

    /// <summary>Adds <paramref name="rtt"/> of round-trip time to every response of a broker.</summary>
    public void SetBrokerRoundTripTime(int brokerId, TimeSpan rtt) =>
        Check(LibRdKafka.rd_kafka_mock_broker_set_rtt(Cluster, brokerId, (int)rtt.TotalMilliseconds), $"set broker {brokerId} rtt");

    /// <summary>
    /// Makes the next requests with Kafka API key <paramref name="apiKey"/> (0 = Produce, 1 = Fetch,
    /// 8 = OffsetCommit, ...) fail with the given Kafka error codes, one per request, in order.
    /// </summary>
    public void PushRequestErrors(short apiKey, params int[] errorCodes)
    {
        ArgumentNullException.ThrowIfNull(errorCodes);
        LibRdKafka.rd_kafka_mock_push_request_errors_array(Cluster, apiKey, (nuint)errorCodes.Length, errorCodes);
    }

    /// <summary>Drops the queued request errors for an API key.</summary>
    public void ClearRequestErrors(short apiKey) => LibRdKafka.rd_kafka_mock_clear_request_errors(Cluster, apiKey);

    /// <summary>Starts recording the requests the brokers receive, for <see cref="RequestCounts"/> (kept until disposal).</summary>
    public void StartRequestTracking() => LibRdKafka.rd_kafka_mock_start_request_tracking(Cluster);

    /// <summary>Requests received since <see cref="StartRequestTracking"/>, by Kafka API key (1 = Fetch, 12 = Heartbeat, ...).</summary>
    public IReadOnlyDictionary<short, int> RequestCounts()
    {
        var requests = LibRdKafka.rd_kafka_mock_get_requests(Cluster, out var count);
        var counts = new Dictionary<short, int>();
        if (requests == IntPtr.Zero)
        {
            return counts;
        }

        try
        {
            for (nuint i = 0; i < count; i++)
            {
                var apiKey = LibRdKafka.rd_kafka_mock_request_api_key(Marshal.ReadIntPtr(requests, (int)i * IntPtr.Size));
                counts[apiKey] = counts.GetValueOrDefault(apiKey) + 1;
            }
        }
        finally
        {
            LibRdKafka.rd_kafka_mock_request_destroy_array(requests, count);
        }

        return counts;
    }

    /// <summary>Stops all listeners and frees the cluster. Safe to call more than once.</summary>
    public void Dispose()
    {
        IntPtr cluster, handle;
        lock (_lock)
        {
            (cluster, _cluster) = (_cluster, IntPtr.Zero);
            (handle, _handle) = (_handle, IntPtr.Zero);
        }

        if (cluster != IntPtr.Zero)
        {
            LibRdKafka.rd_kafka_mock_cluster_destroy(cluster);
        }

        if (handle != IntPtr.Zero)
        {
            LibRdKafka.rd_kafka_destroy(handle);
        }
    }

    /// <summary>True when something accepts TCP connections on the listener's port.</summary>
    public static bool IsListening(IPEndPoint endpoint)
    {
        ArgumentNullException.ThrowIfNull(endpoint);
        using var socket = new Socket(endpoint.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
        try
        {
            socket.Connect(endpoint);
            return true;
        }
        catch (SocketException)
        {
            return false;
        }
    }

    private IntPtr Cluster
    {
        get
        {
            var cluster = _cluster;
            ObjectDisposedException.ThrowIf(cluster == IntPtr.Zero, this);
            return cluster;
        }
    }

    private static void Set(IntPtr conf, string name, string value, byte[] errors)
    {
        if (LibRdKafka.rd_kafka_conf_set(conf, name, value, errors, (nuint)errors.Length) != 0)
        {
            throw new InvalidOperationException($"librdkafka rejected {name}={value}: {ErrorText(errors)}");
        }
    }

    private static void Check(int errorCode, string action)
    {
        if (errorCode != 0)
        {
            var text = Marshal.PtrToStringUTF8(LibRdKafka.rd_kafka_err2str(errorCode));
            throw new InvalidOperationException($"Embedded Kafka could not {action}: {text} (error {errorCode}).");
        }
    }

    private static string ErrorText(byte[] errors)
    {
        var length = Array.IndexOf(errors, (byte)0);
        return Encoding.UTF8.GetString(errors, 0, length < 0 ? errors.Length : length);
    }
}
