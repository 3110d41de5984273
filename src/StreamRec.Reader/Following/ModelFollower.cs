using Microsoft.Extensions.Options;
using StackExchange.Redis;
using StreamRec.Reader.Hosting;
using StreamRec.Reader.Observability;
using StreamRec.Reader.Serving;
using StreamRec.Redis.Checkpoints;

namespace StreamRec.Reader.Following;

/// <summary>
/// Loads the model's active version and follows it: wakes on the model's pub/sub channel and at least
/// every poll interval, reads the active pointer and every chain's publish sequence, applies new deltas
/// one by one to the chains it holds, restores a chain whose snapshot changed, loads a promoted version
/// whole, and swaps a new immutable <see cref="ServingModel"/> into the <see cref="ModelSlot"/> per change.
/// When Redis fails it keeps the last model and retries each interval. One loop; owns no connection.
/// </summary>
internal sealed class ModelFollower(
    IConnectionMultiplexer connection, IOptions<ReaderOptions> options, ModelSlot slot, ReaderMetrics metrics, ILogger<ModelFollower> logger)
    : BackgroundService
{
    private const string ItemsChain = "items";
    private readonly ReaderOptions _options = options.Value;
    private readonly CheckpointStore _store = new(connection);
    private readonly SemaphoreSlim _wake = new(0, 1);
    private Dictionary<string, ChainContent> _chains = new(StringComparer.Ordinal);
    private bool _subscribed;
    private long _consecutiveFailures;

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        ReaderLog.Starting(logger, _options.Model, _options.ToRedisSettings().ToString(), _options.PollInterval);
        try
        {
            while (!stoppingToken.IsCancellationRequested)
            {
                await SubscribeOnceAsync().ConfigureAwait(false);
                try
                {
                    await PollAsync(stoppingToken).ConfigureAwait(false);
                    slot.RecordSuccessfulPoll();
                    if (_consecutiveFailures > 0)
                    {
                        ReaderLog.PollRecovered(logger, _consecutiveFailures);
                        _consecutiveFailures = 0;
                    }
                }
                // ArgumentException: a chain name in Redis that is not a valid version name.
                catch (Exception ex) when (ex is RedisException or TimeoutException or CheckpointCorruptException or CheckpointNotFoundException or CheckpointRestoreException or ArgumentException
                    && !stoppingToken.IsCancellationRequested)
                {
                    metrics.PollFailures.Inc();
                    // One warning per outage, not one per poll.
                    if (_consecutiveFailures++ == 0)
                    {
                        ReaderLog.PollFailing(logger, ex);
                    }
                }

                try
                {
                    await _wake.WaitAsync(_options.PollInterval, stoppingToken).ConfigureAwait(false);
                }
                catch (OperationCanceledException)
                {
                    break;
                }
            }
        }
        finally
        {
            if (_subscribed)
            {
                try
                {
                    await connection.GetSubscriber().UnsubscribeAsync(CheckpointKeys.Channel(_options.Model), OnMessage).ConfigureAwait(false);
                }
                catch (Exception ex) when (ex is RedisException or TimeoutException)
                {
                    // Stopping while Redis is away: the subscription dies with the connection.
                }
            }
        }
    }

    public override void Dispose()
    {
        _wake.Dispose();
        base.Dispose();
    }

    private async Task SubscribeOnceAsync()
    {
        if (_subscribed)
        {
            return;
        }

        var channel = CheckpointKeys.Channel(_options.Model);
        try
        {
            // The multiplexer re-subscribes by itself after a reconnect once this has succeeded.
            await connection.GetSubscriber().SubscribeAsync(channel, OnMessage).ConfigureAwait(false);
            _subscribed = true;
        }
        catch (Exception ex) when (ex is RedisException or TimeoutException)
        {
            ReaderLog.SubscribeFailed(logger, channel.ToString(), ex);
        }
    }

    private void OnMessage(RedisChannel channel, RedisValue message)
    {
        // At most one pending wake-up: several messages before the next poll need one poll.
        if (_wake.CurrentCount == 0)
        {
            try
            {
                _wake.Release();
            }
            catch (SemaphoreFullException)
            {
                // Another message released it first.
            }
        }
    }

    private async Task PollAsync(CancellationToken cancellationToken)
    {
        var model = _options.Model;
        var db = connection.GetDatabase();
        var active = await db.StringGetAsync(CheckpointKeys.Active(model)).ConfigureAwait(false);
        if (active.IsNull)
        {
            return;
        }

        var version = active.ToString();
        var current = slot.Current;
        var newVersion = current is null || current.Version != version;
        // A single-chain version has its own manifest; a sharded one lists its chains in a set.
        var single = await db.KeyExistsAsync(new CheckpointKeys(model, version).Manifest).ConfigureAwait(false);
        string[] chainNames = single
            ? [version]
            : [.. (await db.SetMembersAsync(CheckpointKeys.Chains(model, version)).ConfigureAwait(false)).Select(v => v.ToString())];
        if (chainNames.Length == 0)
        {
            ReaderLog.VersionEmpty(logger, model, version);
            return;
        }

        var seqReads = chainNames.Select(chain => db.StringGetAsync(new CheckpointKeys(model, chain).PublishSeq)).ToArray();
        var seqs = await Task.WhenAll(seqReads).ConfigureAwait(false);

        var chains = newVersion ? new Dictionary<string, ChainContent>(StringComparer.Ordinal) : new Dictionary<string, ChainContent>(_chains, StringComparer.Ordinal);
        string? cause = newVersion ? "version" : null;
        for (var i = 0; i < chainNames.Length; i++)
        {
            if (seqs[i].IsNull)
            {
                continue; // registered, nothing published yet
            }

            var chain = chainNames[i];
            chains.TryGetValue(chain, out var held);
            if (held is not null && held.PublishSeq == (long)seqs[i])
            {
                continue;
            }

            var manifest = await _store.GetManifestAsync(model, chain).ConfigureAwait(false);
            if (manifest is null)
            {
                continue;
            }

            if (held is not null && held.SnapshotId == manifest.SnapshotId && manifest.LastDeltaSeq >= held.LastDeltaSeq)
            {
                chains[chain] = await ApplyDeltasAsync(held, manifest, cancellationToken).ConfigureAwait(false);
                cause ??= "delta";
            }
            else
            {
                chains[chain] = ChainContent.FromRestore(await _store.RestoreAsync(model, chain, cancellationToken: cancellationToken).ConfigureAwait(false));
                cause = cause == "version" ? cause : "snapshot";
            }
        }

        foreach (var gone in chains.Keys.Except(chainNames).ToList())
        {
            chains.Remove(gone);
            cause ??= "snapshot";
        }

        if (cause is null)
        {
            return;
        }

        var itemsChain = single ? version : CheckpointKeys.ChainVersion(version, ItemsChain);
        var next = ServingModel.Build(model, version, slot.NextGeneration, chains.Values, itemsChain, _options.MaxK, current);
        _chains = chains;
        slot.Swap(next);
        metrics.Swaps.WithLabels(cause).Inc();
        metrics.Generation.Set(next.Generation);
        if (current is not null && current.Version != version)
        {
            metrics.ModelInfo.RemoveLabelled(current.Version);
        }

        metrics.ModelInfo.WithLabels(version).Set(1);
        metrics.Items.Set(next.Items.Count);
        metrics.Users.Set(next.UserCount);
        if (cause != "delta")
        {
            ReaderLog.Swapped(logger, model, version, next.Generation, next.Items.Count, next.UserCount, cause);
        }
    }

    private async Task<ChainContent> ApplyDeltasAsync(ChainContent held, Contracts.V1.Manifest manifest, CancellationToken cancellationToken)
    {
        var chain = held;
        for (var seq = held.LastDeltaSeq + 1; seq <= manifest.LastDeltaSeq; seq++)
        {
            try
            {
                var delta = await _store.ReadDeltaAsync(_options.Model, held.ChainVersion, manifest, seq, cancellationToken).ConfigureAwait(false);
                chain = chain.WithDelta(delta, seq, manifest);
            }
            catch (CheckpointCorruptException ex)
            {
                // Retention may have removed the chunks meanwhile; a restore takes the chain as it is now.
                ReaderLog.DeltaUnreadable(logger, seq, held.ChainVersion, ex);
                return ChainContent.FromRestore(await _store.RestoreAsync(_options.Model, held.ChainVersion, cancellationToken: cancellationToken).ConfigureAwait(false));
            }
        }

        return chain with { PublishSeq = manifest.PublishSeq, CreatedAtMs = manifest.CreatedAtMs };
    }
}
