using System.Text.RegularExpressions;
using StreamRec.Core.Events;
using StreamRec.Core.Learners;
using StreamRec.Kafka;

namespace StreamRec.Worker.Hosting;

/// <summary>Payload encoding of the clickstream topics.</summary>
public enum EventFormat
{
    /// <summary>Protobuf <c>streamrec.v1.ClickEvent</c> (the default).</summary>
    Protobuf,

    /// <summary>JSON objects with the ClickEvent's fields.</summary>
    Json,
}

/// <summary>
/// A backfill: which history to read and where to stop. The partitions are assigned manually (no
/// consumer group), the model is written under <see cref="WorkerOptions.ModelVersion"/> without
/// becoming active, and the worker exits when every partition reached its end.
/// </summary>
public sealed class ReplayOptions
{
    /// <summary>"earliest", an ISO-8601 time, or a file of start offsets (lines "topic,partition,offset").</summary>
    public string From { get; set; } = "earliest";

    /// <summary>"caught-up" (the high watermarks seen at start) or an ISO-8601 time (exclusive).</summary>
    public string Until { get; set; } = "caught-up";

    public IReadOnlyList<string> Validate()
    {
        var errors = new List<string>();
        if (From != "earliest" && !TryParseTime(From, out _) && !File.Exists(From))
        {
            errors.Add($"Replay:From '{From}' is not 'earliest', an ISO-8601 time or an existing offsets file.");
        }

        if (Until != "caught-up" && !TryParseTime(Until, out _))
        {
            errors.Add($"Replay:Until '{Until}' is not 'caught-up' or an ISO-8601 time.");
        }

        return errors;
    }

    public static bool TryParseTime(string text, out DateTimeOffset time) =>
        DateTimeOffset.TryParse(text, System.Globalization.CultureInfo.InvariantCulture, System.Globalization.DateTimeStyles.AssumeUniversal, out time)
        && text.Contains('-', StringComparison.Ordinal);
}

/// <summary>
/// Everything a worker replica is configured with. Bound from the configuration root (appsettings,
/// command line, and environment variables prefixed <c>STREAMREC_</c> with <c>__</c> between levels,
/// for example <c>STREAMREC_Kafka__BootstrapServers</c>). Validated at start by <see cref="Validate"/>.
/// </summary>
public sealed class WorkerOptions
{
    /// <summary>Kafka connection and security (SASL, SSL, any librdkafka property under Kafka:Client).</summary>
    public KafkaSettings Kafka { get; set; } = new();

    /// <summary>Clickstream topics to consume. Either this or <see cref="TopicPattern"/>.</summary>
    public List<string> Topics { get; set; } = [];

    /// <summary>A regular expression of topics to consume (for example <c>^clicks\..*</c>).</summary>
    public string? TopicPattern { get; set; }

    /// <summary>Consumer group; replicas with the same group share the partitions. Default <c>streamrec-&lt;model&gt;</c>.</summary>
    public string? GroupId { get; set; }

    /// <summary>Payload format of the clickstream.</summary>
    public EventFormat Format { get; set; } = EventFormat.Protobuf;

    /// <summary>Where refused events go, with the reason in headers. Default <c>&lt;model&gt;.dead-letter</c>.</summary>
    public string? DeadLetterTopic { get; set; }

    /// <summary>Where replicas exchange item updates. Default <c>&lt;model&gt;.item-deltas</c>.</summary>
    public string? ItemDeltasTopic { get; set; }

