using System.Buffers;
using System.Globalization;
using System.Threading.Channels;
using Google.Protobuf;
using StackExchange.Redis;
using StreamRec.Contracts.V1;

namespace StreamRec.Redis.Checkpoints;

/// <summary>
/// Publishes, restores, retains and promotes model checkpoints in Redis (layout: docs/redis-layout.md).
/// Snapshot and delta chunks are written pipelined under new keys, then the manifest is switched in one
/// MULTI/EXEC conditioned on the version's publish sequence, so readers see either the old or the new
/// checkpoint and two writers of one version cannot interleave. Thread-safe; it does not own the
/// connection (one shared <see cref="IConnectionMultiplexer"/> per process). One writer per model
/// version is expected: a second one gets <see cref="CheckpointConflictException"/>.
/// </summary>
public sealed class CheckpointStore
{
    // Enough writes in flight to keep the connection busy; each holds one pooled chunk buffer.
    private const int MaxChunkWritesInFlight = 32;

    private readonly IConnectionMultiplexer _connection;
    private readonly TimeProvider _time;

    /// <summary>A store over <paramref name="connection"/>.</summary>
    /// <exception cref="ArgumentException"><paramref name="options"/> are invalid.</exception>
    public CheckpointStore(IConnectionMultiplexer connection, CheckpointOptions? options = null, TimeProvider? timeProvider = null)
    {
        ArgumentNullException.ThrowIfNull(connection);
        _connection = connection;
        Options = (options ?? new CheckpointOptions()).ThrowIfInvalid();
        _time = timeProvider ?? TimeProvider.System;
    }

    /// <summary>The options in force.</summary>
    public CheckpointOptions Options { get; }

    /// <summary>
    /// Runs after a publish's chunks are written and before its manifest switch, with the manifest about
    /// to become current (tests race a second writer here, or crash the writer at this point).
    /// </summary>
    internal Func<Manifest, CancellationToken, Task>? BeforeSwitch { get; init; }

    private IDatabase Database => _connection.GetDatabase();

    private long NowMs => _time.GetUtcNow().ToUnixTimeMilliseconds();

    /// <summary>
    /// Writes <paramref name="checkpoint"/> as a new snapshot and makes it current. The first version
    /// published of a model becomes its active version. Applies retention afterwards when the options say so.
    /// </summary>
    /// <exception cref="CheckpointConflictException">Another writer published this version meanwhile; nothing became visible.</exception>
    public async Task<PublishResult> PublishSnapshotAsync(ModelCheckpoint checkpoint, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(checkpoint);
        var started = _time.GetTimestamp();
        var keys = new CheckpointKeys(checkpoint.Model, checkpoint.Version);
        ValidateContent(checkpoint);
        var db = Database;
        var expectedSeq = await ReadPublishSeqAsync(db, keys).ConfigureAwait(false);
        if (checkpoint.RegisterVersion)
        {
            await db.SortedSetAddAsync(CheckpointKeys.Versions(keys.Model), keys.Version, NowMs, SortedSetWhen.NotExists).ConfigureAwait(false);
        }

        var snapshotId = await db.StringIncrementAsync(keys.SnapshotCounter).ConfigureAwait(false);
        // Registered before its chunks are written, so retention can find and remove them if this writer dies.
        await db.SortedSetAddAsync(keys.Snapshots, snapshotId, snapshotId).ConfigureAwait(false);

        var chunks = SnapshotChunks(checkpoint);
        var (refs, bytes) = await WriteChunksAsync(db, chunks, snapshotId, 0, index => keys.SnapshotChunk(snapshotId, index), cancellationToken).ConfigureAwait(false);

        var now = NowMs;
        var manifest = new Manifest
        {
            Model = keys.Model,
            Version = keys.Version,
            SnapshotId = snapshotId,
            SnapshotChunkCount = refs.Count,
            LastDeltaSeq = 0,
            CreatedAtMs = now,
            SnapshotCreatedAtMs = now,
            EventTimeWatermarkMs = checkpoint.EventTimeWatermarkMs,
            Dimensions = checkpoint.Dimensions,
            Learner = checkpoint.Learner,
            PublishSeq = expectedSeq + 1,
            SnapshotByteSize = bytes,
            ChunkTargetBytes = Options.ChunkTargetBytes,
            TrendingReferenceTimeMs = checkpoint.Trending?.ReferenceTimeMs ?? 0,
            HasBiases = checkpoint.Items.Biases is not null,
        };
        manifest.LearnerOptions.Add(checkpoint.LearnerOptions.ToDictionary());
        manifest.Offsets.Add(MergeOffsets([], checkpoint.Offsets));
        manifest.SnapshotChunks.Add(refs);

        if (!await SwitchManifestAsync(db, keys, manifest, expectedSeq, "snapshot", checkpoint.OwnerToken, cancellationToken).ConfigureAwait(false))
        {
            await DeleteKeysAsync(db, refs.Select(r => keys.SnapshotChunk(snapshotId, r.Index))).ConfigureAwait(false);
            await db.SortedSetRemoveAsync(keys.Snapshots, snapshotId).ConfigureAwait(false);
            throw Conflict(keys, expectedSeq);
        }

        var visibleAfter = _time.GetElapsedTime(started);
        if (checkpoint.RegisterVersion)
        {
            await db.StringSetAsync(CheckpointKeys.Active(keys.Model), keys.Version, when: When.NotExists).ConfigureAwait(false);
        }

        if (Options.ApplyRetentionAfterSnapshot)
        {
            await ApplyRetentionAsync(keys.Model, keys.Version, cancellationToken).ConfigureAwait(false);
        }

        return new PublishResult(manifest, refs.Count, bytes, 0, visibleAfter);
    }

