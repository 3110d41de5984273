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

    [Test]
    public void LogScoresRoundTripAcrossInstancesAndRescales()
    {
        // Half-life of one second over 200 seconds: several renormalisations of the scaled counts.
        var original = new DecayedItemCounts(1000);
        for (int second = 0; second < 200; second++)
        {
            original.Observe(second % 4, 1f + (second % 3), 5_000 + (second * 1000L));
        }

        var restored = new DecayedItemCounts(1000);
        restored.RestoreOrigin(original.OriginMs);
        for (int row = 0; row < 4; row++)
        {
            restored.WriteLogScore(row, original.ReadLogScore(row));
        }

        Assert.Multiple(() =>
        {
            for (int row = 0; row < 4; row++)
            {
                Assert.That(restored.ReadLogScore(row), Is.EqualTo(original.ReadLogScore(row)).Within(1e-9));
                Assert.That(restored.ScoreAt(row, 205_000), Is.EqualTo(original.ScoreAt(row, 205_000)).Within(1e-9 * original.ScoreAt(row, 205_000)));
            }

            // The log score is the exact sum: item 3's events at seconds 3, 7, ..., 199 with weights 1 + (s mod 3).
            double expected = Math.Log(Enumerable.Range(0, 50).Select(n => (4 * n) + 3).Sum(s => (1 + (s % 3)) * Math.Pow(2, s)));
            Assert.That(original.ReadLogScore(3), Is.EqualTo(expected).Within(1e-9));
            Assert.That(original.ScoreAt(3, 205_000), Is.EqualTo(Math.Exp(expected - (200 * Math.Log(2)))).Within(1e-12));
        });
    }

    [Test]
    public void EventsAtTheSameTimeAddTheSameWeight()
    {
        var counts = new DecayedItemCounts(HourMs);
        counts.Observe(0, 1f, 10 * (long)HourMs);
        counts.Observe(1, 1f, 11 * (long)HourMs);
        counts.Observe(0, 1f, 11 * (long)HourMs);
        counts.Observe(1, 1f, 11 * (long)HourMs);

        Assert.Multiple(() =>
        {
            Assert.That(counts.ScoreAt(0, 11 * (long)HourMs), Is.EqualTo(1.5).Within(1e-12));
            Assert.That(counts.ScoreAt(1, 11 * (long)HourMs), Is.EqualTo(2.0).Within(1e-12));
        });
    }

    [Test]
    public void AnEventFarAheadKeepsEveryCountFinite()
    {
        var counts = new DecayedItemCounts(1000);
        counts.Observe(0, 1f, 0);
        counts.Observe(1, 1f, 5_000_000); // 5,000 half-lives later: 2^5000 would overflow any float

        Assert.Multiple(() =>
        {
            Assert.That(counts.RelativeScores[1], Is.Positive.And.LessThan(float.PositiveInfinity));
            Assert.That(counts.RelativeScores[0], Is.Zero);
            Assert.That(counts.ReadLogScore(1), Is.EqualTo(5_000 * Math.Log(2)).Within(1e-9));
            Assert.That(counts.MaxRelativeScore, Is.EqualTo(counts.RelativeScores[1]));
        });
    }
}
