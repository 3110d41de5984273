using StreamRec.Redis;
using StreamRec.Redis.Checkpoints;

namespace StreamRec.Reader.Hosting;

/// <summary>
/// Everything a reader is configured with. Bound from the configuration root (appsettings, command line,
/// and environment variables prefixed <c>STREAMREC_</c>, for example <c>STREAMREC_Model</c>,
/// <c>STREAMREC_RedisEndpoint</c>). Validated at start by <see cref="Validate"/>; errors name the setting.
/// </summary>
public sealed class ReaderOptions
{
    /// <summary>Longest user or item id accepted, in UTF-8 bytes (the clickstream's own limit).</summary>
    public const int MaxIdBytes = 256;

    /// <summary>Model whose active version is served.</summary>
    public string Model { get; set; } = "";

    /// <summary>Redis address (host:port).</summary>
    public string RedisEndpoint { get; set; } = "";

    /// <summary>Redis password (secret; never logged).</summary>
    public string? RedisPassword { get; set; }

    /// <summary>Redis ACL user.</summary>
    public string? RedisUser { get; set; }

    /// <summary>Connect to Redis with TLS.</summary>
    public bool RedisTls { get; set; }

    /// <summary>How often the active pointer and every chain's publish sequence are polled (pub/sub wakes it sooner).</summary>
    public TimeSpan PollInterval { get; set; } = TimeSpan.FromMilliseconds(250);

    /// <summary>Largest k a request may ask for.</summary>
    public int MaxK { get; set; } = 100;

    /// <summary>Most users in one batch request.</summary>
    public int MaxBatchUsers { get; set; } = 100;

    /// <summary>Largest request body in bytes; larger ones are refused with 413.</summary>
    public long MaxRequestBodyBytes { get; set; } = 64 * 1024;

    /// <summary>HTTP port.</summary>
    public int HttpPort { get; set; } = 8080;

    /// <summary>Address the HTTP listener binds (0.0.0.0 for every interface).</summary>
    public string HttpHost { get; set; } = "0.0.0.0";

    /// <summary>The Redis settings these options describe (password included; its ToString hides it).</summary>
    public RedisEndpointSettings ToRedisSettings() =>
        RedisEndpointSettings.Parse(RedisEndpoint, nameof(RedisEndpoint)) with { Password = RedisPassword, User = RedisUser, UseTls = RedisTls };

    /// <summary>Every problem with these values, each naming its setting; empty when they are valid.</summary>
    public IReadOnlyList<string> Validate()
    {
        var errors = new List<string>();
        try
        {
            CheckpointKeys.ValidateName(Model, nameof(Model));
        }
        catch (ArgumentException ex)
        {
            errors.Add(ex.Message);
        }

        try
        {
            RedisEndpointSettings.Parse(RedisEndpoint, nameof(RedisEndpoint));
        }
        catch (FormatException ex)
        {
            errors.Add(ex.Message);
        }

        if (PollInterval <= TimeSpan.Zero || PollInterval > TimeSpan.FromMinutes(1))
        {
            errors.Add($"{nameof(PollInterval)} must be more than 0 and at most 1 minute, got {PollInterval}.");
        }

        if (MaxK is < 1 or > 10_000)
        {
            errors.Add($"{nameof(MaxK)} must be from 1 to 10000, got {MaxK}.");
        }

        if (MaxBatchUsers is < 1 or > 10_000)
        {
            errors.Add($"{nameof(MaxBatchUsers)} must be from 1 to 10000, got {MaxBatchUsers}.");
        }

        if (MaxRequestBodyBytes is < 1024 or > 64L * 1024 * 1024)
        {
            errors.Add($"{nameof(MaxRequestBodyBytes)} must be from 1024 to 67108864, got {MaxRequestBodyBytes}.");
        }

        if (HttpPort is < 0 or > 65535)
        {
            errors.Add($"{nameof(HttpPort)} must be from 0 to 65535, got {HttpPort}.");
        }

        if (!System.Net.IPAddress.TryParse(HttpHost, out _))
        {
            errors.Add($"{nameof(HttpHost)} must be an IP address (0.0.0.0 for every interface), got '{HttpHost}'.");
        }

        return errors;
    }
}
