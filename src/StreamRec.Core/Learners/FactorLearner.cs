using StreamRec.Core.Engine;
using StreamRec.Core.Model;

namespace StreamRec.Core.Learners;

/// <summary>One event as the gradient code sees it.</summary>
/// <param name="UserRow">The user's row.</param>
/// <param name="ItemRow">The item's row.</param>
/// <param name="Weight">The event's weight (see <see cref="EventWeightOptions.WeightOf"/>).</param>
/// <param name="Value">The raw <see cref="Interaction.Value"/> (the rating for rating events).</param>
internal readonly record struct TrainingExample(int UserRow, int ItemRow, float Weight, float Value);

/// <summary>
/// Shared machinery of the embedding learners: user and item tables, a bounded seen-item history per
/// user, trending counts for cold-start users and blending, and per-event or mini-batch updates.
/// Subclasses only compute gradients.
/// </summary>
/// <remarks>
/// <para>Per-event mode (<see cref="LearnerOptions.MiniBatchSize"/> = 1) applies each event's
/// gradients before the next event. Mini-batch mode computes N events' gradients against the same
/// parameters and applies their sum at once; call <see cref="Flush"/> at the end of a stream (or
/// before a checkpoint) to apply a partial batch.</para>
/// <para>Not thread-safe: one learner per shard thread. The tables are owned by the learner; a
/// checkpoint layer reads and restores them through <see cref="Users"/>, <see cref="Items"/> and
/// <see cref="Trending"/> on that thread.</para>
/// </remarks>
public abstract class FactorLearner : IOnlineRecommender
{
    private readonly EventWeightOptions _eventWeights;
    private readonly GradientBuffer _gradients;
    private readonly FactorStep _step;
    private readonly float[] _itemRates;
    private readonly float[] _itemSquares;
    private readonly float[] _gradientScratch;
    // The rows scored per event (the positive, then each drawn negative), their offsets and scores.
    private readonly int[] _scoredRows;
    private readonly int[] _scoredOffsets;
    private readonly float[] _scores;
    private readonly SeenItems _seen;
    private readonly TopKScorer _scorer = new();
    private readonly int _miniBatchSize;
    private readonly float _learningRate;
    private readonly float _biasLearningRate;
    private readonly float _trendingBlendWeight;
    private readonly int[] _excludedRows;
    private ScoredRow[] _rankedRows = new ScoredRow[16];
    private int _pendingEvents;

    private protected FactorLearner(string name, LearnerOptions options, bool userBias, int itemTermsPerEvent, SharedItems? sharedItems)
    {
        ArgumentNullException.ThrowIfNull(options);
        ResolvedOptions resolved = options.Resolve(name);
        Name = name;
        Resolved = resolved;
        RatingMin = options.RatingMin;
        RatingMax = options.RatingMax;
        MaxGradient = options.MaxGradient;
        _eventWeights = options.EventWeights;
        _miniBatchSize = options.MiniBatchSize;
        _learningRate = resolved.LearningRate;
        _biasLearningRate = resolved.BiasLearningRate;
        _trendingBlendWeight = resolved.TrendingBlendWeight;
        bool adaGrad = resolved.Schedule == LearningRateSchedule.AdaGrad;
        // Users and items draw from distinct streams of the same seed.
        Users = new EmbeddingTable(resolved.Dimensions, options.MaxUsers, resolved.InitSigma, options.Seed, userBias, adaGrad, options.InitialRows);
        if (sharedItems is not null && sharedItems.Learner != name)
        {
            throw new ArgumentException($"Shared items were built for '{sharedItems.Learner}', not '{name}'.", nameof(sharedItems));
        }

        SharedItems items = sharedItems ?? new SharedItems(options);
        Items = items.Items;
        Trending = items.Trending;
        Random = new SeededRandom(options.Seed ^ 0xB5297A4DUL);
        _seen = new SeenItems(options.SeenHistoryLength, Users.Ids.Capacity);
        _excludedRows = new int[options.SeenHistoryLength];
        _gradients = new GradientBuffer(resolved.Dimensions, options.MiniBatchSize * (1 + itemTermsPerEvent));
        _step = new FactorStep(itemTermsPerEvent);
        _itemRates = new float[itemTermsPerEvent];
        _itemSquares = new float[itemTermsPerEvent];
        _gradientScratch = new float[resolved.Dimensions];
        _scoredRows = new int[itemTermsPerEvent];
        _scoredOffsets = new int[itemTermsPerEvent];
        _scores = new float[itemTermsPerEvent];
    }

    /// <inheritdoc />
    public string Name { get; }

    /// <summary>User vectors (and biases for mse).</summary>
    public EmbeddingTable Users { get; }

    /// <summary>Item vectors and, when enabled, item biases.</summary>
    public EmbeddingTable Items { get; }