    /// <summary>
    /// Writes the touched rows of <paramref name="delta"/> as the next delta of the current snapshot and
    /// makes it current; then writes lookup keys for its rows and top-k lists (not atomically with the switch).
    /// </summary>
    /// <exception cref="CheckpointNotFoundException">No snapshot of this version exists yet.</exception>
    /// <exception cref="CheckpointConflictException">Another writer published this version meanwhile.</exception>
    public async Task<PublishResult> PublishDeltaAsync(CheckpointDelta delta, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(delta);
        var started = _time.GetTimestamp();
        var keys = new CheckpointKeys(delta.Model, delta.Version);
        var db = Database;
        var current = await ReadManifestAsync(db, keys.Manifest).ConfigureAwait(false)
            ?? throw new CheckpointNotFoundException($"No snapshot of model '{keys.Model}' version '{keys.Version}' exists; publish a snapshot before deltas.");
        ValidateDelta(delta, current);
        var snapshotId = current.SnapshotId;
        var seq = current.LastDeltaSeq + 1;

        var chunks = DeltaChunks(delta);
        var (refs, bytes) = await WriteChunksAsync(db, chunks, snapshotId, seq, index => keys.DeltaChunk(snapshotId, seq, index), cancellationToken).ConfigureAwait(false);

        var now = NowMs;
        var manifest = current.Clone();
        manifest.LastDeltaSeq = seq;
        manifest.CreatedAtMs = now;
        manifest.PublishSeq = current.PublishSeq + 1;
        manifest.EventTimeWatermarkMs = Math.Max(current.EventTimeWatermarkMs, delta.EventTimeWatermarkMs);
        var merged = MergeOffsets(current.Offsets, delta.Offsets);
        manifest.Offsets.Clear();
        manifest.Offsets.Add(merged);
        if (delta.Trending is not null)
        {
            manifest.TrendingReferenceTimeMs = delta.Trending.ReferenceTimeMs;
        }

        var deltaRef = new DeltaRef { Seq = seq, CreatedAtMs = now, ByteSize = bytes };
        deltaRef.Chunks.Add(refs);
        manifest.Deltas.Add(deltaRef);

        if (!await SwitchManifestAsync(db, keys, manifest, current.PublishSeq, "delta", delta.OwnerToken, cancellationToken).ConfigureAwait(false))
        {
            await DeleteKeysAsync(db, refs.Select(r => keys.DeltaChunk(snapshotId, seq, r.Index))).ConfigureAwait(false);
            throw Conflict(keys, current.PublishSeq);
        }

        var visibleAfter = _time.GetElapsedTime(started);
        var lookups = Options.WriteLookups ? await WriteLookupsAsync(db, keys, delta, manifest.PublishSeq, now).ConfigureAwait(false) : 0;
        return new PublishResult(manifest, refs.Count, bytes, lookups, visibleAfter);
    }

    /// <summary>
    /// Writes the lookup keys of <paramref name="delta"/> (its rows' vectors and its top-k lists), as
    /// <see cref="PublishDeltaAsync"/> does when <see cref="CheckpointOptions.WriteLookups"/> is on. For a
    /// writer that turns that off to have the delta visible sooner and writes lookups on its own schedule.
    /// </summary>
    /// <returns>Lookup keys written.</returns>
    public Task<int> WriteLookupsAsync(CheckpointDelta delta, PublishResult published)
    {
        ArgumentNullException.ThrowIfNull(delta);
        ArgumentNullException.ThrowIfNull(published);
        return WriteLookupsAsync(Database, new CheckpointKeys(delta.Model, delta.Version), delta, published.Manifest.PublishSeq, NowMs);
    }

