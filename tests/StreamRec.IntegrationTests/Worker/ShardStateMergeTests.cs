using Confluent.Kafka;
using StreamRec.Worker.Checkpointing;
using StreamRec.Worker.Sharding;

namespace StreamRec.IntegrationTests.Worker;

[TestFixture]
public sealed class ShardStateMergeTests
{
    private static readonly TopicPartition _partition = new("clicks", 0);

    [Test]
    public void Delta_AppendsSeenItemsToTheStoredHistories_AndReplacesWholeOnes()
    {
        var snapshot = Capture(isSnapshot: true, nextOffset: 10, whole: new() { ["u1"] = ["a", "b"], ["u2"] = ["x"] }, appended: []);
        var delta = Capture(isSnapshot: false, nextOffset: 20, whole: new() { ["u2"] = ["y"] }, appended: new() { ["u1"] = ["c", "d"], ["u3"] = ["p"] });

        var state = ShardStateMerge.Apply(ShardStateMerge.Apply(null, snapshot), delta);

        Assert.Multiple(() =>
        {
            Assert.That(state.SeenItems["u1"], Is.EqualTo(new[] { "b", "c", "d" }), "appended, the oldest dropped beyond the history length");
            Assert.That(state.SeenItems["u2"], Is.EqualTo(new[] { "y" }));
            Assert.That(state.SeenItems["u3"], Is.EqualTo(new[] { "p" }));
            Assert.That(state.NextOffset, Is.EqualTo(20));
        });
    }

    private static ShardCapture Capture(bool isSnapshot, long nextOffset, Dictionary<string, string[]> whole, Dictionary<string, string[]> appended) =>
        new(_partition, isSnapshot, nextOffset, nextOffset, 0, 0, new TableRows(2, [], [], [], [], []), whole, new Dictionary<string, double>())
        {
            AppendedSeenItems = appended,
            SeenHistoryLength = 3,
        };
}
