using System.Runtime.InteropServices;
using Confluent.Kafka;
using Google.Protobuf;
using Microsoft.Extensions.Logging;
using StreamRec.Contracts.V1;
using StreamRec.Core.Learners;
using StreamRec.Worker.Observability;

namespace StreamRec.Worker.ItemSync;

/// <summary>
/// Keeps the item tables of a model's replicas in step through the topic <c>&lt;model&gt;.item-deltas</c>:
/// every sync interval a replica sends what it changed in each item since its previous batch, as a
/// difference, and adds the other replicas' differences to its own rows. Differences (not values)
/// make concurrent updates of one item on two replicas add up instead of overwriting each other.
/// </summary>
/// <remarks>
/// Memory: one baseline copy of the item vectors (4 x dimensions bytes per item), the values last
/// sent or received. New items start from the same id-seeded vector on every replica, so their
/// baseline is known without exchanging it. Owned by the consumer thread.
/// </remarks>
public sealed partial class ItemDeltaExchange : IDisposable
{
    /// <summary>Upper bound of one batch message, below Kafka's default message.max.bytes of 1 MB.</summary>
    public const int MaxMessageBytes = 512 * 1024;

    private readonly SharedItems _items;
    private readonly string _replicaId;
    private readonly string _topic;
    private readonly WorkerMetrics _metrics;
    private readonly ILogger _logger;
    private readonly IProducer<string, byte[]> _producer;
    private readonly IConsumer<string, byte[]> _consumer;
    private float[] _baseline = [];
    private float[] _baselineBias = [];
    private double[] _baselineTrending = [];
    private int[] _baselineGeneration = [];
    private long _sentVersion;

    public ItemDeltaExchange(ClientConfig kafka, string topic, string replicaId, SharedItems items, WorkerMetrics metrics, ILogger logger)
    {
        ArgumentNullException.ThrowIfNull(kafka);
        _items = items;
        _replicaId = replicaId;
        _topic = topic;
        _metrics = metrics;
        _logger = logger;
        _producer = new ProducerBuilder<string, byte[]>(ProducerConfigFor(kafka)).SetLogHandler((_, _) => { }).Build();
        _consumer = new ConsumerBuilder<string, byte[]>(ConsumerConfigFor(kafka, topic, replicaId))
            .SetLogHandler((_, _) => { }).SetErrorHandler((_, error) => LogError(_logger, error.Reason)).Build();
        _consumer.Subscribe(topic);
        _sentVersion = items.Items.AdvanceVersion();
    }

    /// <summary>The producer configuration: <paramref name="kafka"/> (connection and security) plus batching.</summary>
    public static ProducerConfig ProducerConfigFor(ClientConfig kafka)
    {
        ArgumentNullException.ThrowIfNull(kafka);
        return new ProducerConfig(kafka.ToDictionary(p => p.Key, p => p.Value)) { CompressionType = CompressionType.Lz4, LingerMs = 5 };
    }

    /// <summary>The consumer configuration: <paramref name="kafka"/> (connection and security) plus a group of this replica's own.</summary>
    public static ConsumerConfig ConsumerConfigFor(ClientConfig kafka, string topic, string replicaId)
    {
        ArgumentNullException.ThrowIfNull(kafka);
        return new ConsumerConfig(kafka.ToDictionary(p => p.Key, p => p.Value))
        {
            // Every replica reads every batch: a group of its own, starting at the end (the restored
            // checkpoint already holds what came before).
            GroupId = $"{topic}-{replicaId}",
            // Static membership (Kafka:Client group.instance.id) is for the clickstream group; this group is new with
            // every process, so an instance id would buy nothing here and would make two groups' fencing one setting.
            GroupInstanceId = null,
            AutoOffsetReset = AutoOffsetReset.Latest,
            EnableAutoCommit = false,
            AllowAutoCreateTopics = true,
        };
    }

    /// <summary>Item rows sent and received so far.</summary>
    public long RowsSent { get; private set; }

    public long RowsReceived { get; private set; }

