using System.Numerics.Tensors;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics.X86;

namespace StreamRec.Core.Engine;

/// <summary>
/// A growable table of float32 embedding rows keyed by string id: one contiguous array whose rows
/// are padded to <see cref="RowAlignmentFloats"/> floats, an optional bias per row, optional
/// per-row AdaGrad accumulators, and a "touched at version" mark per row for incremental checkpoints.
/// </summary>
/// <remarks>
/// <para>New rows (fresh or reused after eviction) are drawn from Normal(0, sigma) using the table's
/// own seeded generator, so the same seed and the same sequence of new ids give identical tables.</para>
/// <para>Memory per row: 4 x <see cref="Stride"/> bytes of vector, 8 bytes of version mark,
/// 4 bytes of bias (if enabled), 8 bytes of AdaGrad state (if enabled), plus the <see cref="IdMap"/>
/// entry (see there). At 64 dimensions with bias and AdaGrad: 276 bytes plus the id map entry.</para>
/// <para>Checkpoint protocol: read <see cref="CurrentVersion"/> as V, call <see cref="AdvanceVersion"/>,
/// then serialise <see cref="RowsTouchedSince"/>(V) with <see cref="ReadRow"/> and <see cref="ReadBias"/>.
/// Restore with <see cref="WriteRow"/>, which copies the floats bit for bit.</para>
/// <para>Not thread-safe: the owning learner's thread reads and writes it; a checkpoint must run on
/// that thread (or while it is paused).</para>
/// </remarks>
public sealed class EmbeddingTable
{
    /// <summary>Rows are padded to a multiple of this many floats (32 bytes) so each row starts SIMD-aligned relative to the array.</summary>
    public const int RowAlignmentFloats = 8;

    /// <summary>Starting AdaGrad accumulator: keeps the first steps at about 3x the base rate instead of unbounded.</summary>
    public const float AdaGradInitialAccumulator = 0.1f;

    /// <summary>Floats per 64-byte cache line.</summary>
    private const int CacheLineFloats = 16;

    private readonly SeededRandom _random;
    private readonly ulong _seed;
    private float[] _vectors;
    private float[] _biases;
    private long[] _touchedVersion;
    // AdaGrad accumulators interleaved per row (vector, bias): one cache line serves both.
    private float[] _adaGradState;

    /// <param name="dimensions">Vector length (1..4096).</param>
    /// <param name="maxRows">Most ids held; beyond it the least recently active id's row is reused.</param>
    /// <param name="initSigma">Standard deviation of new rows' Normal(0, sigma) values.</param>
    /// <param name="seed">Seed of the initialisation generator.</param>
    /// <param name="hasBias">Keep a bias per row (initialised to 0).</param>
    /// <param name="hasAdaGrad">Keep per-row AdaGrad accumulators.</param>
    /// <param name="initialRows">Rows allocated up front (grows by doubling).</param>
    public EmbeddingTable(int dimensions, int maxRows, float initSigma, ulong seed, bool hasBias = false, bool hasAdaGrad = false, int initialRows = 1024)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(dimensions, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(dimensions, 4096);
        ArgumentOutOfRangeException.ThrowIfNegative(initSigma);
        Dimensions = dimensions;
        Stride = (dimensions + RowAlignmentFloats - 1) / RowAlignmentFloats * RowAlignmentFloats;
        InitSigma = initSigma;
        HasBias = hasBias;
        HasAdaGrad = hasAdaGrad;
        Ids = new IdMap(maxRows, initialRows);
        _seed = seed;
        _random = new SeededRandom(seed);
        int capacity = Ids.Capacity;
        _vectors = new float[(long)capacity * Stride <= Array.MaxLength ? capacity * Stride : throw new ArgumentOutOfRangeException(nameof(initialRows))];
        _biases = hasBias ? new float[capacity] : [];
        _touchedVersion = new long[capacity];
        _adaGradState = hasAdaGrad ? new float[2 * capacity] : [];
    }

