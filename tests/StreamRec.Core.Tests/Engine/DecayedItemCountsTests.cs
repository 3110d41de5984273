using StreamRec.Core.Engine;

namespace StreamRec.Core.Tests.Engine;

public sealed class DecayedItemCountsTests
{
    private const double HourMs = 3_600_000;

    [Test]
    public void ScoreHalvesAfterOneHalfLife()
    {
        var counts = new DecayedItemCounts(HourMs);
        counts.Observe(0, 1f, 1_700_000_000_000);

        Assert.Multiple(() =>
        {
            Assert.That(counts.ScoreAt(0, 1_700_000_000_000), Is.EqualTo(1.0).Within(1e-12));
            Assert.That(counts.ScoreAt(0, 1_700_000_000_000 + (long)HourMs), Is.EqualTo(0.5).Within(1e-12));
            Assert.That(counts.ScoreAt(0, 1_700_000_000_000 + (3 * (long)HourMs)), Is.EqualTo(0.125).Within(1e-12));
        });
    }

    [Test]
    public void EventsAddUpWithTheirOwnDecay()
    {
        var counts = new DecayedItemCounts(HourMs);
        counts.Observe(0, 2f, 0);
        counts.Observe(0, 1f, (long)HourMs);

        Assert.That(counts.ScoreAt(0, (long)HourMs), Is.EqualTo(2.0).Within(1e-12));
    }

    [Test]
    public void RecentItemOutranksOlderItemWithTheSameCount()
    {
        var counts = new DecayedItemCounts(HourMs);
        counts.Observe(0, 1f, 0);
        counts.Observe(1, 1f, (long)HourMs);

        Assert.That(counts.RelativeScores[1], Is.EqualTo(2 * counts.RelativeScores[0]).Within(1e-6f));
    }

    [Test]
    public void InfiniteHalfLifeCountsAllTime()
    {
        var counts = new DecayedItemCounts(double.PositiveInfinity);
        counts.Observe(0, 1f, 0);
        counts.Observe(0, 1f, 1_000_000_000);

        Assert.That(counts.ScoreAt(0, long.MaxValue / 2), Is.EqualTo(2.0).Within(1e-12));
    }

    [Test]
    public void RelativeScoresStayFiniteOverManyHalfLives()
    {
        var counts = new DecayedItemCounts(1000);
        for (int second = 0; second < 1000; second++)
        {
            counts.Observe(second % 3, 1f, second * 1000L);
        }

        Assert.Multiple(() =>
        {
            Assert.That(counts.RelativeScores[..3].ToArray(), Is.All.Positive.And.All.LessThan(float.PositiveInfinity));
            // The last event (second 999) went to item 0, the one before to item 2.
            Assert.That(counts.RelativeScores[0], Is.GreaterThan(counts.RelativeScores[2]));
            Assert.That(counts.RelativeScores[2], Is.GreaterThan(counts.RelativeScores[1]));
            Assert.That(counts.MaxRelativeScore, Is.EqualTo(counts.RelativeScores[0]).Within(1e-3f));
        });
    }
}
