using Confluent.Kafka;
using StreamRec.Worker.Sharding;

namespace StreamRec.Worker.Checkpointing;

/// <summary>The items' persisted state.</summary>
public sealed record ItemsRestore(TableRows Items, long TrendingOriginMs, IReadOnlyDictionary<string, double> TrendingLogScores);

/// <summary>
/// Where a worker keeps its shards' and items' state: one chain of snapshots and deltas per
/// partition and one for the items (see docs/redis-layout.md). Ownership of a partition's chain is
/// claimed on assignment with a fencing token, so a replica that lost a partition can no longer
/// publish to it.
/// </summary>
public interface IShardCheckpoints
{
    /// <summary>The persisted items, or null for a new model.</summary>
    Task<ItemsRestore?> RestoreItemsAsync(CancellationToken cancellationToken);

    /// <summary>
    /// Claims the partition's chain for <paramref name="ownerToken"/> (fencing out earlier owners)
    /// and returns its persisted state, or null when it has none yet.
    /// </summary>
    Task<ShardRestore?> ClaimAndRestoreShardAsync(TopicPartition partition, string ownerToken, CancellationToken cancellationToken);

    /// <summary>Publishes a shard's delta or snapshot; throws <see cref="ShardFencedException"/> when another replica owns it now.</summary>
    Task PublishShardAsync(ShardCapture capture, string ownerToken, CancellationToken cancellationToken);

    /// <summary>Publishes the items' delta or snapshot.</summary>
    Task PublishItemsAsync(ItemsCapture capture, CancellationToken cancellationToken);

    /// <summary>
    /// Writes the lookup keys (docs/redis-layout.md) of every user and item published since the previous call,
    /// each once with its latest published value. Stores without lookup keys do nothing.
    /// </summary>
    Task WriteLookupsAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    /// <summary>
    /// Drops the partition's lookup rows not written yet: another replica owns it now and writes newer values,
    /// which these must not overwrite later.
    /// </summary>
    void ForgetLookups(TopicPartition partition)
    {
    }
}

/// <summary>Another replica claimed the partition: this one must stop publishing it.</summary>
public sealed class ShardFencedException(TopicPartition partition)
    : Exception($"Partition {partition} is now owned by another replica; its state here is stale and is not published.")
{
    public TopicPartition Partition { get; } = partition;
}
