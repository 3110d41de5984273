using StreamRec.Contracts.V1;
using StreamRec.Core.Evaluation;
using StreamRec.Core.Model;

namespace StreamRec.Core.Tests.Evaluation;

public class PrequentialEvaluatorTests
{
    private static Interaction Click(string user, string item, long time = 0) => new(user, item, EventType.Click, 0, time);

    private static Interaction Rate(string user, string item, float rating) => new(user, item, EventType.Rating, rating, 0);

    /// <summary>
    /// Every user is offered x, a, b, c (in that order) and k = 3. Worked by hand:
    /// 1 u1 x: x never seen -> miss (cold)        5 u3 b: list x a b -> rank 3 (cold)
    /// 2 u1 a: a never seen -> miss (known)       6 u1 c: c listed first but never seen -> miss (known)
    /// 3 u2 a: list x a b -> rank 2 (cold)        7 u2 x: u2 had a; list x b c -> rank 1 (known)
    /// 4 u1 b: b never seen -> miss (known)       8 u2 b: u2 had a, x; list b c -> rank 1 (known)
    /// </summary>
    private static PrequentialResult RunWorkedExample()
    {
        var model = new ScriptedRecommender(ScriptedRecommender.Ranked("x", "a", "b", "c"));
        var events = new[]
        {
            Click("u1", "x"), Click("u1", "a"), Click("u2", "a"), Click("u1", "b"),
            Click("u3", "b"), Click("u1", "c"), Click("u2", "x"), Click("u2", "b"),
        };
        return PrequentialEvaluator.Run(model, events, new PrequentialOptions { K = 3 });
    }

    [Test]
    public void WorkedExampleGivesHandComputedRecallNdcgAndMrr()
    {
        var ranking = RunWorkedExample().Ranking;

        double ndcg = (1 / Math.Log2(3) + 1 / Math.Log2(4) + 1 + 1) / 8;
        double mrr = (1.0 / 2 + 1.0 / 3 + 1 + 1) / 8;
        Assert.That(ranking, Is.EqualTo(new RankingMetrics(8, 4, 0.5, ndcg, mrr)));
    }

    [Test]
    public void WorkedExampleSplitsKnownAndColdStartUsers()
    {
        var result = RunWorkedExample();

        Assert.That((result.KnownUsers.Evaluated, result.KnownUsers.Hits, result.ColdStart.Evaluated, result.ColdStart.Hits), Is.EqualTo((5L, 2L, 3L, 2L)));
    }

    [Test]
    public void WorkedExampleCountsEventsOfNeverSeenItems()
    {
        Assert.That(RunWorkedExample().UnseenItemEvents, Is.EqualTo(4));
    }

    [Test]
    public void ItemNeverSeenBeforeIsAMissEvenWhenListed()
    {
        var model = new ScriptedRecommender(ScriptedRecommender.Ranked("new"));

        var result = PrequentialEvaluator.Run(model, [Click("u1", "new")], new PrequentialOptions { K = 1 });

        Assert.That(result.Ranking.Hits, Is.Zero);
    }

    [Test]
    public void UsersEarlierItemsAreRemovedFromTheList()
    {
        // u1 had a; the model still lists a first, so b moves up to rank 1 of a 1-item list.
        var model = new ScriptedRecommender(ScriptedRecommender.Ranked("a", "b"));

        var result = PrequentialEvaluator.Run(model, [Click("u0", "b"), Click("u1", "a"), Click("u1", "b")], new PrequentialOptions { K = 1 });

        Assert.That(result.KnownUsers, Is.EqualTo(new RankingMetrics(1, 1, 1.0, 1.0, 1.0)));
    }

    [Test]
    public void LongerListIsRequestedWhenEarlierItemsFillTheSlack()
    {
        // u1 had a, b, c; the model lists them first anyway, then d. k = 1 needs d plus one more.
        var model = new ScriptedRecommender(ScriptedRecommender.Ranked("a", "b", "c", "d", "e"));
        var events = new[] { Click("u0", "d"), Click("u1", "a"), Click("u1", "b"), Click("u1", "c"), Click("u1", "d") };

        var result = PrequentialEvaluator.Run(model, events, new PrequentialOptions { K = 1 });

        Assert.That(result.Ranking.Hits, Is.EqualTo(1));
    }

