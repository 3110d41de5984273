using Prometheus;

namespace StreamRec.Worker.Observability;

/// <summary>
/// The worker's Prometheus metrics, in a registry of its own so that several workers in one process
/// (tests, the demo) do not share counters. docs/operations.md explains each.
/// </summary>
public sealed class WorkerMetrics
{
    public WorkerMetrics(CollectorRegistry? registry = null)
    {
        Registry = registry ?? Metrics.NewCustomRegistry();
        var factory = Metrics.WithCustomRegistry(Registry);
        Events = factory.CreateCounter("streamrec_worker_events_total", "Events consumed, by outcome (applied, dead_lettered) and reason.", "outcome", "reason");
        UpdateSeconds = factory.CreateHistogram("streamrec_worker_update_seconds", "Time to decode and learn one sampled event.",
            new HistogramConfiguration { Buckets = Histogram.ExponentialBuckets(1e-7, 2, 16) });
        ConsumerLag = factory.CreateGauge("streamrec_worker_consumer_lag", "High watermark minus next offset, per assigned partition.", "topic", "partition");
        CheckpointSeconds = factory.CreateHistogram("streamrec_worker_checkpoint_duration_seconds", "Time to publish a checkpoint, by kind (delta, snapshot).",
            new HistogramConfiguration { LabelNames = ["kind"], Buckets = Histogram.ExponentialBuckets(0.001, 2, 16) });
        CheckpointBytes = factory.CreateCounter("streamrec_worker_checkpoint_rows_total", "Rows published in checkpoints, by table.", "table");
        CheckpointsPublished = factory.CreateCounter("streamrec_worker_checkpoints_published_total", "Checkpoints published, by kind.", "kind");
        CheckpointAge = factory.CreateGauge("streamrec_worker_checkpoint_age_seconds", "Seconds since the last successful checkpoint publish.");
        PendingCheckpoints = factory.CreateGauge("streamrec_worker_pending_checkpoints", "Captured checkpoints not yet published (backlog).");
        Paused = factory.CreateGauge("streamrec_worker_paused", "1 while consumption is paused for backpressure.");
        Freshness = factory.CreateGauge("streamrec_worker_freshness_seconds", "Wall clock minus the event time of the newest applied event.");
        LiveRecall = factory.CreateGauge("streamrec_worker_live_recall_at_k", "Prequential recall@k of the live model over a sliding window of sampled events.");
        TableRows = factory.CreateGauge("streamrec_worker_table_rows", "Rows held, by table (users, items).", "table");
        TableEvictions = factory.CreateGauge("streamrec_worker_table_evictions", "Ids evicted to make room since start, by table.", "table");
        Shards = factory.CreateGauge("streamrec_worker_shards", "Partitions assigned to this replica.");
        PublishFailures = factory.CreateCounter("streamrec_worker_checkpoint_failures_total", "Checkpoint publish attempts that failed (and were retried).");
        ItemSyncs = factory.CreateCounter("streamrec_worker_item_sync_rows_total", "Item rows exchanged with other replicas, by direction (sent, received).", "direction");
        KafkaClientsAbandoned = factory.CreateCounter("streamrec_worker_kafka_clients_abandoned_total",
            "Kafka clients whose close did not return within the shutdown timeout and were left behind, by client (consumer, dead-letter producer, item-sync clients).", "client");
    }

    public CollectorRegistry Registry { get; }

    public Counter Events { get; }

    public Histogram UpdateSeconds { get; }

    public Gauge ConsumerLag { get; }

    public Histogram CheckpointSeconds { get; }

    public Counter CheckpointBytes { get; }

    public Counter CheckpointsPublished { get; }

    public Gauge CheckpointAge { get; }

    public Gauge PendingCheckpoints { get; }

    public Gauge Paused { get; }

    public Gauge Freshness { get; }

    public Gauge LiveRecall { get; }

    public Gauge TableRows { get; }

    public Gauge TableEvictions { get; }

    public Gauge Shards { get; }

    public Counter PublishFailures { get; }

    public Counter ItemSyncs { get; }

    public Counter KafkaClientsAbandoned { get; }
}