    /// <summary>The id to row map; its rows are this table's rows.</summary>
    public IdMap Ids { get; }

    /// <summary>Length of each vector.</summary>
    public int Dimensions { get; }

    /// <summary>Floats between the starts of consecutive rows (<see cref="Dimensions"/> rounded up; the padding stays 0).</summary>
    public int Stride { get; }

    /// <summary>Standard deviation of new rows.</summary>
    public float InitSigma { get; }

    /// <summary>True when rows carry a bias.</summary>
    public bool HasBias { get; }

    /// <summary>True when rows carry AdaGrad accumulators.</summary>
    public bool HasAdaGrad { get; }

    /// <summary>Rows in use: 0..Count-1.</summary>
    public int Count => Ids.Count;

    /// <summary>The version that updates are marked with now; starts at 0.</summary>
    public long CurrentVersion { get; private set; }

    /// <summary>All vectors, row-major with <see cref="Stride"/>; for scorers that scan the table.</summary>
    internal ReadOnlySpan<float> AllVectors => _vectors.AsSpan(0, Count * Stride);

    /// <summary>Biases of rows 0..Count-1 (empty without biases); for scorers.</summary>
    internal ReadOnlySpan<float> AllBiases => HasBias ? _biases.AsSpan(0, Count) : [];

    /// <summary>Starts a new version and returns it; rows updated from now on are marked with it.</summary>
    public long AdvanceVersion() => ++CurrentVersion;

    /// <summary>
    /// Returns the row of an id, creating (or reusing, after evicting the least recently active id)
    /// and initialising it when new. Marks the row active and touched. Does not allocate for known ids.
    /// </summary>
    public IdLookup GetOrAddRow(string id)
    {
        IdLookup lookup = Ids.GetOrAdd(id);
        if (lookup.IsNew)
        {
            EnsureCapacity();
            // Seeded by the id, so an id starts from the same vector in every replica, restart and
            // replay, whatever order ids arrive in (replicas exchange item updates as differences).
            _random.Reseed(_seed ^ SeededRandom.StableHash(id));
            InitialiseRow(lookup.Row);
        }

        return lookup;
    }

    /// <summary>Finds an id's row without changing recency or version marks.</summary>
    public bool TryGetRow(string id, out int row) => Ids.TryGetRow(id, out row);

    /// <summary>The row's vector (length <see cref="Dimensions"/>). Valid until the table grows.</summary>
    public ReadOnlySpan<float> ReadRow(int row) => _vectors.AsSpan(RowStart(row), Dimensions);

    /// <summary>The row's bias, or 0 without biases.</summary>
    public float ReadBias(int row)
    {
        RowStart(row);
        return HasBias ? _biases[row] : 0f;
    }

    /// <summary>The version at which the row was last updated or created.</summary>
    public long TouchedVersion(int row)
    {
        RowStart(row);
        return _touchedVersion[row];
    }

    /// <summary>Rows whose last update happened at <paramref name="version"/> or later, ascending (allocates; for checkpoints).</summary>
    public IReadOnlyList<int> RowsTouchedSince(long version)
    {
        var rows = new List<int>();
        ReadOnlySpan<long> marks = _touchedVersion.AsSpan(0, Count);
        for (int row = 0; row < marks.Length; row++)
        {
            if (marks[row] >= version)
            {
                rows.Add(row);
            }
        }

        return rows;
    }

    /// <summary>The row's AdaGrad accumulators (vector, bias); the initial values when AdaGrad is off.</summary>
    public (float Vector, float Bias) ReadAdaGradState(int row)
    {
        RowStart(row);
        return HasAdaGrad ? (_adaGradState[2 * row], _adaGradState[(2 * row) + 1]) : (AdaGradInitialAccumulator, AdaGradInitialAccumulator);
    }

