using StreamRec.Reader.Observability;

namespace StreamRec.Reader.Serving;

/// <summary>
/// Decides per request whether personalised top-k takes its candidates from the newest built
/// <see cref="ApproximateIndex"/> and hands out leases on it. The index is built and replaced in the
/// background (<see cref="Following.ApproximateIndexMaintainer"/>); requests never wait for a build and
/// never block a swap. Thread-safe.
/// </summary>
internal sealed class ApproximateSearch
{
    /// <summary>
    /// Above this fraction of rows out of date in the index (changed or appended since its build, and so
    /// scored one by one), ranking exactly costs no more: the request takes the exact path.
    /// </summary>
    public const double MaxUnindexedFraction = 0.25;

    private readonly ReaderMetrics? _metrics;
    private ApproximateIndex? _index;
    private ApproximateView? _view;

    public ApproximateSearch(int minItems, int extraCandidates, ReaderMetrics? metrics = null)
    {
        MinItems = minItems;
        ExtraCandidates = extraCandidates;
        _metrics = metrics;
    }

    /// <summary>Least item count for the approximate path; 0 = never.</summary>
    public int MinItems { get; }

    /// <summary>Candidates asked beyond k plus the user's seen items.</summary>
    public int ExtraCandidates { get; }

    /// <summary>The newest built index, or null.</summary>
    public ApproximateIndex? Index => Volatile.Read(ref _index);

    /// <summary>Whether a catalogue of <paramref name="items"/> rows is searched approximately once an index is ready.</summary>
    public bool Applies(int items) => MinItems > 0 && items >= MinItems;

    /// <summary>Makes <paramref name="index"/> (or none) the one requests use; the previous one is retired.</summary>
    public void Publish(ApproximateIndex? index)
    {
        Interlocked.Exchange(ref _index, index)?.Retire();
    }

    /// <summary>
    /// A view of the newest index for <paramref name="model"/> with a lease taken on it (release with
    /// <see cref="ApproximateIndex.Release"/>), or null when the request is to be ranked exactly: off, too
    /// few items, no index yet, an index of other items (a restore or promotion), or too much changed since its build.
    /// </summary>
    public ApproximateView? Acquire(ServingModel model)
    {
        var items = model.Items;
        if (!Applies(items.Count) || Index is not { } index || !ReferenceEquals(index.Lineage, items.Lineage) || !index.TryAcquire())
        {
            return null;
        }

        var view = Volatile.Read(ref _view);
        if (view is null || !ReferenceEquals(view.Index, index) || !ReferenceEquals(view.Items, items))
        {
            // Once per generation and index: racing requests compute the same view.
            view = ApproximateView.Of(index, items);
            Volatile.Write(ref _view, view);
        }

        if (view.Unindexed.Length > MaxUnindexedFraction * items.Count)
        {
            index.Release();
            return null;
        }

        return view;
    }

    /// <summary>Counts personalised rankings by the path that answered them.</summary>
    public void Count(int approximate, int exact)
    {
        if (_metrics is null)
        {
            return;
        }

        if (approximate > 0)
        {
            _metrics.Rankings.WithLabels("approximate").Inc(approximate);
        }

        if (exact > 0)
        {
            _metrics.Rankings.WithLabels("exact").Inc(exact);
        }
    }
}

/// <summary>
/// An index together with the item table a request ranks from: the rows the index cannot propose
/// correctly (<see cref="Unindexed"/>: changed since its build, or appended after it), which are scored
/// exactly on every request. Immutable.
/// </summary>
internal sealed class ApproximateView
{
    private ApproximateView(ApproximateIndex index, ItemTable items, int[] unindexed)
    {
        Index = index;
        Items = items;
        Unindexed = unindexed;
    }

    public ApproximateIndex Index { get; }

    public ItemTable Items { get; }

    /// <summary>Rows, ascending, whose current content the index does not hold.</summary>
    public int[] Unindexed { get; }

    /// <summary>
    /// Whether row <paramref name="row"/>, proposed by the index, is in this table as the index holds it. An
    /// index built from a newer revision than a request's table (the request started before the swap) may
    /// propose rows the table does not have yet.
    /// </summary>
    public bool IsIndexed(int row) => row < Items.Count && row < Index.Count && Items.RowRevisions[row] <= Index.Revision;

    public static ApproximateView Of(ApproximateIndex index, ItemTable items) =>
        new(index, items, [.. UnindexedRows(index, items)]);

    /// <summary>How many rows of <paramref name="items"/> the index does not hold as they are now (a scan of the row revisions).</summary>
    public static int UnindexedCount(ApproximateIndex index, ItemTable items)
    {
        var count = Math.Max(0, items.Count - index.Count);
        var revisions = items.RowRevisions.AsSpan(0, Math.Min(index.Count, items.Count));
        foreach (var revision in revisions)
        {
            if (revision > index.Revision)
            {
                count++;
            }
        }

        return count;
    }

    private static List<int> UnindexedRows(ApproximateIndex index, ItemTable items)
    {
        var rows = new List<int>();
        var covered = Math.Min(index.Count, items.Count);
        for (var row = 0; row < covered; row++)
        {
            if (items.RowRevisions[row] > index.Revision)
            {
                rows.Add(row);
            }
        }

        for (var row = covered; row < items.Count; row++)
        {
            rows.Add(row);
        }

        return rows;
    }
}
