using System.Runtime.InteropServices;
using StreamRec.Contracts.V1;

namespace StreamRec.Redis.Checkpoints;

/// <summary>
/// The model being rebuilt by a restore: snapshot chunks, then delta chunks, rows replaced by id and
/// appended seen items added to histories. Single-threaded.
/// </summary>
/// <param name="fromSnapshot">
/// True when the chunks start with a snapshot, so a user without a stored history had none and appended
/// items become the history; false for one delta read alone, which keeps them apart as appended items.
/// </param>
internal sealed class RestoredState(int dimensions, bool hasBiases, bool fromSnapshot)
{
    private readonly RowTable _items = new(dimensions, hasBiases);
    private readonly Dictionary<int, RowTable> _users = [];
    private readonly Dictionary<int, Dictionary<string, string[]>> _seen = [];
    private readonly Dictionary<int, Dictionary<string, string[]>> _appendedSeen = [];
    private readonly Dictionary<int, int> _seenHistoryLength = [];
    private readonly Dictionary<string, int> _trendingIndex = new(StringComparer.Ordinal);
    private readonly List<ScoredId> _trending = [];

    /// <summary>Sizes the tables for the snapshot's row counts, so loading does not regrow them.</summary>
    public void Reserve(IEnumerable<ChunkRef> snapshotChunks)
    {
        foreach (var group in snapshotChunks.GroupBy(c => (c.Kind, c.Partition)))
        {
            var rows = group.Sum(c => c.RowCount);
            switch (group.Key.Kind)
            {
                case ChunkKind.Items:
                    _items.Reserve(rows);
                    break;
                case ChunkKind.Users:
                    UsersOf(group.Key.Partition).Reserve(rows);
                    break;
                default:
                    break;
            }
        }
    }

    /// <summary>Applies one checked chunk stored at <paramref name="key"/>.</summary>
    /// <exception cref="CheckpointCorruptException">The chunk's arrays disagree with its ids or the manifest.</exception>
    public void Apply(CheckpointChunk chunk, string key)
    {
        switch (chunk.Kind)
        {
            case ChunkKind.Items:
                _items.Upsert(chunk, key);
                break;
            case ChunkKind.Users:
                UsersOf(chunk.Partition).Upsert(chunk, key);
                break;
            case ChunkKind.Trending:
                if (chunk.Values.Length % sizeof(float) != 0)
                {
                    throw new CheckpointCorruptException(key, $"has {chunk.Values.Length} bytes of trending scores, not a whole number of float32 values.");
                }

                var scores = ChunkCodec.BytesToFloats(chunk.Values);
                if (scores.Length != chunk.Ids.Count)
                {
                    throw new CheckpointCorruptException(key, $"has {chunk.Ids.Count} trending ids but {scores.Length} scores.");
                }

                for (var i = 0; i < scores.Length; i++)
                {
                    if (_trendingIndex.TryGetValue(chunk.Ids[i], out var at))
                    {
                        _trending[at] = new ScoredId(chunk.Ids[i], scores[i]);
                    }
                    else
                    {
                        _trendingIndex[chunk.Ids[i]] = _trending.Count;
                        _trending.Add(new ScoredId(chunk.Ids[i], scores[i]));
                    }
                }

                break;
            case ChunkKind.SeenItems:
                if (chunk.Seen.Count != chunk.Ids.Count)
                {
                    throw new CheckpointCorruptException(key, $"has {chunk.Ids.Count} users but {chunk.Seen.Count} seen-item lists.");
                }

                var seen = ListsOf(_seen, chunk.Partition);
                _appendedSeen.TryGetValue(chunk.Partition, out var appendedBefore);
                for (var i = 0; i < chunk.Ids.Count; i++)
                {
                    seen[chunk.Ids[i]] = [.. chunk.Seen[i].Ids];
                    appendedBefore?.Remove(chunk.Ids[i]);
                }

                break;
            case ChunkKind.SeenItemsAppended:
                if (chunk.Seen.Count != chunk.Ids.Count || chunk.HistoryLength < 0)
                {
                    throw new CheckpointCorruptException(key, $"has {chunk.Ids.Count} users, {chunk.Seen.Count} appended seen-item lists and history length {chunk.HistoryLength}.");
                }

                _seenHistoryLength[chunk.Partition] = chunk.HistoryLength;
                var histories = ListsOf(_seen, chunk.Partition);
                var appended = ListsOf(_appendedSeen, chunk.Partition);
                for (var i = 0; i < chunk.Ids.Count; i++)
                {
                    var id = chunk.Ids[i];
                    var target = fromSnapshot || histories.ContainsKey(id) ? histories : appended;
                    target[id] = SeenHistory.Append(target.GetValueOrDefault(id), chunk.Seen[i].Ids, chunk.HistoryLength);
                }

                break;
            default:
                throw new CheckpointCorruptException(key, $"has unknown chunk kind {chunk.Kind}.");
        }
    }

