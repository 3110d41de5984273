using StreamRec.Contracts.V1;
using StreamRec.Core.Model;

namespace StreamRec.Core.Data;

/// <summary>
/// A deterministic synthetic clickstream: users and items belong to latent taste clusters, item
/// popularity is Zipf-distributed, part of the catalogue is released over time, event times
/// strictly increase, and at <see cref="SyntheticClickstreamOptions.ShiftAt"/> every user's taste
/// moves to the next cluster.
/// </summary>
/// <remarks>
/// Each enumeration replays the same stream from the seed, so one instance can feed a model and
/// then a check. Enumerations are independent; the instance itself holds no mutable state.
/// </remarks>
public sealed class SyntheticClickstream : IEnumerable<Interaction>
{
    private readonly SyntheticClickstreamOptions _options;

    // Cluster membership and popularity tables; read-only once built, shared by enumerations.
    private readonly Layout _layout;

    public SyntheticClickstream(SyntheticClickstreamOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        _options = options;
        _layout = new Layout(options);
    }

    /// <summary>The options this stream was built from.</summary>
    public SyntheticClickstreamOptions Options => _options;

    /// <summary>The taste cluster of an item (fixed for the whole stream).</summary>
    public int ClusterOfItem(string itemId) => ItemIndex(itemId) % _options.Clusters;

    /// <summary>The cluster a user prefers before the shift (after it, the next cluster).</summary>
    public int InitialClusterOfUser(string userId)
    {
        int user = int.Parse(userId.AsSpan(1), System.Globalization.CultureInfo.InvariantCulture);
        return _layout.UserClusters[user];
    }

    public IEnumerator<Interaction> GetEnumerator()
    {
        var options = _options;
        var layout = _layout;
        var random = new Random(options.Seed);
        var itemIds = new string[options.Items];
        var userIds = new string[options.Users];
        long time = options.StartTimeMs;
        for (long index = 0; index < options.Events; index++)
        {
            int available = layout.AvailableItems(index, options.Events);
            int user = random.Next(options.Users);
            int cluster = layout.UserClusters[user];
            bool shifted = options.ShiftAt is { } shiftAt && index >= shiftAt;
            if (shifted)
            {
                cluster = (cluster + 1) % options.Clusters;
            }

            double draw = random.NextDouble();
            int item;
            if (draw < options.FreshItemProbability && available > layout.InitialItems)
            {
                item = layout.FreshItem(cluster, available, random);
            }
            else if (draw < options.FreshItemProbability + options.ClusterAffinity)
            {
                item = layout.ClusterItem(cluster, available, random);
            }
            else
            {
                item = layout.GlobalItem(available, random);
            }

            EventType type;
            float value = 0;
            if (random.NextDouble() < options.RatingFraction)
            {
                type = EventType.Rating;
                value = Rating(item % options.Clusters == cluster, random);
            }
            else
            {
                type = ImplicitType(options.EventTypeMix, random.NextDouble());
            }

            // Exponential gaps, at least 1 ms, so event times strictly increase.
            time += 1 + (long)(-Math.Log(1 - random.NextDouble()) * (options.MeanGapMs - 1));
            yield return new Interaction(
                userIds[user] ??= "u" + user.ToString(System.Globalization.CultureInfo.InvariantCulture),
                itemIds[item] ??= "i" + item.ToString(System.Globalization.CultureInfo.InvariantCulture),
                type,
                value,
                time);
        }
    }

    System.Collections.IEnumerator System.Collections.IEnumerable.GetEnumerator() => GetEnumerator();

    private static int ItemIndex(string itemId) =>
        int.Parse(itemId.AsSpan(1), System.Globalization.CultureInfo.InvariantCulture);

    private static EventType ImplicitType(IReadOnlyList<double> mix, double draw)
    {
        double cumulative = 0;
        for (int i = 0; i < mix.Count; i++)
        {
            cumulative += mix[i];
            if (draw < cumulative)
            {
                return (EventType)(i + 1);
            }
        }

        return EventType.Purchase;
    }

    private static float Rating(bool inTaste, Random random) =>
        inTaste ? 4 + random.Next(2) : 1 + random.Next(3);

    /// <summary>
    /// Who belongs where. Item i belongs to cluster i mod Clusters and is released in index order,
    /// so item 0 is the oldest; within a cluster, older items are more popular (Zipf by age rank).
    /// </summary>
    private sealed class Layout
    {
        public Layout(SyntheticClickstreamOptions options)
        {
            _clusters = options.Clusters;
            _items = options.Items;
            InitialItems = Math.Max(options.Clusters, (int)Math.Round(options.Items * (1 - options.NewItemFraction)));
            var random = new Random(unchecked(options.Seed * 31 + 7));
            UserClusters = new int[options.Users];
            for (int u = 0; u < UserClusters.Length; u++)
            {
                UserClusters[u] = random.Next(options.Clusters);
            }

            // Cumulative Zipf weights by rank: within a cluster (ranks 0..items/clusters) and overall.
            int perCluster = (options.Items + options.Clusters - 1) / options.Clusters;
            _clusterCumulative = CumulativeZipf(perCluster, options.ZipfExponent);
            _globalCumulative = CumulativeZipf(options.Items, options.ZipfExponent);
        }

        private readonly int _clusters;
        private readonly int _items;
        private readonly double[] _clusterCumulative;
        private readonly double[] _globalCumulative;

        public int[] UserClusters { get; }

        public int InitialItems { get; }

        /// <summary>Items 0..n-1 are released by event <paramref name="index"/>; the rest arrive evenly over the stream.</summary>
        public int AvailableItems(long index, long events)
        {
            if (events <= 0 || InitialItems >= _items)
            {
                return Math.Min(InitialItems, _items);
            }

            long released = (_items - InitialItems) * index / events;
            return InitialItems + (int)released;
        }

        public int ClusterItem(int cluster, int available, Random random)
        {
            // Items of the cluster below `available`: cluster, cluster + C, ... ; rank r is item cluster + r*C.
            int count = ItemsOfClusterBelow(cluster, available);
            int rank = SampleZipf(_clusterCumulative, count, random);
            return cluster + (rank * _clusters);
        }

        public int GlobalItem(int available, Random random) =>
            SampleZipf(_globalCumulative, available, random);

        /// <summary>One of the newest released items of the cluster (the last 5% of its released items, at least one).</summary>
        public int FreshItem(int cluster, int available, Random random)
        {
            int count = ItemsOfClusterBelow(cluster, available);
            int window = Math.Max(1, count / 20);
            int rank = count - 1 - random.Next(window);
            return cluster + (rank * _clusters);
        }

        private int ItemsOfClusterBelow(int cluster, int available) =>
            Math.Max(1, ((available - cluster) + _clusters - 1) / _clusters);

        private static double[] CumulativeZipf(int count, double exponent)
        {
            var cumulative = new double[count];
            double sum = 0;
            for (int rank = 0; rank < count; rank++)
            {
                sum += 1.0 / Math.Pow(rank + 1, exponent);
                cumulative[rank] = sum;
            }

            return cumulative;
        }

        private static int SampleZipf(double[] cumulative, int count, Random random)
        {
            double target = random.NextDouble() * cumulative[count - 1];
            int index = Array.BinarySearch(cumulative, 0, count, target);
            index = index >= 0 ? index : ~index;
            return Math.Min(index, count - 1);
        }
    }
}
