using System.Numerics;

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
/// <para>Lookups go through an open-addressing table of (id reference, hash, row) slots with linear
/// probing, at most half full: one probe usually finds the slot, and the id's characters are compared
/// only when the full 32-bit hash matches (a <c>Dictionary</c> reads a bucket, then an entry, then the
/// key). Hashes are the runtime's randomised string hashes, so crafted ids cannot force long probe
/// runs; rows, not slots, carry every ordered state, so the model does not depend on them. Eviction
/// deletes by shifting the following run back (no tombstones).</para>
/// <para>Memory per entry, on 64-bit: about 76 bytes of map overhead (2 slots x 16, reverse id
/// reference 8, last-touch stamp 8, generation 4, log 2 x 12) plus the id string itself
/// (22 + 2 x length bytes, rounded up to 8). Arrays grow by doubling up to <see cref="MaxCount"/>.</para>
/// <para>Lookups of existing ids do not allocate. Not thread-safe: one owner thread.</para>
/// </remarks>
public sealed class IdMap
{
    /// <summary>The largest slot table (a power of two).</summary>
    private const int MaxSlots = 1 << 30;

    private Slot[] _slots;
    private int _count;
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
        _slots = new Slot[SlotCountFor(capacity)];
        _idByRow = new string[capacity];
        _generationByRow = new int[capacity];
        _lastTouchByRow = new long[capacity];
        _logRows = new int[2 * capacity];
        _logStamps = new long[2 * capacity];
    }

    /// <summary>Most ids held at once.</summary>
    public int MaxCount { get; }

    /// <summary>Ids held now; their rows are exactly 0..Count-1.</summary>
    public int Count => _count;

    /// <summary>Rows allocated (at least <see cref="Count"/>); owners size per-row arrays to it.</summary>
    public int Capacity => _idByRow.Length;

    /// <summary>How many ids were evicted to make room since construction.</summary>
    public long EvictionCount { get; private set; }

    /// <summary>True when the next new id evicts one.</summary>
    public bool IsFull => Count == MaxCount;

    /// <summary>Finds the row of an id without marking it active. Does not allocate.</summary>
    public bool TryGetRow(string id, out int row)
    {
        ArgumentNullException.ThrowIfNull(id);
        row = FindRow(id, id.GetHashCode());
        return row >= 0;
    }

    /// <summary>True when the id is held.</summary>
    public bool Contains(string id) => TryGetRow(id, out _);

    /// <summary>
    /// Returns the id's row and marks it the most recently active; assigns a row (evicting the least
    /// recently active id when full) if the id is new. Does not allocate for existing ids.
    /// </summary>
    public IdLookup GetOrAdd(string id)
    {
        ArgumentException.ThrowIfNullOrEmpty(id);
        int hash = id.GetHashCode();
        int row = FindRow(id, hash);
        if (row >= 0)
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
            _count--;
            evictedId = _idByRow[row];
            RemoveSlot(evictedId);
            _generationByRow[row]++;
            EvictionCount++;
        }

        InsertSlot(id, hash, row);
        _count++;
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
        Rehash(SlotCountFor(capacity));
    }

    /// <summary>A power of two at least twice the rows, so the table stays at most half full.</summary>
    private static int SlotCountFor(int rows) => rows <= MaxSlots / 2
        ? (int)BitOperations.RoundUpToPowerOf2((uint)rows * 2)
        : throw new InvalidOperationException($"An id map holds at most {MaxSlots / 2} rows at once; lower its maximum count.");

    private int FindRow(string id, int hash)
    {
        Slot[] slots = _slots;
        int mask = slots.Length - 1;
        for (int i = hash & mask; ; i = (i + 1) & mask)
        {
            ref Slot slot = ref slots[i];
            if (slot.Id is null)
            {
                return -1;
            }

            if (slot.Hash == hash && string.Equals(slot.Id, id))
            {
                return slot.Row;
            }
        }
    }

    private void InsertSlot(string id, int hash, int row)
    {
        Slot[] slots = _slots;
        int mask = slots.Length - 1;
        int i = hash & mask;
        while (slots[i].Id is not null)
        {
            i = (i + 1) & mask;
        }

        slots[i] = new Slot(id, hash, row);
    }

    /// <summary>Deletes a held id's slot by shifting back the entries after it that probed past it.</summary>
    private void RemoveSlot(string id)
    {
        Slot[] slots = _slots;
        int mask = slots.Length - 1;
        int hash = id.GetHashCode();
        int hole = hash & mask;
        while (!(slots[hole].Hash == hash && string.Equals(slots[hole].Id, id)))
        {
            hole = (hole + 1) & mask;
        }

        for (int next = (hole + 1) & mask; slots[next].Id is not null; next = (next + 1) & mask)
        {
            // An entry may fill the hole only if its home slot is not cyclically within (hole, next].
            int home = slots[next].Hash & mask;
            if (((next - home) & mask) >= ((next - hole) & mask))
            {
                slots[hole] = slots[next];
                hole = next;
            }
        }

        slots[hole] = default;
    }

    private void Rehash(int slotCount)
    {
        if (slotCount <= _slots.Length)
        {
            return;
        }

        Slot[] old = _slots;
        _slots = new Slot[slotCount];
        foreach (Slot slot in old)
        {
            if (slot.Id is not null)
            {
                InsertSlot(slot.Id, slot.Hash, slot.Row);
            }
        }
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

    private readonly record struct Slot(string? Id, int Hash, int Row);
}
