using System.Globalization;
using StackExchange.Redis;

namespace StreamRec.Redis;

/// <summary>
/// Where and how to reach Redis. Built from <c>host:port</c> plus optional password, TLS and
/// database; every error names the setting it came from. <see cref="ToString"/> never shows the password.
/// </summary>
public sealed record RedisEndpointSettings
{
    /// <summary>Default time to wait for a connection before failing with a clear error.</summary>
    public static readonly TimeSpan DefaultConnectTimeout = TimeSpan.FromSeconds(5);

    /// <summary>Host name or IP address.</summary>
    public required string Host { get; init; }

    /// <summary>TCP port.</summary>
    public required int Port { get; init; }

    /// <summary>Password for AUTH, or null. Never logged.</summary>
    public string? Password { get; init; }

    /// <summary>User name for ACL AUTH (Redis 6+), or null for the default user.</summary>
    public string? User { get; init; }

    /// <summary>Connect with TLS.</summary>
    public bool UseTls { get; init; }

    /// <summary>Logical database number (0 on Redis Cluster).</summary>
    public int Database { get; init; }

    /// <summary>How long a connection attempt may take.</summary>
    public TimeSpan ConnectTimeout { get; init; } = DefaultConnectTimeout;

    /// <summary>The setting these values came from, for error messages (for example "Redis:Endpoint" or "--redis").</summary>
    public string SettingName { get; init; } = "Redis:Endpoint";

    /// <summary>Parses <c>host:port</c> (IPv6 as <c>[::1]:6379</c>).</summary>
    /// <exception cref="FormatException">The address is malformed; the message names <paramref name="settingName"/>.</exception>
    public static RedisEndpointSettings Parse(string? address, string settingName = "Redis:Endpoint")
    {
        if (string.IsNullOrWhiteSpace(address))
        {
            throw new FormatException($"{settingName} is empty; expected host:port, for example 127.0.0.1:6379.");
        }

        var trimmed = address.Trim();
        var colon = trimmed.LastIndexOf(':');
        var host = colon > 0 ? trimmed[..colon].Trim('[', ']') : "";
        var portText = colon > 0 ? trimmed[(colon + 1)..] : "";
        if (host.Length == 0 || host.Contains(' ', StringComparison.Ordinal) || host.Contains(',', StringComparison.Ordinal)
            || !int.TryParse(portText, NumberStyles.None, CultureInfo.InvariantCulture, out var port) || port is < 1 or > 65535)
        {
            throw new FormatException($"{settingName} '{trimmed}' is not a valid Redis address; expected host:port with a port from 1 to 65535, for example 127.0.0.1:6379.");
        }

        return new RedisEndpointSettings { Host = host, Port = port, SettingName = settingName };
    }

    /// <summary>StackExchange.Redis options for these settings: fail fast on a dead server, then reconnect by itself.</summary>
    public ConfigurationOptions ToConfigurationOptions()
    {
        var options = new ConfigurationOptions
        {
            Password = Password,
            User = User,
            Ssl = UseTls,
            DefaultDatabase = Database,
            ConnectTimeout = (int)ConnectTimeout.TotalMilliseconds,
            AbortOnConnectFail = true,
            ClientName = "streamrec",
        };
        options.EndPoints.Add(Host, Port);
        return options;
    }

    /// <summary>Connects, or throws <see cref="RedisUnavailableException"/> naming the setting within <see cref="ConnectTimeout"/>.</summary>
    public async Task<ConnectionMultiplexer> ConnectAsync(TextWriter? log = null)
    {
        try
        {
            var options = ToConfigurationOptions();
            var connection = await ConnectionMultiplexer.ConnectAsync(options, log).ConfigureAwait(false);
            return connection;
        }
        catch (RedisConnectionException ex) when (ex.FailureType == ConnectionFailureType.AuthenticationFailure)
        {
            throw new RedisUnavailableException(
                $"Redis at {SettingName}={Host}:{Port} refused the credentials ({(Password is null ? "no password set" : "password set")}{(User is null ? "" : ", user " + User)}): "
                + "check the Redis password and user settings.", ex);
        }
        catch (RedisConnectionException ex)
        {
            throw new RedisUnavailableException(
                $"Redis at {SettingName}={Host}:{Port} is unreachable (no answer within {ConnectTimeout.TotalSeconds:0.#} s{(UseTls ? ", TLS" : "")}): {Redact(ex.Message)}", ex);
        }
    }

    /// <summary>The address and flags, never the password.</summary>
    public override string ToString() =>
        $"{Host}:{Port} (db {Database}{(UseTls ? ", tls" : "")}{(Password is null ? "" : ", password set")}{(User is null ? "" : ", user " + User)})";

    private string Redact(string message) =>
        string.IsNullOrEmpty(Password) ? message : message.Replace(Password, "***", StringComparison.Ordinal);
}

/// <summary>Redis could not be reached with the configured settings.</summary>
public sealed class RedisUnavailableException(string message, Exception inner) : Exception(message, inner);
