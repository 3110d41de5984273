using System.Buffers;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics.X86;
using System.Text;

namespace StreamRec.Core.Events;

/// <summary>
/// Turns UTF-8 id bytes into strings without allocating for ids seen before: the bytes themselves
/// are hashed and compared with the pooled strings (ASCII ids, the common case, without transcoding).
/// New ids are allocated once.
/// </summary>
/// <remarks>
/// An open-addressing table of (hash of the UTF-8 bytes, string); the hash is seeded per process
/// (<see cref="HashCode"/>), so crafted ids cannot force collisions. Bounded: when
/// <see cref="Count"/> reaches the capacity the pool is cleared (a cheap, rare reset, after which
/// ids are allocated once more). Not thread-safe: one pool per consumer thread.
/// </remarks>
[SkipLocalsInit]
public sealed class IdStringPool
{
    /// <summary>Ids up to this many bytes are compared through a stack buffer when not ASCII.</summary>
    public const int MaxStackChars = 512;

    private const int InitialSlots = 1024;

    private readonly int _capacity;
    private Entry[] _entries = new Entry[InitialSlots];
    private int _count;

    public IdStringPool(int capacity = 4_000_000)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(capacity, 1);
        _capacity = capacity;
    }

    /// <summary>Number of pooled strings.</summary>
    public int Count => _count;

    /// <summary>Times the pool was cleared because it was full.</summary>
    public long Resets { get; private set; }

    /// <summary>Returns the pooled string equal to the UTF-8 <paramref name="utf8"/>, which must be valid UTF-8.</summary>
    /// <exception cref="DecoderFallbackException">The bytes are not valid UTF-8.</exception>
    public string Get(ReadOnlySpan<byte> utf8)
    {
        var hash = Hash(utf8);
        var entries = _entries;
        var mask = entries.Length - 1;
        for (var slot = hash & mask; ; slot = (slot + 1) & mask)
        {
            ref var entry = ref entries[slot];
            if (entry.Value is null)
            {
                break;
            }

            if (entry.Hash == hash && EqualsUtf8(entry.Value, utf8))
            {
                return entry.Value;
            }
        }

        // Decoding first: invalid UTF-8 throws before anything is pooled.
        var created = _strict.GetString(utf8);
        if (_count >= _capacity)
        {
            Array.Clear(_entries);
            _count = 0;
            Resets++;
        }

        if ((_count + 1) * 2 > _entries.Length)
        {
            Grow();
        }

        Insert(_entries, hash, created);
        _count++;
        return created;
    }

    /// <summary>
    /// Starts loading what a later <see cref="Get"/> of <paramref name="utf8"/> reads: with <paramref name="pooledString"/>
    /// false the table slot, with true the pooled string itself (call it once the slot has had time to arrive).
    /// Only a hint: it changes nothing, and ids not pooled yet are ignored.
    /// </summary>
    /// <remarks>
    /// Ids arrive in random order over a table and strings too large for the core's caches: each lookup
    /// otherwise waits on memory twice (the slot, then the string it compares with).
    /// </remarks>
    public unsafe void Prefetch(ReadOnlySpan<byte> utf8, bool pooledString)
    {
        if (!Sse.IsSupported)
        {
            return;
        }

        var hash = Hash(utf8);
        var entries = _entries;
        ref var entry = ref entries[hash & (entries.Length - 1)];
        if (!pooledString)
        {
            // A stale address after the array moved is harmless: a prefetch never faults.
            Sse.Prefetch0(Unsafe.AsPointer(ref entry));
        }
        else if (entry.Hash == hash && entry.Value is { } pooled)
        {
            Sse.Prefetch0(Unsafe.AsPointer(ref Unsafe.AsRef(in pooled.GetPinnableReference())));
        }
    }

    private static int Hash(ReadOnlySpan<byte> utf8)
    {
        var hash = new HashCode();
        hash.AddBytes(utf8);
        return hash.ToHashCode() & int.MaxValue;
    }

    private static bool EqualsUtf8(string pooled, ReadOnlySpan<byte> utf8)
    {
        if (pooled.Length == utf8.Length && Ascii.Equals(utf8, pooled))
        {
            return true;
        }

        // Not ASCII on at least one side: compare in UTF-16 (a multi-byte id is shorter in chars than in bytes).
        if (pooled.Length >= utf8.Length || !TryGetCharCount(utf8, out var chars) || chars != pooled.Length)
        {
            return false;
        }

        char[]? rented = null;
        var buffer = chars <= MaxStackChars ? stackalloc char[chars] : (rented = ArrayPool<char>.Shared.Rent(chars));
        try
        {
            var written = _strict.GetChars(utf8, buffer);
            return buffer[..written].SequenceEqual(pooled);
        }
        finally
        {
            if (rented is not null)
            {
                ArrayPool<char>.Shared.Return(rented);
            }
        }
    }

    private static bool TryGetCharCount(ReadOnlySpan<byte> utf8, out int chars)
    {
        try
        {
            chars = _strict.GetCharCount(utf8);
            return true;
        }
        catch (DecoderFallbackException)
        {
            chars = 0;
            return false;
        }
    }

    private void Grow()
    {
        var grown = new Entry[_entries.Length * 2];
        foreach (var entry in _entries)
        {
            if (entry.Value is not null)
            {
                Insert(grown, entry.Hash, entry.Value);
            }
        }

        _entries = grown;
    }

    private static void Insert(Entry[] entries, int hash, string value)
    {
        var mask = entries.Length - 1;
        var slot = hash & mask;
        while (entries[slot].Value is not null)
        {
            slot = (slot + 1) & mask;
        }

        entries[slot] = new Entry(hash, value);
    }

    private readonly record struct Entry(int Hash, string? Value);

    private static readonly UTF8Encoding _strict = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);
}
