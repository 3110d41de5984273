using StreamRec.Contracts.V1;
using StreamRec.Core.Learners;
using StreamRec.Core.Model;

namespace StreamRec.Core.Tests.Learners;

public sealed class LearnerBehaviourTests
{
    private static readonly string[] FactorLearners = ["isgd", "bpr", "mse"];

    private static readonly string[] AllLearners = ["isgd", "bpr", "mse", "popularity", "trending"];

    [TestCaseSource(nameof(AllLearners))]
    public void FactoryBuildsTheNamedLearner(string name)
    {
        IOnlineRecommender learner = LearnerFactory.Create(new LearnerOptions { Learner = name });
        Assert.That(learner.Name, Is.EqualTo(name));
    }

    [TestCaseSource(nameof(FactorLearners))]
    public void SameSeedGivesIdenticalModels(string name)
    {
        FactorLearner first = Train(name, seed: 17);
        FactorLearner second = Train(name, seed: 17);

        Assert.Multiple(() =>
        {
            Assert.That(Snapshot(second), Is.EqualTo(Snapshot(first)).AsCollection);
            Assert.That(Recommend(second, "user-3"), Is.EqualTo(Recommend(first, "user-3")).AsCollection);
        });
    }

    [TestCaseSource(nameof(FactorLearners))]
    public void DifferentSeedsGiveDifferentModels(string name)
    {
        Assert.That(Snapshot(Train(name, seed: 18)), Is.Not.EqualTo(Snapshot(Train(name, seed: 17))).AsCollection);
    }

    [TestCaseSource(nameof(AllLearners))]
    public void RecommendLeavesOutSeenItems(string name)
    {
        IOnlineRecommender learner = LearnerFactory.Create(new LearnerOptions { Learner = name });
        for (int i = 0; i < 20; i++)
        {
            learner.Learn(Positive($"other-{i}", $"item-{i % 5}", i, name));
        }

        learner.Learn(Positive("me", "item-0", 100, name));
        learner.Learn(Positive("me", "item-1", 101, name));

        string[] recommended = Recommend(learner, "me");
        Assert.Multiple(() =>
        {
            Assert.That(recommended, Has.Length.EqualTo(3));
            Assert.That(recommended, Has.No.Member("item-0").And.No.Member("item-1"));
        });
    }

    [TestCaseSource(nameof(AllLearners))]
    public void UnknownUserGetsTheTrendingRanking(string name)
    {
        IOnlineRecommender learner = LearnerFactory.Create(new LearnerOptions { Learner = name });
        learner.Learn(Positive("a", "rare", 0, name));
        for (int i = 0; i < 5; i++)
        {
            learner.Learn(Positive($"u{i}", "hot", i, name));
        }

        Assert.Multiple(() =>
        {
            Assert.That(learner.KnowsUser("stranger"), Is.False);
            Assert.That(Recommend(learner, "stranger"), Is.EqualTo(new[] { "hot", "rare" }));
        });
    }

    [Test]
    public void MsePredictionIsClippedToTheRatingRange()
    {
        var learner = new BiasedMfLearner(new LearnerOptions { Learner = "mse", LearningRate = 0.2f, BiasLearningRate = 0.5f });
        for (int i = 0; i < 50; i++)
        {
            learner.Learn(new Interaction("u", "i", EventType.Rating, 5f, i));
        }

        Assert.That(learner.PredictRating("u", "i"), Is.InRange(1f, 5f).And.GreaterThan(4.5f));
    }

    [Test]
    public void MseIgnoresEventsThatAreNotRatings()
    {
        var learner = new BiasedMfLearner(new LearnerOptions { Learner = "mse" });
        learner.Learn(Positive("u", "i", 0));
        Assert.That((learner.IgnoredEvents, learner.RatingCount), Is.EqualTo((1L, 0L)));
    }

    [Test]
    public void ImplicitLearnersDoNotPredictRatings()
    {
        IOnlineRecommender learner = LearnerFactory.Create(new LearnerOptions { Learner = "isgd" });
        learner.Learn(Positive("u", "i", 0));
        Assert.That(learner.PredictRating("u", "i"), Is.Null);
    }

    [TestCaseSource(nameof(FactorLearners))]
    public void MiniBatchAppliesNothingUntilTheBatchIsFull(string name)
    {
        var learner = (FactorLearner)LearnerFactory.Create(new LearnerOptions { Learner = name, MiniBatchSize = 4, Seed = 5 });
        learner.Learn(Positive("u", "a", 0, name));
        learner.Learn(Positive("u", "b", 1, name));
        float[] before = Snapshot(learner);

        learner.Learn(Positive("u", "a", 2, name));
        float[] afterThird = Snapshot(learner);
        learner.Learn(Positive("u", "b", 3, name));

        Assert.Multiple(() =>
        {
            Assert.That(afterThird, Is.EqualTo(before).AsCollection);
            Assert.That(learner.PendingEvents, Is.Zero);
            Assert.That(Snapshot(learner), Is.Not.EqualTo(before).AsCollection);
        });
    }

    [TestCaseSource(nameof(FactorLearners))]
    public void MiniBatchOfOneEqualsPerEventMode(string name)
    {
        FactorLearner perEvent = Train(name, seed: 9);
        FactorLearner batchOfOne = Train(name, seed: 9, miniBatchSize: 1);
        Assert.That(Snapshot(batchOfOne), Is.EqualTo(Snapshot(perEvent)).AsCollection);
    }