    /// <summary>Decayed item counts by item row: the cold-start ranking and the blended prior.</summary>
    public DecayedItemCounts Trending { get; }

    /// <summary>Events ignored: unspecified type, non-positive weight, or not a rating for mse.</summary>
    public long IgnoredEvents { get; private set; }

    /// <summary>Updates skipped because the loss gradient was not finite.</summary>
    public long SkippedUpdates { get; private protected set; }

    /// <summary>
    /// Per-event steps go through the fused kernels (<see cref="FactorStepKernels"/>) rather than the
    /// mini-batch buffer; both give the same floats. Tests turn it off to compare them.
    /// </summary>
    internal bool FusedSteps { get; set; } = true;

    /// <summary>Events whose gradients are computed but not yet applied (always 0 in per-event mode).</summary>
    public int PendingEvents => _pendingEvents;

    private protected ResolvedOptions Resolved { get; }

    private protected SeededRandom Random { get; }

    private protected float RatingMin { get; }

    private protected float RatingMax { get; }

    private protected float MaxGradient { get; }

    /// <inheritdoc />
    public bool KnowsUser(string userId) => Users.TryGetRow(userId, out _);

    /// <inheritdoc />
    public void Learn(in Interaction interaction)
    {
        float weight = _eventWeights.WeightOf(interaction, RatingMax);
        if (!(weight > 0f) || !float.IsFinite(weight) || !Accepts(interaction))
        {
            IgnoredEvents++;
            return;
        }

        // A pending gradient must never land on a row that is about to change hands.
        if (_pendingEvents > 0 && (WouldEvict(Users.Ids, interaction.UserId) || WouldEvict(Items.Ids, interaction.ItemId)))
        {
            Flush();
        }

        IdLookup user = Users.GetOrAddRow(interaction.UserId);
        _seen.EnsureCapacity(Users.Ids.Capacity);
        if (user.IsNew)
        {
            _seen.Reset(user.Row);
        }

        // The user's vector and history load while the item is looked up.
        Users.Prefetch(user.Row);
        _seen.Prefetch(user.Row);
        IdLookup item = Items.GetOrAddRow(interaction.ItemId);
        // Its vector loads while the history and trending counts update.
        Items.Prefetch(item.Row);
        Trending.EnsureCapacity(Items.Ids.Capacity);
        if (item.IsNew)
        {
            Trending.Reset(item.Row);
        }

        _seen.Record(user.Row, item.Row, Items.Ids.GenerationAt(item.Row));
        Trending.Observe(item.Row, weight, interaction.EventTimeMs);
        OnPositive(item.Row);

        _step.Clear();
        if (!ComputeStep(new TrainingExample(user.Row, item.Row, weight, interaction.Value), _step))
        {
            SkippedUpdates++;
        }
        else if (_step.Count > 0)
        {
            if (_miniBatchSize == 1 && FusedSteps && _step.Count <= FactorStepKernels.MaxTerms && !_step.HasRepeatedRow)
            {
                ApplyFused(user.Row);
            }
            else
            {
                AddToBuffer(user.Row);
            }
        }

        if (++_pendingEvents >= _miniBatchSize)
        {
            Flush();
        }
    }

    /// <summary>Applies the gradients of a partial mini-batch now (no-op in per-event mode).</summary>
    public void Flush()
    {
        _gradients.ApplyAndClear(_learningRate, _biasLearningRate);
        _pendingEvents = 0;
    }

    /// <inheritdoc />
    /// <remarks>
    /// Known users: <c>user·item + item bias + blend·trending/maxTrending</c> over all items; unknown
    /// users: trending. Equal scores rank the lower item row first. Allocates only the id strings'
    /// records (no copies) and, on first use of a larger k, a scratch array.
    /// </remarks>
    public int Recommend(string userId, Span<ScoredItem> destination, bool excludeSeen = true)
    {
        int itemCount = Items.Count;
        if (destination.IsEmpty || itemCount == 0)
        {
            return 0;
        }

        if (_rankedRows.Length < destination.Length)
        {
            _rankedRows = new ScoredRow[destination.Length];
        }

        SyncSideTables();
        Span<ScoredRow> ranked = _rankedRows.AsSpan(0, destination.Length);
        ReadOnlySpan<float> trending = Trending.RelativeScores[..itemCount];
        int written;
        if (Users.TryGetRow(userId, out int userRow))
        {
            int excludedCount = excludeSeen ? _seen.CopyLiveRows(userRow, Items.Ids, _excludedRows) : 0;
            float maxTrending = Trending.MaxRelativeScore;
            float priorWeight = _trendingBlendWeight > 0f && maxTrending > 0f ? _trendingBlendWeight / maxTrending : 0f;
            written = _scorer.TopK(Users.ReadRow(userRow), Items, includeBias: true, priorWeight > 0f ? trending : [], priorWeight, _excludedRows.AsSpan(0, excludedCount), ranked);
        }
        else
        {
            written = _scorer.TopKOfScores(trending, [], ranked);
        }

        for (int i = 0; i < written; i++)
        {
            destination[i] = new ScoredItem(Items.Ids.IdAt(ranked[i].Row), ranked[i].Score);
        }

        return written;
    }

