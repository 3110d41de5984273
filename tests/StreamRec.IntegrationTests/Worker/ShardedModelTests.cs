using Confluent.Kafka;
using StreamRec.Core.Data;
using StreamRec.Core.Learners;
using StreamRec.Core.Model;
using StreamRec.Worker.Sharding;

namespace StreamRec.IntegrationTests.Worker;

/// <summary>The shard bookkeeping the consumer loop relies on (in memory: no servers).</summary>
[TestFixture]
public sealed class ShardedModelTests
{
    [Test]
    public void ApplyRun_LearnsAndAccountsExactlyAsApplyingEachEventInTurn()
    {
        var options = new LearnerOptions { Learner = "isgd", Dimensions = 8 };
        var start = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
        var events = new SyntheticClickstream(new SyntheticClickstreamOptions(Users: 50, Items: 40, Events: 600, Seed: 3))
            .Select((e, i) => e with { EventTimeMs = start + ((i * 7919) % 1000) })
            .ToArray();
        var partition = new TopicPartition("clicks", 0);
        var oneByOne = new ShardedModel(options);
        var each = oneByOne.Assign(partition, null);
        var inRuns = new ShardedModel(options);
        var runs = inRuns.Assign(partition, null);

        for (var i = 0; i < events.Length; i++)
        {
            ShardedModel.Apply(each, events[i], offset: 100 + (2 * i));
        }

        // Uneven runs, offsets with gaps (as after compaction or transaction markers).
        for (var from = 0; from < events.Length;)
        {
            var length = Math.Min(1 + (from % 37), events.Length - from);
            ShardedModel.ApplyRun(runs, events.AsSpan(from, length), lastOffset: 100 + (2 * (from + length - 1)));
            from += length;
        }

        ShardedModel.ApplyRun(runs, ReadOnlySpan<Interaction>.Empty, lastOffset: 5);

        Assert.That(runs.NextOffset, Is.EqualTo(each.NextOffset).And.EqualTo(100 + (2 * (events.Length - 1)) + 1));
        Assert.That(runs.AppliedEvents, Is.EqualTo(each.AppliedEvents).And.EqualTo(events.Length));
        Assert.That(runs.EventTimeWatermarkMs, Is.EqualTo(each.EventTimeWatermarkMs).And.EqualTo(events.Max(e => e.EventTimeMs)));
        var expected = ShardedModel.Capture(each, snapshot: true).Users;
        var actual = ShardedModel.Capture(runs, snapshot: true).Users;
        Assert.That(actual.Ids, Is.EqualTo(expected.Ids));
        Assert.That(actual.Vectors, Is.EqualTo(expected.Vectors), "the same updates in the same order");
    }
}
