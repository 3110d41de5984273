using System.Diagnostics;
using System.Numerics.Tensors;
using Cloud.Unum.USearch;

namespace StreamRec.Reader.Serving;

/// <summary>How an <see cref="ApproximateIndex"/> is built.</summary>
internal readonly record struct ApproximateIndexSettings(int Connectivity, int ExpansionAdd, int ExpansionSearch);

/// <summary>
/// A USearch HNSW index over the item rows of one <see cref="ItemTable"/> revision that finds the rows of
/// largest <c>[item, bias + blend·prior]·[user, 1]</c>, the personalised score as it stood at the build
/// (inner-product search over rows augmented with their offset). Immutable once built (searches only read it, so any number run at once). It
/// only proposes candidate rows; callers re-score them from the generation they serve.
/// The native index is freed when the owner has retired it (<see cref="Retire"/>) and the last search
/// holding a lease (<see cref="TryAcquire"/>) has released it, never under a running search.
/// </summary>
internal sealed class ApproximateIndex
{
    /// <summary>Rows added to the native index per call (one reused buffer of this many rows).</summary>
    private const int AddChunkRows = 4096;

    [ThreadStatic]
    private static float[]? _query;

    private readonly USearchIndex _index;

    /// <summary>
    /// USearch keeps one search context per hardware thread and fails a search when all are taken
    /// ("Reserve capacity ahead of searches!"), so at most one search per core runs at once; the others
    /// wait the fraction of a millisecond one takes.
    /// </summary>
    private readonly SemaphoreSlim _searchSlots = new(Environment.ProcessorCount);
    private int _references = 1;

    private ApproximateIndex(USearchIndex index, ItemTable items, long generation, TimeSpan buildTime)
    {
        _index = index;
        Lineage = items.Lineage;
        Revision = items.Revision;
        Count = items.Count;
        Dimensions = items.Dimensions;
        Generation = generation;
        BuildTime = buildTime;
    }

    /// <summary>Lineage of the items indexed; the index serves only tables of the same lineage.</summary>
    public ItemLineage Lineage { get; }

    /// <summary>Revision of the items indexed: rows with a later row revision are out of date in the index.</summary>
    public long Revision { get; }

    /// <summary>Rows indexed (rows 0 to Count - 1 of the table it was built from).</summary>
    public int Count { get; }

    public int Dimensions { get; }

    /// <summary>Model generation the index was built from.</summary>
    public long Generation { get; }

    public TimeSpan BuildTime { get; }

    /// <summary>
    /// Indexes every row of <paramref name="model"/>'s items on the calling thread (one core; seconds for 100k
    /// rows). Null when a vector or offset is not finite (inner products with them rank nothing). Cancellable between chunks.
    /// </summary>
    /// <exception cref="USearchException">The native index failed (out of memory, for one).</exception>
    public static ApproximateIndex? Build(ServingModel model, ApproximateIndexSettings settings, CancellationToken cancellationToken)
    {
        var started = Stopwatch.GetTimestamp();
        var items = model.Items;
        var offsets = Offsets(model);
        if (!AllFinite(items.Vectors) || !AllFinite(offsets))
        {
            return null;
        }

        var dimensions = items.Dimensions + 1;
        // Inner product straight over the augmented rows: padding rows to one norm and searching by Euclidean
        // distance ranks the same but gave a third of the recall on the benchmark's models (docs/reader.md).
        var index = new USearchIndex(MetricKind.Ip, ScalarKind.Float32, (ulong)dimensions,
            (ulong)settings.Connectivity, (ulong)settings.ExpansionAdd, (ulong)settings.ExpansionSearch, false);
        try
        {
            var keys = new ulong[Math.Min(AddChunkRows, items.Count)];
            var rows = new float[keys.Length][];
            for (var i = 0; i < rows.Length; i++)
            {
                rows[i] = new float[dimensions];
            }

            for (var start = 0; start < items.Count; start += AddChunkRows)
            {
                cancellationToken.ThrowIfCancellationRequested();
                var length = Math.Min(AddChunkRows, items.Count - start);
                if (length < keys.Length)
                {
                    // The wrapper adds as many rows as the arrays hold.
                    keys = keys[..length];
                    rows = rows[..length];
                }

                for (var i = 0; i < length; i++)
                {
                    var row = start + i;
                    keys[i] = (ulong)row;
                    items.Vector(row).CopyTo(rows[i]);
                    rows[i][^1] = offsets[row];
                }

                index.Add(keys, rows);
            }

            return new ApproximateIndex(index, items, model.Generation, Stopwatch.GetElapsedTime(started));
        }
        catch
        {
            index.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Appends to <paramref name="rows"/> up to <paramref name="count"/> rows of the largest
    /// <c>[item, offset]·[user, 1]</c> the graph search finds (not in row order). The caller holds a lease.
    /// False when the native search failed (the caller ranks exactly).
    /// </summary>
    public bool Search(ReadOnlySpan<float> user, int count, List<int> rows)
    {
        var query = _query;
        if (query is null || query.Length != Dimensions + 1)
        {
            _query = query = new float[Dimensions + 1];
        }

        user.CopyTo(query);
        query[^1] = 1f;
        int found;
        ulong[] keys;
        _searchSlots.Wait();
        try
        {
            found = _index.Search(query, count, out keys, out _);
        }
        catch (USearchException)
        {
            // Contexts are per hardware thread; a process told it has more cores than the machine has may run out.
            return false;
        }
        finally
        {
            _searchSlots.Release();
            // The wrapper reads its native handle from the object; keep it reachable until the call returns.
            GC.KeepAlive(_index);
        }

        for (var i = 0; i < found; i++)
        {
            rows.Add((int)keys[i]);
        }

        return true;
    }

    /// <summary>Takes a lease for a search; false once the index has been freed (the caller ranks exactly).</summary>
    public bool TryAcquire()
    {
        var seen = Volatile.Read(ref _references);
        while (seen > 0)
        {
            var previous = Interlocked.CompareExchange(ref _references, seen + 1, seen);
            if (previous == seen)
            {
                return true;
            }

            seen = previous;
        }

        return false;
    }

    /// <summary>Returns a lease; the last one after <see cref="Retire"/> frees the native index.</summary>
    public void Release()
    {
        if (Interlocked.Decrement(ref _references) == 0)
        {
            _index.Dispose();
        }
    }

    /// <summary>The owner's release: no new leases; freed once running searches finish. Call once.</summary>
    public void Retire() => Release();

    /// <summary>Per row <c>bias + blend·prior</c>, the terms the exact score adds to the dot product.</summary>
    private static float[] Offsets(ServingModel model)
    {
        var items = model.Items;
        var offsets = items.Biases.ToArray();
        if (model.BlendWeight != 0f && model.Trending.LogScores.Count > 0)
        {
            TensorPrimitives.MultiplyAdd(model.Prior, model.BlendWeight, offsets, offsets);
        }

        return offsets;
    }

    private static bool AllFinite(ReadOnlySpan<float> values)
    {
        foreach (var value in values)
        {
            if (!float.IsFinite(value))
            {
                return false;
            }
        }

        return true;
    }
}
