using System.Runtime.CompilerServices;
using StackExchange.Redis;
using StreamRec.Contracts.V1;

namespace StreamRec.Redis.Checkpoints;

/// <summary>
/// Follows the active version of one model and yields each new manifest: it re-reads the active pointer
/// and manifest when a message arrives on the model's channel and, because pub/sub can lose messages,
/// every poll interval as well. Yields a manifest when the active version or its publish_seq changed,
/// so a promotion yields the promoted version's manifest. One enumeration at a time; it does not own the
/// connection.
/// </summary>
public sealed class CheckpointFollower
{
    private readonly IConnectionMultiplexer _connection;
    private readonly string _model;
    private readonly TimeSpan _pollInterval;
    private readonly TimeProvider _time;

    /// <summary>A follower of <paramref name="model"/> that polls at least every <paramref name="pollInterval"/>.</summary>
    public CheckpointFollower(IConnectionMultiplexer connection, string model, TimeSpan pollInterval, TimeProvider? timeProvider = null)
    {
        ArgumentNullException.ThrowIfNull(connection);
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(pollInterval, TimeSpan.Zero);
        _connection = connection;
        _model = CheckpointKeys.ValidateName(model, nameof(model));
        _pollInterval = pollInterval;
        _time = timeProvider ?? TimeProvider.System;
    }

    /// <summary>Number of manifests found by polling rather than by a notification (for tests and metrics).</summary>
    public long FoundByPolling { get; private set; }

    /// <summary>Yields the current manifest first (when there is one), then every newer one, until cancelled.</summary>
    public async IAsyncEnumerable<Manifest> FollowAsync([EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        using var wake = new SemaphoreSlim(0, 1);
        var subscriber = _connection.GetSubscriber();
        var channel = CheckpointKeys.Channel(_model);
        void OnMessage(RedisChannel _, RedisValue __)
        {
            // At most one pending wake-up: several messages before the next read need one read.
            if (wake.CurrentCount == 0)
            {
                try
                {
                    wake.Release();
                }
                catch (SemaphoreFullException)
                {
                    // Another message released it first; one pending wake-up is enough.
                }
            }
        }

        await subscriber.SubscribeAsync(channel, OnMessage).ConfigureAwait(false);
        try
        {
            var db = _connection.GetDatabase();
            string? lastVersion = null;
            long lastSeq = -1;
            var woken = false;
            while (!cancellationToken.IsCancellationRequested)
            {
                var manifest = await ReadActiveManifestAsync(db).ConfigureAwait(false);
                if (manifest is not null && (manifest.Version != lastVersion || manifest.PublishSeq != lastSeq))
                {
                    if (!woken && lastSeq >= 0)
                    {
                        FoundByPolling++;
                    }

                    lastVersion = manifest.Version;
                    lastSeq = manifest.PublishSeq;
                    yield return manifest;
                }

                woken = await WaitAsync(wake, cancellationToken).ConfigureAwait(false);
            }
        }
        finally
        {
            await subscriber.UnsubscribeAsync(channel, OnMessage).ConfigureAwait(false);
        }
    }

    private async Task<Manifest?> ReadActiveManifestAsync(IDatabase db)
    {
        var active = await db.StringGetAsync(CheckpointKeys.Active(_model)).ConfigureAwait(false);
        if (active.IsNull)
        {
            return null;
        }

        var value = await db.StringGetAsync(new CheckpointKeys(_model, active.ToString()).Manifest).ConfigureAwait(false);
        return value.IsNull ? null : Manifest.Parser.ParseFrom((byte[])value!);
    }

    /// <summary>Waits for a notification or the poll interval; true when a notification came.</summary>
    private async Task<bool> WaitAsync(SemaphoreSlim wake, CancellationToken cancellationToken)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var delay = Task.Delay(_pollInterval, _time, timeout.Token);
        var notified = wake.WaitAsync(timeout.Token);
        var first = await Task.WhenAny(delay, notified).ConfigureAwait(false);
        await timeout.CancelAsync().ConfigureAwait(false);
        try
        {
            await Task.WhenAll(delay, notified).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            // The loser of the race was cancelled on purpose; the caller's token is checked by the loop.
        }

        return first == notified && notified.IsCompletedSuccessfully;
    }
}