    /// <summary>
    /// Restores <paramref name="version"/> (the active version when null): the current snapshot and its
    /// deltas in order. When a chunk is missing or corrupt, falls back to the previous retained snapshot
    /// and reports the skipped ones in <see cref="RestoreResult.SkippedSnapshots"/>.
    /// </summary>
    /// <exception cref="CheckpointNotFoundException">No manifest, or no active version.</exception>
    /// <exception cref="CheckpointRestoreException">No retained snapshot could be restored.</exception>
    public async Task<RestoreResult> RestoreAsync(string model, string? version = null, RestoreScope? scope = null, CancellationToken cancellationToken = default)
    {
        scope ??= RestoreScope.All;
        var db = Database;
        var keys = new CheckpointKeys(model, version ?? await GetActiveVersionAsync(model).ConfigureAwait(false)
            ?? throw new CheckpointNotFoundException($"Model '{model}' has no active version."));
        var current = await ReadManifestAsync(db, keys.Manifest).ConfigureAwait(false)
            ?? throw new CheckpointNotFoundException($"Model '{keys.Model}' version '{keys.Version}' has no manifest ({keys.Manifest}).");

        var failures = new List<CheckpointCorruptException>();
        await foreach (var candidate in CandidatesAsync(db, keys, current).WithCancellation(cancellationToken).ConfigureAwait(false))
        {
            try
            {
                var checkpoint = await LoadAsync(db, keys, candidate, scope, cancellationToken).ConfigureAwait(false);
                return new RestoreResult(checkpoint, candidate, failures);
            }
            catch (CheckpointCorruptException ex)
            {
                failures.Add(ex);
            }
        }

        throw new CheckpointRestoreException(
            $"No retained snapshot of model '{keys.Model}' version '{keys.Version}' could be restored: " + string.Join("; ", failures.Select(f => f.Message)),
            failures);
    }

    /// <summary>
    /// Reads the rows of one delta of <paramref name="manifest"/>'s snapshot alone (not applied to anything),
    /// so a follower can apply each new delta to the model it holds instead of restoring the whole chain.
    /// The result has the delta's item, user, seen-item and trending rows; offsets and the trending
    /// reference time are those of <paramref name="manifest"/>.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="manifest"/> lists no delta <paramref name="deltaSeq"/>.</exception>
    /// <exception cref="CheckpointCorruptException">A chunk is missing (for example removed by retention) or fails a check.</exception>
    public async Task<ModelCheckpoint> ReadDeltaAsync(string model, string version, Manifest manifest, long deltaSeq, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(manifest);
        var keys = new CheckpointKeys(model, version);
        var delta = manifest.Deltas.FirstOrDefault(d => d.Seq == deltaSeq)
            ?? throw new ArgumentOutOfRangeException(nameof(deltaSeq), deltaSeq, $"The manifest of snapshot {manifest.SnapshotId} lists deltas up to {manifest.LastDeltaSeq}.");
        var state = new RestoredState(manifest.Dimensions, manifest.HasBiases, fromSnapshot: false);
        await ApplyChunksAsync(Database, state, [.. delta.Chunks], manifest.SnapshotId, deltaSeq,
            r => keys.DeltaChunk(manifest.SnapshotId, deltaSeq, r.Index), cancellationToken).ConfigureAwait(false);
        return state.ToCheckpoint(manifest, RestoreScope.All);
    }

    /// <summary>Reads and checks every chunk of every retained snapshot and its deltas, newest first.</summary>
    public async Task<IReadOnlyList<SnapshotVerification>> VerifyAsync(string model, string version, CancellationToken cancellationToken = default)
    {
        var keys = new CheckpointKeys(model, version);
        var db = Database;
        var current = await ReadManifestAsync(db, keys.Manifest).ConfigureAwait(false)
            ?? throw new CheckpointNotFoundException($"Model '{model}' version '{version}' has no manifest ({keys.Manifest}).");
        var results = new List<SnapshotVerification>();
        await foreach (var candidate in CandidatesAsync(db, keys, current).WithCancellation(cancellationToken).ConfigureAwait(false))
        {
            var count = candidate.SnapshotChunks.Count + candidate.Deltas.Sum(d => d.Chunks.Count);
            try
            {
                await LoadAsync(db, keys, candidate, RestoreScope.All, cancellationToken).ConfigureAwait(false);
                results.Add(new SnapshotVerification(candidate.SnapshotId, candidate.SnapshotId == current.SnapshotId, count, null));
            }
            catch (CheckpointCorruptException ex)
            {
                results.Add(new SnapshotVerification(candidate.SnapshotId, candidate.SnapshotId == current.SnapshotId, count, ex));
            }
        }

        return results;
    }

    /// <summary>The current manifest of <paramref name="version"/> (the active version when null), or null.</summary>
    public async Task<Manifest?> GetManifestAsync(string model, string? version = null)
    {
        version ??= await GetActiveVersionAsync(model).ConfigureAwait(false);
        return version is null ? null : await ReadManifestAsync(Database, new CheckpointKeys(model, version).Manifest).ConfigureAwait(false);
    }

    /// <summary>The version readers of <paramref name="model"/> follow, or null when none was published.</summary>
    public async Task<string?> GetActiveVersionAsync(string model) =>
        await Database.StringGetAsync(CheckpointKeys.Active(model)).ConfigureAwait(false) is { IsNull: false } value ? value.ToString() : null;