    /// <summary>How often a replica sends its item updates to the others.</summary>
    public TimeSpan ItemSyncInterval { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>Redis address (host:port).</summary>
    public string RedisEndpoint { get; set; } = "";

    /// <summary>Redis password (secret; never logged).</summary>
    public string? RedisPassword { get; set; }

    /// <summary>Redis ACL user.</summary>
    public string? RedisUser { get; set; }

    /// <summary>Connect to Redis with TLS.</summary>
    public bool RedisTls { get; set; }

    /// <summary>Model name: the Redis namespace and the default for topic and group names.</summary>
    public string Model { get; set; } = "";

    /// <summary>Model version this worker writes (a replay writes a new one).</summary>
    public string ModelVersion { get; set; } = "v1";

    /// <summary>Learner and its options (isgd, bpr or mse: the worker needs embeddings).</summary>
    public LearnerOptions Learner { get; set; } = new();

    /// <summary>Which events are accepted.</summary>
    public EventValidationOptions Events { get; set; } = new();

    /// <summary>
    /// Time between deltas (at most 1 s). A new event waits up to this long to be published, so it is most of
    /// the freshness; 250 ms keeps the p99 from a produce to a changed reader answer under 1 s (see docs/benchmarks.md).
    /// </summary>
    public TimeSpan DeltaInterval { get; set; } = TimeSpan.FromMilliseconds(250);

    /// <summary>The longest <see cref="DeltaInterval"/>: deltas at least once a second keep freshness within seconds.</summary>
    public static TimeSpan MaxDeltaInterval { get; } = TimeSpan.FromSeconds(1);

    /// <summary>True for a <see cref="DeltaInterval"/> the worker accepts: more than 0 and at most <see cref="MaxDeltaInterval"/>.</summary>
    public static bool IsValidDeltaInterval(TimeSpan interval) => interval > TimeSpan.Zero && interval <= MaxDeltaInterval;

    /// <summary>
    /// Time between writes of the lookup keys other services GET (docs/redis-layout.md). Each write covers every
    /// user and item published since the previous one, once, so a user active in many deltas is written once per
    /// interval rather than once per delta. At least <see cref="DeltaInterval"/> (equal: with every delta), at most 1 minute.
    /// </summary>
    public TimeSpan LookupInterval { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>The longest <see cref="LookupInterval"/>.</summary>
    public static TimeSpan MaxLookupInterval { get; } = TimeSpan.FromMinutes(1);

    /// <summary>True for a <see cref="LookupInterval"/> the worker accepts with the given delta interval.</summary>
    public static bool IsValidLookupInterval(TimeSpan interval, TimeSpan deltaInterval) => interval >= deltaInterval && interval <= MaxLookupInterval;

    /// <summary>Time between full snapshots of each shard.</summary>
    public TimeSpan SnapshotInterval { get; set; } = TimeSpan.FromMinutes(10);

    /// <summary>Unpublished deltas held in memory (for example while Redis is away) before consumption pauses.</summary>
    public int MaxPendingCheckpoints { get; set; } = 30;

    /// <summary>Messages taken from Kafka per loop turn.</summary>
    public int MaxBatchSize { get; set; } = 2_000;

    /// <summary>Time a graceful stop may take (final deltas, commit, close) before the host gives up.</summary>
    public TimeSpan ShutdownTimeout { get; set; } = TimeSpan.FromSeconds(25);

    /// <summary>Tested events in the window of the live prequential recall@k.</summary>
    public int LiveEvaluationWindow { get; set; } = 1_000;

    /// <summary>
    /// At most this many events a second are tested for the live recall@k. Testing ranks every item
    /// (about a millisecond for 100k items), so it is budgeted by time, not by a share of events.
    /// </summary>
    public int LiveEvaluationsPerSecond { get; set; } = 20;

    /// <summary>Port of /metrics, /healthz and /readyz.</summary>
    public int HttpPort { get; set; } = 8081;

    /// <summary>Set to rebuild <see cref="ModelVersion"/> from the topics' history instead of following the group (a backfill).</summary>
    public ReplayOptions? Replay { get; set; }

    public string ResolvedGroupId => GroupId ?? $"streamrec-{Model}";

    /// <summary>The Redis settings these options describe (password included; its ToString hides it).</summary>
    public Redis.RedisEndpointSettings ToRedisSettings() =>
        Redis.RedisEndpointSettings.Parse(RedisEndpoint, nameof(RedisEndpoint)) with { Password = RedisPassword, User = RedisUser, UseTls = RedisTls };

    public string ResolvedDeadLetterTopic => DeadLetterTopic ?? $"{Model}.dead-letter";

    public string ResolvedItemDeltasTopic => ItemDeltasTopic ?? $"{Model}.item-deltas";

    /// <summary>Every problem, each naming its setting; empty when valid.</summary>
    public IReadOnlyList<string> Validate()
    {
        var errors = new List<string>(Kafka.Validate("Kafka"));
        if (Topics.Count == 0 && string.IsNullOrWhiteSpace(TopicPattern))
        {
            errors.Add("Topics or TopicPattern is required: the clickstream topics to consume.");
        }

        if (Topics.Count > 0 && !string.IsNullOrWhiteSpace(TopicPattern))
        {
            errors.Add("Set Topics or TopicPattern, not both.");
        }

        if (TopicPattern is { Length: > 0 } pattern)
        {
            try
            {
                _ = new Regex(pattern, RegexOptions.None, TimeSpan.FromSeconds(1));
            }
            catch (ArgumentException ex)
            {
                errors.Add($"TopicPattern '{pattern}' is not a valid regular expression: {ex.Message}");
            }
        }

        if (Topics.Any(string.IsNullOrWhiteSpace))
        {
            errors.Add("Topics contains an empty topic name.");
        }

        if (!IsName(Model))
        {
            errors.Add($"Model '{Model}' is required and may hold only letters, digits, '.', '_' and '-'.");
        }

        if (!IsName(ModelVersion))
        {
            errors.Add($"ModelVersion '{ModelVersion}' may hold only letters, digits, '.', '_' and '-'.");
        }

        try
        {
            Redis.RedisEndpointSettings.Parse(RedisEndpoint, "RedisEndpoint");
        }
        catch (FormatException ex)
        {
            errors.Add(ex.Message);
        }

        AddIfThrows(errors, "Learner", () =>
        {
            Learner.Validate();
            if (!LearnerFactory.FactorNames.Contains(Learner.Learner))
            {
                throw new ArgumentException($"The worker learns embeddings; Learner:Learner must be one of {string.Join(", ", LearnerFactory.FactorNames)}, not '{Learner.Learner}'.");
            }
        });
        AddIfThrows(errors, "Events", Events.Validate);
        if (!IsValidDeltaInterval(DeltaInterval))
        {
            errors.Add($"DeltaInterval must be more than 0 and at most 1 s, was {DeltaInterval}.");
        }

        if (!IsValidLookupInterval(LookupInterval, DeltaInterval))
        {
            errors.Add($"LookupInterval must be at least DeltaInterval ({DeltaInterval}) and at most 1 minute, was {LookupInterval}.");
        }

        if (SnapshotInterval <= DeltaInterval)
        {
            errors.Add($"SnapshotInterval ({SnapshotInterval}) must be longer than DeltaInterval ({DeltaInterval}).");
        }

        if (ItemSyncInterval <= TimeSpan.Zero)
        {
            errors.Add($"ItemSyncInterval must be positive, was {ItemSyncInterval}.");
        }

        Range(errors, MaxPendingCheckpoints, 1, 10_000, nameof(MaxPendingCheckpoints));
        Range(errors, MaxBatchSize, 1, 1_000_000, nameof(MaxBatchSize));
        Range(errors, LiveEvaluationWindow, 10, 10_000_000, nameof(LiveEvaluationWindow));
        Range(errors, LiveEvaluationsPerSecond, 0, 100_000, nameof(LiveEvaluationsPerSecond));
        Range(errors, HttpPort, 0, 65_535, nameof(HttpPort));
        if (ShutdownTimeout <= TimeSpan.Zero)
        {
            errors.Add($"ShutdownTimeout must be positive, was {ShutdownTimeout}.");
        }

        if (Replay is not null)
        {
            errors.AddRange(Replay.Validate());
            if (Topics.Count == 0)
            {
                errors.Add("Replay needs Topics (a list), not TopicPattern: a backfill reads a fixed set of partitions.");
            }
        }

        return errors;
    }

    private static bool IsName(string? value) =>
        !string.IsNullOrEmpty(value) && value.Length <= 128 && value.All(c => char.IsAsciiLetterOrDigit(c) || c is '.' or '_' or '-');

    private static void Range(List<string> errors, int value, int min, int max, string name)
    {
        if (value < min || value > max)
        {
            errors.Add($"{name} must be from {min} to {max}, was {value}.");
        }
    }

    private static void AddIfThrows(List<string> errors, string section, Action validate)
    {
        try
        {
            validate();
        }
        catch (ArgumentException ex)
        {
            errors.Add(ex.ParamName is { } name && !ex.Message.Contains(section + ":", StringComparison.Ordinal)
                ? $"{section}:{name}: {ex.Message}"
                : ex.Message);
        }
    }
}
