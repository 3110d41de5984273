using System.Runtime.Intrinsics.X86;

namespace StreamRec.Core.Engine;

/// <summary>
/// A bounded history of the items each user interacted with (the last <see cref="HistoryLength"/>
/// items, repeats of very recent items collapsed), indexed by user row, used to leave seen items
/// out of recommendations.
/// </summary>
/// <remarks>
/// <para>Entries store the item row and the row's generation (<see cref="IdMap.GenerationAt"/>), so
/// an item row reused after eviction is not mistaken for the evicted item.</para>
/// <para>Memory per user row: 8 x <see cref="HistoryLength"/> + 8 bytes, allocated as one block.
/// Not thread-safe.</para>
/// </remarks>
public sealed class SeenItems
{
    private long[] _entries;
    private int[] _counts;
    private int[] _nextSlot;

    /// <param name="historyLength">Distinct items remembered per user (oldest dropped first).</param>
    /// <param name="initialUsers">User rows allocated up front.</param>
    public SeenItems(int historyLength, int initialUsers = 1024)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(historyLength, 1);
        HistoryLength = historyLength;
        _entries = new long[(long)initialUsers * historyLength];
        _counts = new int[initialUsers];
        _nextSlot = new int[initialUsers];
    }

    /// <summary>Distinct items remembered per user.</summary>
    public int HistoryLength { get; }

    /// <summary>Grows to hold at least <paramref name="userCapacity"/> user rows.</summary>
    public void EnsureCapacity(int userCapacity)
    {
        if (_counts.Length >= userCapacity)
        {
            return;
        }

        Array.Resize(ref _entries, checked(userCapacity * HistoryLength));
        Array.Resize(ref _counts, userCapacity);
        Array.Resize(ref _nextSlot, userCapacity);
    }

    /// <summary>Forgets a user row's history (the user was evicted and the row reused).</summary>
    public void Reset(int userRow)
    {
        _counts[userRow] = 0;
        _nextSlot[userRow] = 0;
    }

    /// <summary>
    /// Records that the user saw the item. A repeat of one of the user's <see cref="RepeatWindow"/>
    /// most recent items changes nothing (sessions repeat recent items); older repeats take a slot.
    /// </summary>
    public void Record(int userRow, int itemRow, int itemGeneration)
    {
        long key = Key(itemRow, itemGeneration);
        Span<long> history = _entries.AsSpan(userRow * HistoryLength, HistoryLength);
        int count = _counts[userRow];
        int slot = _nextSlot[userRow];
        if (RecentlyRecorded(history, count, slot, key))
        {
            return;
        }

        history[slot] = key;
        _nextSlot[userRow] = slot + 1 == HistoryLength ? 0 : slot + 1;
        if (count < HistoryLength)
        {
            _counts[userRow] = count + 1;
        }
    }

    /// <summary>
    /// Starts loading the part of a user's history that <see cref="Record"/> reads (the most recent
    /// entries) without waiting for it: histories are 1.6 KB per user at the default length, so a
    /// random user's is rarely cached. No effect where SSE is missing.
    /// </summary>
    public unsafe void Prefetch(int userRow)
    {
        if (!Sse.IsSupported || (uint)userRow >= (uint)_counts.Length)
        {
            return;
        }

        int slot = _nextSlot[userRow];
        fixed (long* entries = _entries)
        {
            long* next = entries + ((long)userRow * HistoryLength) + slot;
            Sse.Prefetch0(next);
            // The repeat check reads backwards from the slot before it.
            Sse.Prefetch0(slot == 0 ? next + HistoryLength - 1 : next - 1);
        }
    }

    /// <summary>How many of a user's most recent entries are checked for repeats: a scan of the whole
    /// history costs a cache miss per 8 entries on every event, this bounded one at most two.</summary>
    public const int RepeatWindow = 8;

    /// <summary>True when the item (row and generation) is in the user's history.</summary>
    public bool Contains(int userRow, int itemRow, int itemGeneration) =>
        _entries.AsSpan(userRow * HistoryLength, _counts[userRow]).Contains(Key(itemRow, itemGeneration));

    /// <summary>
    /// Copies the user's remembered item rows that still hold the same item into
    /// <paramref name="destination"/> (at least <see cref="HistoryLength"/> long) and returns how many.
    /// </summary>
    public int CopyLiveRows(int userRow, IdMap items, Span<int> destination)
    {
        ArgumentNullException.ThrowIfNull(items);
        ReadOnlySpan<long> history = _entries.AsSpan(userRow * HistoryLength, _counts[userRow]);
        int written = 0;
        foreach (long key in history)
        {
            int row = (int)(key & 0xFFFFFFFF);
            int generation = (int)(key >> 32);
            if (row < items.Count && items.GenerationAt(row) == generation)
            {
                destination[written++] = row;
            }
        }

        return written;
    }

    private static bool RecentlyRecorded(ReadOnlySpan<long> history, int count, int nextSlot, long key)
    {
        int window = Math.Min(count, RepeatWindow);
        int slot = nextSlot;
        for (int i = 0; i < window; i++)
        {
            slot = slot == 0 ? history.Length - 1 : slot - 1;
            if (history[slot] == key)
            {
                return true;
            }
        }

        return false;
    }

    private static long Key(int itemRow, int itemGeneration) => ((long)itemGeneration << 32) | (uint)itemRow;
}