    /// <summary>The rebuilt model, described by <paramref name="manifest"/>.</summary>
    public ModelCheckpoint ToCheckpoint(Manifest manifest, RestoreScope scope) => new()
    {
        Model = manifest.Model,
        Version = manifest.Version,
        Learner = manifest.Learner,
        LearnerOptions = manifest.LearnerOptions.ToDictionary(),
        Dimensions = manifest.Dimensions,
        EventTimeWatermarkMs = manifest.EventTimeWatermarkMs,
        CreatedAt = DateTimeOffset.FromUnixTimeMilliseconds(manifest.CreatedAtMs),
        Offsets = [.. manifest.Offsets.Select(o => new KafkaOffset(o.Topic, o.Partition, o.NextOffset, o.AppliedEvents, o.DeadLetteredEvents))],
        Items = _items.ToRows(),
        Users = [.. _users.Keys.Union(_seen.Keys).Union(_appendedSeen.Keys).Order().Select(partition =>
            new UserPartitionRows(partition, _users.TryGetValue(partition, out var rows) ? rows.ToRows() : EmbeddingRows.Empty(dimensions, hasBiases), _seen.GetValueOrDefault(partition))
            {
                AppendedSeenItems = _appendedSeen.GetValueOrDefault(partition),
                SeenHistoryLength = _seenHistoryLength.GetValueOrDefault(partition),
            })],
        Trending = scope.IncludeItems && (_trending.Count > 0 || manifest.TrendingReferenceTimeMs != 0)
            ? new TrendingState(manifest.TrendingReferenceTimeMs, [.. _trending])
            : null,
    };

    private static Dictionary<string, string[]> ListsOf(Dictionary<int, Dictionary<string, string[]>> byPartition, int partition)
    {
        if (!byPartition.TryGetValue(partition, out var lists))
        {
            byPartition[partition] = lists = new Dictionary<string, string[]>(StringComparer.Ordinal);
        }

        return lists;
    }

    private RowTable UsersOf(int partition)
    {
        if (!_users.TryGetValue(partition, out var table))
        {
            _users[partition] = table = new RowTable(dimensions, hasBiases);
        }

        return table;
    }

    /// <summary>A growable table of rows with an id index.</summary>
    private sealed class RowTable(int dimensions, bool hasBiases)
    {
        private readonly Dictionary<string, int> _index = new(StringComparer.Ordinal);
        private readonly List<string> _ids = [];
        private float[] _vectors = [];
        private float[] _biases = [];

        public void Reserve(int rows)
        {
            _index.EnsureCapacity(rows);
            _ids.Capacity = Math.Max(_ids.Capacity, rows);
            Grow(rows);
        }

        public void Upsert(CheckpointChunk chunk, string key)
        {
            var rows = chunk.Ids.Count;
            if (chunk.Dimensions != dimensions || chunk.Vectors.Length != (long)rows * dimensions * sizeof(float)
                || chunk.Biases.Length != (hasBiases ? rows * sizeof(float) : 0))
            {
                throw new CheckpointCorruptException(key, $"has {rows} rows, {chunk.Dimensions} dimensions, {chunk.Vectors.Length} vector bytes and {chunk.Biases.Length} bias bytes, which disagree with the manifest's {dimensions} dimensions{(hasBiases ? " with biases" : "")}.");
            }

            var vectorBytes = chunk.Vectors.Span;
            var biasBytes = chunk.Biases.Span;
            var rowBytes = dimensions * sizeof(float);
            for (var i = 0; i < rows; i++)
            {
                var id = chunk.Ids[i];
                if (!_index.TryGetValue(id, out var row))
                {
                    row = _ids.Count;
                    Grow(row + 1);
                    _index[id] = row;
                    _ids.Add(id);
                }

                vectorBytes.Slice(i * rowBytes, rowBytes).CopyTo(MemoryMarshal.AsBytes(_vectors.AsSpan(row * dimensions, dimensions)));
                if (hasBiases)
                {
                    _biases[row] = MemoryMarshal.Read<float>(biasBytes[(i * sizeof(float))..]);
                }
            }
        }

        public EmbeddingRows ToRows()
        {
            var count = _ids.Count;
            var vectors = _vectors.Length == count * dimensions ? _vectors : _vectors[..(count * dimensions)];
            float[]? biases = hasBiases ? (_biases.Length == count ? _biases : _biases[..count]) : null;
            return new EmbeddingRows(dimensions, [.. _ids], vectors, biases);
        }

        private void Grow(int rows)
        {
            if (_vectors.Length >= rows * dimensions)
            {
                return;
            }

            var capacity = Math.Max(rows, Math.Max(16, _vectors.Length / dimensions * 2));
            Array.Resize(ref _vectors, capacity * dimensions);
            if (hasBiases)
            {
                Array.Resize(ref _biases, capacity);
            }
        }
    }
}
