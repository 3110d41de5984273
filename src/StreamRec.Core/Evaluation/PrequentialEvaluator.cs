using StreamRec.Contracts.V1;
using StreamRec.Core.Model;

namespace StreamRec.Core.Evaluation;

/// <summary>
/// Prequential (test-then-train) evaluation: each event first tests the model — its user's top-k
/// list is checked for the event's item, and a rating event's prediction is scored — and is then
/// learned. Metrics are kept cumulatively, over a sliding window, and per user kind (known or
/// never seen by the model).
/// </summary>
/// <remarks>
/// Not thread-safe: one evaluator drives one model from one thread. The ranked-list buffer is
/// allocated once per evaluator; per-event work allocates only when a user or item is new.
/// </remarks>
public sealed class PrequentialEvaluator
{
    private readonly IOnlineRecommender _model;
    private readonly PrequentialOptions _options;
    private readonly TimeProvider _time;
    private readonly long _startTimestamp;

    // Candidates beyond k let the evaluator drop seen items the model let through, and see
    // whether the held item's tie group runs past position k. Grows (rarely) when leaks eat the slack.
    private ScoredItem[] _candidates;
    private readonly HashSet<string> _itemsSeen = new(StringComparer.Ordinal);
    private readonly Dictionary<string, HashSet<string>> _userHistory = new(StringComparer.Ordinal);
    private readonly HashSet<string> _itemsRecommended = new(StringComparer.Ordinal);
    private readonly List<WindowPoint> _series = [];

    private RankingAccumulator _known;
    private RankingAccumulator _cold;
    private readonly RankingWindow _rankingWindow;
    private ErrorAccumulator _ratings;
    private readonly ErrorWindow _ratingWindow;

    private long _eventsRead;
    private long _filteredOut;
    private long _processed;
    private long _learned;
    private long _repeatsNotRanked;
    private long _unseenItemEvents;
    private long _ratingsUnpredicted;
    private long _nonFinitePredictions;

    /// <param name="model">The model under test; the evaluator calls it from the caller's thread only.</param>
    /// <param name="options">Run settings; validated here.</param>
    /// <param name="time">Clock for throughput; the system clock when null.</param>
    public PrequentialEvaluator(IOnlineRecommender model, PrequentialOptions? options = null, TimeProvider? time = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        options ??= new PrequentialOptions();
        options.Validate();
        _model = model;
        _options = options;
        _time = time ?? TimeProvider.System;
        _startTimestamp = _time.GetTimestamp();
        _candidates = new ScoredItem[(options.K * 2) + 1];
        _rankingWindow = new RankingWindow(options.Window);
        _ratingWindow = new ErrorWindow(options.Window);
    }

    /// <summary>Events that passed the filter so far.</summary>
    public long Processed => _processed;

    /// <summary>Recall@k over the current window, for progress lines; null before any ranked event.</summary>
    public double? WindowRecall => _rankingWindow.ToMetrics().Recall;

    /// <summary>Runs a whole stream through a new evaluator and returns the result.</summary>
    public static PrequentialResult Run(IOnlineRecommender model, IEnumerable<Interaction> events, PrequentialOptions? options = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(events);
        var evaluator = new PrequentialEvaluator(model, options);
        foreach (var interaction in events)
        {
            evaluator.Process(interaction);
            if ((evaluator._eventsRead & 0xFFF) == 0)
            {
                cancellationToken.ThrowIfCancellationRequested();
            }
        }

        return evaluator.GetResult();
    }

    /// <summary>Tests the model on one event, then lets it learn from it (unless filtered or frozen).</summary>
    public void Process(in Interaction interaction)
    {
        _eventsRead++;
        if (_options.MinValue is { } minValue && interaction.Value < minValue)
        {
            _filteredOut++;
            return;
        }

        _processed++;
        _userHistory.TryGetValue(interaction.UserId, out var history);

        if (_options.EvaluateRanking)
        {
            if (_options.ExcludeSeen && history is not null && history.Contains(interaction.ItemId))
            {
                _repeatsNotRanked++;
            }
            else
            {
                Rank(interaction, history);
            }
        }

        if (_options.EvaluateRatings && interaction.Type == EventType.Rating)
        {
            ScoreRating(interaction);
        }

        if (_options.FreezeAfter is not { } freezeAfter || _processed <= freezeAfter)
        {
            _model.Learn(interaction);
            _learned++;
        }

        // Histories hold the first instance of each item id, not one string per event.
        if (!_itemsSeen.TryGetValue(interaction.ItemId, out string? itemId))
        {
            itemId = interaction.ItemId;
            _itemsSeen.Add(itemId);
        }

        if (history is null)
        {
            history = new HashSet<string>(StringComparer.Ordinal);
            _userHistory.Add(interaction.UserId, history);
        }

        history.Add(itemId);

        if (_processed % _options.SampleEvery == 0)
        {
            _series.Add(CurrentPoint());
        }
    }

