using StreamRec.Contracts.V1;
using StreamRec.Core.Learners;
using StreamRec.Core.Model;

namespace StreamRec.Core.Tests.Learners;

/// <summary>
/// Users fall into clusters and mostly consume items of their own cluster, so a personalised model
/// should beat popularity on prequential hit rate@10 (test on each event, then train on it).
/// </summary>
public sealed class PlantedStructureTests
{
    private const int Clusters = 10;
    private const int ItemsPerCluster = 30;
    private const int Users = 1000;
    private const int EventsPerUser = 15;
    private const double NoiseShare = 0.1;
    private const int K = 10;

    [TestCase("isgd")]
    [TestCase("bpr")]
    public void PersonalisedLearnerBeatsPopularityOnPlantedClusters(string name)
    {
        Interaction[] stream = PlantedStream(seed: 1);

        double personalised = PrequentialHitRate(LearnerFactory.Create(new LearnerOptions { Learner = name }), stream);
        double popularity = PrequentialHitRate(LearnerFactory.Create(new LearnerOptions { Learner = "popularity" }), stream);

        TestContext.Out.WriteLine($"{name}: hit@{K} {personalised:F3}; popularity {popularity:F3}");
        Assert.That(personalised, Is.GreaterThan(popularity * 3));
    }

    /// <summary>Share of events (of users seen before) whose item is in the user's top K, excluding seen items.</summary>
    private static double PrequentialHitRate(IOnlineRecommender learner, Interaction[] stream)
    {
        var top = new ScoredItem[K];
        int hits = 0;
        int tested = 0;
        foreach (Interaction e in stream)
        {
            if (learner.KnowsUser(e.UserId))
            {
                tested++;
                int written = learner.Recommend(e.UserId, top);
                for (int i = 0; i < written; i++)
                {
                    if (top[i].ItemId == e.ItemId)
                    {
                        hits++;
                        break;
                    }
                }
            }

            learner.Learn(e);
        }

        return (double)hits / tested;
    }

    /// <summary>Each user reads distinct items, mostly from their own cluster; users interleave at random.</summary>
    private static Interaction[] PlantedStream(int seed)
    {
        var random = new Random(seed);
        var queues = new List<Queue<int>>();
        for (int user = 0; user < Users; user++)
        {
            int cluster = user % Clusters;
            var chosen = new HashSet<int>();
            var order = new Queue<int>();
            while (order.Count < EventsPerUser)
            {
                int item = random.NextDouble() < NoiseShare
                    ? random.Next(Clusters * ItemsPerCluster)
                    : (cluster * ItemsPerCluster) + random.Next(ItemsPerCluster);
                if (chosen.Add(item))
                {
                    order.Enqueue(item);
                }
            }

            queues.Add(order);
        }

        var events = new List<Interaction>(Users * EventsPerUser);
        var active = Enumerable.Range(0, Users).ToList();
        long time = 1_700_000_000_000;
        while (active.Count > 0)
        {
            int slot = random.Next(active.Count);
            int user = active[slot];
            events.Add(new Interaction($"user-{user}", $"item-{queues[user].Dequeue()}", EventType.Click, 0f, time += 60_000));
            if (queues[user].Count == 0)
            {
                active[slot] = active[^1];
                active.RemoveAt(active.Count - 1);
            }
        }

        return [.. events];
    }
}
