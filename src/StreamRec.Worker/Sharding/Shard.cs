using Confluent.Kafka;
using StreamRec.Core.Learners;
using StreamRec.Redis.Checkpoints;

namespace StreamRec.Worker.Sharding;

/// <summary>
/// One assigned partition: its users' learner (over the process's shared items), the next offset
/// to read and the events it has accounted for. Owned by the consumer thread.
/// </summary>
public sealed class Shard(TopicPartition partition, FactorLearner learner)
{
    public TopicPartition Partition { get; } = partition;

    public FactorLearner Learner { get; } = learner;

    /// <summary>The next offset whose effect is not in this shard yet.</summary>
    public long NextOffset { get; set; }

    /// <summary>Events learned from, since the partition's beginning, as persisted plus in memory.</summary>
    public long AppliedEvents { get; set; }

    /// <summary>Events refused and dead-lettered, since the partition's beginning.</summary>
    public long DeadLetteredEvents { get; set; }

    /// <summary>User-table version captured by the last delta; rows touched at or after it go in the next.</summary>
    public long CapturedVersion { get; set; }

    /// <summary>The offset the last published (or restored) checkpoint of this shard covers.</summary>
    public long PublishedOffset { get; set; } = -1;

    /// <summary>Newest event time applied, ms since the epoch.</summary>
    public long EventTimeWatermarkMs { get; set; }

    /// <summary>True once something happened since the last capture.</summary>
    public bool HasUnpublishedChanges => NextOffset != PublishedOffset;
}

/// <summary>
/// A shard's state copied for publishing: a delta (touched users) or a snapshot (all users).
/// <see cref="SeenItems"/> are whole histories that replace the stored ones (every user of a snapshot;
/// in a delta, users whose history was reset); the other users of a delta are in <see cref="AppendedSeenItems"/>.
/// </summary>
public sealed record ShardCapture(
    TopicPartition Partition,
    bool IsSnapshot,
    long NextOffset,
    long AppliedEvents,
    long DeadLetteredEvents,
    long EventTimeWatermarkMs,
    TableRows Users,
    IReadOnlyDictionary<string, string[]> SeenItems,
    IReadOnlyDictionary<string, double> ScalarState)
{
    /// <summary>Current top-k lists of some of the users in this capture, for lookup keys.</summary>
    public IReadOnlyList<UserTopK> RecentTopK { get; init; } = [];

    /// <summary>Items each user saw since the previous capture, oldest first, to append to the stored history (deltas only).</summary>
    public IReadOnlyDictionary<string, string[]> AppendedSeenItems { get; init; } = new Dictionary<string, string[]>();

    /// <summary>How many of its newest items a history keeps after appending (the learner's seen-history length).</summary>
    public int SeenHistoryLength { get; init; }
}

/// <summary>The shared items copied for publishing: touched rows (or all) and the trending state.</summary>
public sealed record ItemsCapture(bool IsSnapshot, TableRows Items, long TrendingOriginMs, IReadOnlyDictionary<string, double> TrendingLogScores);

/// <summary>A shard's persisted state, handed back on assignment.</summary>
public sealed record ShardRestore(
    long NextOffset,
    long AppliedEvents,
    long DeadLetteredEvents,
    long EventTimeWatermarkMs,
    TableRows Users,
    IReadOnlyDictionary<string, string[]> SeenItems,
    IReadOnlyDictionary<string, double> ScalarState);