    /// <summary>Every version of <paramref name="model"/> that was ever published, oldest first.</summary>
    public async Task<IReadOnlyList<ModelVersionInfo>> ListVersionsAsync(string model)
    {
        var db = Database;
        var active = await GetActiveVersionAsync(model).ConfigureAwait(false);
        var versions = await db.SortedSetRangeByRankAsync(CheckpointKeys.Versions(model)).ConfigureAwait(false);
        var result = new List<ModelVersionInfo>();
        foreach (var version in versions.Select(v => v.ToString()))
        {
            var manifest = await ReadManifestAsync(db, new CheckpointKeys(model, version).Manifest).ConfigureAwait(false);
            result.Add(new ModelVersionInfo(version, version == active, manifest));
        }

        return result;
    }

    /// <summary>
    /// Makes <paramref name="version"/> the one readers of <paramref name="model"/> follow, in one
    /// MULTI/EXEC that also announces it on the model's channel.
    /// </summary>
    /// <exception cref="CheckpointNotFoundException">The version has no published manifest.</exception>
    public async Task PromoteAsync(string model, string version)
    {
        var keys = new CheckpointKeys(model, version);
        var db = Database;
        // A version is one chain (its own manifest) or, from a sharded writer, a set of chains.
        if (await ReadManifestAsync(db, keys.Manifest).ConfigureAwait(false) is null
            && await db.SetLengthAsync(CheckpointKeys.Chains(model, version)).ConfigureAwait(false) == 0)
        {
            throw new CheckpointNotFoundException($"Model '{model}' version '{version}' has no published manifest; publish a snapshot before promoting it.");
        }

        var transaction = db.CreateTransaction();
        transaction.AddCondition(Condition.SortedSetContains(CheckpointKeys.Versions(model), version));
        _ = transaction.StringSetAsync(CheckpointKeys.Active(model), version);
        _ = transaction.PublishAsync(CheckpointKeys.Channel(model), $"promote {version}");
        if (!await transaction.ExecuteAsync().ConfigureAwait(false))
        {
            throw new CheckpointNotFoundException($"Model '{model}' has no registered version '{version}'.");
        }
    }

    /// <summary>
    /// Keeps the newest <see cref="CheckpointOptions.RetainSnapshots"/> published snapshots of the version
    /// (always including the one the current manifest references) with their deltas, and deletes older
    /// snapshots, their deltas and the chunks of writes that never became visible. A snapshot still being
    /// written (newer than the current one) is left alone.
    /// </summary>
    public async Task<RetentionResult> ApplyRetentionAsync(string model, string version, CancellationToken cancellationToken = default)
    {
        var keys = new CheckpointKeys(model, version);
        var db = Database;
        var current = await ReadManifestAsync(db, keys.Manifest).ConfigureAwait(false);
        if (current is null)
        {
            return new RetentionResult([], 0, []);
        }

        var ids = (await db.SortedSetRangeByScoreAsync(keys.Snapshots).ConfigureAwait(false)).Select(v => (long)v).ToArray();
        var manifests = new Dictionary<long, Manifest?>();
        foreach (var id in ids.Where(id => id <= current.SnapshotId))
        {
            manifests[id] = id == current.SnapshotId ? current : await ReadManifestAsync(db, keys.SnapshotManifest(id)).ConfigureAwait(false);
        }

        var retained = manifests.Where(pair => pair.Value is not null).Select(pair => pair.Key)
            .OrderDescending().Take(Options.RetainSnapshots).Append(current.SnapshotId).ToHashSet();
        long deleted = 0;
        var deletedSnapshots = new List<long>();
        foreach (var (id, manifest) in manifests.OrderBy(pair => pair.Key))
        {
            cancellationToken.ThrowIfCancellationRequested();
            if (retained.Contains(id))
            {
                continue;
            }

            var doomed = new List<RedisKey>();
            if (manifest is not null)
            {
                doomed.AddRange(manifest.SnapshotChunks.Select(c => keys.SnapshotChunk(id, c.Index)));
                doomed.AddRange(manifest.Deltas.SelectMany(d => d.Chunks.Select(c => keys.DeltaChunk(id, d.Seq, c.Index))));
                // A delta whose switch never happened leaves chunks at the next sequence number.
                doomed.AddRange(await ProbeChunksAsync(db, index => keys.DeltaChunk(id, manifest.LastDeltaSeq + 1, index)).ConfigureAwait(false));
            }
            else
            {
                doomed.AddRange(await ProbeChunksAsync(db, index => keys.SnapshotChunk(id, index)).ConfigureAwait(false));
                doomed.AddRange(await ProbeChunksAsync(db, index => keys.DeltaChunk(id, 1, index)).ConfigureAwait(false));
            }

            doomed.Add(keys.SnapshotManifest(id));
            deleted += await DeleteKeysAsync(db, doomed).ConfigureAwait(false);
            await db.SortedSetRemoveAsync(keys.Snapshots, id).ConfigureAwait(false);
            deletedSnapshots.Add(id);
        }

        return new RetentionResult(deletedSnapshots, deleted, [.. ids.Where(id => !deletedSnapshots.Contains(id))]);
    }

