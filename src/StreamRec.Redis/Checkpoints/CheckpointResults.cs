using StreamRec.Contracts.V1;

namespace StreamRec.Redis.Checkpoints;

/// <summary>What one publish made visible.</summary>
/// <param name="Manifest">The manifest now current.</param>
/// <param name="ChunkCount">Chunks written by this publish.</param>
/// <param name="ByteSize">Bytes of chunk values written by this publish.</param>
/// <param name="LookupKeysWritten">Lookup keys written (deltas only).</param>
/// <param name="VisibleAfter">Time from the call to the switch that made it visible (lookups and retention come after).</param>
public sealed record PublishResult(Manifest Manifest, int ChunkCount, long ByteSize, int LookupKeysWritten, TimeSpan VisibleAfter);

/// <summary>A restored model and where it came from.</summary>
/// <param name="Checkpoint">The model state: snapshot plus its deltas in order.</param>
/// <param name="Manifest">The manifest that was restored (of the snapshot actually used).</param>
/// <param name="SkippedSnapshots">Newer snapshots that failed, newest first; empty when the current one was used.</param>
public sealed record RestoreResult(ModelCheckpoint Checkpoint, Manifest Manifest, IReadOnlyList<CheckpointCorruptException> SkippedSnapshots)
{
    /// <summary>Snapshot id the state was restored from.</summary>
    public long SnapshotId => Manifest.SnapshotId;

    /// <summary>True when the current snapshot failed and an older one was used.</summary>
    public bool FellBack => SkippedSnapshots.Count > 0;
}

/// <summary>What to restore.</summary>
public sealed record RestoreScope
{
    /// <summary>Everything.</summary>
    public static readonly RestoreScope All = new();

    /// <summary>Partitions whose user rows (and seen items) to load; null for all.</summary>
    public IReadOnlySet<int>? UserPartitions { get; init; }

    /// <summary>Load item rows and trending state.</summary>
    public bool IncludeItems { get; init; } = true;

    /// <summary>Only the user rows of <paramref name="partitions"/>, plus items and trending.</summary>
    public static RestoreScope Partitions(params int[] partitions) => new() { UserPartitions = partitions.ToHashSet() };
}

/// <summary>What retention deleted.</summary>
/// <param name="DeletedSnapshots">Snapshot ids removed, oldest first.</param>
/// <param name="DeletedKeys">Keys deleted.</param>
/// <param name="RetainedSnapshots">Snapshot ids kept, oldest first.</param>
public sealed record RetentionResult(IReadOnlyList<long> DeletedSnapshots, long DeletedKeys, IReadOnlyList<long> RetainedSnapshots);

/// <summary>One version of a model.</summary>
/// <param name="Version">Version name.</param>
/// <param name="IsActive">Whether readers follow it.</param>
/// <param name="Manifest">Its current manifest, or null when nothing is published yet.</param>
public sealed record ModelVersionInfo(string Version, bool IsActive, Manifest? Manifest);

/// <summary>The result of checking one retained snapshot and its deltas.</summary>
/// <param name="SnapshotId">Snapshot id.</param>
/// <param name="IsCurrent">Whether the current manifest references it.</param>
/// <param name="ChunksChecked">Chunks read and checked.</param>
/// <param name="Error">The first problem found, or null when every chunk passed.</param>
public sealed record SnapshotVerification(long SnapshotId, bool IsCurrent, int ChunksChecked, CheckpointCorruptException? Error);
