using Confluent.Kafka;
using StreamRec.Core.Learners;
using StreamRec.Core.Model;
using StreamRec.Redis.Checkpoints;

namespace StreamRec.Worker.Sharding;

/// <summary>
/// A replica's model: one shard per assigned partition, all over one shared item table. Shards are
/// created on assignment (from their restored state) and dropped on revocation or loss.
/// </summary>
/// <remarks>Owned by the consumer thread; nothing here is thread-safe.</remarks>
public sealed class ShardedModel
{
    private readonly LearnerOptions _options;
    private readonly Dictionary<TopicPartition, Shard> _shards = [];
    private long _itemsCapturedVersion;

    public ShardedModel(LearnerOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        _options = options;
        Items = new SharedItems(options);
    }

    /// <summary>The items every shard updates.</summary>
    public SharedItems Items { get; }

    /// <summary>The shards, for the consumer thread.</summary>
    public IReadOnlyCollection<Shard> Shards => _shards.Values;

    /// <summary>A copy of the shard list, replaced on every change: safe to read from any thread (status, tests).</summary>
    public IReadOnlyList<Shard> ShardsSnapshot => Volatile.Read(ref _snapshot);

    private Shard[] _snapshot = [];

    public bool TryGetShard(TopicPartition partition, out Shard shard) => _shards.TryGetValue(partition, out shard!);

    /// <summary>Creates the shard of a newly assigned partition, from its persisted state when there is one.</summary>
    public Shard Assign(TopicPartition partition, ShardRestore? restored)
    {
        ArgumentNullException.ThrowIfNull(partition);
        var shard = new Shard(partition, LearnerFactory.CreateShard(_options, Items));
        if (restored is not null)
        {
            var users = restored.Users;
            for (var i = 0; i < users.Count; i++)
            {
                shard.Learner.RestoreUser(users.Ids[i], users.Vector(i), users.Biases[i], users.AdaGradVector[i], users.AdaGradBias[i],
                    restored.SeenItems.GetValueOrDefault(users.Ids[i]) ?? []);
            }

            shard.Learner.RestoreScalarState(restored.ScalarState);
            shard.NextOffset = restored.NextOffset;
            shard.PublishedOffset = restored.NextOffset;
            shard.AppliedEvents = restored.AppliedEvents;
            shard.DeadLetteredEvents = restored.DeadLetteredEvents;
            shard.EventTimeWatermarkMs = restored.EventTimeWatermarkMs;
        }

        shard.CapturedVersion = shard.Learner.Users.AdvanceVersion();
        _shards[partition] = shard;
        Volatile.Write(ref _snapshot, [.. _shards.Values]);
        return shard;
    }

    /// <summary>Forgets a shard (after its final delta, or without one when the partition was lost).</summary>
    public void Drop(TopicPartition partition)
    {
        if (_shards.Remove(partition))
        {
            Volatile.Write(ref _snapshot, [.. _shards.Values]);
        }
    }

    /// <summary>Learns one event in its partition's shard and accounts for its offset.</summary>
    public static void Apply(Shard shard, in Interaction interaction, long offset)
    {
        ArgumentNullException.ThrowIfNull(shard);
        shard.Learner.Learn(interaction);
        shard.AppliedEvents++;
        shard.NextOffset = offset + 1;
        if (interaction.EventTimeMs > shard.EventTimeWatermarkMs)
        {
            shard.EventTimeWatermarkMs = interaction.EventTimeMs;
        }
    }

    /// <summary>
    /// Learns consecutive events of one partition, in order, and accounts for them: the same as
    /// <see cref="Apply"/> for each, with the counters written once.
    /// </summary>
    /// <param name="lastOffset">The offset of the run's last event.</param>
    public static void ApplyRun(Shard shard, ReadOnlySpan<Interaction> run, long lastOffset)
    {
        ArgumentNullException.ThrowIfNull(shard);
        if (run.IsEmpty)
        {
            return;
        }

        // The one place a shard learns a run. A learner call taking the whole span and prefetching the
        // next events' rows was measured and dropped (docs/engine.md): it cost more than it saved.
        var learner = shard.Learner;
        var watermark = shard.EventTimeWatermarkMs;
        foreach (ref readonly var interaction in run)
        {
            learner.Learn(interaction);
            watermark = Math.Max(watermark, interaction.EventTimeMs);
        }

        shard.AppliedEvents += run.Length;
        shard.NextOffset = lastOffset + 1;
        shard.EventTimeWatermarkMs = watermark;
    }