    /// <inheritdoc />
    public virtual float? PredictRating(string userId, string itemId) => null;

    /// <summary>The ids of the items in a user's bounded history (for checkpoints; allocates).</summary>
    public string[] SeenItemIds(int userRow) => ExcludedRowIds(_seen.CopyLiveRows(userRow, Items.Ids, _excludedRows));

    /// <summary>
    /// The ids a checkpoint delta carries for a user's history (allocates): the items recorded since the
    /// previous capture, oldest first, to be appended to the stored history; or the whole history when it was
    /// reset since (<paramref name="whole"/> true), to replace it. Starts the next capture.
    /// </summary>
    public string[] CaptureSeenItemIds(int userRow, out bool whole) =>
        ExcludedRowIds(_seen.CopyRecordedSinceCapture(userRow, Items.Ids, _excludedRows, out whole));

    /// <summary>The ids of the user's whole history for a snapshot (allocates); later captures carry only what follows.</summary>
    public string[] CaptureAllSeenItemIds(int userRow)
    {
        _seen.MarkCaptured(userRow);
        return SeenItemIds(userRow);
    }

    /// <summary>Items remembered per user (the seen-history length).</summary>
    public int SeenHistoryLength => _seen.HistoryLength;

    /// <summary>The item ids of the first <paramref name="count"/> rows a history copy left in the exclusion buffer.</summary>
    private string[] ExcludedRowIds(int count)
    {
        var ids = new string[count];
        for (int i = 0; i < count; i++)
        {
            ids[i] = Items.Ids.IdAt(_excludedRows[i]);
        }

        return ids;
    }

    /// <summary>
    /// Restores one user exactly as checkpointed: vector, bias, AdaGrad state and item history.
    /// Items must be restored first; history entries of items no longer held are dropped.
    /// </summary>
    public void RestoreUser(string userId, ReadOnlySpan<float> vector, float bias, float adaGradVector, float adaGradBias, IEnumerable<string> seenItemIds)
    {
        ArgumentNullException.ThrowIfNull(seenItemIds);
        int row = Users.WriteRow(userId, vector, bias, adaGradVector, adaGradBias);
        _seen.EnsureCapacity(Users.Ids.Capacity);
        _seen.Reset(row);
        foreach (string itemId in seenItemIds)
        {
            if (Items.TryGetRow(itemId, out int itemRow))
            {
                _seen.Record(row, itemRow, Items.Ids.GenerationAt(itemRow));
            }
        }

        // What was restored is stored already: the next delta carries only what follows.
        _seen.MarkCaptured(row);
    }

    /// <summary>Learner-wide scalars beyond the tables (for example the running rating mean), for checkpoints.</summary>
    public virtual IReadOnlyDictionary<string, double> ReadScalarState() => new Dictionary<string, double>();

    /// <summary>Restores what <see cref="ReadScalarState"/> returned.</summary>
    public virtual void RestoreScalarState(IReadOnlyDictionary<string, double> state)
    {
    }

    /// <summary>True when the learner trains on this kind of event.</summary>
    private protected virtual bool Accepts(in Interaction interaction) => true;

    /// <summary>Called for every accepted event's item (before its gradients), for negative samplers.</summary>
    private protected virtual void OnPositive(int itemRow)
    {
    }

    /// <summary>
    /// States the event's loss gradients in <paramref name="step"/> (empty: nothing to learn), reading
    /// the current parameters. Returns false when the step must be skipped (non-finite loss gradient).
    /// </summary>
    private protected abstract bool ComputeStep(in TrainingExample example, FactorStep step);

    /// <summary>A negative for the positive row, or -1 when none could be drawn (learners that sample negatives override it).</summary>
    private protected virtual int SampleNegative(int positiveRow) => -1;

