using System.Diagnostics;
using System.Globalization;
using System.Numerics.Tensors;
using StreamRec.Contracts.V1;
using StreamRec.Core.Learners;
using StreamRec.Core.Model;

namespace StreamRec.Cli.Bench;

/// <summary>
/// Section 3: per-event update cost of each learner on pre-decoded events, the set-up of
/// tests/StreamRec.Benchmarks' LearnerUpdateBenchmarks (64 dimensions, default options, 10,000 users and
/// 10,000 items registered first, batches of 4,096 events), against a bare loop over the same event order
/// and table sizes that does only what every embedding update must: one dot product of a user row and an
/// item row, then an SGD step on both. Batches of the two alternate so that load on the machine hits both
/// alike; the medians of the per-batch times are compared.
/// </summary>
internal static class LearningSection
{
    public const string Name = "learning";
    private const int EventsPerBatch = 4096;
    private const int UserCount = 10_000;
    private const int ItemCount = 10_000;

    public static Task<IReadOnlyList<BenchFigure>> RunAsync(BenchContext context, CancellationToken cancellationToken)
    {
        var settings = context.Settings;
        var dimensions = settings.LearnerDimensions;
        var random = new Random(7);
        var userRows = new int[EventsPerBatch];
        var itemRows = new int[EventsPerBatch];
        var implicitEvents = new Interaction[EventsPerBatch];
        var ratingEvents = new Interaction[EventsPerBatch];
        for (var i = 0; i < EventsPerBatch; i++)
        {
            userRows[i] = random.Next(UserCount);
            itemRows[i] = random.Next(ItemCount);
            var time = 1_700_000_000_000 + (i * 1000L);
            var user = string.Create(CultureInfo.InvariantCulture, $"user-{userRows[i]}");
            var item = string.Create(CultureInfo.InvariantCulture, $"item-{itemRows[i]}");
            implicitEvents[i] = new Interaction(user, item, EventType.Click, 0f, time);
            ratingEvents[i] = new Interaction(user, item, EventType.Rating, 1 + random.Next(5), time);
        }

        var bare = new BareUpdateLoop(dimensions, UserCount, ItemCount, userRows, itemRows);
        var figures = new List<BenchFigure>();
        // isgd's target is for its specified form, positive-only; its default samples 4 negatives like bpr.
        foreach (var (learner, negatives, events, target) in new (string, int, Interaction[], BenchTarget?)[]
        {
            ("isgd", 0, implicitEvents, BenchTarget.ValueAtMost(100, "<= 100 ns/event")),
            ("isgd", 4, implicitEvents, null),
            ("bpr", 4, implicitEvents, BenchTarget.ValueAtMost(400, "<= 400 ns/event")),
            ("mse", 0, ratingEvents, null),
            ("trending", 0, implicitEvents, null),
        })
        {
            cancellationToken.ThrowIfCancellationRequested();
            var recommender = Build(learner, dimensions, negatives, events);
            var (learnerNs, bareNs, batches) = Alternate(() => LearnAll(recommender, events), bare.Run, TimeSpan.FromSeconds(settings.LearnerSeconds));
            context.Log.WriteLine(string.Create(CultureInfo.InvariantCulture, $"learning: {learner} ({negatives} negatives) {learnerNs:0} ns/event, bare loop {bareNs:0} ns/event ({batches} batches each)"));
            figures.Add(new BenchFigure
            {
                Section = Name,
                Name = learner is "isgd" or "bpr" ? $"{learner} update, {dimensions} dims, {negatives} negatives{(learner == "isgd" && negatives == 0 ? " (positive-only, as specified)" : "")}" : $"{learner} update{(learner == "mse" ? $", {dimensions} dims" : "")}",
                Unit = "ns/event",
                Better = Better.Lower,
                Value = learnerNs,
                ReferenceName = "bare loop: dot product and SGD step of a user row and an item row",
                ReferenceValue = bareNs,
                Target = target,
                Options = context.Options(("learner", learner), ("dimensions", dimensions), ("negatives", negatives), ("users", UserCount), ("items", ItemCount),
                    ("events_per_batch", EventsPerBatch), ("batches", batches)),
                Note = "median of alternated batches; ids registered beforehand (the steady state of a shard)",
            });
        }

        return Task.FromResult<IReadOnlyList<BenchFigure>>(figures);
    }

