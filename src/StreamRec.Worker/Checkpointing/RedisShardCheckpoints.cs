using System.Collections.Concurrent;
using System.Globalization;
using Confluent.Kafka;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using StackExchange.Redis;
using StreamRec.Redis.Checkpoints;
using StreamRec.Worker.Hosting;
using StreamRec.Worker.Sharding;

namespace StreamRec.Worker.Checkpointing;

/// <summary>
/// The worker's state in Redis: one checkpoint chain per Kafka partition (its users, offset and
/// counts) and one for the items, each stored as a version <c>&lt;version&gt;--&lt;chain&gt;</c> of the
/// model and listed in the version's chain set (docs/redis-layout.md). A partition's chain has one
/// writer at a time: claiming it sets its owner key, and publishes with another token are refused.
/// Lookup keys are written under the plain version so services need not know partitions.
/// Thread-safe.
/// </summary>
public sealed class RedisShardCheckpoints : IShardCheckpoints
{
    /// <summary>Top-k lists each shard writes to lookup keys per lookup write, for its most recently active users.</summary>
    public const int TopKListsPerLookupWrite = 20;

    private const string ItemsChain = "items";
    private readonly IConnectionMultiplexer _connection;
    private readonly CheckpointStore _store;
    private readonly string _model;
    private readonly string _version;
    private readonly string _learner;
    private readonly IReadOnlyDictionary<string, string> _learnerOptions;
    private readonly bool _activate;
    private int _registered;

    /// <param name="activate">Make this version the one readers follow when the model has none yet (false for replays, which are promoted explicitly).</param>
    public RedisShardCheckpoints(IConnectionMultiplexer connection, CheckpointOptions options, string model, string version, string learner,
        IReadOnlyDictionary<string, string> learnerOptions, bool activate = true)
    {
        ArgumentNullException.ThrowIfNull(options);
        _connection = connection;
        // Chains are internal; lookup keys are written for the plain version below.
        _store = new CheckpointStore(connection, options with { WriteLookups = false });
        _lookups = options.WriteLookups;
        _model = model;
        _version = version;
        _learner = learner;
        _learnerOptions = learnerOptions;
        _activate = activate;
    }

    private readonly bool _lookups;

    /// <summary>Published rows whose lookup keys wait for the next <see cref="WriteLookupsAsync"/>, per chain.</summary>
    private readonly ConcurrentDictionary<string, PendingLookups> _pendingLookups = new(StringComparer.Ordinal);

    /// <summary>
    /// Runs after a publish's chunks are written and before its manifest switch (fault-injection tests
    /// crash the worker here: the chunks stay unreferenced and the previous checkpoint stays current).
    /// </summary>
    internal Func<StreamRec.Contracts.V1.Manifest, CancellationToken, Task>? BeforeManifestSwitch
    {
        init => _store = new CheckpointStore(_connection, _store.Options) { BeforeSwitch = value };
    }

    /// <summary>Builds the store from the worker's options and the process's shared connection.</summary>
    public static RedisShardCheckpoints Create(IServiceProvider services)
    {
        ArgumentNullException.ThrowIfNull(services);
        var options = services.GetRequiredService<IOptions<WorkerOptions>>().Value;
        var checkpoints = new CheckpointOptions { DeltaInterval = options.DeltaInterval, SnapshotInterval = options.SnapshotInterval };
        return new RedisShardCheckpoints(services.GetRequiredService<IConnectionMultiplexer>(), checkpoints, options.Model, options.ModelVersion,
            options.Learner.Learner, DescribeLearner(options), activate: options.Replay is null);
    }

    /// <summary>The chain name of a partition.</summary>
    public static string PartitionChain(TopicPartition partition)
    {
        ArgumentNullException.ThrowIfNull(partition);
        return string.Create(CultureInfo.InvariantCulture, $"{partition.Topic}--{partition.Partition.Value}");
    }