    /// <summary>Adds the other replicas' batches that have arrived; never blocks.</summary>
    public void ApplyReceived()
    {
        while (true)
        {
            ConsumeResult<string, byte[]>? result;
            try
            {
                result = _consumer.Consume(TimeSpan.Zero);
            }
            catch (ConsumeException ex)
            {
                // The topic may not exist until the first replica sends; librdkafka keeps retrying.
                LogError(_logger, ex.Error.Reason);
                return;
            }

            if (result is null)
            {
                return;
            }

            if (result.Message.Key == _replicaId)
            {
                continue;
            }

            ItemDeltaBatch batch;
            try
            {
                batch = ItemDeltaBatch.Parser.ParseFrom(result.Message.Value);
            }
            catch (InvalidProtocolBufferException ex)
            {
                LogBadBatch(_logger, result.TopicPartitionOffset.ToString(), ex.Message);
                continue;
            }

            Apply(batch);
        }
    }

    /// <summary>Sends the differences of every item changed since the previous batch (local learning and restores alike).</summary>
    public void SendChanges()
    {
        var table = _items.Items;
        var rows = table.RowsTouchedSince(_sentVersion);
        _sentVersion = table.AdvanceVersion();
        if (rows.Count == 0)
        {
            return;
        }

        var dimensions = table.Dimensions;
        var ids = new List<string>(rows.Count);
        var deltas = new float[rows.Count * dimensions];
        var biasDeltas = table.HasBias ? new float[rows.Count] : [];
        var trending = new double[rows.Count];
        var written = 0;
        foreach (var row in rows)
        {
            EnsureBaseline(row);
            var vector = table.ReadRow(row);
            var baseline = _baseline.AsSpan(row * dimensions, dimensions);
            var delta = deltas.AsSpan(written * dimensions, dimensions);
            System.Numerics.Tensors.TensorPrimitives.Subtract(vector, baseline, delta);
            vector.CopyTo(baseline);
            var biasDelta = table.ReadBias(row) - _baselineBias[row];
            _baselineBias[row] += biasDelta;
            var logNow = _items.Trending.ReadLogScore(row);
            var logBefore = _baselineTrending[row];
            _baselineTrending[row] = logNow;
            // log(e^now - e^before): the count added since the previous batch, in the same log space.
            var logIncrement = logNow <= logBefore ? double.NegativeInfinity
                : double.IsNegativeInfinity(logBefore) ? logNow
                : logNow + Math.Log(1.0 - Math.Exp(logBefore - logNow));
            if (System.Numerics.Tensors.TensorPrimitives.MaxMagnitude(delta) == 0f && biasDelta == 0f && double.IsNegativeInfinity(logIncrement))
            {
                continue;
            }

            ids.Add(table.Ids.IdAt(row));
            if (table.HasBias)
            {
                biasDeltas[written] = biasDelta;
            }

            trending[written] = logIncrement;
            written++;
        }

        if (written == 0)
        {
            return;
        }

        // Batches stay well under Kafka's default 1 MB message limit.
        var rowsPerMessage = Math.Max(1, MaxMessageBytes / ((dimensions + 2) * sizeof(float) + 48));
        for (var first = 0; first < written; first += rowsPerMessage)
        {
            var count = Math.Min(rowsPerMessage, written - first);
            var batch = new ItemDeltaBatch
            {
                ReplicaId = _replicaId,
                Dimensions = dimensions,
                VectorDeltas = ByteString.CopyFrom(MemoryMarshal.AsBytes(deltas.AsSpan(first * dimensions, count * dimensions))),
                BiasDeltas = ByteString.CopyFrom(MemoryMarshal.AsBytes(biasDeltas.AsSpan(table.HasBias ? first : 0, table.HasBias ? count : 0))),
                TrendingOriginMs = _items.Trending.OriginMs,
                SentAtMs = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds(),
            };
            batch.Ids.AddRange(ids.GetRange(first, count));
            batch.TrendingLogIncrements.AddRange(trending.AsSpan(first, count).ToArray());
            try
            {
                _producer.Produce(_topic, new Message<string, byte[]> { Key = _replicaId, Value = batch.ToByteArray() }, report =>
                {
                    if (report.Error.IsError)
                    {
                        LogError(_logger, report.Error.Reason);
                    }
                });
            }
            catch (ProduceException<string, byte[]> ex)
            {
                // Item sync is best effort between checkpoints: a lost batch leaves replicas slightly apart, never stops learning.
                LogError(_logger, ex.Error.Reason);
            }
        }

        RowsSent += written;
        _metrics.ItemSyncs.WithLabels("sent").Inc(written);
    }

