using System.Globalization;
using Confluent.Kafka;

namespace StreamRec.Kafka;

/// <summary>Checks a bootstrap-servers setting before any client is built on it.</summary>
public static class KafkaBootstrap
{
    /// <summary>Default time to wait for any broker to answer before reporting the setting as unreachable.</summary>
    public static readonly TimeSpan DefaultReachTimeout = TimeSpan.FromSeconds(5);

    /// <summary>Throws <see cref="FormatException"/> naming <paramref name="settingName"/> unless the value is a host:port list.</summary>
    public static void ValidateFormat(string? bootstrapServers, string settingName = "Kafka:BootstrapServers")
    {
        if (string.IsNullOrWhiteSpace(bootstrapServers))
        {
            throw new FormatException($"{settingName} is empty; expected host:port[,host:port...], for example localhost:9092.");
        }

        foreach (var server in bootstrapServers.Split(',', StringSplitOptions.TrimEntries))
        {
            // Accept an optional listener-name prefix such as PLAINTEXT://.
            var address = server.Contains("://", StringComparison.Ordinal) ? server[(server.IndexOf("://", StringComparison.Ordinal) + 3)..] : server;
            var colon = address.LastIndexOf(':');
            if (colon <= 0 || !int.TryParse(address[(colon + 1)..], NumberStyles.None, CultureInfo.InvariantCulture, out var port) || port is < 1 or > 65535)
            {
                throw new FormatException($"{settingName} entry '{server}' is not host:port with a port from 1 to 65535.");
            }
        }
    }

    /// <summary>
    /// Asks the cluster for its metadata and throws <see cref="KafkaUnreachableException"/> naming the
    /// setting when no broker answers within <paramref name="timeout"/>, instead of letting a client retry forever.
    /// </summary>
    /// <param name="clientConfig">The full client configuration (security settings included).</param>
    public static void EnsureReachable(ClientConfig clientConfig, TimeSpan timeout, string settingName = "Kafka:BootstrapServers")
    {
        ArgumentNullException.ThrowIfNull(clientConfig);
        ValidateFormat(clientConfig.BootstrapServers, settingName);
        var config = new AdminClientConfig(clientConfig) { SocketConnectionSetupTimeoutMs = (int)timeout.TotalMilliseconds };
        string? lastError = null;
        using var admin = new AdminClientBuilder(config)
            .SetErrorHandler((_, error) => lastError = error.Reason)
            .SetLogHandler((_, _) => { })
            .Build();
        try
        {
            var metadata = admin.GetMetadata(timeout);
            if (metadata.Brokers.Count == 0)
            {
                throw new KafkaUnreachableException($"{settingName}={clientConfig.BootstrapServers} answered with no brokers.");
            }
        }
        catch (KafkaException ex)
        {
            throw new KafkaUnreachableException(
                $"Kafka at {settingName}={clientConfig.BootstrapServers} is unreachable (no broker answered within {timeout.TotalSeconds:0.#} s): {lastError ?? ex.Error.Reason}", ex);
        }
    }
}

/// <summary>No Kafka broker answered at the configured bootstrap servers.</summary>
public sealed class KafkaUnreachableException : Exception
{
    public KafkaUnreachableException(string message) : base(message) { }

    public KafkaUnreachableException(string message, Exception inner) : base(message, inner) { }
}