    /// <summary>
    /// Restores an id's row exactly (bit for bit), adding the id if needed. The row is not marked as
    /// touched: restored state is already durable. Returns the row.
    /// </summary>
    public int WriteRow(string id, ReadOnlySpan<float> vector, float bias, float adaGradVector = AdaGradInitialAccumulator, float adaGradBias = AdaGradInitialAccumulator)
    {
        if (vector.Length != Dimensions)
        {
            throw new ArgumentException($"Vector length {vector.Length} differs from the table's {Dimensions} dimensions.", nameof(vector));
        }

        IdLookup lookup = Ids.GetOrAdd(id);
        if (lookup.IsNew)
        {
            EnsureCapacity();
        }

        int row = lookup.Row;
        vector.CopyTo(_vectors.AsSpan(RowStart(row), Dimensions));
        if (HasBias)
        {
            _biases[row] = bias;
        }

        if (HasAdaGrad)
        {
            _adaGradState[2 * row] = adaGradVector;
            _adaGradState[(2 * row) + 1] = adaGradBias;
        }

        return row;
    }

    /// <summary>
    /// Adds a difference to a row (another replica's update) and marks it touched, so the next
    /// checkpoint carries it. Returns the row, created from its id's initial vector when new.
    /// </summary>
    public int AddToRow(string id, ReadOnlySpan<float> vectorDelta, float biasDelta)
    {
        if (vectorDelta.Length != Dimensions)
        {
            throw new ArgumentException($"Delta length {vectorDelta.Length} differs from the table's {Dimensions} dimensions.", nameof(vectorDelta));
        }

        int row = GetOrAddRow(id).Row;
        Span<float> vector = _vectors.AsSpan(row * Stride, Dimensions);
        TensorPrimitives.Add(vector, vectorDelta, vector);
        if (HasBias)
        {
            _biases[row] += biasDelta;
        }

        _touchedVersion[row] = CurrentVersion;
        return row;
    }

    /// <summary>Writes the vector a new row of <paramref name="id"/> starts from (seeded by the id).</summary>
    public void InitialVector(string id, Span<float> destination)
    {
        var random = new SeededRandom(_seed ^ SeededRandom.StableHash(id));
        for (int i = 0; i < Dimensions; i++)
        {
            destination[i] = random.NextGaussian() * InitSigma;
        }
    }

    /// <summary>Mutable view of a row's vector for learners; callers mark the row touched themselves.</summary>
    internal Span<float> RowForUpdate(int row) => _vectors.AsSpan(row * Stride, Dimensions);

    /// <summary>
    /// Applies one gradient step to a row: vector -= rate x gradient, bias -= biasRate x biasGradient,
    /// scaling both rates by the row's AdaGrad accumulators when enabled. Marks the row touched.
    /// </summary>
    internal void ApplyGradient(int row, ReadOnlySpan<float> gradient, float biasGradient, float rate, float biasRate) =>
        ApplyGradient(row, gradient, VectorKernels.Dot(gradient, gradient), biasGradient, rate, biasRate);

    /// <summary>
    /// <see cref="ApplyGradient(int, ReadOnlySpan{float}, float, float, float)"/> with the gradient's
    /// sum of squares already known (computed in the pass that built the gradient), so the step is
    /// one pass over the row.
    /// </summary>
    internal void ApplyGradient(int row, ReadOnlySpan<float> gradient, float gradientSquaredNorm, float biasGradient, float rate, float biasRate)
    {
        VectorKernels.AddScaled(_vectors.AsSpan(row * Stride, Dimensions), -VectorRate(row, gradientSquaredNorm, rate), gradient);
        StepBias(row, biasGradient, biasRate);
        _touchedVersion[row] = CurrentVersion;
    }

