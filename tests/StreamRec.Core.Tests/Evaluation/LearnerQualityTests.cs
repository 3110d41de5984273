using StreamRec.Core.Data;
using StreamRec.Core.Evaluation;
using StreamRec.Core.Learners;

namespace StreamRec.Core.Tests.Evaluation;

/// <summary>
/// The real learners through the prequential evaluator on generated streams with planted taste
/// clusters: they must beat popularity clearly, repeat exactly with the same seed, and recover from
/// the generator's abrupt taste shift only while they keep learning. The bars are in docs/evaluation.md.
/// </summary>
public sealed class LearnerQualityTests
{
    /// <summary>Recall@10 a personalised learner must reach, as a multiple of popularity's on the same stream.</summary>
    private const double MarginOverPopularity = 2.0;

    /// <summary>Events after the shift within which the windowed recall is back to 90% of its level before it.</summary>
    private const long RecoveryEvents = 5_000;

    private const double RecoveredShare = 0.9;

    private static readonly SyntheticClickstreamOptions Planted = new(Users: 500, Items: 400, Events: 40_000, Seed: 3);

    private static readonly SyntheticClickstreamOptions Shifting = new(Users: 500, Items: 400, Events: 40_000, ShiftAt: 20_000, Seed: 5);

    private static readonly PrequentialOptions Protocol = new() { K = 10, Window = 2_000, SampleEvery = 1_000 };

    [TestCase("isgd")]
    [TestCase("bpr")]
    public void LearnerBeatsPopularityByTheStatedMargin(string name)
    {
        double learner = Run(name, Planted).Ranking.Recall!.Value;
        double popularity = Run("popularity", Planted).Ranking.Recall!.Value;

        TestContext.Out.WriteLine($"{name}: recall@10 {learner:F3}; popularity {popularity:F3}");
        Assert.That(learner, Is.GreaterThan(MarginOverPopularity * popularity));
    }

    [TestCase("isgd")]
    [TestCase("bpr")]
    [TestCase("mse")]
    public void SameSeedGivesAnIdenticalReport(string name)
    {
        var stream = Planted with { Events = 10_000, RatingFraction = name == "mse" ? 1 : 0 };

        PrequentialResult first = Run(name, stream);
        PrequentialResult second = Run(name, stream);

        Assert.Multiple(() =>
        {
            Assert.That(second.Ranking, Is.EqualTo(first.Ranking));
            Assert.That(second.Ratings, Is.EqualTo(first.Ratings));
            Assert.That(second.Series, Is.EqualTo(first.Series));
        });
    }

    [TestCase("isgd")]
    [TestCase("bpr")]
    public void OnlineLearnerRecoversFromTheShiftWithinTheStatedEvents(string name)
    {
        IReadOnlyList<WindowPoint> series = Run(name, Shifting).Series;
        double beforeShift = RecallAt(series, Shifting.ShiftAt!.Value);

        double worstAfterRecovery = series.Where(p => p.Events >= Shifting.ShiftAt + RecoveryEvents).Min(p => p.Recall!.Value);

        TestContext.Out.WriteLine($"{name}: before the shift {beforeShift:F3}; worst from {RecoveryEvents} events after it {worstAfterRecovery:F3}");
        Assert.That(worstAfterRecovery, Is.GreaterThanOrEqualTo(RecoveredShare * beforeShift));
    }

    [TestCase("isgd")]
    [TestCase("bpr")]
    public void LearnerFrozenAtTheShiftDoesNotRecover(string name)
    {
        IReadOnlyList<WindowPoint> series = Run(name, Shifting, freezeAfter: Shifting.ShiftAt).Series;
        double beforeShift = RecallAt(series, Shifting.ShiftAt!.Value);

        double bestAfterRecovery = series.Where(p => p.Events >= Shifting.ShiftAt + RecoveryEvents).Max(p => p.Recall!.Value);

        TestContext.Out.WriteLine($"{name} frozen: before the shift {beforeShift:F3}; best from {RecoveryEvents} events after it {bestAfterRecovery:F3}");
        Assert.That(bestAfterRecovery, Is.LessThan(RecoveredShare * beforeShift));
    }

    private static PrequentialResult Run(string learner, SyntheticClickstreamOptions stream, long? freezeAfter = null) =>
        PrequentialEvaluator.Run(
            LearnerFactory.Create(new LearnerOptions { Learner = learner }),
            new SyntheticClickstream(stream),
            Protocol with { FreezeAfter = freezeAfter });

    private static double RecallAt(IReadOnlyList<WindowPoint> series, long events) => series.Single(p => p.Events == events).Recall!.Value;
}
