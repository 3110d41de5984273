using StreamRec.Contracts.V1;
using StreamRec.Core.Learners;
using StreamRec.Core.Model;

namespace StreamRec.Core.Tests.Learners;

[TestFixture]
public sealed class SharedItemsTests
{
    private static LearnerOptions Options(string learner = "isgd") => new() { Learner = learner, Dimensions = 8, Seed = 3 };

    [Test]
    public void ShardLearners_ShareItemRows_ButKeepTheirOwnUsers()
    {
        var items = new SharedItems(Options());
        var shardA = LearnerFactory.CreateShard(Options(), items);
        var shardB = LearnerFactory.CreateShard(Options(), items);

        shardA.Learn(new Interaction("alice", "book", EventType.Purchase, 0, 1_000));
        var bookAfterA = shardB.Items.ReadRow(shardB.Items.Ids.IdAt(0) == "book" ? 0 : -1).ToArray();
        shardB.Learn(new Interaction("bob", "book", EventType.Purchase, 0, 2_000));

        Assert.That(shardB.Items, Is.SameAs(shardA.Items));
        Assert.That(shardB.Items.ReadRow(0).ToArray(), Is.Not.EqualTo(bookAfterA), "B's step moved the shared item");
        Assert.That(shardA.KnowsUser("alice") && !shardA.KnowsUser("bob"), Is.True);
        Assert.That(shardB.KnowsUser("bob") && !shardB.KnowsUser("alice"), Is.True);
        Assert.That(shardA.Trending.MaxRelativeScore, Is.GreaterThan(0f));
    }

    [Test]
    public void ShardLearner_WithItsOwnSharedItems_LearnsExactlyLikeAPlainLearner()
    {
        var plain = (FactorLearner)LearnerFactory.Create(Options("bpr"));
        var shard = LearnerFactory.CreateShard(Options("bpr"), new SharedItems(Options("bpr")));
        for (var i = 0; i < 200; i++)
        {
            var interaction = new Interaction($"u{i % 7}", $"i{i % 13}", EventType.Click, 0, 1_000 + i);
            plain.Learn(interaction);
            shard.Learn(interaction);
        }

        Assert.That(shard.Items.ReadRow(5).ToArray(), Is.EqualTo(plain.Items.ReadRow(5).ToArray()));
        Assert.That(shard.Users.ReadRow(3).ToArray(), Is.EqualTo(plain.Users.ReadRow(3).ToArray()));
    }

    [Test]
    public void CreateShard_ForACountLearner_IsRefusedNamingTheLearner()
    {
        var error = Assert.Throws<ArgumentException>(() => LearnerFactory.CreateShard(Options("trending"), new SharedItems(Options())));

        Assert.That(error!.Message, Does.Contain("trending"));
    }

    [Test]
    public void CreateShard_WithItemsOfAnotherLearner_IsRefused() =>
        Assert.That(() => LearnerFactory.CreateShard(Options("bpr"), new SharedItems(Options("isgd"))), Throws.ArgumentException);
}