    /// <summary>Accounts for a refused event's offset (its dead letter is flushed before the checkpoint that covers it).</summary>
    public static void DeadLettered(Shard shard, long offset)
    {
        ArgumentNullException.ThrowIfNull(shard);
        shard.DeadLetteredEvents++;
        shard.NextOffset = offset + 1;
    }

    /// <summary>
    /// Copies a shard's users touched since the last capture (or all of them for a snapshot) with its
    /// offset and counts, and starts a new version so later updates go into the next capture.
    /// </summary>
    /// <param name="topKUsers">How many of the captured users also get their current top-k list (for lookup keys).</param>
    /// <param name="k">Length of those lists.</param>
    public static ShardCapture Capture(Shard shard, bool snapshot, int topKUsers = 0, int k = 10)
    {
        ArgumentNullException.ThrowIfNull(shard);
        var learner = shard.Learner;
        learner.Flush();
        var rows = snapshot ? Enumerable.Range(0, learner.Users.Count).ToArray() : learner.Users.RowsTouchedSince(shard.CapturedVersion);
        var users = TableRows.Capture(learner.Users, rows);
        var seen = new Dictionary<string, string[]>(snapshot ? rows.Count : 0, StringComparer.Ordinal);
        var appended = new Dictionary<string, string[]>(snapshot ? 0 : rows.Count, StringComparer.Ordinal);
        foreach (var row in rows)
        {
            // A delta carries only the items seen since the last capture: rewriting whole histories (up to
            // SeenHistoryLength ids per user) each delta cost more than the users' vectors.
            if (snapshot)
            {
                seen[learner.Users.Ids.IdAt(row)] = learner.CaptureAllSeenItemIds(row);
            }
            else
            {
                var ids = learner.CaptureSeenItemIds(row, out var whole);
                if (whole || ids.Length > 0)
                {
                    (whole ? seen : appended)[learner.Users.Ids.IdAt(row)] = ids;
                }
            }
        }

        var topK = new List<UserTopK>(Math.Min(topKUsers, rows.Count));
        if (topKUsers > 0 && !snapshot)
        {
            var buffer = new ScoredItem[k];
            for (var i = rows.Count - 1; i >= 0 && topK.Count < topKUsers; i--)
            {
                var userId = learner.Users.Ids.IdAt(rows[i]);
                var count = learner.Recommend(userId, buffer, excludeSeen: true);
                topK.Add(new UserTopK(userId, [.. buffer.Take(count).Select(item => new ScoredId(item.ItemId, item.Score))]));
            }
        }

        shard.CapturedVersion = learner.Users.AdvanceVersion();
        return new ShardCapture(shard.Partition, snapshot, shard.NextOffset, shard.AppliedEvents, shard.DeadLetteredEvents,
            shard.EventTimeWatermarkMs, users, seen, learner.ReadScalarState())
        {
            RecentTopK = topK,
            AppendedSeenItems = appended,
            SeenHistoryLength = learner.SeenHistoryLength,
        };
    }

    /// <summary>Copies the items touched since the last item capture (or all), with trending.</summary>
    public ItemsCapture CaptureItems(bool snapshot)
    {
        foreach (var shard in _shards.Values)
        {
            shard.Learner.Flush();
        }

        var table = Items.Items;
        var rows = snapshot ? Enumerable.Range(0, table.Count).ToArray() : table.RowsTouchedSince(_itemsCapturedVersion);
        var trending = new Dictionary<string, double>(rows.Count, StringComparer.Ordinal);
        foreach (var row in rows)
        {
            trending[table.Ids.IdAt(row)] = Items.Trending.ReadLogScore(row);
        }

        var capture = new ItemsCapture(snapshot, TableRows.Capture(table, rows), Items.Trending.OriginMs, trending);
        _itemsCapturedVersion = table.AdvanceVersion();
        return capture;
    }

    /// <summary>Restores items (vectors and trending) before any shard is assigned, or applies another replica's item rows.</summary>
    public void ApplyItems(TableRows items, long trendingOriginMs, IReadOnlyDictionary<string, double> trendingLogScores)
    {
        ArgumentNullException.ThrowIfNull(items);
        ArgumentNullException.ThrowIfNull(trendingLogScores);
        Items.Trending.RestoreOrigin(trendingOriginMs);
        for (var i = 0; i < items.Count; i++)
        {
            var row = Items.Items.WriteRow(items.Ids[i], items.Vector(i), items.Biases[i], items.AdaGradVector[i], items.AdaGradBias[i]);
            Items.Trending.EnsureCapacity(Items.Items.Ids.Capacity);
            if (trendingLogScores.TryGetValue(items.Ids[i], out var logScore))
            {
                Items.Trending.WriteLogScore(row, logScore);
            }
        }
    }
}