    /// <summary>One user's vector from its lookup key (one GET), or null when absent or expired.</summary>
    public async Task<EntityVector?> GetUserVectorAsync(string model, string version, string userId) =>
        ParseOrNull(EntityVector.Parser, await Database.StringGetAsync(new CheckpointKeys(model, version).UserVector(userId)).ConfigureAwait(false));

    /// <summary>One item's vector from its lookup key (one GET), or null when absent or expired.</summary>
    public async Task<EntityVector?> GetItemVectorAsync(string model, string version, string itemId) =>
        ParseOrNull(EntityVector.Parser, await Database.StringGetAsync(new CheckpointKeys(model, version).ItemVector(itemId)).ConfigureAwait(false));

    /// <summary>One user's top-k list from its lookup key (one GET), or null when absent or expired.</summary>
    public async Task<TopKList?> GetUserTopKAsync(string model, string version, string userId) =>
        ParseOrNull(TopKList.Parser, await Database.StringGetAsync(new CheckpointKeys(model, version).UserTopK(userId)).ConfigureAwait(false));

    private static T? ParseOrNull<T>(MessageParser<T> parser, RedisValue value)
        where T : class, IMessage<T> => value.IsNull ? null : parser.ParseFrom((byte[])value!);

    private static async Task<Manifest?> ReadManifestAsync(IDatabase db, RedisKey key)
    {
        var value = await db.StringGetAsync(key).ConfigureAwait(false);
        if (value.IsNull)
        {
            return null;
        }

        try
        {
            return Manifest.Parser.ParseFrom((byte[])value!);
        }
        catch (InvalidProtocolBufferException ex)
        {
            throw new CheckpointCorruptException(key.ToString(), $"holds no valid Manifest: {ex.Message}");
        }
    }

    private static async Task<long> ReadPublishSeqAsync(IDatabase db, CheckpointKeys keys)
    {
        var value = await db.StringGetAsync(keys.PublishSeq).ConfigureAwait(false);
        return value.IsNull ? 0 : (long)value;
    }

    private static CheckpointConflictException Conflict(CheckpointKeys keys, long expectedSeq) =>
        new($"Model '{keys.Model}' version '{keys.Version}' was published by another writer after publish {expectedSeq}; this publish was discarded.");

    /// <summary>The atomic step: the manifest, its per-snapshot copy and the sequence change together, and the notification goes out with them.</summary>
    /// <summary>
    /// Makes <paramref name="ownerToken"/> the only writer of a version: publishes that carry another
    /// token fail with <see cref="CheckpointConflictException"/> from now on (fencing a writer that lost ownership).
    /// </summary>
    public Task ClaimAsync(string model, string version, string ownerToken)
    {
        ArgumentException.ThrowIfNullOrEmpty(ownerToken);
        return Database.StringSetAsync(new CheckpointKeys(model, version).Owner, ownerToken);
    }

    private async Task<bool> SwitchManifestAsync(IDatabase db, CheckpointKeys keys, Manifest manifest, long expectedSeq, string kind, string? ownerToken, CancellationToken cancellationToken)
    {
        if (BeforeSwitch is not null)
        {
            await BeforeSwitch(manifest, cancellationToken).ConfigureAwait(false);
        }

        var bytes = manifest.ToByteArray();
        var transaction = db.CreateTransaction();
        transaction.AddCondition(expectedSeq == 0
            ? Condition.KeyNotExists(keys.PublishSeq)
            : Condition.StringEqual(keys.PublishSeq, expectedSeq));
        if (ownerToken is not null)
        {
            transaction.AddCondition(Condition.StringEqual(keys.Owner, ownerToken));
        }

        _ = transaction.StringSetAsync(keys.PublishSeq, manifest.PublishSeq);
        _ = transaction.StringSetAsync(keys.Manifest, bytes);
        _ = transaction.StringSetAsync(keys.SnapshotManifest(manifest.SnapshotId), bytes);
        _ = transaction.PublishAsync(
            CheckpointKeys.Channel(keys.Model),
            string.Create(CultureInfo.InvariantCulture, $"{kind} {keys.Version} {manifest.PublishSeq} {manifest.SnapshotId} {manifest.LastDeltaSeq}"));
        return await transaction.ExecuteAsync().ConfigureAwait(false);
    }

