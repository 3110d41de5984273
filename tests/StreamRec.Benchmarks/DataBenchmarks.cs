using BenchmarkDotNet.Attributes;
using StreamRec.Core.Data;
using StreamRec.Core.Evaluation;
using StreamRec.Core.Model;

namespace StreamRec.Benchmarks;

/// <summary>Parsing throughput of each input format, from memory (no disk in the measurement).</summary>
[MemoryDiagnoser]
public class ReaderBenchmarks
{
    private const int Events = 100_000;
    private byte[] _file = [];

    [Params(InputFormat.Csv, InputFormat.JsonLines, InputFormat.Proto)]
    public InputFormat Format { get; set; }

    [GlobalSetup]
    public void WriteFile()
    {
        using var buffer = new MemoryStream();
        InteractionWriter.Write(buffer, Format, new SyntheticClickstream(new SyntheticClickstreamOptions(Events: Events)));
        _file = buffer.ToArray();
    }

    [Benchmark(OperationsPerInvoke = Events)]
    public long ReadAll()
    {
        long checksum = 0;
        foreach (var interaction in InteractionReader.Read(new MemoryStream(_file, writable: false), Format))
        {
            checksum += interaction.EventTimeMs;
        }

        return checksum;
    }
}

/// <summary>
/// The evaluator's own cost per event (history, exclusion, ranking, windows) around a model that
/// answers instantly, and the generator's cost per event.
/// </summary>
[MemoryDiagnoser]
public class EvaluatorBenchmarks
{
    private const int Events = 100_000;
    private Interaction[] _events = [];

    [GlobalSetup]
    public void Generate() =>
        _events = new SyntheticClickstream(new SyntheticClickstreamOptions(Events: Events)).ToArray();

    [Benchmark(OperationsPerInvoke = Events)]
    public double? PrequentialPerEvent() =>
        PrequentialEvaluator.Run(new FixedListRecommender(_events), _events).Ranking.Recall;

    [Benchmark(OperationsPerInvoke = Events)]
    public long GeneratePerEvent()
    {
        long checksum = 0;
        foreach (var interaction in new SyntheticClickstream(new SyntheticClickstreamOptions(Events: Events)))
        {
            checksum += interaction.EventTimeMs;
        }

        return checksum;
    }

    /// <summary>Always the same 20 items, so the measurement is the evaluator, not a model.</summary>
    private sealed class FixedListRecommender(Interaction[] events) : IOnlineRecommender
    {
        private readonly ScoredItem[] _list = events.Select(e => e.ItemId).Distinct().Take(20).Select((item, i) => new ScoredItem(item, -i)).ToArray();
        private readonly HashSet<string> _users = [];

        public string Name => "fixed";

        public bool KnowsUser(string userId) => _users.Contains(userId);

        public void Learn(in Interaction interaction) => _users.Add(interaction.UserId);

        public int Recommend(string userId, Span<ScoredItem> destination, bool excludeSeen = true)
        {
            int count = Math.Min(destination.Length, _list.Length);
            _list.AsSpan(0, count).CopyTo(destination);
            return count;
        }

        public float? PredictRating(string userId, string itemId) => null;
    }
}
