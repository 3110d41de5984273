using System.Collections.Concurrent;
using Confluent.Kafka;
using StreamRec.Worker.Sharding;

namespace StreamRec.Worker.Checkpointing;

/// <summary>
/// Shard and item chains kept in process memory: the fast test tier's stand-in for Redis, with
/// the same merge and fencing rules. Thread-safe.
/// </summary>
public sealed class InMemoryShardCheckpoints : IShardCheckpoints
{
    private readonly Lock _lock = new();
    private readonly Dictionary<TopicPartition, (string Owner, ShardRestore State)> _shards = [];
    private ItemsRestore? _items;

    /// <summary>Publishes that reached this store, for tests.</summary>
    public ConcurrentQueue<ShardCapture> PublishedShards { get; } = new();

    public Task<ItemsRestore?> RestoreItemsAsync(CancellationToken cancellationToken)
    {
        lock (_lock)
        {
            return Task.FromResult(_items);
        }
    }

    public Task<ShardRestore?> ClaimAndRestoreShardAsync(TopicPartition partition, string ownerToken, CancellationToken cancellationToken)
    {
        lock (_lock)
        {
            ShardRestore? state = _shards.TryGetValue(partition, out var entry) ? entry.State : null;
            _shards[partition] = (ownerToken, state!);
            return Task.FromResult(state);
        }
    }

    public Task PublishShardAsync(ShardCapture capture, string ownerToken, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(capture);
        lock (_lock)
        {
            if (!_shards.TryGetValue(capture.Partition, out var entry) || entry.Owner != ownerToken)
            {
                throw new ShardFencedException(capture.Partition);
            }

            _shards[capture.Partition] = (ownerToken, ShardStateMerge.Apply(entry.State, capture));
            PublishedShards.Enqueue(capture);
        }

        return Task.CompletedTask;
    }

    public Task PublishItemsAsync(ItemsCapture capture, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(capture);
        lock (_lock)
        {
            _items = ShardStateMerge.Apply(_items, capture);
        }

        return Task.CompletedTask;
    }

    /// <summary>The persisted state of a partition, for tests.</summary>
    public ShardRestore? StateOf(TopicPartition partition)
    {
        lock (_lock)
        {
            return _shards.TryGetValue(partition, out var entry) ? entry.State : null;
        }
    }
}