    /// <summary>
    /// Draws <paramref name="negatives"/> negatives (draws of -1 are dropped) and scores the positive
    /// and each against the user, from the parameters as they are now: <paramref name="rows"/> holds
    /// the positive's row then the negatives', <paramref name="scores"/> their dot products with the user.
    /// </summary>
    private protected void ScoreWithNegatives(in TrainingExample example, int negatives, out ReadOnlySpan<int> rows, out ReadOnlySpan<float> scores)
    {
        int stride = Items.Stride;
        Span<int> scoredRows = _scoredRows;
        Span<int> offsets = _scoredOffsets;
        scoredRows[0] = example.ItemRow;
        offsets[0] = example.ItemRow * stride;
        int scored = 1;
        // Draw every negative first so that their rows load together (see EmbeddingTable.Prefetch).
        for (int n = 0; n < negatives; n++)
        {
            int negativeRow = SampleNegative(example.ItemRow);
            if (negativeRow >= 0)
            {
                Items.Prefetch(negativeRow);
                scoredRows[scored] = negativeRow;
                offsets[scored] = negativeRow * stride;
                scored++;
            }
        }

        ReadOnlySpan<float> user = Users.ReadRow(example.UserRow);
        Span<float> scoresOut = _scores.AsSpan(0, scored);
        if (scored == 1)
        {
            scoresOut[0] = VectorKernels.Dot(user, Items.ReadRow(example.ItemRow)); // inlined: no call for the positive-only case
        }
        else
        {
            FactorStepKernels.Dots(user, Items.AllVectors, offsets[..scored], scoresOut);
        }

        rows = scoredRows[..scored];
        scores = scoresOut;
    }

    /// <summary>Clamps a loss gradient into [-MaxGradient, MaxGradient]; false when it is not finite.</summary>
    private protected bool TryClampGradient(ref float gradient)
    {
        if (!float.IsFinite(gradient))
        {
            return false;
        }

        gradient = Math.Clamp(gradient, -MaxGradient, MaxGradient);
        return true;
    }

    /// <summary>Applies <see cref="_step"/> now, in one pass over the rows (per-event mode).</summary>
    private void ApplyFused(int userRow)
    {
        FactorStep step = _step;
        Span<float> user = Users.RowForUpdate(userRow);
        Span<float> items = Items.AllVectorsForUpdate;
        ReadOnlySpan<int> rows = step.Rows;
        Span<float> itemRates = _itemRates.AsSpan(0, step.Count);
        float l2 = Resolved.L2;
        float userRate = _learningRate;
        if (Resolved.Schedule == LearningRateSchedule.AdaGrad)
        {
            Span<float> itemSquares = _itemSquares.AsSpan(0, step.Count);
            float userSquares = FactorStepKernels.GradientSquares(user, l2, items, step.Offsets, step.Coefficients, itemSquares, _gradientScratch);
            userRate = Users.VectorRate(userRow, userSquares, _learningRate);
            for (int t = 0; t < rows.Length; t++)
            {
                itemRates[t] = Items.VectorRate(rows[t], itemSquares[t], _learningRate);
            }
        }
        else
        {
            itemRates.Fill(_learningRate);
        }

        FactorStepKernels.Step(user, userRate, l2, items, step.Offsets, step.Coefficients, itemRates);
        Users.StepBias(userRow, step.UserBiasGradient, _biasLearningRate);
        Users.MarkTouched(userRow);
        ReadOnlySpan<float> biasGradients = step.BiasGradients;
        for (int t = 0; t < rows.Length; t++)
        {
            Items.StepBias(rows[t], biasGradients[t], _biasLearningRate);
            Items.MarkTouched(rows[t]);
        }
    }

    /// <summary>Adds <see cref="_step"/> to the mini-batch buffer: the user's entry, then each item's.</summary>
    private void AddToBuffer(int userRow)
    {
        FactorStep step = _step;
        float l2 = Resolved.L2;
        ReadOnlySpan<float> user = Users.ReadRow(userRow);
        int userEntry = _gradients.Add(Users, userRow);
        _gradients.SetWeightedRowSum(userEntry, l2, user, Items.AllVectors, step.Offsets, step.Coefficients);
        _gradients.Bias(userEntry) = step.UserBiasGradient;
        ReadOnlySpan<int> rows = step.Rows;
        ReadOnlySpan<float> coefficients = step.Coefficients;
        ReadOnlySpan<float> biasGradients = step.BiasGradients;
        for (int t = 0; t < rows.Length; t++)
        {
            int itemEntry = _gradients.Add(Items, rows[t]);
            _gradients.SetScaledSum(itemEntry, l2, Items.ReadRow(rows[t]), coefficients[t], user);
            _gradients.Bias(itemEntry) = biasGradients[t];
        }
    }

    private static bool WouldEvict(IdMap ids, string id) => ids.IsFull && !ids.Contains(id);

    /// <summary>
    /// Grows the per-row side tables to the id maps' capacity: rows also arrive through
    /// <see cref="EmbeddingTable.WriteRow"/> (restore), not only through <see cref="Learn"/>.
    /// </summary>
    private void SyncSideTables()
    {
        _seen.EnsureCapacity(Users.Ids.Capacity);
        Trending.EnsureCapacity(Items.Ids.Capacity);
    }
}
