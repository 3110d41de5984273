namespace StreamRec.Redis.Checkpoints;

/// <summary>A stored chunk or manifest is missing or fails its checks; <see cref="Key"/> names it.</summary>
public sealed class CheckpointCorruptException(string key, string reason)
    : Exception($"Checkpoint key '{key}' {reason}")
{
    /// <summary>The Redis key at fault.</summary>
    public string Key { get; } = key;
}

/// <summary>Another writer published the same model version between this writer's read and its switch.</summary>
public sealed class CheckpointConflictException(string message) : Exception(message);

/// <summary>No checkpoint (or no active version) exists where one was asked for.</summary>
public sealed class CheckpointNotFoundException(string message) : Exception(message);

/// <summary>No retained snapshot of a version could be restored; <see cref="Failures"/> says why for each.</summary>
public sealed class CheckpointRestoreException(string message, IReadOnlyList<CheckpointCorruptException> failures)
    : AggregateException(message, failures)
{
    /// <summary>One failure per snapshot tried, newest first.</summary>
    public IReadOnlyList<CheckpointCorruptException> Failures { get; } = failures;
}
