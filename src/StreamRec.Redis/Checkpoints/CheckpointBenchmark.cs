using System.Diagnostics;
using StackExchange.Redis;

namespace StreamRec.Redis.Checkpoints;

/// <summary>Sizes of a checkpoint benchmark run.</summary>
public sealed record CheckpointBenchmarkSettings
{
    /// <summary>Item rows in the snapshot.</summary>
    public int Items { get; init; } = 1_000_000;

    /// <summary>Embedding dimensions.</summary>
    public int Dimensions { get; init; } = 64;

    /// <summary>Snapshot publishes (and raw-SET baselines, interleaved) to take the median of.</summary>
    public int SnapshotRuns { get; init; } = 5;

    /// <summary>Rows per delta (half items, half users).</summary>
    public int DeltaRows { get; init; } = 10_000;

    /// <summary>Deltas to take the median latency of.</summary>
    public int DeltaRuns { get; init; } = 50;

    /// <summary>Full restores to take the median of.</summary>
    public int RestoreRuns { get; init; } = 3;
}

/// <summary>Figures of one benchmark run; times are medians.</summary>
/// <param name="SnapshotBytes">Bytes of chunk values per snapshot.</param>
/// <param name="SnapshotChunks">Chunks per snapshot.</param>
/// <param name="RawSetMedian">Pipelined SETs of byte arrays of the same sizes (prepared beforehand).</param>
/// <param name="SnapshotPublishMedian">Snapshot publish: chunking, encoding, CRC, pipelined SETs and the switch.</param>
/// <param name="DeltaVisibleMedian">Delta publish until its switch made it visible to readers.</param>
/// <param name="DeltaPublishMedian">Delta publish call including its lookup keys.</param>
/// <param name="DeltaPublishP95">95th percentile of the same.</param>
/// <param name="RestoreMedian">Full restore of the snapshot plus every delta.</param>
/// <param name="RawGetMedian">Pipelined GETs of the raw SETs' values (the ceiling of reading the snapshot's bytes).</param>
/// <param name="DeltaBytesMedian">Bytes of chunk values per delta.</param>
/// <param name="RestoreBytes">Bytes of chunk values a full restore reads (the snapshot and every delta).</param>
public sealed record CheckpointBenchmarkResult(
    long SnapshotBytes,
    int SnapshotChunks,
    TimeSpan RawSetMedian,
    TimeSpan SnapshotPublishMedian,
    TimeSpan DeltaVisibleMedian,
    TimeSpan DeltaPublishMedian,
    TimeSpan DeltaPublishP95,
    TimeSpan RestoreMedian,
    TimeSpan RawGetMedian,
    long DeltaBytesMedian,
    long RestoreBytes)
{
    /// <summary>Snapshot throughput relative to raw SETs of the same bytes (1 = as fast).</summary>
    public double SnapshotToRawRatio => RawSetMedian / SnapshotPublishMedian;

    /// <summary>Raw SET throughput in MB/s (10^6 bytes).</summary>
    public double RawMegabytesPerSecond => SnapshotBytes / 1e6 / RawSetMedian.TotalSeconds;

    /// <summary>Snapshot publish throughput in MB/s.</summary>
    public double SnapshotMegabytesPerSecond => SnapshotBytes / 1e6 / SnapshotPublishMedian.TotalSeconds;

    /// <summary>Raw pipelined GET throughput in MB/s.</summary>
    public double RawGetMegabytesPerSecond => SnapshotBytes / 1e6 / RawGetMedian.TotalSeconds;

    /// <summary>What raw pipelined SETs of one delta's bytes take at this run's raw SET throughput.</summary>
    public TimeSpan RawSetTimeOfDelta => RawSetMedian * ((double)DeltaBytesMedian / SnapshotBytes);

    /// <summary>What raw pipelined GETs of a full restore's bytes take at this run's raw GET throughput.</summary>
    public TimeSpan RawGetTimeOfRestore => RawGetMedian * ((double)RestoreBytes / SnapshotBytes);
}

/// <summary>
/// Measures snapshot publish against raw pipelined SETs of the same bytes in the same run, delta latency
/// and restore time, under a throw-away model name whose keys it deletes afterwards. Not thread-safe;
/// run one at a time against a server nothing else loads.
/// </summary>
public static class CheckpointBenchmark
{
    private const int RawReadsInFlight = 32;