    public async Task<ItemsRestore?> RestoreItemsAsync(CancellationToken cancellationToken)
    {
        var chain = CheckpointKeys.ChainVersion(_version, ItemsChain);
        if (await _store.GetManifestAsync(_model, chain).ConfigureAwait(false) is null)
        {
            return null;
        }

        var restored = (await _store.RestoreAsync(_model, chain, cancellationToken: cancellationToken).ConfigureAwait(false)).Checkpoint;
        var trending = restored.Trending;
        return new ItemsRestore(
            ToTableRows(restored.Items),
            trending?.ReferenceTimeMs ?? 0,
            trending is null ? new Dictionary<string, double>() : trending.Scores.ToDictionary(s => s.Id, s => (double)s.Score, StringComparer.Ordinal));
    }

    public async Task<ShardRestore?> ClaimAndRestoreShardAsync(TopicPartition partition, string ownerToken, CancellationToken cancellationToken)
    {
        var chain = CheckpointKeys.ChainVersion(_version, PartitionChain(partition));
        await _store.ClaimAsync(_model, chain, ownerToken).ConfigureAwait(false);
        if (await _store.GetManifestAsync(_model, chain).ConfigureAwait(false) is null)
        {
            return null;
        }

        var restored = (await _store.RestoreAsync(_model, chain, cancellationToken: cancellationToken).ConfigureAwait(false)).Checkpoint;
        var offset = restored.Offsets.Single(o => o.Topic == partition.Topic && o.Partition == partition.Partition.Value);
        var users = restored.Users.SingleOrDefault(u => u.Partition == partition.Partition.Value);
        return new ShardRestore(
            offset.NextOffset,
            offset.AppliedEvents,
            offset.DeadLetteredEvents,
            restored.EventTimeWatermarkMs,
            users is null ? ToTableRows(EmbeddingRows.Empty(restored.Dimensions, withBiases: true)) : ToTableRows(users.Rows),
            users?.SeenItems ?? new Dictionary<string, string[]>(),
            new Dictionary<string, double>());
    }

    public async Task PublishShardAsync(ShardCapture capture, string ownerToken, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(capture);
        var chain = CheckpointKeys.ChainVersion(_version, PartitionChain(capture.Partition));
        var users = new UserPartitionRows(capture.Partition.Partition.Value, ToEmbeddingRows(capture.Users), capture.SeenItems)
        {
            AppendedSeenItems = capture.AppendedSeenItems,
            SeenHistoryLength = capture.SeenHistoryLength,
        };
        KafkaOffset[] offsets = [new(capture.Partition.Topic, capture.Partition.Partition.Value, capture.NextOffset, capture.AppliedEvents, capture.DeadLetteredEvents)];
        try
        {
            var manifest = capture.IsSnapshot ? null : await _store.GetManifestAsync(_model, chain).ConfigureAwait(false);
            if (manifest is not null && manifest.Offsets.Any(o => o.Topic == capture.Partition.Topic && o.Partition == capture.Partition.Partition.Value && o.NextOffset >= capture.NextOffset))
            {
                // Published already: a retry after a switch whose reply was lost. Every delta moves the offset, and
                // appending its seen items a second time would not be harmless.
                return;
            }

            if (capture.IsSnapshot || manifest is null)
            {
                // Nothing stored for the chain (its keys were lost): what this capture holds is published as a
                // snapshot; for a delta capture that is its touched users, with the seen items since the last capture.
                users = new UserPartitionRows(users.Partition, users.Rows, capture.SeenItems.Concat(capture.AppendedSeenItems).ToDictionary(StringComparer.Ordinal));
                await RegisterAsync(chain).ConfigureAwait(false);
                await _store.PublishSnapshotAsync(new ModelCheckpoint
                {
                    Model = _model,
                    Version = chain,
                    Learner = _learner,
                    LearnerOptions = _learnerOptions,
                    Dimensions = capture.Users.Dimensions,
                    EventTimeWatermarkMs = capture.EventTimeWatermarkMs,
                    CreatedAt = DateTimeOffset.UtcNow,
                    Offsets = offsets,
                    Items = EmbeddingRows.Empty(capture.Users.Dimensions, withBiases: true),
                    Users = [users],
                    RegisterVersion = false,
                    OwnerToken = ownerToken,
                }, cancellationToken).ConfigureAwait(false);
            }
            else
            {
                var delta = new CheckpointDelta
                {
                    Model = _model,
                    Version = chain,
                    EventTimeWatermarkMs = capture.EventTimeWatermarkMs,
                    Offsets = offsets,
                    Users = [users],
                    OwnerToken = ownerToken,
                };
                var result = await _store.PublishDeltaAsync(delta, cancellationToken).ConfigureAwait(false);
                if (_lookups)
                {
                    PendingLookupsOf(chain).Add(users.Rows, capture.RecentTopK, result.Manifest.PublishSeq);
                }
            }
        }
        catch (CheckpointConflictException)
        {
            // Lost the owner key to another replica (fenced), or raced one: only the first is final.
            if (await OwnerAsync(chain).ConfigureAwait(false) != ownerToken)
            {
                // The new owner writes these users' lookup keys now; older values from here must not follow.
                ForgetLookups(capture.Partition);
                throw new ShardFencedException(capture.Partition);
            }

            throw;
        }
    }

