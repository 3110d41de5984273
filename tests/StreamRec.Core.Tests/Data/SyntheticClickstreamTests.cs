using StreamRec.Contracts.V1;
using StreamRec.Core.Data;

namespace StreamRec.Core.Tests.Data;

public class SyntheticClickstreamTests
{
    private static readonly SyntheticClickstreamOptions Small = new(Users: 200, Items: 400, Events: 20_000, Clusters: 4, Seed: 7);

    [Test]
    public void SameSeedGivesTheSameStream()
    {
        var first = new SyntheticClickstream(Small).ToList();
        var second = new SyntheticClickstream(Small).ToList();

        Assert.That(second, Is.EqualTo(first));
    }

    [Test]
    public void DifferentSeedsGiveDifferentStreams()
    {
        var first = new SyntheticClickstream(Small).Take(100).ToList();
        var second = new SyntheticClickstream(Small with { Seed = 8 }).Take(100).ToList();

        Assert.That(second, Is.Not.EqualTo(first));
    }

    [Test]
    public void ProducesTheRequestedNumberOfEventsWithStrictlyIncreasingTimes()
    {
        var times = new SyntheticClickstream(Small).Select(e => e.EventTimeMs).ToList();

        Assert.That((times.Count, times.Zip(times.Skip(1)).All(pair => pair.Second > pair.First)), Is.EqualTo((20_000, true)));
    }

    [Test]
    public void UsersMostlyPickItemsOfTheirOwnCluster()
    {
        var stream = new SyntheticClickstream(Small);

        double ownCluster = stream.Average(e => stream.ClusterOfItem(e.ItemId) == stream.InitialClusterOfUser(e.UserId) ? 1.0 : 0.0);

        Assert.That(ownCluster, Is.GreaterThan(0.8));
    }

    [Test]
    public void AfterTheShiftUsersMoveToTheNextCluster()
    {
        var stream = new SyntheticClickstream(Small with { ShiftAt = 10_000 });
        var afterShift = stream.Skip(10_000).ToList();

        double ownCluster = afterShift.Average(e => stream.ClusterOfItem(e.ItemId) == stream.InitialClusterOfUser(e.UserId) ? 1.0 : 0.0);
        double nextCluster = afterShift.Average(e => stream.ClusterOfItem(e.ItemId) == (stream.InitialClusterOfUser(e.UserId) + 1) % 4 ? 1.0 : 0.0);

        using (Assert.EnterMultipleScope())
        {
            Assert.That(ownCluster, Is.LessThan(0.2));
            Assert.That(nextCluster, Is.GreaterThan(0.8));
        }
    }

    [Test]
    public void NewItemsAppearOnlyLaterInTheStream()
    {
        var events = new SyntheticClickstream(Small with { NewItemFraction = 0.5 }).ToList();

        int maxItemInFirstTenth = events.Take(2_000).Max(e => int.Parse(e.ItemId[1..], System.Globalization.CultureInfo.InvariantCulture));
        int maxItemInLastTenth = events.Skip(18_000).Max(e => int.Parse(e.ItemId[1..], System.Globalization.CultureInfo.InvariantCulture));

        Assert.That((maxItemInFirstTenth < 240, maxItemInLastTenth >= 360), Is.EqualTo((true, true)));
    }

    [Test]
    public void PopularityIsSkewed()
    {
        var counts = new SyntheticClickstream(Small).CountBy(e => e.ItemId).Select(pair => pair.Value).OrderDescending().ToList();

        int topTenPercent = counts.Take(40).Sum();

        Assert.That(topTenPercent, Is.GreaterThan(20_000 * 0.3));
    }

    [Test]
    public void ImplicitEventMixFollowsTheConfiguredShares()
    {
        var views = new SyntheticClickstream(Small).Count(e => e.Type == EventType.View);

        Assert.That(views / 20_000.0, Is.EqualTo(0.70).Within(0.02));
    }

    [Test]
    public void RatingsAreHighInsideTheUsersCluster()
    {
        var stream = new SyntheticClickstream(Small with { RatingFraction = 1 });
        var inCluster = stream.Where(e => stream.ClusterOfItem(e.ItemId) == stream.InitialClusterOfUser(e.UserId)).ToList();

        Assert.That(inCluster.Select(e => e.Value), Is.All.InRange(4f, 5f));
    }

    [Test]
    public void InvalidOptionsNameTheOption()
    {
        var error = Assert.Throws<ArgumentException>(() => new SyntheticClickstream(Small with { Clusters = 0 }));

        Assert.That(error!.ParamName, Is.EqualTo("Clusters"));
    }
}
