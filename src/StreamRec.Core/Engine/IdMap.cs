namespace StreamRec.Core.Engine;

/// <summary>The outcome of <see cref="IdMap.GetOrAdd"/>.</summary>
/// <param name="Row">The dense row that now belongs to the id.</param>
/// <param name="IsNew">True when the row was just assigned (fresh or reused): its owner must re-initialise the row's state.</param>
/// <param name="EvictedId">The id that held the row before, when assigning it evicted the least recently active id.</param>
public readonly record struct IdLookup(int Row, bool IsNew, string? EvictedId);

/// <summary>
/// Maps string ids to dense row indices 0..Count-1, one map per table. Collision-free: each id has
/// its own row (ids are compared by ordinal equality, never by hash alone). When
/// <see cref="MaxCount"/> ids are held, adding a new one evicts the least recently active id and
/// hands its row to the new id (<see cref="EvictionCount"/> counts these).
/// </summary>
/// <remarks>
/// <para>Memory per entry, on 64-bit: about 44 bytes of map overhead (dictionary entry 24 + bucket 4,
/// reverse id reference 8, LRU links 8, generation 4) plus the id string itself
/// (22 + 2 x length bytes, rounded up to 8). Arrays grow by doubling up to <see cref="MaxCount"/>.</para>
/// <para>Lookups of existing ids do not allocate. Not thread-safe: one owner thread.</para>
/// </remarks>
public sealed class IdMap
{
    private const int NoRow = -1;

    private readonly Dictionary<string, int> _rowById;
    private string[] _idByRow;
    private int[] _generationByRow;
    // Intrusive doubly linked list over rows, most recently active first.
    private int[] _newerRow;
    private int[] _olderRow;
    private int _mostRecentRow = NoRow;
    private int _leastRecentRow = NoRow;

    /// <param name="maxCount">Most ids held at once; the next new id evicts the least recently active one.</param>
    /// <param name="initialCapacity">Rows allocated up front (grows by doubling).</param>
    public IdMap(int maxCount, int initialCapacity = 1024)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(maxCount, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(initialCapacity, 1);
        MaxCount = maxCount;
        int capacity = Math.Min(initialCapacity, maxCount);
        _rowById = new Dictionary<string, int>(capacity, StringComparer.Ordinal);
        _idByRow = new string[capacity];
        _generationByRow = new int[capacity];
        _newerRow = new int[capacity];
        _olderRow = new int[capacity];
    }

    /// <summary>Most ids held at once.</summary>
    public int MaxCount { get; }

    /// <summary>Ids held now; their rows are exactly 0..Count-1.</summary>
    public int Count => _rowById.Count;

    /// <summary>Rows allocated (at least <see cref="Count"/>); owners size per-row arrays to it.</summary>
    public int Capacity => _idByRow.Length;

    /// <summary>How many ids were evicted to make room since construction.</summary>
    public long EvictionCount { get; private set; }

    /// <summary>True when the next new id evicts one.</summary>
    public bool IsFull => Count == MaxCount;

    /// <summary>Finds the row of an id without marking it active. Does not allocate.</summary>
    public bool TryGetRow(string id, out int row) => _rowById.TryGetValue(id, out row);

    /// <summary>True when the id is held.</summary>
    public bool Contains(string id) => _rowById.ContainsKey(id);

    /// <summary>
    /// Returns the id's row and marks it the most recently active; assigns a row (evicting the least
    /// recently active id when full) if the id is new. Does not allocate for existing ids.
    /// </summary>
    public IdLookup GetOrAdd(string id)
    {
        ArgumentException.ThrowIfNullOrEmpty(id);
        if (_rowById.TryGetValue(id, out int row))
        {
            MoveToFront(row);
            return new IdLookup(row, IsNew: false, EvictedId: null);
        }

        string? evictedId = null;
        if (Count < MaxCount)
        {
            row = Count;
            if (row == _idByRow.Length)
            {
                Grow();
            }
        }
        else
        {
            row = _leastRecentRow;
            evictedId = _idByRow[row];
            _rowById.Remove(evictedId);
            Unlink(row);
            _generationByRow[row]++;
            EvictionCount++;
        }

        _rowById.Add(id, row);
        _idByRow[row] = id;
        LinkAtFront(row);
        return new IdLookup(row, IsNew: true, evictedId);
    }

    /// <summary>Marks a held row the most recently active.</summary>
    public void Touch(int row)
    {
        CheckRow(row);
        MoveToFront(row);
    }

    /// <summary>The id that holds a row.</summary>
    public string IdAt(int row)
    {
        CheckRow(row);
        return _idByRow[row];
    }

    /// <summary>
    /// How many times the row has been handed to a new id. A (row, generation) pair names one id
    /// for as long as it is held, so references kept elsewhere can tell the row was reused.
    /// </summary>
    public int GenerationAt(int row)
    {
        CheckRow(row);
        return _generationByRow[row];
    }

    /// <summary>The rows from least to most recently active (for tests and checkpoints; allocates).</summary>
    public IReadOnlyList<int> RowsByRecency()
    {
        var rows = new List<int>(Count);
        for (int row = _leastRecentRow; row != NoRow; row = _newerRow[row])
        {
            rows.Add(row);
        }

        return rows;
    }

    private void CheckRow(int row)
    {
        if ((uint)row >= (uint)Count)
        {
            throw new ArgumentOutOfRangeException(nameof(row), row, $"Row must be in [0, {Count}).");
        }
    }

    private void Grow()
    {
        int capacity = (int)Math.Min((long)_idByRow.Length * 2, MaxCount);
        Array.Resize(ref _idByRow, capacity);
        Array.Resize(ref _generationByRow, capacity);
        Array.Resize(ref _newerRow, capacity);
        Array.Resize(ref _olderRow, capacity);
    }

    private void MoveToFront(int row)
    {
        if (row == _mostRecentRow)
        {
            return;
        }

        Unlink(row);
        LinkAtFront(row);
    }

    private void Unlink(int row)
    {
        int newer = _newerRow[row];
        int older = _olderRow[row];
        if (newer != NoRow)
        {
            _olderRow[newer] = older;
        }
        else
        {
            _mostRecentRow = older;
        }

        if (older != NoRow)
        {
            _newerRow[older] = newer;
        }
        else
        {
            _leastRecentRow = newer;
        }
    }

    private void LinkAtFront(int row)
    {
        _newerRow[row] = NoRow;
        _olderRow[row] = _mostRecentRow;
        if (_mostRecentRow != NoRow)
        {
            _newerRow[_mostRecentRow] = row;
        }

        _mostRecentRow = row;
        if (_leastRecentRow == NoRow)
        {
            _leastRecentRow = row;
        }
    }
}
