using StreamRec.Core.Engine;
using StreamRec.Core.Learners;

namespace StreamRec.Redis.Checkpoints;

/// <summary>
/// Maps a single learner's tables to checkpoint content: a snapshot of everything, or a delta of
/// the rows touched since the previous capture. Used by `streamrec train`, which publishes one
/// chain (the worker publishes one chain per partition instead). Call on the learner's thread.
/// </summary>
public sealed class LearnerCheckpoints(FactorLearner learner, string model, string version, IReadOnlyDictionary<string, string> learnerOptions)
{
    private long _usersVersion = long.MinValue;
    private long _itemsVersion = long.MinValue;

    /// <summary>The whole model, with the position reached in the input as its offset.</summary>
    public ModelCheckpoint Snapshot(KafkaOffset position, long eventTimeWatermarkMs)
    {
        ArgumentNullException.ThrowIfNull(learner);
        learner.Flush();
        var users = AllRows(learner.Users);
        var items = AllRows(learner.Items);
        _usersVersion = learner.Users.AdvanceVersion();
        _itemsVersion = learner.Items.AdvanceVersion();
        return new ModelCheckpoint
        {
            Model = model,
            Version = version,
            Learner = learner.Name,
            LearnerOptions = learnerOptions,
            Dimensions = learner.Items.Dimensions,
            EventTimeWatermarkMs = eventTimeWatermarkMs,
            CreatedAt = DateTimeOffset.UtcNow,
            Offsets = [position],
            Items = Rows(learner.Items, items),
            Users = [new UserPartitionRows(position.Partition, Rows(learner.Users, users), Seen(users))],
            Trending = Trending(items),
        };
    }

    /// <summary>The rows touched since the previous snapshot or delta.</summary>
    public CheckpointDelta Delta(KafkaOffset position, long eventTimeWatermarkMs)
    {
        learner.Flush();
        var users = learner.Users.RowsTouchedSince(_usersVersion);
        var items = learner.Items.RowsTouchedSince(_itemsVersion);
        _usersVersion = learner.Users.AdvanceVersion();
        _itemsVersion = learner.Items.AdvanceVersion();
        return new CheckpointDelta
        {
            Model = model,
            Version = version,
            EventTimeWatermarkMs = eventTimeWatermarkMs,
            Offsets = [position],
            Items = Rows(learner.Items, items),
            Users = [new UserPartitionRows(position.Partition, Rows(learner.Users, users), Seen(users))],
            Trending = Trending(items),
        };
    }

    private static int[] AllRows(EmbeddingTable table) => [.. Enumerable.Range(0, table.Count)];

    /// <summary>Rows with biases always present (zeros for tables without), so every chunk has the same shape.</summary>
    private static EmbeddingRows Rows(EmbeddingTable table, IReadOnlyList<int> rows)
    {
        var dimensions = table.Dimensions;
        var ids = new string[rows.Count];
        var vectors = new float[rows.Count * dimensions];
        var biases = new float[rows.Count];
        for (var i = 0; i < rows.Count; i++)
        {
            ids[i] = table.Ids.IdAt(rows[i]);
            table.ReadRow(rows[i]).CopyTo(vectors.AsSpan(i * dimensions, dimensions));
            biases[i] = table.ReadBias(rows[i]);
        }

        return new EmbeddingRows(dimensions, ids, vectors, biases);
    }

    private Dictionary<string, string[]> Seen(IReadOnlyList<int> userRows) =>
        userRows.ToDictionary(row => learner.Users.Ids.IdAt(row), learner.SeenItemIds, StringComparer.Ordinal);

    private TrendingState Trending(IReadOnlyList<int> itemRows) =>
        new(learner.Trending.OriginMs, [.. itemRows.Select(row => new ScoredId(learner.Items.Ids.IdAt(row), (float)learner.Trending.ReadLogScore(row)))]);
}
