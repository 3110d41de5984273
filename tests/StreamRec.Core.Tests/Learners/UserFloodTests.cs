using StreamRec.Contracts.V1;
using StreamRec.Core.Events;
using StreamRec.Core.Learners;
using StreamRec.Core.Model;

namespace StreamRec.Core.Tests.Learners;

/// <summary>A flood of never-repeating user ids (a bot, a broken producer) against the id-table caps.</summary>
public sealed class UserFloodTests
{
    [TestCase("isgd")]
    [TestCase("bpr")]
    public void UniqueUserFlood_StaysWithinMaxUsers_CountsEveryEviction_AndKeepsTheHeapFlat(string name)
    {
        const int cap = 2_000, warmUp = 20_000, flood = 200_000;
        var learner = (FactorLearner)LearnerFactory.Create(new LearnerOptions { Learner = name, Dimensions = 16, MaxUsers = cap, MaxItems = 500 });
        var time = 1_790_000_000_000L;
        void Feed(int from, int to)
        {
            for (var i = from; i < to; i++)
            {
                learner.Learn(new Interaction($"flood-{i}", $"i{i % 100}", EventType.Click, 0, time += 10));
                Assert.That(learner.Users.Count, Is.LessThanOrEqualTo(cap));
            }
        }

        Feed(0, warmUp);
        var heapAfterWarmUp = GC.GetTotalMemory(forceFullCollection: true);
        Feed(warmUp, flood);
        var heapAfterFlood = GC.GetTotalMemory(forceFullCollection: true);

        TestContext.Progress.WriteLine($"[StreamRec] {name} user flood: {flood:N0} unique users, cap {cap:N0}, {learner.Users.Ids.EvictionCount:N0} evictions, "
            + $"live heap {heapAfterWarmUp / 1024.0 / 1024:0.0} MiB after {warmUp:N0} -> {heapAfterFlood / 1024.0 / 1024:0.0} MiB after {flood:N0}");
        Assert.That(learner.Users.Count, Is.EqualTo(cap));
        Assert.That(learner.Users.Ids.EvictionCount, Is.EqualTo(flood - cap), "every id beyond the cap evicted one, and was counted");
        Assert.That(heapAfterFlood - heapAfterWarmUp, Is.LessThan(2L << 20), $"live heap grew from {heapAfterWarmUp >> 10} KiB to {heapAfterFlood >> 10} KiB over 180,000 more unique users");
    }

    [Test]
    public void DecoderIdPool_IsClearedAtItsCapacity_AndCountsTheResets()
    {
        var pool = new IdStringPool(capacity: 1_000);

        for (var i = 0; i < 10_500; i++)
        {
            pool.Get(System.Text.Encoding.UTF8.GetBytes($"flood-{i}"));
            Assert.That(pool.Count, Is.LessThanOrEqualTo(1_000));
        }

        Assert.That(pool.Resets, Is.EqualTo(10));
        Assert.That(pool.Count, Is.EqualTo(500));
    }
}
