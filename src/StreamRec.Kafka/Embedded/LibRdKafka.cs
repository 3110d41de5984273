using System.Reflection;
using System.Runtime.InteropServices;

namespace StreamRec.Kafka.Embedded;

/// <summary>
/// P/Invoke declarations for the parts of librdkafka's C API that Confluent.Kafka does not wrap:
/// creating a mock cluster and its fault controls (see rdkafka_mock.h).
/// </summary>
/// <remarks>
/// The declarations must bind to the same native file Confluent.Kafka loaded. On Debian 12 the
/// default <c>librdkafka.so</c> links <c>libsasl2.so.3</c>, which is missing, and Confluent.Kafka
/// silently falls back to <c>centos8-librdkafka.so</c>; the resolver below does the same.
/// </remarks>
internal static partial class LibRdKafka
{
    private const string Library = "librdkafka";

    // Confluent.Kafka's candidates, in its own order of preference, on each platform.
    private static readonly string[] _candidateNames =
    [
        "librdkafka",
        "centos8-librdkafka",
        "centos8-librdkafka.so",
        "alpine-librdkafka.so",
    ];

    static LibRdKafka()
    {
        NativeLibrary.SetDllImportResolver(typeof(LibRdKafka).Assembly, Resolve);
    }

    /// <summary>Forces the resolver to run once, so a missing library is reported early and clearly.</summary>
    public static void EnsureLoaded() => _ = rd_kafka_version();

    private static IntPtr Resolve(string libraryName, Assembly assembly, DllImportSearchPath? searchPath)
    {
        if (libraryName != Library)
        {
            return IntPtr.Zero;
        }

        var nativeDirectories = new[]
        {
            AppContext.BaseDirectory,
            Path.Combine(AppContext.BaseDirectory, "runtimes", RuntimeInformation.RuntimeIdentifier, "native"),
            Path.Combine(AppContext.BaseDirectory, "runtimes", PlatformRid(), "native"),
        };
        foreach (var name in _candidateNames)
        {
            if (NativeLibrary.TryLoad(name, assembly, searchPath, out var handle))
            {
                return handle;
            }

            foreach (var directory in nativeDirectories)
            {
                var path = Path.Combine(directory, name.EndsWith(".so", StringComparison.Ordinal) ? name : name + NativeSuffix());
                if (File.Exists(path) && NativeLibrary.TryLoad(path, out handle))
                {
                    return handle;
                }
            }
        }

        throw new DllNotFoundException(
            "librdkafka could not be loaded (tried librdkafka and centos8-librdkafka under the application's runtimes/ folder). " +
            "The embedded Kafka needs the native library shipped by the librdkafka.redist package.");
    }

    private static string PlatformRid()
    {
        var os = OperatingSystem.IsWindows() ? "win" : OperatingSystem.IsMacOS() ? "osx" : "linux";
        var arch = RuntimeInformation.ProcessArchitecture.ToString().ToLowerInvariant();
        return $"{os}-{arch}";
    }

    private static string NativeSuffix() =>
        OperatingSystem.IsWindows() ? ".dll" : OperatingSystem.IsMacOS() ? ".dylib" : ".so";

    [LibraryImport(Library)]
    internal static partial IntPtr rd_kafka_version_str();

    [LibraryImport(Library)]
    internal static partial int rd_kafka_version();

    [LibraryImport(Library)]
    internal static partial IntPtr rd_kafka_conf_new();

    [LibraryImport(Library, StringMarshalling = StringMarshalling.Utf8)]
    internal static partial int rd_kafka_conf_set(IntPtr conf, string name, string value, byte[] errstr, nuint errstrSize);

    [LibraryImport(Library)]
    internal static partial IntPtr rd_kafka_new(int type, IntPtr conf, byte[] errstr, nuint errstrSize);

    [LibraryImport(Library)]
    internal static partial void rd_kafka_destroy(IntPtr rk);

    [LibraryImport(Library)]
    internal static partial IntPtr rd_kafka_mock_cluster_new(IntPtr rk, int brokerCount);

    [LibraryImport(Library)]
    internal static partial void rd_kafka_mock_cluster_destroy(IntPtr mcluster);

    [LibraryImport(Library)]
    internal static partial IntPtr rd_kafka_mock_cluster_bootstraps(IntPtr mcluster);

    [LibraryImport(Library, StringMarshalling = StringMarshalling.Utf8)]
    internal static partial int rd_kafka_mock_topic_create(IntPtr mcluster, string topic, int partitionCount, int replicationFactor);

    [LibraryImport(Library)]
    internal static partial void rd_kafka_mock_group_initial_rebalance_delay_ms(IntPtr mcluster, int delayMs);

    [LibraryImport(Library)]
    internal static partial int rd_kafka_mock_broker_set_down(IntPtr mcluster, int brokerId);

    [LibraryImport(Library)]
    internal static partial int rd_kafka_mock_broker_set_up(IntPtr mcluster, int brokerId);

    [LibraryImport(Library)]
    internal static partial int rd_kafka_mock_broker_set_rtt(IntPtr mcluster, int brokerId, int rttMs);

    [LibraryImport(Library)]
    internal static partial void rd_kafka_mock_push_request_errors_array(IntPtr mcluster, short apiKey, nuint count, int[] errors);

    [LibraryImport(Library)]
    internal static partial void rd_kafka_mock_clear_request_errors(IntPtr mcluster, short apiKey);

    [LibraryImport(Library)]
    internal static partial void rd_kafka_mock_start_request_tracking(IntPtr mcluster);

    [LibraryImport(Library)]
    internal static partial IntPtr rd_kafka_mock_get_requests(IntPtr mcluster, out nuint count);

    [LibraryImport(Library)]
    internal static partial short rd_kafka_mock_request_api_key(IntPtr request);

    [LibraryImport(Library)]
    internal static partial void rd_kafka_mock_request_destroy_array(IntPtr requests, nuint count);

    [LibraryImport(Library)]
    internal static partial IntPtr rd_kafka_err2str(int err);

    // Batch consumption from a high-level consumer's queue (see ConsumerBatchReader).

    [LibraryImport(Library)]
    internal static partial IntPtr rd_kafka_queue_get_consumer(IntPtr rk);

    [LibraryImport(Library)]
    internal static partial void rd_kafka_queue_destroy(IntPtr queue);

    [LibraryImport(Library)]
    internal static unsafe partial nint rd_kafka_consume_batch_queue(IntPtr queue, int timeoutMs, IntPtr* messages, nuint size);

    [LibraryImport(Library)]
    internal static partial void rd_kafka_message_destroy(IntPtr message);

    [LibraryImport(Library)]
    internal static partial IntPtr rd_kafka_topic_name(IntPtr topic);

    [LibraryImport(Library)]
    internal static partial long rd_kafka_message_timestamp(IntPtr message, out int timestampType);

    [LibraryImport(Library)]
    internal static partial int rd_kafka_fatal_error(IntPtr rk, byte[] errstr, nuint errstrSize);
}