    private void Rank(in Interaction interaction, HashSet<string>? history)
    {
        bool knownUser = _model.KnowsUser(interaction.UserId);
        int kept;
        bool listMayContinue;
        while (true)
        {
            int written = Math.Clamp(_model.Recommend(interaction.UserId, _candidates, _options.ExcludeSeen), 0, _candidates.Length);
            listMayContinue = written == _candidates.Length;

            // Compact the list in place: drop the user's earlier items, keep the model's order.
            kept = 0;
            for (int i = 0; i < written; i++)
            {
                var candidate = _candidates[i];
                if (_options.ExcludeSeen && history is not null && history.Contains(candidate.ItemId))
                {
                    continue;
                }

                _candidates[kept++] = candidate;
            }

            // k + 1 visible items settle whether the k-th ties with what follows. When the model let
            // earlier items through and they ate the slack, ask again for a longer list; once the
            // buffer exceeds k + 1 + history, a full list always leaves k + 1 items.
            int enough = _options.K + 1 + (history?.Count ?? 0);
            if (!listMayContinue || kept > _options.K || _candidates.Length >= enough)
            {
                break;
            }

            _candidates = new ScoredItem[Math.Min(enough, _candidates.Length * 2)];
        }

        int listed = Math.Min(kept, _options.K);
        for (int i = 0; i < listed; i++)
        {
            _itemsRecommended.Add(_candidates[i].ItemId);
        }

        int rank = 0;
        if (_itemsSeen.Contains(interaction.ItemId))
        {
            rank = FindRank(interaction.ItemId, kept, listMayContinue);
        }
        else
        {
            _unseenItemEvents++;
        }

        bool hit = rank is > 0 && rank <= _options.K;
        double gain = hit ? 1.0 / Math.Log2(rank + 1) : 0;
        double reciprocal = hit ? 1.0 / rank : 0;
        if (knownUser)
        {
            _known.Add(hit, gain, reciprocal);
        }
        else
        {
            _cold.Add(hit, gain, reciprocal);
        }

        _rankingWindow.Add(hit, gain, reciprocal);
    }

    /// <summary>1-based rank of the item among the first <paramref name="count"/> candidates, 0 when absent or unknowable.</summary>
    private int FindRank(string itemId, int count, bool listMayContinue)
    {
        for (int i = 0; i < count; i++)
        {
            if (!string.Equals(_candidates[i].ItemId, itemId, StringComparison.Ordinal))
            {
                continue;
            }

            int position = i;
            if (_options.TieBreaking == TieBreaking.Pessimistic)
            {
                float score = _candidates[i].Score;
                while (position + 1 < count && _candidates[position + 1].Score.Equals(score))
                {
                    position++;
                }

                // The tie group runs to the end of a full list: more equal items may follow beyond it.
                if (position + 1 == count && listMayContinue)
                {
                    return 0;
                }
            }

            return position + 1;
        }

        return 0;
    }

    private void ScoreRating(in Interaction interaction)
    {
        float? prediction = _model.PredictRating(interaction.UserId, interaction.ItemId);
        if (prediction is not { } predicted)
        {
            _ratingsUnpredicted++;
            return;
        }

        if (!float.IsFinite(predicted))
        {
            _nonFinitePredictions++;
            return;
        }

        double error = predicted - interaction.Value;
        _ratings.Add(error);
        _ratingWindow.Add(error);
    }

    private WindowPoint CurrentPoint()
    {
        var window = _rankingWindow.ToMetrics();
        var ratings = _ratingWindow.ToMetrics();
        var all = RankingAccumulator.Combine(_known, _cold);
        return new WindowPoint(_processed, all.Evaluated, window.Recall, window.Ndcg, window.Mrr, ratings.Mae, ratings.Rmse, all.ToMetrics().Recall);
    }

