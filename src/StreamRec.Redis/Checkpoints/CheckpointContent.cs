namespace StreamRec.Redis.Checkpoints;

/// <summary>
/// A block of embedding rows: <c>Ids[i]</c> owns <c>Vectors[i*Dimensions .. (i+1)*Dimensions)</c> and
/// <c>Biases[i]</c> when there are biases. The arrays are used as given, not copied: the caller must not
/// change them while a publish that received them runs. Not thread-safe for writes.
/// </summary>
public sealed class EmbeddingRows
{
    /// <summary>Wraps the arrays; checks that their lengths agree.</summary>
    /// <exception cref="ArgumentException">The lengths do not match <paramref name="ids"/> and <paramref name="dimensions"/>.</exception>
    public EmbeddingRows(int dimensions, string[] ids, float[] vectors, float[]? biases = null)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(dimensions, 1);
        ArgumentNullException.ThrowIfNull(ids);
        ArgumentNullException.ThrowIfNull(vectors);
        if ((long)ids.Length * dimensions != vectors.Length)
        {
            throw new ArgumentException($"{ids.Length} ids x {dimensions} dimensions need {(long)ids.Length * dimensions} vector values, got {vectors.Length}.", nameof(vectors));
        }

        if (biases is not null && biases.Length != ids.Length)
        {
            throw new ArgumentException($"{ids.Length} ids need {ids.Length} biases, got {biases.Length}.", nameof(biases));
        }

        Dimensions = dimensions;
        Ids = ids;
        Vectors = vectors;
        Biases = biases;
    }

    /// <summary>Floats per row.</summary>
    public int Dimensions { get; }

    /// <summary>Row ids, unique within a table.</summary>
    public string[] Ids { get; }

    /// <summary>Row-major float32 vectors, <c>Count * Dimensions</c> values.</summary>
    public float[] Vectors { get; }

    /// <summary>One bias per row, or null when the learner has none.</summary>
    public float[]? Biases { get; }

    /// <summary>Number of rows.</summary>
    public int Count => Ids.Length;

    /// <summary>An empty table.</summary>
    public static EmbeddingRows Empty(int dimensions, bool withBiases = false) => new(dimensions, [], [], withBiases ? [] : null);

    /// <summary>The vector of row <paramref name="row"/>.</summary>
    public ReadOnlySpan<float> Vector(int row) => Vectors.AsSpan(row * Dimensions, Dimensions);
}

/// <summary>The user rows owned by one Kafka partition (users are keyed, and so partitioned, by user id).</summary>
/// <param name="Partition">Kafka partition of the clickstream topic(s) that owns these users.</param>
/// <param name="Rows">The users' embedding rows.</param>
/// <param name="SeenItems">Optional per-user seen-item history (user id to item ids, oldest first); replaces a stored one.</param>
public sealed record UserPartitionRows(int Partition, EmbeddingRows Rows, IReadOnlyDictionary<string, string[]>? SeenItems = null)
{
    /// <summary>
    /// Deltas only: items each user saw since the previous publish, oldest first, appended to the stored
    /// history (<see cref="SeenHistory.Append"/>). A user is in at most one of this and <see cref="SeenItems"/>.
    /// </summary>
    public IReadOnlyDictionary<string, string[]>? AppendedSeenItems { get; init; }

    /// <summary>How many of its newest items a history keeps after <see cref="AppendedSeenItems"/> are appended (0: all).</summary>
    public int SeenHistoryLength { get; init; }
}

/// <summary>How appended seen items extend a stored history (chunk kind <c>SEEN_ITEMS_APPENDED</c>).</summary>
public static class SeenHistory
{
    /// <summary><paramref name="history"/> (null: none) followed by <paramref name="appended"/>, keeping the newest <paramref name="historyLength"/> ids (0: all).</summary>
    public static string[] Append(IReadOnlyList<string>? history, IReadOnlyList<string> appended, int historyLength)
    {
        ArgumentNullException.ThrowIfNull(appended);
        history ??= [];
        var total = history.Count + appended.Count;
        var skip = historyLength > 0 ? Math.Max(0, total - historyLength) : 0;
        var result = new string[total - skip];
        for (var i = skip; i < total; i++)
        {
            result[i - skip] = i < history.Count ? history[i] : appended[i - history.Count];
        }

        return result;
    }
}

/// <summary>An id with a score (trending entries, top-k entries).</summary>
public readonly record struct ScoredId(string Id, float Score);