    public async Task PublishItemsAsync(ItemsCapture capture, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(capture);
        var chain = CheckpointKeys.ChainVersion(_version, ItemsChain);
        var items = ToEmbeddingRows(capture.Items);
        var trending = new TrendingState(capture.TrendingOriginMs, [.. capture.TrendingLogScores.Select(s => new ScoredId(s.Key, (float)s.Value))]);
        if (capture.IsSnapshot || await _store.GetManifestAsync(_model, chain).ConfigureAwait(false) is null)
        {
            await RegisterAsync(chain).ConfigureAwait(false);
            await _store.PublishSnapshotAsync(new ModelCheckpoint
            {
                Model = _model,
                Version = chain,
                Learner = _learner,
                LearnerOptions = _learnerOptions,
                Dimensions = capture.Items.Dimensions,
                CreatedAt = DateTimeOffset.UtcNow,
                Items = items,
                Trending = trending,
                RegisterVersion = false,
            }, cancellationToken).ConfigureAwait(false);
            return;
        }

        var delta = new CheckpointDelta { Model = _model, Version = chain, Items = items, Trending = trending };
        var result = await _store.PublishDeltaAsync(delta, cancellationToken).ConfigureAwait(false);
        if (_lookups)
        {
            PendingLookupsOf(chain).Add(items, [], result.Manifest.PublishSeq);
        }
    }

    public async Task WriteLookupsAsync(CancellationToken cancellationToken)
    {
        foreach (var chain in _pendingLookups.Keys.Order(StringComparer.Ordinal).ToList())
        {
            cancellationToken.ThrowIfCancellationRequested();
            if (!_pendingLookups.TryRemove(chain, out var pending) || pending.IsEmpty)
            {
                continue;
            }

            // Users and items go through the same writer: the keys depend on the row kind, not the chain.
            var rows = pending.Rows();
            var delta = chain == CheckpointKeys.ChainVersion(_version, ItemsChain)
                ? new CheckpointDelta { Model = _model, Version = chain, Items = rows }
                : new CheckpointDelta { Model = _model, Version = chain, Users = [new UserPartitionRows(0, rows)], RecentTopK = pending.TopK() };
            try
            {
                await _store.WriteLookupsAsync(_model, _version, delta, pending.PublishSeq).ConfigureAwait(false);
            }
            catch
            {
                // Tried again at the next write, under anything published meanwhile (newer values win).
                PendingLookupsOf(chain).AddOlder(pending);
                throw;
            }
        }
    }

    public void ForgetLookups(TopicPartition partition) =>
        _pendingLookups.TryRemove(CheckpointKeys.ChainVersion(_version, PartitionChain(partition)), out _);

    private PendingLookups PendingLookupsOf(string chain) => _pendingLookups.GetOrAdd(chain, _ => new PendingLookups());

    private async Task RegisterAsync(string chain)
    {
        var db = _connection.GetDatabase();
        await db.SetAddAsync(CheckpointKeys.Chains(_model, _version), chain).ConfigureAwait(false);
        if (Interlocked.Exchange(ref _registered, 1) == 0)
        {
            await db.SortedSetAddAsync(CheckpointKeys.Versions(_model), _version, DateTimeOffset.UtcNow.ToUnixTimeMilliseconds(), SortedSetWhen.NotExists).ConfigureAwait(false);
            if (_activate)
            {
                await db.StringSetAsync(CheckpointKeys.Active(_model), _version, when: When.NotExists).ConfigureAwait(false);
            }
        }
    }

