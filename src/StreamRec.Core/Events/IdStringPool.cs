using System.Text;

namespace StreamRec.Core.Events;

/// <summary>
/// Turns UTF-8 id bytes into strings without allocating for ids seen before: decodes into a stack
/// buffer and looks the characters up in a pool of known strings. New ids are allocated once.
/// </summary>
/// <remarks>
/// Bounded: when <see cref="Count"/> reaches the capacity the pool is cleared (a cheap, rare
/// reset, after which ids are allocated once more). Not thread-safe: one pool per consumer thread.
/// </remarks>
public sealed class IdStringPool
{
    /// <summary>Ids up to this many characters are decoded on the stack.</summary>
    public const int MaxStackChars = 1024;

    private readonly HashSet<string> _strings;
    private readonly HashSet<string>.AlternateLookup<ReadOnlySpan<char>> _lookup;
    private readonly int _capacity;

    public IdStringPool(int capacity = 4_000_000)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(capacity, 1);
        _capacity = capacity;
        _strings = new HashSet<string>(StringComparer.Ordinal);
        _lookup = _strings.GetAlternateLookup<ReadOnlySpan<char>>();
    }

    /// <summary>Number of pooled strings.</summary>
    public int Count => _strings.Count;

    /// <summary>Times the pool was cleared because it was full.</summary>
    public long Resets { get; private set; }

    /// <summary>Returns the pooled string equal to the UTF-8 <paramref name="utf8"/>, which must be valid UTF-8.</summary>
    /// <exception cref="DecoderFallbackException">The bytes are not valid UTF-8.</exception>
    public string Get(ReadOnlySpan<byte> utf8)
    {
        if (utf8.Length > MaxStackChars)
        {
            return _strict.GetString(utf8);
        }

        Span<char> chars = stackalloc char[MaxStackChars];
        var length = _strict.GetChars(utf8, chars);
        var text = chars[..length];
        if (_lookup.TryGetValue(text, out var pooled))
        {
            return pooled;
        }

        if (_strings.Count >= _capacity)
        {
            _strings.Clear();
            Resets++;
        }

        var created = new string(text);
        _strings.Add(created);
        return created;
    }

    private static readonly UTF8Encoding _strict = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);
}