    /// <summary>Waits for sent batches to be delivered (graceful stop).</summary>
    public void Flush(TimeSpan timeout) => _producer.Flush(timeout);

    public void Dispose()
    {
        _consumer.Close();
        _consumer.Dispose();
        _producer.Dispose();
    }

    private void Apply(ItemDeltaBatch batch)
    {
        var table = _items.Items;
        if (batch.Dimensions != table.Dimensions)
        {
            LogBadBatch(_logger, batch.ReplicaId, $"dimensions {batch.Dimensions} differ from this replica's {table.Dimensions}");
            return;
        }

        var deltas = MemoryMarshal.Cast<byte, float>(batch.VectorDeltas.Span);
        var biasDeltas = MemoryMarshal.Cast<byte, float>(batch.BiasDeltas.Span);
        if (deltas.Length != batch.Ids.Count * table.Dimensions)
        {
            LogBadBatch(_logger, batch.ReplicaId, "vector_deltas length does not match ids x dimensions");
            return;
        }

        for (var i = 0; i < batch.Ids.Count; i++)
        {
            var delta = deltas.Slice(i * table.Dimensions, table.Dimensions);
            var biasDelta = biasDeltas.Length > i ? biasDeltas[i] : 0f;
            var row = table.AddToRow(batch.Ids[i], delta, biasDelta);
            EnsureBaseline(row);
            var baseline = _baseline.AsSpan(row * table.Dimensions, table.Dimensions);
            System.Numerics.Tensors.TensorPrimitives.Add(baseline, delta, baseline);
            _baselineBias[row] += biasDelta;
            if (batch.TrendingLogIncrements.Count > i)
            {
                _items.Trending.EnsureCapacity(table.Ids.Capacity);
                _items.Trending.AddLogIncrement(row, batch.TrendingLogIncrements[i], batch.TrendingOriginMs);
                _baselineTrending[row] = _items.Trending.ReadLogScore(row);
            }
        }

        RowsReceived += batch.Ids.Count;
        _metrics.ItemSyncs.WithLabels("received").Inc(batch.Ids.Count);
    }

    /// <summary>
    /// Takes the items as they are now (restored from the checkpoint) as the baseline, so that only
    /// changes made from here on are sent. Call once, after restoring and before the first sync.
    /// </summary>
    public void StartFromCurrentItems()
    {
        var table = _items.Items;
        for (var row = 0; row < table.Count; row++)
        {
            EnsureBaseline(row);
            table.ReadRow(row).CopyTo(_baseline.AsSpan(row * table.Dimensions, table.Dimensions));
            _baselineBias[row] = table.ReadBias(row);
            _baselineTrending[row] = _items.Trending.ReadLogScore(row);
        }

        _sentVersion = table.AdvanceVersion();
    }

    /// <summary>
    /// Makes sure the row has a baseline for its current id: the id's initial vector when the row is
    /// new (or was reused by eviction), which is where every replica starts that id.
    /// </summary>
    private void EnsureBaseline(int row)
    {
        var table = _items.Items;
        var dimensions = table.Dimensions;
        if (_baselineGeneration.Length <= row)
        {
            var capacity = Math.Max(table.Ids.Capacity, row + 1);
            Array.Resize(ref _baseline, capacity * dimensions);
            Array.Resize(ref _baselineBias, capacity);
            var oldLength = _baselineTrending.Length;
            Array.Resize(ref _baselineTrending, capacity);
            _baselineTrending.AsSpan(oldLength).Fill(double.NegativeInfinity);
            oldLength = _baselineGeneration.Length;
            Array.Resize(ref _baselineGeneration, capacity);
            _baselineGeneration.AsSpan(oldLength).Fill(-1);
        }

        var generation = table.Ids.GenerationAt(row);
        if (_baselineGeneration[row] == generation)
        {
            return;
        }

        // The row holds a new id: its baseline is the id-seeded start, shared by every replica.
        table.InitialVector(table.Ids.IdAt(row), _baseline.AsSpan(row * dimensions, dimensions));
        _baselineBias[row] = 0f;
        _baselineTrending[row] = double.NegativeInfinity;
        _baselineGeneration[row] = generation;
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Item sync: {Reason}")]
    private static partial void LogError(ILogger logger, string reason);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Item sync: unreadable batch from {Source}: {Reason}")]
    private static partial void LogBadBatch(ILogger logger, string source, string reason);
}
