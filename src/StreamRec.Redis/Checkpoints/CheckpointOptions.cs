using StreamRec.Contracts.V1;

namespace StreamRec.Redis.Checkpoints;

/// <summary>How often and how much the checkpoint store writes and keeps. Validate with <see cref="Validate"/>.</summary>
public sealed record CheckpointOptions
{
    /// <summary>Largest value of <see cref="DeltaInterval"/>: readers should never be more than a second behind.</summary>
    public static readonly TimeSpan MaxDeltaInterval = TimeSpan.FromSeconds(1);

    /// <summary>Time between deltas (at most 1 s).</summary>
    public TimeSpan DeltaInterval { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>Time after which the next publish is a full snapshot.</summary>
    public TimeSpan SnapshotInterval { get; init; } = TimeSpan.FromMinutes(10);

    /// <summary>A snapshot is due once the deltas after the current one hold this many bytes.</summary>
    public long MaxDeltaChainBytes { get; init; } = 256L * 1024 * 1024;

    /// <summary>A snapshot is due once this many deltas follow the current one (restore applies each).</summary>
    public int MaxDeltaChainCount { get; init; } = 900;

    /// <summary>Snapshots kept, the current one included, each with its deltas; at least 2 so a restore can fall back.</summary>
    public int RetainSnapshots { get; init; } = 3;

    /// <summary>Size chunk values are cut to (one row is never split).</summary>
    public int ChunkTargetBytes { get; init; } = 1024 * 1024;

    /// <summary>Delete snapshots beyond <see cref="RetainSnapshots"/> right after each snapshot publish.</summary>
    public bool ApplyRetentionAfterSnapshot { get; init; } = true;

    /// <summary>Write per-entity lookup keys (vectors and top-k lists) with each delta.</summary>
    public bool WriteLookups { get; init; } = true;

    /// <summary>Most lookup keys per model version; the least recently written are deleted beyond it.</summary>
    public int MaxLookupEntries { get; init; } = 200_000;

    /// <summary>Time to live of each lookup key, renewed when a delta writes it again.</summary>
    public TimeSpan LookupTtl { get; init; } = TimeSpan.FromHours(1);

    /// <summary>Every problem with these values, empty when they are valid.</summary>
    public IReadOnlyList<string> Validate()
    {
        var errors = new List<string>();
        if (DeltaInterval <= TimeSpan.Zero || DeltaInterval > MaxDeltaInterval)
        {
            errors.Add($"DeltaInterval must be more than 0 and at most {MaxDeltaInterval.TotalSeconds:0.###} s, got {DeltaInterval}.");
        }

        if (SnapshotInterval <= DeltaInterval)
        {
            errors.Add($"SnapshotInterval ({SnapshotInterval}) must be longer than DeltaInterval ({DeltaInterval}).");
        }

        if (MaxDeltaChainBytes < 1)
        {
            errors.Add($"MaxDeltaChainBytes must be at least 1, got {MaxDeltaChainBytes}.");
        }

        if (MaxDeltaChainCount < 1)
        {
            errors.Add($"MaxDeltaChainCount must be at least 1, got {MaxDeltaChainCount}.");
        }

        if (RetainSnapshots < 2)
        {
            errors.Add($"RetainSnapshots must be at least 2 (the current snapshot and one to fall back to), got {RetainSnapshots}.");
        }

        if (ChunkTargetBytes is < 4096 or > 64 * 1024 * 1024)
        {
            errors.Add($"ChunkTargetBytes must be from 4096 to 67108864, got {ChunkTargetBytes}.");
        }

        if (MaxLookupEntries < 1)
        {
            errors.Add($"MaxLookupEntries must be at least 1, got {MaxLookupEntries}.");
        }

        if (LookupTtl < TimeSpan.FromSeconds(1))
        {
            errors.Add($"LookupTtl must be at least 1 s, got {LookupTtl}.");
        }

        return errors;
    }

    /// <summary>Throws when <see cref="Validate"/> finds a problem.</summary>
    /// <exception cref="ArgumentException">The message lists every problem.</exception>
    public CheckpointOptions ThrowIfInvalid()
    {
        var errors = Validate();
        return errors.Count == 0 ? this : throw new ArgumentException("Invalid checkpoint options: " + string.Join(" ", errors));
    }
}

/// <summary>What a writer should publish next.</summary>
public enum CheckpointAction
{
    /// <summary>Nothing yet: the delta interval has not passed.</summary>
    None,

    /// <summary>A delta with the rows touched since the previous publish.</summary>
    Delta,

    /// <summary>A full snapshot (none yet, the snapshot interval passed, or the delta chain is too long).</summary>
    Snapshot,
}

/// <summary>
/// Decides between snapshot and delta from the current manifest and the options. Stateless and
/// thread-safe; time comes from the manifest's wall-clock fields and the <see cref="TimeProvider"/>.
/// </summary>
public sealed class CheckpointPolicy(CheckpointOptions options, TimeProvider? timeProvider = null)
{
    private readonly CheckpointOptions _options = options.ThrowIfInvalid();
    private readonly TimeProvider _time = timeProvider ?? TimeProvider.System;

    /// <summary>The action due now, given the version's current manifest (null when none was published).</summary>
    public CheckpointAction Decide(Manifest? current)
    {
        if (current is null)
        {
            return CheckpointAction.Snapshot;
        }

        var now = _time.GetUtcNow().ToUnixTimeMilliseconds();
        var chainBytes = current.Deltas.Sum(delta => delta.ByteSize);
        if (now - current.SnapshotCreatedAtMs >= (long)_options.SnapshotInterval.TotalMilliseconds
            || current.Deltas.Count >= _options.MaxDeltaChainCount
            || chainBytes >= _options.MaxDeltaChainBytes)
        {
            return CheckpointAction.Snapshot;
        }

        return now - current.CreatedAtMs >= (long)_options.DeltaInterval.TotalMilliseconds ? CheckpointAction.Delta : CheckpointAction.None;
    }
}