    [Test]
    public void FlushAppliesAPartialBatch()
    {
        var learner = (FactorLearner)LearnerFactory.Create(new LearnerOptions { Learner = "isgd", MiniBatchSize = 10 });
        learner.Learn(Positive("u", "a", 0));
        float[] before = Snapshot(learner);

        learner.Flush();

        Assert.That(Snapshot(learner), Is.Not.EqualTo(before).AsCollection);
    }

    [Test]
    public void HugeLearningRateNeverProducesNaN()
    {
        var learner = new BiasedMfLearner(new LearnerOptions { Learner = "mse", LearningRate = 50f, BiasLearningRate = 50f });
        for (int i = 0; i < 200; i++)
        {
            learner.Learn(new Interaction($"u{i % 7}", $"i{i % 5}", EventType.Rating, 1 + (i % 5), i));
        }

        Assert.That(learner.PredictRating("u1", "i1"), Is.Not.NaN);
    }

    [TestCaseSource(nameof(FactorLearners))]
    public void LearningKnownIdsDoesNotAllocate(string name)
    {
        var learner = (FactorLearner)LearnerFactory.Create(new LearnerOptions { Learner = name, Dimensions = 64 });
        Interaction[] events = Enumerable.Range(0, 64).Select(i => new Interaction($"u{i % 8}", $"i{i % 16}", name == "mse" ? EventType.Rating : EventType.Click, name == "mse" ? 3f : 0f, i)).ToArray();
        // Warm up past first-call paths (row creation, array growth, JIT) before measuring.
        for (int pass = 0; pass < 3; pass++)
        {
            foreach (Interaction e in events)
            {
                learner.Learn(e);
            }
        }

        var allocated = AllocationProbe.BytesPerPass(() =>
        {
            foreach (Interaction e in events)
            {
                learner.Learn(e);
            }
        });

        Assert.That(allocated, Has.Some.Zero, $"bytes allocated per pass of {events.Length} events: {string.Join(", ", allocated)}");
    }

    [Test]
    public void UserEvictionCountsAndForgetsTheEvictedUser()
    {
        var learner = (FactorLearner)LearnerFactory.Create(new LearnerOptions { Learner = "isgd", MaxUsers = 2 });
        learner.Learn(Positive("a", "x", 0));
        learner.Learn(Positive("b", "x", 1));
        learner.Learn(Positive("c", "x", 2));

        Assert.That((learner.KnowsUser("a"), learner.Users.Ids.EvictionCount), Is.EqualTo((false, 1L)));
    }

    [TestCaseSource(nameof(FactorLearners))]
    public void RestoredModelRanksLikeTheOriginal(string name)
    {
        FactorLearner original = Train(name, seed: 4);
        var restored = (FactorLearner)LearnerFactory.Create(new LearnerOptions { Learner = name, Seed = 99, Negatives = 2, InitialRows = 1 });
        restored.Trending.RestoreOrigin(original.Trending.OriginMs);
        for (int row = 0; row < original.Users.Count; row++)
        {
            restored.Users.WriteRow(original.Users.Ids.IdAt(row), original.Users.ReadRow(row), original.Users.ReadBias(row));
        }

        for (int row = 0; row < original.Items.Count; row++)
        {
            int restoredRow = restored.Items.WriteRow(original.Items.Ids.IdAt(row), original.Items.ReadRow(row), original.Items.ReadBias(row));
            restored.Trending.WriteLogScore(restoredRow, original.Trending.ReadLogScore(row));
        }

        string[] expected = Recommend(original, "user-3", excludeSeen: false);
        string[] actual = Recommend(restored, "user-3", excludeSeen: false);
        restored.Learn(Positive("user-3", "item-1", 10_000, name)); // side tables must follow restored rows

        Assert.That(actual, Is.EqualTo(expected).AsCollection);
    }

    /// <summary>A positive event the learner trains on: a click, or a 4-star rating for mse.</summary>
    private static Interaction Positive(string user, string item, long time, string learner = "isgd") =>
        learner == "mse" ? new(user, item, EventType.Rating, 4f, time) : new(user, item, EventType.Click, 0f, time);

    private static FactorLearner Train(string name, ulong seed, int miniBatchSize = 1)
    {
        var learner = (FactorLearner)LearnerFactory.Create(new LearnerOptions { Learner = name, Seed = seed, Negatives = 2, MiniBatchSize = miniBatchSize });
        var random = new Random(1);
        for (int i = 0; i < 500; i++)
        {
            EventType type = name == "mse" ? EventType.Rating : EventType.Click;
            learner.Learn(new Interaction($"user-{random.Next(20)}", $"item-{random.Next(30)}", type, name == "mse" ? random.Next(1, 6) : 0f, i * 1000L));
        }

        return learner;
    }

    private static float[] Snapshot(FactorLearner learner)
    {
        var values = new List<float>();
        for (int row = 0; row < learner.Users.Count; row++)
        {
            values.AddRange(learner.Users.ReadRow(row).ToArray());
            values.Add(learner.Users.ReadBias(row));
        }

        for (int row = 0; row < learner.Items.Count; row++)
        {
            values.AddRange(learner.Items.ReadRow(row).ToArray());
            values.Add(learner.Items.ReadBias(row));
        }

        return [.. values];
    }

    private static string[] Recommend(IOnlineRecommender learner, string user, bool excludeSeen = true)
    {
        var destination = new ScoredItem[10];
        int written = learner.Recommend(user, destination, excludeSeen);
        return destination[..written].Select(s => s.ItemId).ToArray();
    }
}
