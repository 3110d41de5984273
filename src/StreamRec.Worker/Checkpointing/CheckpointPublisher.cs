using System.Collections.Concurrent;
using System.Diagnostics;
using System.Threading.Channels;
using Confluent.Kafka;
using Microsoft.Extensions.Logging;
using StreamRec.Worker.Observability;
using StreamRec.Worker.Sharding;

namespace StreamRec.Worker.Checkpointing;

/// <summary>Captured state waiting to be published, in capture order.</summary>
public sealed record CheckpointJob(IReadOnlyList<ShardCapture> Shards, ItemsCapture? Items)
{
    /// <summary>After publishing, write the lookup keys of everything published since they were last written.</summary>
    public bool WriteLookups { get; init; }

    /// <summary>Completes when every part is published (or fenced off), or faults when publishing stopped first.</summary>
    public TaskCompletionSource Published { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
}

/// <summary>
/// Publishes captured checkpoints in order on a background task, retrying while the store is
/// unavailable, so the consumer thread never waits for Redis. The backlog is bounded: when it is
/// full <see cref="TryEnqueue"/> refuses and the consumer pauses. After each job the offsets it
/// covers are offered through <see cref="PublishedOffsets"/> for the Kafka commit.
/// </summary>
public sealed partial class CheckpointPublisher : IAsyncDisposable
{
    private static readonly TimeSpan _maxBackoff = TimeSpan.FromSeconds(5);
    private readonly IShardCheckpoints _store;
    private readonly string _ownerToken;
    private readonly WorkerMetrics _metrics;
    private readonly ILogger _logger;
    private readonly TimeProvider _clock;
    private readonly Channel<CheckpointJob> _jobs;
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _loop;
    private int _pending;
    private long _lastPublishTimestamp;

    public CheckpointPublisher(IShardCheckpoints store, string ownerToken, int capacity, WorkerMetrics metrics, ILogger logger, TimeProvider clock)
    {
        _store = store;
        _ownerToken = ownerToken;
        _metrics = metrics;
        _logger = logger;
        _clock = clock;
        _lastPublishTimestamp = clock.GetTimestamp();
        Capacity = capacity;
        _jobs = Channel.CreateUnbounded<CheckpointJob>(new UnboundedChannelOptions { SingleReader = true, SingleWriter = true });
        _loop = Task.Run(RunAsync);
    }

    /// <summary>Most jobs waiting at once.</summary>
    public int Capacity { get; }

    /// <summary>Jobs captured but not yet published.</summary>
    public int Pending => Volatile.Read(ref _pending);

    /// <summary>Next offsets whose effect is now durable, for the Kafka commit (monitoring only).</summary>
    public ConcurrentQueue<TopicPartitionOffset> PublishedOffsets { get; } = new();

    /// <summary>Partitions another replica took over while their captures waited; the consumer drops them.</summary>
    public ConcurrentQueue<TopicPartition> FencedPartitions { get; } = new();

    /// <summary>Time since the last successful publish.</summary>
    public TimeSpan Age => _clock.GetElapsedTime(Interlocked.Read(ref _lastPublishTimestamp));

    /// <summary>Queues a job unless <see cref="Capacity"/> jobs are waiting already.</summary>
    public bool TryEnqueue(CheckpointJob job)
    {
        ArgumentNullException.ThrowIfNull(job);
        if (Pending >= Capacity)
        {
            return false;
        }

        Interlocked.Increment(ref _pending);
        _metrics.PendingCheckpoints.Set(Pending);
        if (!_jobs.Writer.TryWrite(job))
        {
            Interlocked.Decrement(ref _pending);
            return false;
        }

        return true;
    }

    /// <summary>Queues a job even when the backlog is full (final deltas on revoke and shutdown).</summary>
    public void Enqueue(CheckpointJob job)
    {
        ArgumentNullException.ThrowIfNull(job);
        Interlocked.Increment(ref _pending);
        if (!_jobs.Writer.TryWrite(job))
        {
            Interlocked.Decrement(ref _pending);
            job.Published.TrySetException(new ObjectDisposedException(nameof(CheckpointPublisher)));
            return;
        }

        // The backlog gauge must rise here too: the consumer loop queues every capture through this method.
        _metrics.PendingCheckpoints.Set(Pending);
    }

