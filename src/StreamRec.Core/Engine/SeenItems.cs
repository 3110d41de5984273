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
/// <para>Each row also counts the items recorded since its last capture, so a checkpoint delta can carry
/// only those (<see cref="CopyRecordedSinceCapture"/>) instead of rewriting the whole history.</para>
/// <para>Memory per user row: 8 x <see cref="HistoryLength"/> + 12 bytes. Not thread-safe.</para>
/// </remarks>
public sealed class SeenItems
{
    /// <summary><see cref="UserSlots.SinceCapture"/> of a row whose history was reset since its last capture.</summary>
    private const int ResetSinceCapture = -1;

    private long[] _entries;
    private UserSlots[] _users;

    /// <param name="historyLength">Distinct items remembered per user (oldest dropped first).</param>
    /// <param name="initialUsers">User rows allocated up front.</param>
    public SeenItems(int historyLength, int initialUsers = 1024)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(historyLength, 1);
        HistoryLength = historyLength;
        _entries = new long[(long)initialUsers * historyLength];
        _users = new UserSlots[initialUsers];
    }

    /// <summary>Distinct items remembered per user.</summary>
    public int HistoryLength { get; }

    /// <summary>Grows to hold at least <paramref name="userCapacity"/> user rows.</summary>
    public void EnsureCapacity(int userCapacity)
    {
        if (_users.Length >= userCapacity)
        {
            return;
        }

        Array.Resize(ref _entries, checked(userCapacity * HistoryLength));
        Array.Resize(ref _users, userCapacity);
    }

    /// <summary>Forgets a user row's history (the user was evicted and the row reused).</summary>
    public void Reset(int userRow) => _users[userRow] = new UserSlots { SinceCapture = ResetSinceCapture };

    /// <summary>
    /// Records that the user saw the item. A repeat of one of the user's <see cref="RepeatWindow"/>
    /// most recent items changes nothing (sessions repeat recent items); older repeats take a slot.
    /// </summary>
    public void Record(int userRow, int itemRow, int itemGeneration)
    {
        long key = Key(itemRow, itemGeneration);
        Span<long> history = _entries.AsSpan(userRow * HistoryLength, HistoryLength);
        ref UserSlots user = ref _users[userRow];
        int count = user.Count;
        int slot = user.NextSlot;
        if (RecentlyRecorded(history, count, slot, key))
        {
            return;
        }

        history[slot] = key;
        user.NextSlot = slot + 1 == HistoryLength ? 0 : slot + 1;
        if (count < HistoryLength)
        {
            user.Count = count + 1;
        }

        // Saturates: after HistoryLength new items the whole history is new.
        if ((uint)user.SinceCapture < (uint)HistoryLength)
        {
            user.SinceCapture++;
        }
    }

    /// <summary>
    /// Starts loading the part of a user's history that <see cref="Record"/> reads (the most recent
    /// entries) without waiting for it: histories are 1.6 KB per user at the default length, so a
    /// random user's is rarely cached. No effect where SSE is missing.
    /// </summary>
    public unsafe void Prefetch(int userRow)
    {
        if (!Sse.IsSupported || (uint)userRow >= (uint)_users.Length)
        {
            return;
        }

        int slot = _users[userRow].NextSlot;
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
        _entries.AsSpan(userRow * HistoryLength, _users[userRow].Count).Contains(Key(itemRow, itemGeneration));

    /// <summary>
    /// Copies the user's remembered item rows that still hold the same item into
    /// <paramref name="destination"/> (at least <see cref="HistoryLength"/> long), oldest first, and returns how many.
    /// </summary>
    public int CopyLiveRows(int userRow, IdMap items, Span<int> destination)
    {
        ArgumentNullException.ThrowIfNull(items);
        return CopyNewest(userRow, _users[userRow].Count, items, destination);
    }

    /// <summary>
    /// Copies the item rows recorded for the user since the last capture (<see cref="MarkCaptured"/> or this
    /// method), oldest first, that still hold the same item, into <paramref name="destination"/> (at least
    /// <see cref="HistoryLength"/> long); returns how many and starts the next capture. When the history was
    /// reset since (<paramref name="whole"/> true), copies the whole history instead, oldest first: it
    /// replaces what was captured before rather than extending it.
    /// </summary>
    public int CopyRecordedSinceCapture(int userRow, IdMap items, Span<int> destination, out bool whole)
    {
        ArgumentNullException.ThrowIfNull(items);
        ref UserSlots user = ref _users[userRow];
        whole = user.SinceCapture == ResetSinceCapture;
        int recorded = whole ? user.Count : user.SinceCapture;
        user.SinceCapture = 0;
        return CopyNewest(userRow, recorded, items, destination);
    }

    /// <summary>Marks the user's history as captured whole (after a snapshot, or a restore from one).</summary>
    public void MarkCaptured(int userRow) => _users[userRow].SinceCapture = 0;

    /// <summary>Copies the live rows of the user's <paramref name="newest"/> most recent entries, oldest first.</summary>
    private int CopyNewest(int userRow, int newest, IdMap items, Span<int> destination)
    {
        ReadOnlySpan<long> history = _entries.AsSpan(userRow * HistoryLength, HistoryLength);
        // The newest entry is just before NextSlot; once the ring is full, the oldest is at NextSlot.
        int start = _users[userRow].NextSlot - newest;
        if (start < 0)
        {
            start += HistoryLength;
        }

        int written = 0;
        for (int i = 0; i < newest; i++)
        {
            int slot = start + i < HistoryLength ? start + i : start + i - HistoryLength;
            int row = (int)(history[slot] & 0xFFFFFFFF);
            int generation = (int)(history[slot] >> 32);
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

    /// <summary>A row's place in its ring of entries; one struct so <see cref="Record"/> touches one cache line.</summary>
    private struct UserSlots
    {
        /// <summary>Entries held (at most <see cref="HistoryLength"/>).</summary>
        public int Count;

        /// <summary>Where the next entry goes.</summary>
        public int NextSlot;

        /// <summary>Entries recorded since the last capture (at most <see cref="HistoryLength"/>), or <see cref="ResetSinceCapture"/>.</summary>
        public int SinceCapture;
    }
}