    /// <summary>The step size for a row's vector: <paramref name="rate"/>, scaled by the row's AdaGrad
    /// accumulator (which takes in the gradient's mean square first) when enabled.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal float VectorRate(int row, float gradientSquaredNorm, float rate)
    {
        if (HasAdaGrad)
        {
            float accumulator = _adaGradState[2 * row] += gradientSquaredNorm / Dimensions;
            rate /= MathF.Sqrt(accumulator);
        }

        return rate;
    }

    /// <summary>Steps a row's bias (no-op without biases), with AdaGrad when enabled; does not mark the row.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal void StepBias(int row, float biasGradient, float biasRate)
    {
        if (!HasBias)
        {
            return;
        }

        if (HasAdaGrad)
        {
            float accumulator = _adaGradState[(2 * row) + 1] += biasGradient * biasGradient;
            biasRate /= MathF.Sqrt(accumulator);
        }

        _biases[row] -= biasRate * biasGradient;
    }

    /// <summary>All vectors, writable, for fused steps; callers mark the rows they change.</summary>
    internal Span<float> AllVectorsForUpdate => _vectors.AsSpan(0, Count * Stride);

    /// <summary>
    /// Starts loading a row's vector into the cache without waiting for it. An update touches several
    /// random rows (user, positive, negatives); asking for all of them first overlaps their cache
    /// misses instead of taking them one after another. No effect where SSE is missing.
    /// </summary>
    internal unsafe void Prefetch(int row)
    {
        if (!Sse.IsSupported || (uint)row >= (uint)Count)
        {
            return;
        }

        fixed (float* vectors = _vectors)
        {
            float* start = vectors + ((long)row * Stride);
            for (int offset = 0; offset < Dimensions; offset += CacheLineFloats)
            {
                Sse.Prefetch0(start + offset);
            }

            // A row need not start on a cache line, so its end may lie on one more.
            Sse.Prefetch0(start + Dimensions - 1);
        }

        // The step also reads and writes the row's entries in the side arrays.
        fixed (long* touched = _touchedVersion)
        {
            Sse.Prefetch0(touched + row);
        }

        if (HasAdaGrad)
        {
            fixed (float* adaGrad = _adaGradState)
            {
                Sse.Prefetch0(adaGrad + (2 * row));
            }
        }

        if (HasBias)
        {
            fixed (float* biases = _biases)
            {
                Sse.Prefetch0(biases + row);
            }
        }
    }

    /// <summary>Marks a row as updated at <see cref="CurrentVersion"/>.</summary>
    internal void MarkTouched(int row) => _touchedVersion[row] = CurrentVersion;

    private int RowStart(int row)
    {
        if ((uint)row >= (uint)Count)
        {
            throw new ArgumentOutOfRangeException(nameof(row), row, $"Row must be in [0, {Count}).");
        }

        return row * Stride;
    }

    private void EnsureCapacity()
    {
        int capacity = Ids.Capacity;
        if (_touchedVersion.Length >= capacity)
        {
            return;
        }

        if ((long)capacity * Stride > Array.MaxLength)
        {
            throw new InvalidOperationException($"{capacity} rows of {Stride} floats exceed the largest array; lower the table's maximum rows.");
        }

        Array.Resize(ref _vectors, capacity * Stride);
        Array.Resize(ref _touchedVersion, capacity);
        if (HasBias)
        {
            Array.Resize(ref _biases, capacity);
        }

        if (HasAdaGrad)
        {
            Array.Resize(ref _adaGradState, 2 * capacity);
        }
    }

    private void InitialiseRow(int row)
    {
        Span<float> vector = _vectors.AsSpan(row * Stride, Dimensions);
        for (int i = 0; i < vector.Length; i++)
        {
            vector[i] = _random.NextGaussian() * InitSigma;
        }

        if (HasBias)
        {
            _biases[row] = 0f;
        }

        if (HasAdaGrad)
        {
            _adaGradState[2 * row] = AdaGradInitialAccumulator;
            _adaGradState[(2 * row) + 1] = AdaGradInitialAccumulator;
        }

        _touchedVersion[row] = CurrentVersion;
    }
}