    [Test]
    public void RepeatedItemOfTheSameUserIsLearnedButNotRanked()
    {
        var model = new ScriptedRecommender(ScriptedRecommender.Ranked("a"));

        var result = PrequentialEvaluator.Run(model, [Click("u1", "a"), Click("u1", "a")]);

        Assert.That((result.Ranking.Evaluated, result.RepeatsNotRanked, model.Learned.Count), Is.EqualTo((1L, 1L, 2)));
    }

    [Test]
    public void WithoutExclusionRepeatsAreRankedAndCanHit()
    {
        var model = new ScriptedRecommender(ScriptedRecommender.Ranked("a"));

        var result = PrequentialEvaluator.Run(model, [Click("u1", "a"), Click("u1", "a")], new PrequentialOptions { ExcludeSeen = false });

        Assert.That((result.Ranking.Evaluated, result.Ranking.Hits, result.RepeatsNotRanked), Is.EqualTo((2L, 1L, 0L)));
    }

    [Test]
    public void ModelIsAskedToExcludeSeenItemsByDefault()
    {
        var model = new ExcludeSeenProbe();

        PrequentialEvaluator.Run(model, [Click("u1", "a")]);

        Assert.That(model.ExcludeSeenRequests, Is.EqualTo(new[] { true }));
    }

    [Test]
    public void PessimisticTieBreakingPutsTheItemLastInItsTieGroup()
    {
        var model = new ScriptedRecommender(new ScoredItem("a", 2), new ScoredItem("b", 1), new ScoredItem("c", 1));

        var result = PrequentialEvaluator.Run(model, [Click("u0", "b"), Click("u1", "b")], new PrequentialOptions { K = 2 });

        Assert.That(result.Ranking.Hits, Is.Zero);
    }

    [Test]
    public void ModelOrderTieBreakingKeepsTheListPosition()
    {
        var model = new ScriptedRecommender(new ScoredItem("a", 2), new ScoredItem("b", 1), new ScoredItem("c", 1));

        var result = PrequentialEvaluator.Run(model, [Click("u0", "b"), Click("u1", "b")], new PrequentialOptions { K = 2, TieBreaking = TieBreaking.ModelOrder });

        Assert.That(result.Ranking.Hits, Is.EqualTo(1));
    }

    [Test]
    public void TieGroupRunningPastTheListEndIsAMiss()
    {
        // k = 1 asks for 3 candidates; all tie, and a fourth equal item could follow unseen.
        var model = new ScriptedRecommender(new ScoredItem("a", 0), new ScoredItem("b", 0), new ScoredItem("c", 0), new ScoredItem("d", 0));

        var result = PrequentialEvaluator.Run(model, [Click("u0", "a"), Click("u1", "a")], new PrequentialOptions { K = 1 });

        Assert.That(result.Ranking.Hits, Is.Zero);
    }

    [Test]
    public void WindowCoversOnlyTheMostRecentRankedEvents()
    {
        // Events 1-2 miss (items new), 3-4 hit; a window of 2 sees only the hits.
        var model = new ScriptedRecommender(ScriptedRecommender.Ranked("a", "b"));

        var result = PrequentialEvaluator.Run(model, [Click("u1", "a"), Click("u2", "b"), Click("u3", "a"), Click("u4", "b")], new PrequentialOptions { K = 2, Window = 2 });

        Assert.That((result.WindowRanking.Recall, result.Ranking.Recall), Is.EqualTo(((double?)1.0, (double?)0.5)));
    }

    [Test]
    public void SeriesHasOnePointEverySampleInterval()
    {
        var model = new ScriptedRecommender(ScriptedRecommender.Ranked("a", "b"));

        var result = PrequentialEvaluator.Run(model, [Click("u1", "a"), Click("u2", "b"), Click("u3", "a"), Click("u4", "a"), Click("u5", "a")], new PrequentialOptions { K = 2, Window = 2, SampleEvery = 2 });

        Assert.That(result.Series, Is.EqualTo(new[]
        {
            new WindowPoint(2, 2, 0.0, 0.0, 0.0, null, null, 0.0),
            new WindowPoint(4, 4, 1.0, 1.0, 1.0, null, null, 0.5),
        }));
    }

    [Test]
    public void FrozenModelStopsLearningAfterTheGivenEvent()
    {
        var model = new ScriptedRecommender(ScriptedRecommender.Ranked("a"));
        var events = Enumerable.Range(0, 5).Select(i => Click("u" + i, "a")).ToList();

        var result = PrequentialEvaluator.Run(model, events, new PrequentialOptions { FreezeAfter = 2 });

        Assert.That((model.Learned.Select(e => e.UserId), result.Learned, result.Ranking.Evaluated), Is.EqualTo((new[] { "u0", "u1" }, 2L, 5L)));
    }