    /// <summary>Alternates batches of <paramref name="measured"/> and <paramref name="reference"/> until <paramref name="budget"/> is spent.</summary>
    internal static (double MeasuredNsPerEvent, double ReferenceNsPerEvent, int Batches) Alternate(Action measured, Action reference, TimeSpan budget)
    {
        // Warm-up: JIT tiers and caches.
        for (var i = 0; i < 5; i++)
        {
            measured();
            reference();
        }

        var measuredTimes = new List<double>();
        var referenceTimes = new List<double>();
        var clock = Stopwatch.StartNew();
        while (clock.Elapsed < budget || measuredTimes.Count < 5)
        {
            var start = Stopwatch.GetTimestamp();
            measured();
            measuredTimes.Add(Stopwatch.GetElapsedTime(start).TotalNanoseconds / EventsPerBatch);
            start = Stopwatch.GetTimestamp();
            reference();
            referenceTimes.Add(Stopwatch.GetElapsedTime(start).TotalNanoseconds / EventsPerBatch);
        }

        return (Median(measuredTimes), Median(referenceTimes), measuredTimes.Count);
    }

    internal static double Median(List<double> values)
    {
        values.Sort();
        return values.Count % 2 == 1 ? values[values.Count / 2] : (values[(values.Count / 2) - 1] + values[values.Count / 2]) / 2;
    }

    private static IOnlineRecommender Build(string name, int dimensions, int negatives, Interaction[] events)
    {
        var learner = LearnerFactory.Create(new LearnerOptions { Learner = name, Dimensions = dimensions, Negatives = name is "isgd" or "bpr" ? negatives : 4 });
        for (var i = 0; i < UserCount; i++)
        {
            learner.Learn(new Interaction(string.Create(CultureInfo.InvariantCulture, $"user-{i}"), string.Create(CultureInfo.InvariantCulture, $"item-{i % ItemCount}"),
                events[0].Type, events[0].Value, 0));
        }

        for (var i = 0; i < ItemCount; i++)
        {
            learner.Learn(new Interaction("user-0", string.Create(CultureInfo.InvariantCulture, $"item-{i}"), events[0].Type, events[0].Value, 0));
        }

        return learner;
    }

    private static void LearnAll(IOnlineRecommender learner, Interaction[] events)
    {
        foreach (ref readonly var e in events.AsSpan())
        {
            learner.Learn(e);
        }
    }

    /// <summary>
    /// The floor of an embedding update: rows found by index (no id lookup), one dot product, then
    /// u += lr (err v - l2 u) and v += lr (err u - l2 v), with no sampling, schedule or bookkeeping.
    /// </summary>
    private sealed class BareUpdateLoop
    {
        private const float LearningRate = 0.05f;
        private const float L2 = 0.01f;
        private readonly int _dimensions;
        private readonly float[] _users;
        private readonly float[] _items;
        private readonly float[] _userCopy;
        private readonly int[] _userRows;
        private readonly int[] _itemRows;

        public BareUpdateLoop(int dimensions, int users, int items, int[] userRows, int[] itemRows)
        {
            _dimensions = dimensions;
            _users = RandomVectors(users * dimensions, 1);
            _items = RandomVectors(items * dimensions, 2);
            _userCopy = new float[dimensions];
            _userRows = userRows;
            _itemRows = itemRows;
        }

        public void Run()
        {
            var d = _dimensions;
            for (var i = 0; i < _userRows.Length; i++)
            {
                var user = _users.AsSpan(_userRows[i] * d, d);
                var item = _items.AsSpan(_itemRows[i] * d, d);
                var error = 1f - TensorPrimitives.Dot(user, item);
                user.CopyTo(_userCopy);
                TensorPrimitives.Multiply(user, 1f - (LearningRate * L2), user);
                TensorPrimitives.MultiplyAdd(item, LearningRate * error, user, user);
                TensorPrimitives.Multiply(item, 1f - (LearningRate * L2), item);
                TensorPrimitives.MultiplyAdd(_userCopy, LearningRate * error, item, item);
            }
        }

        private static float[] RandomVectors(int length, int seed)
        {
            var random = new Random(seed);
            var values = new float[length];
            for (var i = 0; i < values.Length; i++)
            {
                values[i] = (float)(random.NextDouble() - 0.5) * 0.2f;
            }

            return values;
        }
    }
}