    /// <summary>Runs the benchmark on <paramref name="connection"/> (which it does not own).</summary>
    public static async Task<CheckpointBenchmarkResult> RunAsync(
        IConnectionMultiplexer connection, CheckpointBenchmarkSettings settings, TextWriter? progress = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(connection);
        ArgumentNullException.ThrowIfNull(settings);
        var model = $"bench-{Guid.NewGuid():N}";
        var db = connection.GetDatabase();
        var store = new CheckpointStore(connection, new CheckpointOptions { RetainSnapshots = 2 });
        var random = new Random(42);
        var items = RandomRows("item", settings.Items, settings.Dimensions, random);
        var checkpoint = new ModelCheckpoint { Model = model, Version = "v1", Learner = "bench", Dimensions = settings.Dimensions, Items = items };
        try
        {
            // Warm-up: JIT, connection buffers, Redis memory.
            var warm = await store.PublishSnapshotAsync(checkpoint, cancellationToken).ConfigureAwait(false);
            var sizes = warm.Manifest.SnapshotChunks.Select(c => c.ByteSize).ToArray();
            var rawValues = sizes.Select(size => RandomBytes(size, random)).ToArray();
            _ = await RawSetsAsync(db, model, rawValues).ConfigureAwait(false);

            var raw = new List<TimeSpan>();
            var rawGets = new List<TimeSpan>();
            var publish = new List<TimeSpan>();
            for (var run = 0; run < settings.SnapshotRuns; run++)
            {
                cancellationToken.ThrowIfCancellationRequested();
                var (set, get) = await RawSetsAsync(db, model, rawValues).ConfigureAwait(false);
                raw.Add(set);
                rawGets.Add(get);
                var clock = Stopwatch.StartNew();
                await store.PublishSnapshotAsync(checkpoint, cancellationToken).ConfigureAwait(false);
                publish.Add(clock.Elapsed);
                progress?.WriteLine($"snapshot run {run + 1}: raw SETs {raw[^1].TotalMilliseconds:0} ms, publish {publish[^1].TotalMilliseconds:0} ms");
            }

            var deltas = new List<TimeSpan>();
            var visible = new List<TimeSpan>();
            var deltaBytes = new List<long>();
            var half = settings.DeltaRows / 2;
            for (var run = 0; run < settings.DeltaRuns; run++)
            {
                cancellationToken.ThrowIfCancellationRequested();
                var delta = new CheckpointDelta
                {
                    Model = model,
                    Version = "v1",
                    Items = RandomRows("item", half, settings.Dimensions, random, first: random.Next(Math.Max(1, settings.Items - half))),
                    Users = [new UserPartitionRows(run % 4, RandomRows($"user-{run}-", settings.DeltaRows - half, settings.Dimensions, random))],
                    Offsets = [new KafkaOffset("clicks", run % 4, run)],
                };
                var clock = Stopwatch.StartNew();
                var published = await store.PublishDeltaAsync(delta, cancellationToken).ConfigureAwait(false);
                deltas.Add(clock.Elapsed);
                visible.Add(published.VisibleAfter);
                deltaBytes.Add(published.ByteSize);
            }

            progress?.WriteLine($"deltas: median {Median(deltas).TotalMilliseconds:0.0} ms (visible after {Median(visible).TotalMilliseconds:0.0} ms) over {deltas.Count}");
            var restores = new List<TimeSpan>();
            long restoreBytes = 0;
            for (var run = 0; run < settings.RestoreRuns; run++)
            {
                var clock = Stopwatch.StartNew();
                var restored = await store.RestoreAsync(model, "v1", cancellationToken: cancellationToken).ConfigureAwait(false);
                restores.Add(clock.Elapsed);
                restoreBytes = restored.Manifest.SnapshotByteSize + restored.Manifest.Deltas.Sum(d => d.ByteSize);
                progress?.WriteLine($"restore run {run + 1}: {restores[^1].TotalMilliseconds:0} ms");
            }

            deltas.Sort();
            return new CheckpointBenchmarkResult(
                sizes.Sum(s => (long)s),
                sizes.Length,
                Median(raw),
                Median(publish),
                Median(visible),
                Median(deltas),
                deltas[(int)Math.Min(deltas.Count - 1, Math.Ceiling(deltas.Count * 0.95) - 1)],
                Median(restores),
                Median(rawGets),
                deltaBytes.Count == 0 ? 0 : deltaBytes.Order().ElementAt(deltaBytes.Count / 2),
                restoreBytes);
        }
        finally
        {
            await DeleteModelAsync(connection, model).ConfigureAwait(false);
        }
    }

