using BenchmarkDotNet.Attributes;
using StreamRec.Contracts.V1;
using StreamRec.Core.Learners;
using StreamRec.Core.Model;

namespace StreamRec.Benchmarks;

/// <summary>
/// Per-event update cost of each learner at 64 dimensions with default options (4 sampled negatives
/// for isgd and bpr), plus isgd as its specification defines it (positive-only, no negatives), with
/// ids pre-registered (the steady state of a running shard). Each invocation learns
/// <see cref="EventsPerInvoke"/> events, so the reported time and allocation are per event.
/// </summary>
[MemoryDiagnoser]
[MedianColumn]
[MinColumn]
public class LearnerUpdateBenchmarks
{
    private const int EventsPerInvoke = 4096;
    private const int UserCount = 10_000;
    private const int ItemCount = 10_000;

    private readonly Interaction[] _implicitEvents = new Interaction[EventsPerInvoke];
    private readonly Interaction[] _ratingEvents = new Interaction[EventsPerInvoke];
    private IOnlineRecommender _isgdPositiveOnly = null!;
    private IOnlineRecommender _isgd = null!;
    private IOnlineRecommender _bpr = null!;
    private IOnlineRecommender _mse = null!;
    private IOnlineRecommender _trending = null!;

    [GlobalSetup]
    public void Setup()
    {
        var random = new Random(7);
        for (int i = 0; i < EventsPerInvoke; i++)
        {
            string user = $"user-{random.Next(UserCount)}";
            string item = $"item-{random.Next(ItemCount)}";
            long time = 1_700_000_000_000 + (i * 1000L);
            _implicitEvents[i] = new Interaction(user, item, EventType.Click, 0f, time);
            _ratingEvents[i] = new Interaction(user, item, EventType.Rating, 1 + random.Next(5), time);
        }

        _isgdPositiveOnly = Build("isgd", _implicitEvents, negatives: 0);
        _isgd = Build("isgd", _implicitEvents);
        _bpr = Build("bpr", _implicitEvents);
        _mse = Build("mse", _ratingEvents);
        _trending = Build("trending", _implicitEvents);
    }

    [Benchmark(OperationsPerInvoke = EventsPerInvoke, Description = "isgd as specified (positive-only), 64 dims, 0 negatives")]
    public void IsgdPositiveOnly() => LearnAll(_isgdPositiveOnly, _implicitEvents);

    [Benchmark(OperationsPerInvoke = EventsPerInvoke, Description = "isgd default, 64 dims, 4 negatives")]
    public void Isgd() => LearnAll(_isgd, _implicitEvents);

    [Benchmark(OperationsPerInvoke = EventsPerInvoke, Description = "bpr, 64 dims, 4 negatives")]
    public void Bpr() => LearnAll(_bpr, _implicitEvents);

    [Benchmark(OperationsPerInvoke = EventsPerInvoke, Description = "mse, 64 dims")]
    public void Mse() => LearnAll(_mse, _ratingEvents);

    [Benchmark(OperationsPerInvoke = EventsPerInvoke, Description = "trending")]
    public void Trending() => LearnAll(_trending, _implicitEvents);

    private static IOnlineRecommender Build(string name, Interaction[] events, int negatives = 4)
    {
        IOnlineRecommender learner = LearnerFactory.Create(new LearnerOptions { Learner = name, Dimensions = 64, Negatives = negatives });
        for (int i = 0; i < UserCount; i++)
        {
            learner.Learn(new Interaction($"user-{i}", $"item-{i % ItemCount}", events[0].Type, events[0].Value, 0));
        }

        for (int i = 0; i < ItemCount; i++)
        {
            learner.Learn(new Interaction("user-0", $"item-{i}", events[0].Type, events[0].Value, 0));
        }

        LearnAll(learner, events);
        return learner;
    }

    private static void LearnAll(IOnlineRecommender learner, Interaction[] events)
    {
        foreach (ref readonly Interaction e in events.AsSpan())
        {
            learner.Learn(e);
        }
    }
}