    /// <summary>
    /// Encodes chunks on a worker thread into a bounded queue while this thread sends them pipelined, with
    /// a bounded number of writes in flight (pooled buffers are reused and memory stays bounded), then
    /// awaits every write.
    /// </summary>
    private async Task<(List<ChunkRef> Refs, long Bytes)> WriteChunksAsync(
        IDatabase db, IEnumerable<CheckpointChunk> chunks, long snapshotId, long deltaSeq, Func<int, RedisKey> keyOf, CancellationToken cancellationToken)
    {
        var refs = new List<ChunkRef>();
        var inFlight = new Queue<(Task Write, byte[] Buffer)>();
        long bytes = 0;
        var encoded = Channel.CreateBounded<EncodedChunk>(new BoundedChannelOptions(MaxChunkWritesInFlight) { SingleReader = true, SingleWriter = true });
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var encoder = Task.Run(
            async () =>
            {
                try
                {
                    foreach (var chunk in chunks)
                    {
                        chunk.SnapshotId = snapshotId;
                        chunk.DeltaSeq = deltaSeq;
                        var (buffer, length) = ChunkCodec.EncodePooled(chunk, out var crc32, Options.ChunkTargetBytes);
                        await encoded.Writer.WriteAsync(new EncodedChunk(chunk, buffer, length, crc32), stop.Token).ConfigureAwait(false);
                    }

                    encoded.Writer.Complete();
                }
                catch (Exception ex)
                {
                    encoded.Writer.Complete(ex);
                }
            },
            CancellationToken.None);

        try
        {
            await foreach (var chunk in encoded.Reader.ReadAllAsync(cancellationToken).ConfigureAwait(false))
            {
                var chunkRef = new ChunkRef
                {
                    Index = refs.Count,
                    Kind = chunk.Chunk.Kind,
                    Partition = chunk.Chunk.Partition,
                    RowCount = chunk.Chunk.Ids.Count,
                    ByteSize = chunk.Length,
                    Crc32 = chunk.Crc32,
                };
                inFlight.Enqueue((db.StringSetAsync(keyOf(chunkRef.Index), new ReadOnlyMemory<byte>(chunk.Buffer, 0, chunk.Length)), chunk.Buffer));
                refs.Add(chunkRef);
                bytes += chunk.Length;
                if (inFlight.Count >= MaxChunkWritesInFlight)
                {
                    var (write, buffer) = inFlight.Dequeue();
                    await write.ConfigureAwait(false);
                    ArrayPool<byte>.Shared.Return(buffer);
                }
            }

            while (inFlight.Count > 0)
            {
                var (write, buffer) = inFlight.Dequeue();
                await write.ConfigureAwait(false);
                ArrayPool<byte>.Shared.Return(buffer);
            }
        }
        finally
        {
            await stop.CancelAsync().ConfigureAwait(false);
            await encoder.ConfigureAwait(false);
            // On failure, let the remaining writes finish before leaving; their buffers are left to the GC.
            while (inFlight.Count > 0)
            {
                var (write, _) = inFlight.Dequeue();
                await write.ContinueWith(static _ => { }, TaskScheduler.Default).ConfigureAwait(false);
            }
        }

        return (refs, bytes);
    }

    private readonly record struct EncodedChunk(CheckpointChunk Chunk, byte[] Buffer, int Length, uint Crc32);

    private IEnumerable<CheckpointChunk> SnapshotChunks(ModelCheckpoint checkpoint)
    {
        var target = Options.ChunkTargetBytes;
        foreach (var chunk in ChunkCodec.EmbeddingChunks(ChunkKind.Items, -1, checkpoint.Items, target))
        {
            yield return chunk;
        }

        foreach (var users in checkpoint.Users.OrderBy(u => u.Partition))
        {
            foreach (var chunk in ChunkCodec.EmbeddingChunks(ChunkKind.Users, users.Partition, users.Rows, target))
            {
                yield return chunk;
            }

            if (users.SeenItems is { Count: > 0 } seen)
            {
                foreach (var chunk in ChunkCodec.SeenItemChunks(users.Partition, seen, target))
                {
                    yield return chunk;
                }
            }

            if (users.AppendedSeenItems is { Count: > 0 } appended)
            {
                foreach (var chunk in ChunkCodec.SeenItemChunks(users.Partition, appended, target, users.SeenHistoryLength))
                {
                    yield return chunk;
                }
            }
        }

        if (checkpoint.Trending is { } trending)
        {
            foreach (var chunk in ChunkCodec.TrendingChunks(trending, target))
            {
                yield return chunk;
            }
        }
    }

    private IEnumerable<CheckpointChunk> DeltaChunks(CheckpointDelta delta)
    {
        var content = new ModelCheckpoint
        {
            Model = delta.Model,
            Version = delta.Version,
            Learner = "",
            Dimensions = 1,
            Items = delta.Items ?? EmbeddingRows.Empty(1),
            Users = delta.Users,
            Trending = delta.Trending,
        };
        return SnapshotChunks(content);
    }

    private static void ValidateContent(ModelCheckpoint checkpoint)
    {
        var hasBiases = checkpoint.Items.Biases is not null;
        foreach (var rows in checkpoint.Users.Select(u => u.Rows).Prepend(checkpoint.Items))
        {
            if (rows.Dimensions != checkpoint.Dimensions || (rows.Biases is not null) != hasBiases)
            {
                throw new ArgumentException($"Every table must have {checkpoint.Dimensions} dimensions and {(hasBiases ? "" : "no ")}biases, like the item table.", nameof(checkpoint));
            }
        }

        if (checkpoint.Users.Select(u => u.Partition).Distinct().Count() != checkpoint.Users.Count)
        {
            throw new ArgumentException("Each partition may appear once in Users.", nameof(checkpoint));
        }

        if (checkpoint.Users.Any(u => u.AppendedSeenItems is { Count: > 0 }))
        {
            throw new ArgumentException("A snapshot has no stored histories to append to: give whole histories in SeenItems.", nameof(checkpoint));
        }
    }