/// <summary>
/// Time-decayed popularity: <see cref="Scores"/> holds log-space scores valid at
/// <see cref="ReferenceTimeMs"/> (popularity = exp(score) at that time). In a delta, the entries given
/// replace those with the same id and every entry must be relative to the same reference time.
/// </summary>
public sealed record TrendingState(long ReferenceTimeMs, IReadOnlyList<ScoredId> Scores);

/// <summary>The Kafka position a checkpoint contains: the next offset to consume.</summary>
/// <param name="AppliedEvents">Events of the partition before <paramref name="NextOffset"/> that were learned from.</param>
/// <param name="DeadLetteredEvents">Events of the partition before <paramref name="NextOffset"/> that were dead-lettered.</param>
public readonly record struct KafkaOffset(string Topic, int Partition, long NextOffset, long AppliedEvents = 0, long DeadLetteredEvents = 0);

/// <summary>A user's current top-k list, written to a lookup key by <see cref="CheckpointStore.PublishDeltaAsync"/>.</summary>
public sealed record UserTopK(string UserId, IReadOnlyList<ScoredId> Items);

/// <summary>
/// A whole model as stored by a snapshot, independent of the engine's in-memory tables (an adapter
/// maps those to this). Immutable by convention: the store reads it and never changes it.
/// </summary>
public sealed record ModelCheckpoint
{
    /// <summary>Model name: the Redis namespace (letters, digits, '.', '_', '-').</summary>
    public required string Model { get; init; }

    /// <summary>Model version (same characters as <see cref="Model"/>).</summary>
    public required string Version { get; init; }

    /// <summary>Learner name, as the CLI spells it.</summary>
    public required string Learner { get; init; }

    /// <summary>Learner options, as the CLI spells them.</summary>
    public IReadOnlyDictionary<string, string> LearnerOptions { get; init; } = new Dictionary<string, string>();

    /// <summary>Embedding dimensions of users and items.</summary>
    public required int Dimensions { get; init; }

    /// <summary>Newest event time contained in the model, ms since the Unix epoch.</summary>
    public long EventTimeWatermarkMs { get; init; }

    /// <summary>When the checkpoint was published (set by restore from the manifest; ignored on publish).</summary>
    public DateTimeOffset CreatedAt { get; init; }

    /// <summary>Per topic-partition, the next offset whose effect the model does not contain.</summary>
    public IReadOnlyList<KafkaOffset> Offsets { get; init; } = [];

    /// <summary>Item rows.</summary>
    public required EmbeddingRows Items { get; init; }

    /// <summary>User rows grouped by owning Kafka partition (one entry per partition).</summary>
    public IReadOnlyList<UserPartitionRows> Users { get; init; } = [];

    /// <summary>Trending state, or null when the model has none.</summary>
    public TrendingState? Trending { get; init; }

    /// <summary>
    /// Register this version in the model's version list and make it active when none is. False for the
    /// chains of a sharded writer (a version made of several chains), which registers the version itself.
    /// </summary>
    public bool RegisterVersion { get; init; } = true;

    /// <summary>When set, the publish happens only while the version's owner key holds this token (see <see cref="CheckpointStore.ClaimAsync"/>).</summary>
    public string? OwnerToken { get; init; }
}

/// <summary>
/// The rows touched since the previous publish, applied on top of the current snapshot chain by
/// <see cref="CheckpointStore.PublishDeltaAsync"/>. Rows replace rows with the same id; offsets replace
/// offsets of the same topic-partition.
/// </summary>
public sealed record CheckpointDelta
{
    /// <summary>Model name.</summary>
    public required string Model { get; init; }

    /// <summary>Model version.</summary>
    public required string Version { get; init; }

    /// <summary>Newest event time contained in the model after this delta.</summary>
    public long EventTimeWatermarkMs { get; init; }

    /// <summary>Offsets after this delta (at least those of partitions that moved).</summary>
    public IReadOnlyList<KafkaOffset> Offsets { get; init; } = [];

    /// <summary>Touched item rows, or null.</summary>
    public EmbeddingRows? Items { get; init; }

    /// <summary>Touched user rows by partition.</summary>
    public IReadOnlyList<UserPartitionRows> Users { get; init; } = [];

    /// <summary>Touched trending entries (with the current reference time), or null.</summary>
    public TrendingState? Trending { get; init; }

    /// <summary>Current top-k lists of recently active users, written to lookup keys only.</summary>
    public IReadOnlyList<UserTopK> RecentTopK { get; init; } = [];

    /// <summary>When set, the publish happens only while the version's owner key holds this token (see <see cref="CheckpointStore.ClaimAsync"/>).</summary>
    public string? OwnerToken { get; init; }
}
