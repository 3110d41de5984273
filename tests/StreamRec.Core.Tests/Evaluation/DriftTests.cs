using StreamRec.Core.Data;
using StreamRec.Core.Evaluation;
using StreamRec.Core.Model;

namespace StreamRec.Core.Tests.Evaluation;

/// <summary>The generator's taste shift seen through the evaluator: an online model recovers, a frozen one does not.</summary>
public class DriftTests
{
    private static readonly SyntheticClickstreamOptions Shifting = new(Users: 100, Items: 400, Events: 30_000, Clusters: 4, ShiftAt: 15_000, Seed: 11);

    private static PrequentialResult Evaluate(long? freezeAfter)
    {
        var stream = new SyntheticClickstream(Shifting);
        var model = new ClusterFollower(stream);
        return PrequentialEvaluator.Run(model, stream, new PrequentialOptions { K = 10, Window = 2_000, SampleEvery = 1_000, FreezeAfter = freezeAfter });
    }

    [Test]
    public void OnlineModelRecoversAfterTheShiftAndTheFrozenOneDoesNot()
    {
        double online = Evaluate(freezeAfter: null).WindowRanking.Recall!.Value;
        double frozen = Evaluate(freezeAfter: Shifting.ShiftAt).WindowRanking.Recall!.Value;

        Assert.That(online, Is.GreaterThan(2 * frozen));
    }

    [Test]
    public void WindowedSeriesShowsTheDropAtTheShift()
    {
        var series = Evaluate(freezeAfter: null).Series;

        double beforeShift = series.Single(p => p.Events == 15_000).Recall!.Value;
        double justAfter = series.Single(p => p.Events == 16_000).Recall!.Value;

        Assert.That(justAfter, Is.LessThan(beforeShift));
    }

    /// <summary>
    /// Recommends the most clicked items of the cluster the user has lately clicked most
    /// (a decayed vote), so it follows a change of taste only while it keeps learning.
    /// </summary>
    private sealed class ClusterFollower(SyntheticClickstream stream) : IOnlineRecommender
    {
        private const double Decay = 0.8;
        private readonly Dictionary<string, double[]> _votes = [];
        private readonly Dictionary<int, Dictionary<string, long>> _clicksByCluster = [];

        public string Name => "cluster-follower";

        public bool KnowsUser(string userId) => _votes.ContainsKey(userId);

        public void Learn(in Interaction interaction)
        {
            int cluster = stream.ClusterOfItem(interaction.ItemId);
            if (!_votes.TryGetValue(interaction.UserId, out var votes))
            {
                votes = new double[stream.Options.Clusters];
                _votes.Add(interaction.UserId, votes);
            }

            for (int c = 0; c < votes.Length; c++)
            {
                votes[c] *= Decay;
            }

            votes[cluster] += 1;
            if (!_clicksByCluster.TryGetValue(cluster, out var clicks))
            {
                clicks = [];
                _clicksByCluster.Add(cluster, clicks);
            }

            clicks[interaction.ItemId] = clicks.GetValueOrDefault(interaction.ItemId) + 1;
        }

        public int Recommend(string userId, Span<ScoredItem> destination, bool excludeSeen = true)
        {
            if (!_votes.TryGetValue(userId, out var votes))
            {
                return 0;
            }

            int cluster = Array.IndexOf(votes, votes.Max());
            var ranked = _clicksByCluster.GetValueOrDefault(cluster, [])
                .OrderByDescending(pair => pair.Value).ThenBy(pair => pair.Key, StringComparer.Ordinal)
                .Take(destination.Length)
                .Select((pair, index) => new ScoredItem(pair.Key, -index))
                .ToArray();
            ranked.CopyTo(destination);
            return ranked.Length;
        }

        public float? PredictRating(string userId, string itemId) => null;
    }
}
