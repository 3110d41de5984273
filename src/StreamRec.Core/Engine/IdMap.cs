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
/// <para>Recency is a last-touch stamp per row plus an append-only log of (row, stamp) in touch
/// order: a touch writes one stamp and appends one entry (no pointer chasing through neighbouring
/// rows), and eviction pops the log until it meets an entry whose stamp is still its row's latest.
/// When the log fills it is compacted in place to the live entries (amortised O(1) per touch).</para>
/// <para>Memory per entry, on 64-bit: about 68 bytes of map overhead (dictionary entry 24 + bucket 4,
/// reverse id reference 8, last-touch stamp 8, generation 4, log 2 x 12) plus the id string itself
/// (22 + 2 x length bytes, rounded up to 8). Arrays grow by doubling up to <see cref="MaxCount"/>.</para>
/// <para>Lookups of existing ids do not allocate. Not thread-safe: one owner thread.</para>
/// </remarks>
public sealed class IdMap
{
    private readonly Dictionary<string, int> _rowById;
    private string[] _idByRow;
    private int[] _generationByRow;
    private long[] _lastTouchByRow;
    // Ring buffer of touches, oldest first; an entry is live when its stamp is its row's last touch.
    private int[] _logRows;
    private long[] _logStamps;
    private int _logHead;
    private int _logCount;
    private long _clock;

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
        _lastTouchByRow = new long[capacity];
        _logRows = new int[2 * capacity];
        _logStamps = new long[2 * capacity];
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
            MarkActive(row);
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
            row = PopLeastRecent();
            evictedId = _idByRow[row];
            _rowById.Remove(evictedId);
            _generationByRow[row]++;
            EvictionCount++;
        }

        _rowById.Add(id, row);
        _idByRow[row] = id;
        MarkActive(row);
        return new IdLookup(row, IsNew: true, evictedId);
    }

    /// <summary>Marks a held row the most recently active.</summary>
    public void Touch(int row)
    {
        CheckRow(row);
        MarkActive(row);
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
        for (int i = 0; i < _logCount; i++)
        {
            int slot = (_logHead + i) % _logRows.Length;
            if (_logStamps[slot] == _lastTouchByRow[_logRows[slot]] && _logRows[slot] < Count)
            {
                rows.Add(_logRows[slot]);
            }
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
        Array.Resize(ref _lastTouchByRow, capacity);
        ResizeLog(2 * capacity);
    }

    private void MarkActive(int row)
    {
        long stamp = ++_clock;
        _lastTouchByRow[row] = stamp;
        if (_logCount == _logRows.Length)
        {
            CompactLog();
        }

        int slot = _logHead + _logCount;
        if (slot >= _logRows.Length)
        {
            slot -= _logRows.Length;
        }

        _logRows[slot] = row;
        _logStamps[slot] = stamp;
        _logCount++;
    }

    private int PopLeastRecent()
    {
        // Every held row has exactly one live entry (its last touch), so this ends at the oldest.
        while (true)
        {
            int row = _logRows[_logHead];
            long stamp = _logStamps[_logHead];
            _logHead = _logHead + 1 == _logRows.Length ? 0 : _logHead + 1;
            _logCount--;
            if (stamp == _lastTouchByRow[row])
            {
                return row;
            }
        }
    }

    /// <summary>Drops stale entries in place, keeping order; the write index never passes the read index.</summary>
    private void CompactLog()
    {
        int length = _logRows.Length;
        int kept = 0;
        for (int i = 0; i < _logCount; i++)
        {
            int from = (_logHead + i) % length;
            int row = _logRows[from];
            if (_logStamps[from] == _lastTouchByRow[row])
            {
                int to = (_logHead + kept) % length;
                _logRows[to] = row;
                _logStamps[to] = _logStamps[from];
                kept++;
            }
        }

        _logCount = kept;
        if (kept > length / 2)
        {
            ResizeLog(2 * length);
        }
    }

    private void ResizeLog(int length)
    {
        if (length <= _logRows.Length)
        {
            return;
        }

        var rows = new int[length];
        var stamps = new long[length];
        for (int i = 0; i < _logCount; i++)
        {
            int from = (_logHead + i) % _logRows.Length;
            rows[i] = _logRows[from];
            stamps[i] = _logStamps[from];
        }

        _logRows = rows;
        _logStamps = stamps;
        _logHead = 0;
    }
}