    /// <summary>
    /// SETs of the prepared values under new keys, as a snapshot writes new keys (Redis allocates fresh
    /// memory for both), then pipelined GETs of them back (what a restore's reads cost at best); the keys
    /// are removed afterwards, outside the timing.
    /// </summary>
    private static async Task<(TimeSpan Set, TimeSpan Get)> RawSetsAsync(IDatabase db, string model, byte[][] values)
    {
        var run = Guid.NewGuid().ToString("N");
        var keys = values.Select((_, i) => (RedisKey)$"streamrec:{model}:raw:{run}:{i}").ToArray();
        var clock = Stopwatch.StartNew();
        var writes = new Task[values.Length];
        for (var i = 0; i < values.Length; i++)
        {
            writes[i] = db.StringSetAsync(keys[i], values[i]);
        }

        await Task.WhenAll(writes).ConfigureAwait(false);
        var elapsed = clock.Elapsed;
        clock.Restart();
        // At most as many reads in flight as a restore keeps: all of them at once queue hundreds of MB behind
        // one socket, and on a loaded machine the last ones outlive the client's command timeout.
        var reads = new Queue<(int Index, Task<RedisValue> Read)>();
        for (var i = 0; i < keys.Length; i++)
        {
            reads.Enqueue((i, db.StringGetAsync(keys[i])));
            if (reads.Count >= RawReadsInFlight)
            {
                await CheckedReadAsync(reads.Dequeue()).ConfigureAwait(false);
            }
        }

        while (reads.Count > 0)
        {
            await CheckedReadAsync(reads.Dequeue()).ConfigureAwait(false);
        }

        async Task CheckedReadAsync((int Index, Task<RedisValue> Read) pending)
        {
            if ((await pending.Read.ConfigureAwait(false)).Length() != values[pending.Index].Length)
            {
                throw new InvalidOperationException("A raw value read back had another length than the one written.");
            }
        }

        var readElapsed = clock.Elapsed;

        await Task.WhenAll(keys.Select(key => db.ExecuteAsync("UNLINK", key))).ConfigureAwait(false);
        return (elapsed, readElapsed);
    }

    private static EmbeddingRows RandomRows(string prefix, int count, int dimensions, Random random, int first = 0)
    {
        var vectors = new float[count * dimensions];
        for (var i = 0; i < vectors.Length; i++)
        {
            vectors[i] = (float)(random.NextDouble() - 0.5);
        }

        var ids = new string[count];
        for (var i = 0; i < count; i++)
        {
            ids[i] = string.Concat(prefix, (first + i).ToString(System.Globalization.CultureInfo.InvariantCulture));
        }

        return new EmbeddingRows(dimensions, ids, vectors, new float[count]);
    }

    private static byte[] RandomBytes(int size, Random random)
    {
        var bytes = new byte[size];
        random.NextBytes(bytes);
        return bytes;
    }

    private static TimeSpan Median(List<TimeSpan> values)
    {
        var sorted = values.Order().ToList();
        return sorted.Count % 2 == 1 ? sorted[sorted.Count / 2] : (sorted[(sorted.Count / 2) - 1] + sorted[sorted.Count / 2]) / 2;
    }

    private static async Task DeleteModelAsync(IConnectionMultiplexer connection, string model)
    {
        var db = connection.GetDatabase();
        foreach (var endpoint in connection.GetEndPoints())
        {
            var server = connection.GetServer(endpoint);
            if (server.IsReplica)
            {
                continue;
            }

            var deletes = new List<Task>();
            await foreach (var key in server.KeysAsync(pattern: $"*{model}*", pageSize: 1000).ConfigureAwait(false))
            {
                deletes.Add(db.KeyDeleteAsync(key));
            }

            await Task.WhenAll(deletes).ConfigureAwait(false);
        }
    }
}
