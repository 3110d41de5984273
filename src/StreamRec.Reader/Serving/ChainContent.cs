using System.Collections.Immutable;
using StreamRec.Contracts.V1;
using StreamRec.Redis.Checkpoints;

namespace StreamRec.Reader.Serving;

/// <summary>One user as served: vector, bias and the items to leave out when asked to exclude seen ones.</summary>
internal sealed record UserEntry(float[] Vector, float Bias, string[] Seen);

/// <summary>
/// What one checkpoint chain contributes to the served model (a single-chain version is one chain; a
/// sharded one is an items chain plus one chain per partition), at the chain's publish sequence.
/// Immutable: <see cref="WithDelta"/> returns a new instance sharing what the delta did not touch.
/// </summary>
internal sealed record ChainContent(
    string ChainVersion,
    long SnapshotId,
    long LastDeltaSeq,
    long PublishSeq,
    long CreatedAtMs,
    string Learner,
    IReadOnlyDictionary<string, string> LearnerOptions,
    ItemTable Items,
    TrendingTable Trending,
    ImmutableDictionary<string, UserEntry> Users)
{
    /// <summary>The chain as a restore rebuilt it.</summary>
    public static ChainContent FromRestore(RestoreResult restored)
    {
        var checkpoint = restored.Checkpoint;
        var users = ImmutableDictionary.CreateBuilder<string, UserEntry>(StringComparer.Ordinal);
        foreach (var partition in checkpoint.Users)
        {
            AddUsers(users, partition);
        }

        return new ChainContent(
            restored.Manifest.Version,
            restored.Manifest.SnapshotId,
            restored.Manifest.LastDeltaSeq,
            restored.Manifest.PublishSeq,
            restored.Manifest.CreatedAtMs,
            checkpoint.Learner,
            checkpoint.LearnerOptions,
            checkpoint.Items.Count == 0 ? ItemTable.Empty(checkpoint.Dimensions) : ItemTable.From(checkpoint.Items),
            TrendingTable.From(checkpoint.Trending),
            users.ToImmutable());
    }

    /// <summary>This chain with one delta's rows applied (<paramref name="delta"/> from <see cref="CheckpointStore.ReadDeltaAsync"/>).</summary>
    public ChainContent WithDelta(ModelCheckpoint delta, long deltaSeq, Manifest manifest)
    {
        var users = Users.ToBuilder();
        foreach (var partition in delta.Users)
        {
            AddUsers(users, partition);
        }

        return this with
        {
            LastDeltaSeq = deltaSeq,
            PublishSeq = manifest.PublishSeq,
            CreatedAtMs = manifest.CreatedAtMs,
            Items = Items.With(delta.Items),
            Trending = Trending.With(delta.Trending),
            Users = delta.Users.Count == 0 ? Users : users.ToImmutable(),
        };
    }

    private static void AddUsers(ImmutableDictionary<string, UserEntry>.Builder users, UserPartitionRows partition)
    {
        var rows = partition.Rows;
        for (var row = 0; row < rows.Count; row++)
        {
            var id = rows.Ids[row];
            var seen = users.TryGetValue(id, out var existing) ? existing.Seen : [];
            users[id] = new UserEntry(rows.Vector(row).ToArray(), rows.Biases?[row] ?? 0f, seen);
        }

        foreach (var (id, seen) in partition.SeenItems ?? new Dictionary<string, string[]>())
        {
            // A history without a vector has nothing to rank with; the user is served trending.
            if (users.TryGetValue(id, out var existing))
            {
                users[id] = existing with { Seen = seen };
            }
        }

        foreach (var (id, appended) in partition.AppendedSeenItems ?? new Dictionary<string, string[]>())
        {
            if (users.TryGetValue(id, out var existing))
            {
                users[id] = existing with { Seen = SeenHistory.Append(existing.Seen, appended, partition.SeenHistoryLength) };
            }
        }
    }
}
