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

    /// <summary>
    /// Personalised top-k takes its candidates from an approximate (HNSW) index when the served items number at
    /// least this many; 0 (the default) ranks exactly over every item always. Candidates are re-scored exactly.
    /// </summary>
    public int ApproximateSearchMinItems { get; set; }

    /// <summary>Candidates asked of the index beyond <c>k</c> plus the user's seen items: more raise recall and cost.</summary>
    public int ApproximateSearchExtraCandidates { get; set; } = 20;

    /// <summary>Graph links per node of the index (HNSW <c>M</c>).</summary>
    public int ApproximateSearchConnectivity { get; set; } = 16;

    /// <summary>Breadth of the search while inserting (HNSW <c>efConstruction</c>): higher builds a better graph, slower.</summary>
    public int ApproximateSearchExpansionAdd { get; set; } = 128;

    /// <summary>Least breadth of a query's search (HNSW <c>ef</c>; never below the candidates asked).</summary>
    public int ApproximateSearchExpansionSearch { get; set; } = 64;

    /// <summary>The index is rebuilt once the rows changed or appended since its build reach this fraction of the items.</summary>
    public double ApproximateSearchRebuildFraction { get; set; } = 0.05;

    /// <summary>An index this old is rebuilt even if few rows changed (biases and trending drift).</summary>
    public TimeSpan ApproximateSearchMaxIndexAge { get; set; } = TimeSpan.FromMinutes(30);

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

        if (ApproximateSearchMinItems < 0)
        {
            errors.Add($"{nameof(ApproximateSearchMinItems)} must be 0 (off) or more, got {ApproximateSearchMinItems}.");
        }

        if (ApproximateSearchExtraCandidates is < 0 or > 10_000)
        {
            errors.Add($"{nameof(ApproximateSearchExtraCandidates)} must be from 0 to 10000, got {ApproximateSearchExtraCandidates}.");
        }

        if (ApproximateSearchConnectivity is < 4 or > 64)
        {
            errors.Add($"{nameof(ApproximateSearchConnectivity)} must be from 4 to 64, got {ApproximateSearchConnectivity}.");
        }

        if (ApproximateSearchExpansionAdd is < 8 or > 4096)
        {
            errors.Add($"{nameof(ApproximateSearchExpansionAdd)} must be from 8 to 4096, got {ApproximateSearchExpansionAdd}.");
        }

        if (ApproximateSearchExpansionSearch is < 1 or > 4096)
        {
            errors.Add($"{nameof(ApproximateSearchExpansionSearch)} must be from 1 to 4096, got {ApproximateSearchExpansionSearch}.");
        }

        if (!(ApproximateSearchRebuildFraction is > 0 and <= 1))
        {
            errors.Add($"{nameof(ApproximateSearchRebuildFraction)} must be more than 0 and at most 1, got {ApproximateSearchRebuildFraction}.");
        }

        if (ApproximateSearchMaxIndexAge < TimeSpan.FromSeconds(1) || ApproximateSearchMaxIndexAge > TimeSpan.FromDays(1))
        {
            errors.Add($"{nameof(ApproximateSearchMaxIndexAge)} must be from 1 second to 1 day, got {ApproximateSearchMaxIndexAge}.");
        }

        return errors;
    }
}
