using System.Globalization;
using System.Text;
using Confluent.Kafka;
using Google.Protobuf;
using StreamRec.Contracts.V1;
using StreamRec.Core.Data;
using StreamRec.Core.Events;
using StreamRec.Core.Learners;
using StreamRec.Core.Model;
using StreamRec.Worker.Hosting;
using StreamRec.Worker.Sharding;

namespace StreamRec.Worker.Consumption;

/// <summary>
/// Runs the consumer thread's per-event code once on throwaway state while the worker connects, so that
/// its first batch does not wait for the JIT.
/// </summary>
/// <remarks>
/// Worker processes compile every method fully optimised on first call (tiered compilation is off: tier-0
/// code in the learner's loops cost more than the whole start-up). Compiled on the first batch, decoding,
/// learning, ranking and capture held the first events back by about 40 ms; compiled here, on another
/// thread during the group join and the restores, they are ready when the first batch arrives. Nothing is
/// shared with the worker's own model, decoder, metrics or stores.
/// </remarks>
public static class WorkerWarmUp
{
    private const int Events = 64;

    /// <summary>Distinct users among the synthetic events.</summary>
    public const int Users = 8;

    /// <summary>Starts the warm-up on the thread pool; the returned task completes when it is done.</summary>
    public static Task StartAsync(WorkerOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        return Task.Run(() =>
        {
            try
            {
                Run(options);
            }
            catch (Exception ex) when (ex is ArgumentException or InvalidOperationException or FormatException)
            {
                // Only the first batch's latency depends on it; the worker reports real errors itself.
            }
        });
    }

    /// <summary>Decodes, learns, ranks and captures <see cref="Events"/> synthetic events with the worker's learner and format.</summary>
    /// <returns>Users the throwaway learner holds afterwards (<see cref="Users"/> when every event was decoded and learned).</returns>
    public static long Run(WorkerOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        var learner = new LearnerOptions
        {
            Learner = options.Learner.Learner,
            Dimensions = options.Learner.Dimensions,
            Negatives = options.Learner.Negatives,
            Sampling = options.Learner.Sampling,
            Schedule = options.Learner.Schedule,
            MiniBatchSize = options.Learner.MiniBatchSize,
            UseItemBias = options.Learner.UseItemBias,
            TrendingBlendWeight = options.Learner.TrendingBlendWeight,
            InitialRows = 64,
        };
        var model = new ShardedModel(learner);
        var shard = model.Assign(new TopicPartition("streamrec-warm-up", 0), null);
        var decoder = new ClickEventDecoder(options.Events);
        var nowMs = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
        var events = new Interaction[Events];
        var ratings = learner.Learner == BiasedMfLearner.LearnerName;
        var decoded = 0;
        for (var i = 0; i < Events; i++)
        {
            // mse learns from ratings only; the others from any event.
            var click = ratings
                ? new ClickEvent { UserId = $"warm-up-user-{i % Users}", ItemId = $"warm-up-item-{i % 16}", Type = EventType.Rating, Value = 1 + (i % 5), EventTimeMs = nowMs }
                : new ClickEvent { UserId = $"warm-up-user-{i % Users}", ItemId = $"warm-up-item-{i % 16}", Type = EventType.Click, EventTimeMs = nowMs };
            var ok = options.Format == EventFormat.Json
                ? decoder.TryDecodeJson(ToJson(click), nowMs, out events[decoded], out _)
                : DecodeProtobuf(decoder, click.ToByteArray(), nowMs, out events[decoded]);
            decoded += ok ? 1 : 0;
        }

        ShardedModel.ApplyRun(shard, events.AsSpan(0, decoded), decoded - 1);
        _ = ShardedModel.Capture(shard, snapshot: false, topKUsers: 4);
        _ = model.CaptureItems(snapshot: false);
        return shard.Learner.Users.Count;
    }

    /// <summary>The worker's JSON event shape (see <see cref="ClickEventDecoder.TryDecodeJson(ReadOnlySpan{byte}, out Interaction, out BadEvent)"/>).</summary>
    private static byte[] ToJson(ClickEvent click) => Encoding.UTF8.GetBytes(string.Create(CultureInfo.InvariantCulture,
        $"{{\"user_id\":\"{click.UserId}\",\"item_id\":\"{click.ItemId}\",\"type\":\"{EventTypeNames.ToName(click.Type)}\",\"value\":{click.Value},\"event_time_ms\":{click.EventTimeMs}}}"));

    private static bool DecodeProtobuf(ClickEventDecoder decoder, byte[] payload, long nowMs, out Interaction interaction)
    {
        decoder.PrefetchProtobufIds(payload, pooledStrings: false);
        decoder.PrefetchProtobufIds(payload, pooledStrings: true);
        return decoder.TryDecodeProtobuf(payload, nowMs, out interaction, out _);
    }
}
