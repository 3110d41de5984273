using Confluent.Kafka;

namespace StreamRec.Kafka;

/// <summary>
/// How to reach Kafka: bootstrap servers, SASL and SSL settings, and any further librdkafka client
/// property. Bound from configuration (section <c>Kafka</c> of the worker); applied to every client
/// StreamRec builds. <see cref="ToString"/> and <see cref="Describe"/> never show secrets.
/// </summary>
public sealed class KafkaSettings
{
    /// <summary>Client properties whose values are secrets: never logged, never in errors.</summary>
    public static readonly IReadOnlySet<string> SecretProperties = new HashSet<string>(StringComparer.OrdinalIgnoreCase)
    {
        "sasl.password", "ssl.key.password", "ssl.keystore.password", "sasl.oauthbearer.client.secret", "ssl.key.pem", "ssl_key",
    };

    /// <summary>host:port[,host:port...]. Required.</summary>
    public string BootstrapServers { get; set; } = "";

    /// <summary>plaintext (default), ssl, sasl_plaintext or sasl_ssl.</summary>
    public string? SecurityProtocol { get; set; }

    /// <summary>PLAIN, SCRAM-SHA-256, SCRAM-SHA-512 or OAUTHBEARER.</summary>
    public string? SaslMechanism { get; set; }

    public string? SaslUsername { get; set; }

    /// <summary>Secret.</summary>
    public string? SaslPassword { get; set; }

    /// <summary>CA certificate file for verifying the brokers.</summary>
    public string? SslCaLocation { get; set; }

    /// <summary>Client certificate file (mutual TLS).</summary>
    public string? SslCertificateLocation { get; set; }

    /// <summary>Client private key file (mutual TLS).</summary>
    public string? SslKeyLocation { get; set; }

    /// <summary>Secret: the client key's password.</summary>
    public string? SslKeyPassword { get; set; }

    /// <summary>Any other librdkafka property, passed through as given (for example <c>socket.keepalive.enable</c>).</summary>
    public Dictionary<string, string> Client { get; set; } = new(StringComparer.Ordinal);

    /// <summary>Every problem with these settings, each naming its setting under <paramref name="section"/>.</summary>
    public IReadOnlyList<string> Validate(string section = "Kafka")
    {
        var errors = new List<string>();
        try
        {
            KafkaBootstrap.ValidateFormat(BootstrapServers, $"{section}:BootstrapServers");
        }
        catch (FormatException ex)
        {
            errors.Add(ex.Message);
        }

        if (SecurityProtocol is not null && !Enum.TryParse<Confluent.Kafka.SecurityProtocol>(SecurityProtocol.Replace("_", "", StringComparison.Ordinal), ignoreCase: true, out _))
        {
            errors.Add($"{section}:SecurityProtocol '{SecurityProtocol}' is not one of plaintext, ssl, sasl_plaintext, sasl_ssl.");
        }

        if (SaslMechanism is not null && ParseSaslMechanism(SaslMechanism) is null)
        {
            errors.Add($"{section}:SaslMechanism '{SaslMechanism}' is not one of PLAIN, SCRAM-SHA-256, SCRAM-SHA-512, OAUTHBEARER, GSSAPI.");
        }

        var usesSasl = SecurityProtocol?.StartsWith("sasl", StringComparison.OrdinalIgnoreCase) == true;
        if (usesSasl && SaslMechanism is "PLAIN" or "SCRAM-SHA-256" or "SCRAM-SHA-512" && (string.IsNullOrEmpty(SaslUsername) || string.IsNullOrEmpty(SaslPassword)))
        {
            errors.Add($"{section}:SaslUsername and {section}:SaslPassword are required with SaslMechanism {SaslMechanism}.");
        }

        foreach (var (name, path) in new[] { ("SslCaLocation", SslCaLocation), ("SslCertificateLocation", SslCertificateLocation), ("SslKeyLocation", SslKeyLocation) })
        {
            if (path is not null && !File.Exists(path))
            {
                errors.Add($"{section}:{name} '{path}' does not exist.");
            }
        }

        return errors;
    }

    /// <summary>Copies these settings onto a client configuration (producer, consumer or admin).</summary>
    public T ApplyTo<T>(T config) where T : ClientConfig
    {
        ArgumentNullException.ThrowIfNull(config);
        foreach (var (name, value) in Client)
        {
            config.Set(name, value);
        }

        config.BootstrapServers = BootstrapServers;
        if (SecurityProtocol is not null)
        {
            config.Set("security.protocol", SecurityProtocol.ToLowerInvariant());
        }

        if (SaslMechanism is not null)
        {
            config.Set("sasl.mechanism", SaslMechanism.ToUpperInvariant());
        }

        SetIfPresent(config, "sasl.username", SaslUsername);
        SetIfPresent(config, "sasl.password", SaslPassword);
        SetIfPresent(config, "ssl.ca.location", SslCaLocation);
        SetIfPresent(config, "ssl.certificate.location", SslCertificateLocation);
        SetIfPresent(config, "ssl.key.location", SslKeyLocation);
        SetIfPresent(config, "ssl.key.password", SslKeyPassword);
        return config;
    }

    /// <summary>The client properties with secret values replaced by "***", for logs.</summary>
    public static IEnumerable<KeyValuePair<string, string>> Describe(ClientConfig config)
    {
        ArgumentNullException.ThrowIfNull(config);
        return config.Select(p => new KeyValuePair<string, string>(p.Key, SecretProperties.Contains(p.Key) ? "***" : p.Value));
    }

    /// <summary>Bootstrap servers and security mode; never secrets.</summary>
    public override string ToString() =>
        $"{BootstrapServers} ({SecurityProtocol ?? "plaintext"}{(SaslMechanism is null ? "" : ", sasl " + SaslMechanism)}{(SaslUsername is null ? "" : ", user " + SaslUsername)})";

    private static SaslMechanism? ParseSaslMechanism(string value) => value.ToUpperInvariant() switch
    {
        "PLAIN" => Confluent.Kafka.SaslMechanism.Plain,
        "SCRAM-SHA-256" => Confluent.Kafka.SaslMechanism.ScramSha256,
        "SCRAM-SHA-512" => Confluent.Kafka.SaslMechanism.ScramSha512,
        "OAUTHBEARER" => Confluent.Kafka.SaslMechanism.OAuthBearer,
        "GSSAPI" => Confluent.Kafka.SaslMechanism.Gssapi,
        _ => null,
    };

    private static void SetIfPresent(ClientConfig config, string name, string? value)
    {
        if (!string.IsNullOrEmpty(value))
        {
            config.Set(name, value);
        }
    }
}
