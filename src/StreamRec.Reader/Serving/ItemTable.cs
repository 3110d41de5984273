using System.Numerics.Tensors;
using StreamRec.Redis.Checkpoints;

namespace StreamRec.Reader.Serving;

/// <summary>
/// Item rows as served: ids, an id index, row-major vectors, biases (zeros when the learner has none) and
/// inverse norms for cosine similarity. Immutable once built: an update builds a new table (copy on write),
/// so requests holding the old one keep reading consistent rows. Thread-safe for reads.
/// A table and the tables derived from it by <see cref="With"/> share a <see cref="Lineage"/>, in which rows
/// keep their positions; <see cref="RowRevisions"/> says which rows changed since any earlier revision of it,
/// so an index built from one revision can tell which of its rows are out of date.
/// </summary>
internal sealed class ItemTable
{
    private ItemTable(int dimensions, string[] ids, Dictionary<string, int> rows, float[] vectors, float[] biases, QuantizedItems? quantized,
        ItemLineage lineage, long revision, long[] rowRevisions)
    {
        Dimensions = dimensions;
        Lineage = lineage;
        Revision = revision;
        RowRevisions = rowRevisions;
        Ids = ids;
        Rows = rows;
        Vectors = vectors;
        Biases = biases;
        Quantized = quantized;
        MaxBiasMagnitude = biases.Length == 0 ? 0f : MathF.Abs(TensorPrimitives.MaxMagnitude(biases));
        InverseNorms = new float[ids.Length];
        for (var row = 0; row < ids.Length; row++)
        {
            var norm = TensorPrimitives.Norm(vectors.AsSpan(row * dimensions, dimensions));
            InverseNorms[row] = norm > 0f && float.IsFinite(norm) ? 1f / norm : 0f;
        }
    }

    public int Dimensions { get; }

    public string[] Ids { get; }

    public IReadOnlyDictionary<string, int> Rows { get; }

    public float[] Vectors { get; }

    public float[] Biases { get; }

    public float[] InverseNorms { get; }

    /// <summary>The int8 copy ranking uses for its first pass; null where the machine lacks the SIMD instructions or a value is not finite.</summary>
    public QuantizedItems? Quantized { get; }

    /// <summary>Largest absolute bias (NaN or infinity when a bias is).</summary>
    public float MaxBiasMagnitude { get; }

    public int Count => Ids.Length;

    /// <summary>Shared by this table and every table derived from it by <see cref="With"/>; a restore starts a new one.</summary>
    public ItemLineage Lineage { get; }

    /// <summary>Number of <see cref="With"/> steps from the lineage's first table to this one.</summary>
    public long Revision { get; }

    /// <summary>Per row, the <see cref="Revision"/> that last wrote it (0 for rows of the first table).</summary>
    public long[] RowRevisions { get; }

    public static ItemTable Empty(int dimensions) => new(dimensions, [], new Dictionary<string, int>(StringComparer.Ordinal), [], [], null, new ItemLineage(), 0, []);

    public static ItemTable From(EmbeddingRows rows)
    {
        var index = new Dictionary<string, int>(rows.Count, StringComparer.Ordinal);
        for (var row = 0; row < rows.Count; row++)
        {
            index[rows.Ids[row]] = row;
        }

        float[] vectors = [.. rows.Vectors];
        return new ItemTable(rows.Dimensions, [.. rows.Ids], index, vectors, rows.Biases is null ? new float[rows.Count] : [.. rows.Biases],
            QuantizedItems.Build(vectors, rows.Dimensions, rows.Count), new ItemLineage(), 0, new long[rows.Count]);
    }

    public ReadOnlySpan<float> Vector(int row) => Vectors.AsSpan(row * Dimensions, Dimensions);

    /// <summary>A new table with <paramref name="updates"/> applied: rows replaced by id, new ids appended.</summary>
    public ItemTable With(EmbeddingRows updates)
    {
        if (updates.Count == 0)
        {
            return this;
        }

        if (Count > 0 && updates.Dimensions != Dimensions)
        {
            throw new CheckpointCorruptException("item delta", $"has {updates.Dimensions} dimensions; the served items have {Dimensions}.");
        }

        var dimensions = updates.Dimensions;
        var added = updates.Ids.Count(id => !Rows.ContainsKey(id));
        var count = Count + added;
        var ids = new string[count];
        Ids.CopyTo(ids, 0);
        var vectors = new float[count * dimensions];
        Vectors.CopyTo(vectors, 0);
        var biases = new float[count];
        Biases.CopyTo(biases, 0);
        // Existing rows keep their positions, so the index is shared unless ids were added.
        var index = added == 0 ? (Dictionary<string, int>)Rows : new Dictionary<string, int>((Dictionary<string, int>)Rows, StringComparer.Ordinal);
        // A second table derived from the same revision would reuse its revision number for other rows: it starts a lineage of its own.
        var (lineage, revision) = Lineage.TryAdvance(Revision) ? (Lineage, Revision + 1) : (new ItemLineage(), 0L);
        var rowRevisions = new long[count];
        if (revision > 0)
        {
            RowRevisions.CopyTo(rowRevisions, 0);
        }

        var next = Count;
        var changed = new int[updates.Count];
        for (var i = 0; i < updates.Count; i++)
        {
            var id = updates.Ids[i];
            if (!index.TryGetValue(id, out var row))
            {
                row = next++;
                index[id] = row;
                ids[row] = id;
            }

            updates.Vector(i).CopyTo(vectors.AsSpan(row * dimensions, dimensions));
            biases[row] = updates.Biases?[i] ?? 0f;
            changed[i] = row;
            rowRevisions[row] = revision;
        }

        // Only the changed rows are quantized again; a table that had no copy (empty, or a value not finite) builds one whole.
        var quantized = Quantized is { } previous && previous.Dimensions == dimensions
            ? previous.With(vectors, count, changed)
            : QuantizedItems.Build(vectors, dimensions, count);
        return new ItemTable(dimensions, ids, index, vectors, biases, quantized, lineage, revision, rowRevisions);
    }
}

/// <summary>
/// Identity of a line of item tables derived one from the other. Only one table per revision may be
/// derived (<see cref="TryAdvance"/>), so a revision number names one content within a lineage. Thread-safe.
/// </summary>
internal sealed class ItemLineage
{
    private long _newestRevision;

    /// <summary>Claims revision <paramref name="from"/> + 1; false when a table was already derived from <paramref name="from"/>.</summary>
    public bool TryAdvance(long from) => Interlocked.CompareExchange(ref _newestRevision, from + 1, from) == from;
}