    /// <summary>Stops taking jobs, lets the queued ones publish until <paramref name="timeout"/>, then abandons the rest.</summary>
    public async Task DrainAsync(TimeSpan timeout)
    {
        _jobs.Writer.TryComplete();
        try
        {
            await _loop.WaitAsync(timeout).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
            await _stop.CancelAsync().ConfigureAwait(false);
            await _loop.ConfigureAwait(false);
        }
    }

    public async ValueTask DisposeAsync()
    {
        _jobs.Writer.TryComplete();
        await _stop.CancelAsync().ConfigureAwait(false);
        await _loop.ConfigureAwait(false);
        _stop.Dispose();
    }

    private async Task RunAsync()
    {
        await foreach (var job in _jobs.Reader.ReadAllAsync().ConfigureAwait(false))
        {
            try
            {
                await PublishAsync(job).ConfigureAwait(false);
                job.Published.TrySetResult();
            }
            catch (OperationCanceledException)
            {
                job.Published.TrySetCanceled();
            }
            finally
            {
                Interlocked.Decrement(ref _pending);
                _metrics.PendingCheckpoints.Set(Pending);
            }
        }
    }

    private async Task PublishAsync(CheckpointJob job)
    {
        foreach (var shard in job.Shards)
        {
            var kind = shard.IsSnapshot ? "snapshot" : "delta";
            var published = await WithRetriesAsync(kind, () => _store.PublishShardAsync(shard, _ownerToken, _stop.Token), shard.Partition).ConfigureAwait(false);
            if (published)
            {
                _metrics.CheckpointBytes.WithLabels("users").Inc(shard.Users.Count);
                PublishedOffsets.Enqueue(new TopicPartitionOffset(shard.Partition, shard.NextOffset));
            }
        }

        if (job.Items is { } items)
        {
            var kind = items.IsSnapshot ? "snapshot" : "delta";
            await WithRetriesAsync(kind, () => _store.PublishItemsAsync(items, _stop.Token), partition: null).ConfigureAwait(false);
            _metrics.CheckpointBytes.WithLabels("items").Inc(items.Items.Count);
        }

        if (job.WriteLookups)
        {
            await WithRetriesAsync("lookups", () => _store.WriteLookupsAsync(_stop.Token), partition: null).ConfigureAwait(false);
        }

        Interlocked.Exchange(ref _lastPublishTimestamp, _clock.GetTimestamp());
    }

    /// <returns>False when the partition was fenced off (another replica owns it now).</returns>
    private async Task<bool> WithRetriesAsync(string kind, Func<Task> publish, TopicPartition? partition)
    {
        var backoff = TimeSpan.FromMilliseconds(100);
        while (true)
        {
            var clock = Stopwatch.StartNew();
            try
            {
                await publish().ConfigureAwait(false);
                _metrics.CheckpointSeconds.WithLabels(kind).Observe(clock.Elapsed.TotalSeconds);
                _metrics.CheckpointsPublished.WithLabels(kind).Inc();
                return true;
            }
            catch (ShardFencedException ex)
            {
                LogFenced(_logger, ex.Partition.ToString());
                FencedPartitions.Enqueue(ex.Partition);
                return false;
            }
            catch (Exception ex) when (ex is not OperationCanceledException && !_stop.IsCancellationRequested)
            {
                // Transient (Redis away, timeouts): keep the job and try again; the backlog bound pauses consumption.
                _metrics.PublishFailures.Inc();
                LogPublishFailed(_logger, kind, partition?.ToString() ?? "items", backoff.TotalMilliseconds, ex.Message);
                await Task.Delay(backoff, _clock, _stop.Token).ConfigureAwait(false);
                backoff = TimeSpan.FromTicks(Math.Min(backoff.Ticks * 2, _maxBackoff.Ticks));
            }
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Checkpoint {Kind} of {Part} failed; retrying in {BackoffMs} ms: {Error}")]
    private static partial void LogPublishFailed(ILogger logger, string kind, string part, double backoffMs, string error);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Partition {Partition} was claimed by another replica; its unpublished state here is dropped")]
    private static partial void LogFenced(ILogger logger, string partition);
}
