using Cloud.Unum.USearch;
using Microsoft.Extensions.Options;
using StreamRec.Reader.Hosting;
using StreamRec.Reader.Observability;
using StreamRec.Reader.Serving;

namespace StreamRec.Reader.Following;

/// <summary>
/// Keeps an <see cref="ApproximateIndex"/> of the served items when approximate search is on: every poll
/// interval it looks at the served generation and rebuilds the index, on a thread of its own and one
/// build at a time, when there is none, when the items are of another lineage (a restore or promotion),
/// when the rows changed or appended since the build reach the rebuild fraction, or when the index
/// reaches its maximum age. A finished build replaces the previous index for new requests at once.
/// Swaps and requests never wait for it. Idle when the option is off.
/// </summary>
internal sealed class ApproximateIndexMaintainer(
    ModelSlot slot, ApproximateSearch search, IOptions<ReaderOptions> options, TimeProvider time, ReaderMetrics metrics, ILogger<ApproximateIndexMaintainer> logger)
    : BackgroundService
{
    /// <summary>Wait after a failed build before the next attempt, so a build that cannot succeed (out of memory) does not repeat every poll.</summary>
    private static readonly TimeSpan _retryAfterFailure = TimeSpan.FromMinutes(1);

    private readonly ReaderOptions _options = options.Value;
    private long _builtAt;
    private long? _failedAt;
    private ItemTable? _refused;

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        if (_options.ApproximateSearchMinItems == 0 || !NativeLibraryWorks())
        {
            return;
        }

        var settings = new ApproximateIndexSettings(_options.ApproximateSearchConnectivity, _options.ApproximateSearchExpansionAdd, _options.ApproximateSearchExpansionSearch);
        using var timer = new PeriodicTimer(_options.PollInterval, time);
        try
        {
            do
            {
                if (slot.Current is not { } model)
                {
                    continue;
                }

                if (!search.Applies(model.Items.Count))
                {
                    search.Publish(null);
                    Observe(model);
                    continue;
                }

                if (NeedsBuild(model))
                {
                    await BuildAsync(model, settings, stoppingToken).ConfigureAwait(false);
                }

                Observe(slot.Current ?? model);
            }
            while (await timer.WaitForNextTickAsync(stoppingToken).ConfigureAwait(false));
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
            // Stopping.
        }
        finally
        {
            // Freed once the searches still running release it.
            search.Publish(null);
        }
    }

    private bool NeedsBuild(ServingModel model)
    {
        var items = model.Items;
        if (ReferenceEquals(items, _refused) || (_failedAt is { } failedAt && time.GetElapsedTime(failedAt) < _retryAfterFailure))
        {
            return false;
        }

        if (search.Index is not { } index || !ReferenceEquals(index.Lineage, items.Lineage))
        {
            return true;
        }

        return ApproximateView.UnindexedCount(index, items) >= _options.ApproximateSearchRebuildFraction * items.Count
            || time.GetElapsedTime(_builtAt) >= _options.ApproximateSearchMaxIndexAge;
    }

    private async Task BuildAsync(ServingModel model, ApproximateIndexSettings settings, CancellationToken stoppingToken)
    {
        ApproximateIndex? built;
        try
        {
            // A thread of its own: a build takes seconds and must not hold a thread-pool thread that requests need.
            built = await Task.Factory.StartNew(() => ApproximateIndex.Build(model, settings, stoppingToken), stoppingToken,
                TaskCreationOptions.LongRunning, TaskScheduler.Default).ConfigureAwait(false);
        }
        catch (USearchException ex)
        {
            metrics.ApproximateBuildFailures.Inc();
            _failedAt = time.GetTimestamp();
            ReaderLog.ApproximateIndexBuildFailed(logger, model.Generation, ex);
            return;
        }

        if (built is null)
        {
            metrics.ApproximateBuildFailures.Inc();
            _refused = model.Items;
            ReaderLog.ApproximateIndexNotFinite(logger, model.Generation);
            return;
        }

        search.Publish(built);
        _builtAt = time.GetTimestamp();
        _failedAt = null;
        metrics.ApproximateBuildSeconds.Observe(built.BuildTime.TotalSeconds);
        ReaderLog.ApproximateIndexBuilt(logger, built.Count, built.Generation, built.BuildTime.TotalSeconds);
    }

    private void Observe(ServingModel model)
    {
        if (search.Index is { } index && ReferenceEquals(index.Lineage, model.Items.Lineage))
        {
            metrics.ApproximateIndexRows.Set(index.Count);
            metrics.ApproximateLagGenerations.Set(model.Generation - index.Generation);
            metrics.ApproximateUnindexedRows.Set(ApproximateView.UnindexedCount(index, model.Items));
            metrics.ApproximateIndexAge.Set(time.GetElapsedTime(_builtAt).TotalSeconds);
        }
        else
        {
            metrics.ApproximateIndexRows.Set(0);
            metrics.ApproximateUnindexedRows.Set(model.Items.Count);
        }
    }

    /// <summary>Builds and searches a two-row index once, so a missing or foreign native library shows at start, not per request.</summary>
    private bool NativeLibraryWorks()
    {
        try
        {
            using var probe = new USearchIndex(MetricKind.Ip, ScalarKind.Float32, 2, 4, 8, 8, false);
            probe.Add([0UL, 1UL], [[1f, 0f], [0f, 1f]]);
            return probe.Search([1f, 0f], 1, out var keys, out _) == 1 && keys[0] == 0;
        }
        catch (Exception ex) when (ex is DllNotFoundException or EntryPointNotFoundException or BadImageFormatException or USearchException)
        {
            ReaderLog.ApproximateIndexUnavailable(logger, ex);
            return false;
        }
    }
}
