using Prometheus;

namespace StreamRec.Reader.Observability;

/// <summary>
/// The reader's Prometheus metrics, in a registry of its own so several readers in one process (tests,
/// the demo) do not share counters. Thread-safe. docs/reader.md explains each.
/// </summary>
public sealed class ReaderMetrics
{
    public ReaderMetrics(CollectorRegistry? registry = null)
    {
        Registry = registry ?? Metrics.NewCustomRegistry();
        var factory = Metrics.WithCustomRegistry(Registry);
        Requests = factory.CreateCounter("streamrec_reader_requests_total", "HTTP requests, by route template and status code.", "route", "status");
        RequestSeconds = factory.CreateHistogram("streamrec_reader_request_duration_seconds", "Time to answer an HTTP request, by route template.",
            new HistogramConfiguration { LabelNames = ["route"], Buckets = Histogram.ExponentialBuckets(0.000_05, 2, 16) });
        Generation = factory.CreateGauge("streamrec_reader_model_generation", "Generation of the served model (increases with every swap).");
        ModelInfo = factory.CreateGauge("streamrec_reader_model_info", "1 for the checkpoint version served.", "version");
        ModelAge = factory.CreateGauge("streamrec_reader_model_age_seconds", "Wall clock minus the publish time of the newest manifest served.");
        Staleness = factory.CreateGauge("streamrec_reader_staleness_seconds", "Seconds since the last successful poll of Redis.");
        Swaps = factory.CreateCounter("streamrec_reader_model_swaps_total", "Served model swaps, by cause (delta, snapshot, version).", "cause");
        PollFailures = factory.CreateCounter("streamrec_reader_poll_failures_total", "Polls of Redis that failed (the last model is kept).");
        Items = factory.CreateGauge("streamrec_reader_items", "Items in the served model.");
        Users = factory.CreateGauge("streamrec_reader_users", "Users in the served model.");
        Rankings = factory.CreateCounter("streamrec_reader_rankings_total", "Personalised rankings, by the path that answered (approximate, exact).", "path");
        ApproximateBuildSeconds = factory.CreateHistogram("streamrec_reader_approximate_index_build_seconds", "Time to build the approximate index.",
            new HistogramConfiguration { Buckets = Histogram.ExponentialBuckets(0.01, 2, 16) });
        ApproximateBuildFailures = factory.CreateCounter("streamrec_reader_approximate_index_build_failures_total", "Builds of the approximate index that failed or were refused (a value not finite).");
        ApproximateIndexRows = factory.CreateGauge("streamrec_reader_approximate_index_rows", "Rows in the approximate index requests use; 0 without one.");
        ApproximateLagGenerations = factory.CreateGauge("streamrec_reader_approximate_index_lag_generations", "Served model generation minus the generation the approximate index was built from.");
        ApproximateUnindexedRows = factory.CreateGauge("streamrec_reader_approximate_index_unindexed_rows", "Served item rows the approximate index does not hold as they are (changed or appended since its build); scored exactly per request.");
        ApproximateIndexAge = factory.CreateGauge("streamrec_reader_approximate_index_age_seconds", "Seconds since the approximate index requests use was built.");
    }

    public CollectorRegistry Registry { get; }

    public Counter Requests { get; }

    public Histogram RequestSeconds { get; }

    public Gauge Generation { get; }

    public Gauge ModelInfo { get; }

    public Gauge ModelAge { get; }

    public Gauge Staleness { get; }

    public Counter Swaps { get; }

    public Counter PollFailures { get; }

    public Gauge Items { get; }

    public Gauge Users { get; }

    public Counter Rankings { get; }

    public Histogram ApproximateBuildSeconds { get; }

    public Counter ApproximateBuildFailures { get; }

    public Gauge ApproximateIndexRows { get; }

    public Gauge ApproximateLagGenerations { get; }

    public Gauge ApproximateUnindexedRows { get; }

    public Gauge ApproximateIndexAge { get; }
}