    /// <summary>A snapshot of everything measured so far; the run can continue afterwards.</summary>
    public PrequentialResult GetResult()
    {
        var all = RankingAccumulator.Combine(_known, _cold);
        return new PrequentialResult
        {
            Learner = _model.Name,
            Options = _options,
            EventsRead = _eventsRead,
            FilteredOut = _filteredOut,
            Processed = _processed,
            Learned = _learned,
            RepeatsNotRanked = _repeatsNotRanked,
            UnseenItemEvents = _unseenItemEvents,
            Ranking = all.ToMetrics(),
            KnownUsers = _known.ToMetrics(),
            ColdStart = _cold.ToMetrics(),
            WindowRanking = _rankingWindow.ToMetrics(),
            Coverage = _options.EvaluateRanking && _itemsSeen.Count > 0 ? (double)_itemsRecommended.Count / _itemsSeen.Count : null,
            DistinctItemsRecommended = _itemsRecommended.Count,
            DistinctItemsSeen = _itemsSeen.Count,
            Ratings = _ratings.ToMetrics(),
            WindowRatings = _ratingWindow.ToMetrics(),
            RatingsUnpredicted = _ratingsUnpredicted,
            NonFinitePredictions = _nonFinitePredictions,
            Series = _series.ToArray(),
            Elapsed = _time.GetElapsedTime(_startTimestamp),
        };
    }

    private struct RankingAccumulator
    {
        private long _evaluated;
        private long _hits;
        private double _gain;
        private double _reciprocal;

        public long Evaluated => _evaluated;

        public void Add(bool hit, double gain, double reciprocal)
        {
            _evaluated++;
            _hits += hit ? 1 : 0;
            _gain += gain;
            _reciprocal += reciprocal;
        }

        public static RankingAccumulator Combine(RankingAccumulator a, RankingAccumulator b) => new()
        {
            _evaluated = a._evaluated + b._evaluated,
            _hits = a._hits + b._hits,
            _gain = a._gain + b._gain,
            _reciprocal = a._reciprocal + b._reciprocal,
        };

        public readonly RankingMetrics ToMetrics() => _evaluated == 0
            ? new RankingMetrics(0, 0, null, null, null)
            : new RankingMetrics(_evaluated, _hits, (double)_hits / _evaluated, _gain / _evaluated, _reciprocal / _evaluated);
    }

    /// <summary>Ranking outcomes of the last N ranked events, kept in a ring with running sums.</summary>
    private sealed class RankingWindow(int capacity)
    {
        private readonly double[] _gain = new double[capacity];
        private readonly double[] _reciprocal = new double[capacity];
        private int _next;
        private int _count;
        private long _hits;
        private double _gainSum;
        private double _reciprocalSum;

        public void Add(bool hit, double gain, double reciprocal)
        {
            if (_count == _gain.Length)
            {
                _hits -= _reciprocal[_next] > 0 ? 1 : 0;
                _gainSum -= _gain[_next];
                _reciprocalSum -= _reciprocal[_next];
            }
            else
            {
                _count++;
            }

            _gain[_next] = gain;
            _reciprocal[_next] = reciprocal;
            _hits += hit ? 1 : 0;
            _gainSum += gain;
            _reciprocalSum += reciprocal;
            _next = (_next + 1) % _gain.Length;
        }

        public RankingMetrics ToMetrics() => _count == 0
            ? new RankingMetrics(0, 0, null, null, null)
            : new RankingMetrics(_count, _hits, (double)_hits / _count, Math.Max(0, _gainSum) / _count, Math.Max(0, _reciprocalSum) / _count);
    }

    private struct ErrorAccumulator
    {
        private long _count;
        private double _absolute;
        private double _squared;

        public void Add(double error)
        {
            _count++;
            _absolute += Math.Abs(error);
            _squared += error * error;
        }

        public readonly RatingMetrics ToMetrics() => _count == 0
            ? new RatingMetrics(0, null, null)
            : new RatingMetrics(_count, _absolute / _count, Math.Sqrt(_squared / _count));
    }

    /// <summary>Rating errors of the last N predictions.</summary>
    private sealed class ErrorWindow(int capacity)
    {
        private readonly double[] _errors = new double[capacity];
        private int _next;
        private int _count;
        private double _absolute;
        private double _squared;

        public void Add(double error)
        {
            if (_count == _errors.Length)
            {
                double old = _errors[_next];
                _absolute -= Math.Abs(old);
                _squared -= old * old;
            }
            else
            {
                _count++;
            }

            _errors[_next] = error;
            _absolute += Math.Abs(error);
            _squared += error * error;
            _next = (_next + 1) % _errors.Length;
        }

        public RatingMetrics ToMetrics() => _count == 0
            ? new RatingMetrics(0, null, null)
            : new RatingMetrics(_count, Math.Max(0, _absolute) / _count, Math.Sqrt(Math.Max(0, _squared) / _count));
    }
}