    private async Task<string?> OwnerAsync(string chain) =>
        await _connection.GetDatabase().StringGetAsync(new CheckpointKeys(_model, chain).Owner).ConfigureAwait(false);

    private static EmbeddingRows ToEmbeddingRows(TableRows rows) => new(rows.Dimensions, rows.Ids, rows.Vectors, rows.Biases);

    private static TableRows ToTableRows(EmbeddingRows rows)
    {
        // AdaGrad accumulators are not checkpointed: restored rows start from the initial accumulator.
        var initial = Enumerable.Repeat(Core.Engine.EmbeddingTable.AdaGradInitialAccumulator, rows.Count).ToArray();
        return new TableRows(rows.Dimensions, rows.Ids, rows.Vectors, rows.Biases ?? new float[rows.Count], initial, [.. initial]);
    }

    private static Dictionary<string, string> DescribeLearner(WorkerOptions options)
    {
        var learner = options.Learner;
        var described = new Dictionary<string, string>(StringComparer.Ordinal);
        void Add(string name, object? value)
        {
            if (value is not null)
            {
                described[name] = Convert.ToString(value, CultureInfo.InvariantCulture)!;
            }
        }

        Add("dims", learner.Dimensions);
        Add("lr", learner.LearningRate);
        Add("l2", learner.L2);
        Add("negatives", learner.Negatives);
        Add("half_life_hours", learner.TrendingHalfLifeHours);
        Add("trending_blend", learner.TrendingBlendWeight);
        Add("seed", learner.Seed);
        return described;
    }

    /// <summary>
    /// One chain's rows published since its lookup keys were last written: the latest published row per id
    /// (kept by reference to the captured rows, not copied) and the latest top-k list per user.
    /// </summary>
    private sealed class PendingLookups
    {
        private readonly Dictionary<string, (EmbeddingRows Rows, int Row)> _rows = new(StringComparer.Ordinal);
        private readonly Dictionary<string, UserTopK> _topK = new(StringComparer.Ordinal);

        /// <summary>The publish whose state holds every pending value (the latest added).</summary>
        public long PublishSeq { get; private set; }

        public bool IsEmpty
        {
            get
            {
                lock (_rows)
                {
                    return _rows.Count == 0 && _topK.Count == 0;
                }
            }
        }

        public void Add(EmbeddingRows rows, IReadOnlyList<UserTopK> topK, long publishSeq)
        {
            lock (_rows)
            {
                for (var row = 0; row < rows.Count; row++)
                {
                    _rows[rows.Ids[row]] = (rows, row);
                }

                foreach (var list in topK)
                {
                    _topK[list.UserId] = list;
                }

                PublishSeq = publishSeq;
            }
        }

        /// <summary>Adds what <paramref name="older"/> holds for ids this one has nothing newer for.</summary>
        public void AddOlder(PendingLookups older)
        {
            lock (_rows)
            {
                foreach (var (id, row) in older._rows)
                {
                    _rows.TryAdd(id, row);
                }

                foreach (var (user, list) in older._topK)
                {
                    _topK.TryAdd(user, list);
                }

                PublishSeq = Math.Max(PublishSeq, older.PublishSeq);
            }
        }

        /// <summary>The pending rows as one table.</summary>
        public EmbeddingRows Rows()
        {
            lock (_rows)
            {
                var dimensions = _rows.Count == 0 ? 1 : _rows.Values.First().Rows.Dimensions;
                var ids = new string[_rows.Count];
                var vectors = new float[_rows.Count * dimensions];
                var biases = new float[_rows.Count];
                var at = 0;
                foreach (var (id, (rows, row)) in _rows)
                {
                    ids[at] = id;
                    rows.Vector(row).CopyTo(vectors.AsSpan(at * dimensions, dimensions));
                    biases[at] = rows.Biases?[row] ?? 0f;
                    at++;
                }

                return new EmbeddingRows(dimensions, ids, vectors, biases);
            }
        }

        public IReadOnlyList<UserTopK> TopK()
        {
            lock (_rows)
            {
                return [.. _topK.Values];
            }
        }
    }
}