    [Test]
    public void MinValueDropsEventsBeforeTestingAndLearning()
    {
        var model = new ScriptedRecommender(ScriptedRecommender.Ranked("a")) { Prediction = 4 };

        var result = PrequentialEvaluator.Run(model, [Rate("u1", "a", 5), Rate("u1", "b", 3), Rate("u2", "a", 4)], new PrequentialOptions { MinValue = 4 });

        Assert.That((result.FilteredOut, result.Processed, model.Learned.Count, result.Ranking.Evaluated), Is.EqualTo((1L, 2L, 2, 2L)));
    }

    [Test]
    public void RatingErrorsGiveHandComputedMaeAndRmse()
    {
        var model = new ScriptedRecommender { Prediction = 3 };

        var result = PrequentialEvaluator.Run(model, [Rate("u1", "a", 4), Rate("u1", "b", 1), Rate("u2", "a", 3)]);

        Assert.That(result.Ratings, Is.EqualTo(new RatingMetrics(3, 1.0, Math.Sqrt(5.0 / 3))));
    }

    [Test]
    public void RatingsAreNullWhenTheModelPredictsNone()
    {
        var model = new ScriptedRecommender();

        var result = PrequentialEvaluator.Run(model, [Rate("u1", "a", 4)]);

        Assert.That((result.Ratings.Mae, result.Ratings.Rmse, result.RatingsUnpredicted), Is.EqualTo(((double?)null, (double?)null, 1L)));
    }

    [Test]
    public void NonFinitePredictionsAreCountedApartFromTheError()
    {
        var model = new ScriptedRecommender { Prediction = float.NaN };

        var result = PrequentialEvaluator.Run(model, [Rate("u1", "a", 4)]);

        Assert.That((result.NonFinitePredictions, result.Ratings.Predicted), Is.EqualTo((1L, 0L)));
    }

    [Test]
    public void CoverageIsDistinctRecommendedOverDistinctSeen()
    {
        // Only a is ever in a 1-item list; a, b, c, d are seen.
        var model = new ScriptedRecommender(ScriptedRecommender.Ranked("a"));

        var result = PrequentialEvaluator.Run(model, [Click("u1", "a"), Click("u2", "b"), Click("u3", "c"), Click("u4", "d")], new PrequentialOptions { K = 1 });

        Assert.That(result.Coverage, Is.EqualTo(0.25));
    }

    [Test]
    public void EventsOfKnownUsersAndItemsAllocateNothing()
    {
        // With repeats ranked, every event takes the full path: list, rank, rating, learn.
        var model = new ScriptedRecommender(ScriptedRecommender.Ranked("a", "b", "c")) { Prediction = 3 };
        var evaluator = new PrequentialEvaluator(model, new PrequentialOptions { K = 2, SampleEvery = int.MaxValue, ExcludeSeen = false });
        var warmUp = new[] { Click("u1", "a"), Click("u2", "b"), Click("u3", "c") };
        var repeat = Rate("u1", "b", 4);
        foreach (var e in warmUp)
        {
            evaluator.Process(e);
        }

        model.Learned.Capacity = 1_000;
        var allocated = AllocationProbe.BytesPerPass(() =>
        {
            for (int i = 0; i < 100; i++)
            {
                evaluator.Process(repeat);
                evaluator.Process(warmUp[1]);
            }
        });

        Assert.That(allocated, Has.Some.Zero, string.Join(", ", allocated));
    }

    [Test]
    public void InvalidOptionsAreRejected()
    {
        Assert.Throws<ArgumentException>(() => new PrequentialEvaluator(new ScriptedRecommender(), new PrequentialOptions { K = 0 }));
    }

    private sealed class ExcludeSeenProbe : IOnlineRecommender
    {
        public List<bool> ExcludeSeenRequests { get; } = [];

        public string Name => "probe";

        public bool KnowsUser(string userId) => false;

        public void Learn(in Interaction interaction)
        {
        }

        public int Recommend(string userId, Span<ScoredItem> destination, bool excludeSeen = true)
        {
            ExcludeSeenRequests.Add(excludeSeen);
            return 0;
        }

        public float? PredictRating(string userId, string itemId) => null;
    }
}