    private static void ValidateDelta(CheckpointDelta delta, Manifest current)
    {
        foreach (var rows in delta.Users.Select(u => u.Rows).Append(delta.Items).OfType<EmbeddingRows>())
        {
            if (rows.Count > 0 && (rows.Dimensions != current.Dimensions || (rows.Biases is not null) != current.HasBiases))
            {
                throw new ArgumentException($"Delta rows must have {current.Dimensions} dimensions and {(current.HasBiases ? "" : "no ")}biases, like the snapshot.", nameof(delta));
            }
        }
    }

    private static List<PartitionOffset> MergeOffsets(IEnumerable<PartitionOffset> current, IEnumerable<KafkaOffset> updates)
    {
        var merged = current.ToDictionary(o => (o.Topic, o.Partition), o => o.Clone());
        foreach (var update in updates)
        {
            merged[(update.Topic, update.Partition)] = new PartitionOffset
            {
                Topic = update.Topic,
                Partition = update.Partition,
                NextOffset = update.NextOffset,
                AppliedEvents = update.AppliedEvents,
                DeadLetteredEvents = update.DeadLetteredEvents,
            };
        }

        return [.. merged.OrderBy(p => p.Key.Topic, StringComparer.Ordinal).ThenBy(p => p.Key.Partition).Select(p => p.Value)];
    }

    /// <summary>The current manifest, then the latest manifests of older retained snapshots, newest first.</summary>
    private static async IAsyncEnumerable<Manifest> CandidatesAsync(IDatabase db, CheckpointKeys keys, Manifest current)
    {
        yield return current;
        var older = await db.SortedSetRangeByScoreAsync(keys.Snapshots, double.NegativeInfinity, current.SnapshotId - 1, Exclude.None, Order.Descending).ConfigureAwait(false);
        foreach (var id in older.Select(v => (long)v))
        {
            if (await ReadManifestAsync(db, keys.SnapshotManifest(id)).ConfigureAwait(false) is { } manifest)
            {
                yield return manifest;
            }
        }
    }

    private static async Task<ModelCheckpoint> LoadAsync(IDatabase db, CheckpointKeys keys, Manifest manifest, RestoreScope scope, CancellationToken cancellationToken)
    {
        bool Wanted(ChunkRef chunk) => chunk.Kind switch
        {
            ChunkKind.Items or ChunkKind.Trending => scope.IncludeItems,
            ChunkKind.Users or ChunkKind.SeenItems or ChunkKind.SeenItemsAppended => scope.UserPartitions is null || scope.UserPartitions.Contains(chunk.Partition),
            _ => true,
        };

        var state = new RestoredState(manifest.Dimensions, manifest.HasBiases, fromSnapshot: true);
        var snapshotRefs = manifest.SnapshotChunks.Where(Wanted).ToList();
        state.Reserve(snapshotRefs);
        await ApplyChunksAsync(db, state, snapshotRefs, manifest.SnapshotId, 0, r => keys.SnapshotChunk(manifest.SnapshotId, r.Index), cancellationToken).ConfigureAwait(false);
        foreach (var delta in manifest.Deltas.OrderBy(d => d.Seq))
        {
            await ApplyChunksAsync(db, state, [.. delta.Chunks.Where(Wanted)], manifest.SnapshotId, delta.Seq, r => keys.DeltaChunk(manifest.SnapshotId, delta.Seq, r.Index), cancellationToken).ConfigureAwait(false);
        }

        return state.ToCheckpoint(manifest, scope);
    }

