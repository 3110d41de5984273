using StreamRec.Redis.Checkpoints;
using StreamRec.Worker.Sharding;

namespace StreamRec.Worker.Checkpointing;

/// <summary>
/// How a chain's snapshot and deltas combine into one state: a snapshot replaces everything; a
/// delta replaces the rows it carries and the offset and counts, and extends the seen-item histories
/// it appends to. Restore applies the same rule.
/// </summary>
public static class ShardStateMerge
{
    public static ShardRestore Apply(ShardRestore? state, ShardCapture capture)
    {
        ArgumentNullException.ThrowIfNull(capture);
        var users = capture.IsSnapshot || state is null ? capture.Users : Merge(state.Users, capture.Users);
        var seen = capture.IsSnapshot || state is null
            ? new Dictionary<string, string[]>(capture.SeenItems, StringComparer.Ordinal)
            : Merge(state.SeenItems, capture.SeenItems);
        foreach (var (user, items) in capture.AppendedSeenItems)
        {
            seen[user] = SeenHistory.Append(seen.GetValueOrDefault(user), items, capture.SeenHistoryLength);
        }

        return new ShardRestore(capture.NextOffset, capture.AppliedEvents, capture.DeadLetteredEvents, capture.EventTimeWatermarkMs, users, seen, capture.ScalarState);
    }

    public static ItemsRestore Apply(ItemsRestore? state, ItemsCapture capture)
    {
        ArgumentNullException.ThrowIfNull(capture);
        return capture.IsSnapshot || state is null
            ? new ItemsRestore(capture.Items, capture.TrendingOriginMs, capture.TrendingLogScores)
            : new ItemsRestore(Merge(state.Items, capture.Items), capture.TrendingOriginMs, Merge(state.TrendingLogScores, capture.TrendingLogScores));
    }

    /// <summary>Rows of <paramref name="newer"/> replace those with the same id in <paramref name="older"/>; order: older's ids first.</summary>
    public static TableRows Merge(TableRows older, TableRows newer)
    {
        ArgumentNullException.ThrowIfNull(older);
        ArgumentNullException.ThrowIfNull(newer);
        var index = new Dictionary<string, int>(older.Count + newer.Count, StringComparer.Ordinal);
        var ids = new List<string>(older.Count + newer.Count);
        var sources = new List<(TableRows Rows, int Row)>(older.Count + newer.Count);
        foreach (var (rows, count) in new[] { (older, older.Count), (newer, newer.Count) })
        {
            for (var i = 0; i < count; i++)
            {
                if (index.TryGetValue(rows.Ids[i], out var at))
                {
                    sources[at] = (rows, i);
                }
                else
                {
                    index[rows.Ids[i]] = ids.Count;
                    ids.Add(rows.Ids[i]);
                    sources.Add((rows, i));
                }
            }
        }

        var dimensions = newer.Dimensions;
        var vectors = new float[ids.Count * dimensions];
        var biases = new float[ids.Count];
        var adaVector = new float[ids.Count];
        var adaBias = new float[ids.Count];
        for (var i = 0; i < sources.Count; i++)
        {
            var (rows, row) = sources[i];
            rows.Vector(row).CopyTo(vectors.AsSpan(i * dimensions, dimensions));
            biases[i] = rows.Biases[row];
            adaVector[i] = rows.AdaGradVector[row];
            adaBias[i] = rows.AdaGradBias[row];
        }

        return new TableRows(dimensions, [.. ids], vectors, biases, adaVector, adaBias);
    }

    private static Dictionary<string, T> Merge<T>(IReadOnlyDictionary<string, T> older, IReadOnlyDictionary<string, T> newer)
    {
        var merged = new Dictionary<string, T>(older.Count + newer.Count, StringComparer.Ordinal);
        foreach (var (key, value) in older)
        {
            merged[key] = value;
        }

        foreach (var (key, value) in newer)
        {
            merged[key] = value;
        }

        return merged;
    }
}
