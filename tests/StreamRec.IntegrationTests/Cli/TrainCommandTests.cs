using StreamRec.Cli;
using StreamRec.Core.Data;
using StreamRec.Core.Learners;
using StreamRec.IntegrationTests.Infrastructure;
using StreamRec.Redis.Checkpoints;

namespace StreamRec.IntegrationTests.Cli;

[TestFixture]
public sealed class TrainCommandTests
{
    [Test]
    public async Task Train_PublishesSnapshotAndDeltas_WhoseRestoreEqualsTheLearnerBitForBit()
    {
        await using var redis = await TestRedis.CreateScope();
        var file = Path.Combine(TestContext.CurrentContext.WorkDirectory, $"train-{Guid.NewGuid():N}.csv");
        var events = new SyntheticClickstream(new SyntheticClickstreamOptions(Users: 300, Items: 200, Events: 12_000, Seed: 5)).ToList();
        await using (var output = File.Create(file))
        {
            InteractionWriter.Write(output, InputFormat.Csv, events);
        }

        var exit = await StreamRecCommandLine.Build().Parse(
            ["train", "--input", file, "--redis", redis.Server.Endpoint, "--model", redis.Namespace, "--learner", "bpr", "--dims", "8", "--delta-every", "1000"]).InvokeAsync();

        Assert.That(exit, Is.Zero);
        var expected = (FactorLearner)LearnerFactory.Create(new LearnerOptions { Learner = "bpr", Dimensions = 8 });
        await using (var input = File.OpenRead(file))
        {
            foreach (var interaction in InteractionReader.Read(input, InputFormat.Csv))
            {
                expected.Learn(interaction);
            }
        }

        var restored = (await new CheckpointStore(redis.Connection).RestoreAsync(redis.Namespace)).Checkpoint;
        Assert.That(restored.Items.Count, Is.EqualTo(expected.Items.Count));
        for (var i = 0; i < restored.Items.Count; i++)
        {
            Assert.That(expected.Items.TryGetRow(restored.Items.Ids[i], out var row), Is.True);
            Assert.That(restored.Items.Vector(i).ToArray(), Is.EqualTo(expected.Items.ReadRow(row).ToArray()), $"item {restored.Items.Ids[i]}");
        }

        var users = restored.Users.Single().Rows;
        Assert.That(users.Count, Is.EqualTo(expected.Users.Count));
        for (var i = 0; i < users.Count; i++)
        {
            Assert.That(expected.Users.TryGetRow(users.Ids[i], out var row), Is.True);
            Assert.That(users.Vector(i).ToArray(), Is.EqualTo(expected.Users.ReadRow(row).ToArray()), $"user {users.Ids[i]}");
        }

        Assert.That(restored.Offsets.Single().NextOffset, Is.EqualTo(12_000), "the position reached in the file");
        File.Delete(file);
    }

    [Test]
    public async Task Train_WithACountLearner_IsRefusedNamingTheOption()
    {
        var error = new StringWriter();
        var parse = StreamRecCommandLine.Build().Parse(["train", "--input", typeof(TrainCommandTests).Assembly.Location, "--format", "csv", "--redis", "127.0.0.1:1", "--model", "m", "--learner", "trending"]);
        var original = Console.Error;
        Console.SetError(error);
        try
        {
            Assert.That(await parse.InvokeAsync(), Is.EqualTo(2));
        }
        finally
        {
            Console.SetError(original);
        }

        Assert.That(error.ToString(), Does.Contain("--learner"));
    }
}