    private static async Task ApplyChunksAsync(
        IDatabase db, RestoredState state, List<ChunkRef> refs, long snapshotId, long deltaSeq, Func<ChunkRef, RedisKey> keyOf, CancellationToken cancellationToken)
    {
        // Pipelined reads in windows, so memory holds at most one window of raw values beside the tables.
        const int window = 64;
        for (var start = 0; start < refs.Count; start += window)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var batch = refs.Skip(start).Take(window).ToList();
            var reads = batch.Select(r => db.StringGetAsync(keyOf(r))).ToArray();
            var values = await Task.WhenAll(reads).ConfigureAwait(false);
            for (var i = 0; i < batch.Count; i++)
            {
                var key = keyOf(batch[i]).ToString();
                state.Apply(ChunkCodec.Decode(key, (byte[]?)values[i], batch[i], snapshotId, deltaSeq), key);
            }
        }
    }

    private static async Task<List<RedisKey>> ProbeChunksAsync(IDatabase db, Func<int, RedisKey> keyOf)
    {
        var found = new List<RedisKey>();
        for (var index = 0; ; index++)
        {
            var key = keyOf(index);
            if (!await db.KeyExistsAsync(key).ConfigureAwait(false))
            {
                return found;
            }

            found.Add(key);
        }
    }

    private static async Task<long> DeleteKeysAsync(IDatabase db, IEnumerable<RedisKey> keys)
    {
        // One UNLINK per key: chunk keys spread over cluster slots, so a multi-key command could cross
        // slots; UNLINK frees megabyte values on a Redis background thread instead of blocking the server.
        var deletes = keys.Select(key => db.ExecuteAsync("UNLINK", key)).ToArray();
        var results = await Task.WhenAll(deletes).ConfigureAwait(false);
        return results.Sum(result => (long)result);
    }

    /// <summary>
    /// Writes lookup keys of <paramref name="model"/> at <paramref name="version"/> for the rows and top-k
    /// lists of <paramref name="delta"/> (for writers whose chains publish with lookups turned off).
    /// </summary>
    public Task<int> WriteLookupsAsync(string model, string version, CheckpointDelta delta, long publishSeq)
    {
        ArgumentNullException.ThrowIfNull(delta);
        return WriteLookupsAsync(Database, new CheckpointKeys(model, version), delta, publishSeq, NowMs);
    }

    private async Task<int> WriteLookupsAsync(IDatabase db, CheckpointKeys keys, CheckpointDelta delta, long publishSeq, long nowMs)
    {
        // The SETs go out as one batch without awaiting each reply (a Task per key costs more than the SET
        // itself); the ZADD sent after them on the same connection is awaited, and Redis answers in order, so
        // when it returns every SET was processed, and a refused write (such as OOM) fails the ZADD as well.
        var batch = db.CreateBatch();
        var indexed = new List<SortedSetEntry>();
        void Write(RedisKey key, ReadOnlyMemory<byte> value)
        {
            _ = batch.StringSetAsync(key, value, Options.LookupTtl, flags: CommandFlags.FireAndForget);
            indexed.Add(new SortedSetEntry(key.ToString(), nowMs));
        }

        void WriteRows(EmbeddingRows rows, Func<string, RedisKey> keyOf)
        {
            // All values of a table go into one array (one allocation instead of two per row); the vectors
            // are wrapped, not copied, until they are written into it.
            var entities = new EntityVector[rows.Count];
            var total = 0;
            for (var row = 0; row < rows.Count; row++)
            {
                entities[row] = new EntityVector
                {
                    Id = rows.Ids[row],
                    Dimensions = rows.Dimensions,
                    Vector = ChunkCodec.WrapFloats(rows.Vectors, row * rows.Dimensions, rows.Dimensions),
                    Bias = rows.Biases?[row] ?? 0,
                    PublishSeq = publishSeq,
                    UpdatedAtMs = nowMs,
                };
                total += entities[row].CalculateSize();
            }

            var values = new byte[total];
            var offset = 0;
            for (var row = 0; row < rows.Count; row++)
            {
                var size = entities[row].CalculateSize();
                entities[row].WriteTo(values.AsSpan(offset, size));
                Write(keyOf(rows.Ids[row]), new ReadOnlyMemory<byte>(values, offset, size));
                offset += size;
            }
        }

        if (delta.Items is { } items)
        {
            WriteRows(items, keys.ItemVector);
        }

        foreach (var users in delta.Users)
        {
            WriteRows(users.Rows, keys.UserVector);
        }

        foreach (var topK in delta.RecentTopK)
        {
            var list = new TopKList { UserId = topK.UserId, PublishSeq = publishSeq, UpdatedAtMs = nowMs };
            list.ItemIds.Add(topK.Items.Select(entry => entry.Id));
            list.Scores = ChunkCodec.FloatsToBytes(topK.Items.Select(entry => entry.Score).ToArray());
            Write(keys.UserTopK(topK.UserId), list.ToByteArray());
        }

        if (indexed.Count == 0)
        {
            return 0;
        }

        batch.Execute();

        await db.SortedSetAddAsync(keys.LookupIndex, [.. indexed]).ConfigureAwait(false);

        // Cap: evict the least recently written keys beyond the limit (members are the keys themselves).
        var excess = await db.SortedSetLengthAsync(keys.LookupIndex).ConfigureAwait(false) - Options.MaxLookupEntries;
        if (excess > 0)
        {
            var evicted = await db.SortedSetRangeByRankAsync(keys.LookupIndex, 0, excess - 1).ConfigureAwait(false);
            var unlinks = db.CreateBatch();
            foreach (var member in evicted)
            {
                _ = unlinks.ExecuteAsync("UNLINK", [(RedisKey)member.ToString()], CommandFlags.FireAndForget);
            }

            unlinks.Execute();
            await db.SortedSetRemoveRangeByRankAsync(keys.LookupIndex, 0, excess - 1).ConfigureAwait(false);
        }

        // Entries whose keys expired by TTL leave the index too, so it never outgrows the live keys by much.
        await db.SortedSetRemoveRangeByScoreAsync(keys.LookupIndex, double.NegativeInfinity, nowMs - Options.LookupTtl.TotalMilliseconds).ConfigureAwait(false);
        return indexed.Count;
    }
}
