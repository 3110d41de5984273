namespace StreamRec.Core.Engine;

/// <summary>
/// A small, fast, seedable generator (SplitMix64) whose sequence is fixed by the seed on every
/// platform and runtime version, so a model replayed with the same seed is bit-for-bit identical.
/// </summary>
/// <remarks>Not thread-safe: each table and learner owns its own instance.</remarks>
public sealed class SeededRandom
{
    private const ulong GoldenGamma = 0x9E3779B97F4A7C15UL;
    private ulong _state;
    private float _spareGaussian;
    private bool _hasSpareGaussian;

    public SeededRandom(ulong seed) => _state = seed;

    /// <summary>Restarts the sequence from <paramref name="seed"/>, as a new instance would.</summary>
    public void Reseed(ulong seed)
    {
        _state = seed;
        _hasSpareGaussian = false;
    }

    /// <summary>A 64-bit FNV-1a hash of a string's UTF-16 code units: stable across processes and runtimes.</summary>
    public static ulong StableHash(ReadOnlySpan<char> text)
    {
        ulong hash = 0xCBF29CE484222325UL;
        foreach (char c in text)
        {
            hash = (hash ^ c) * 0x100000001B3UL;
        }

        return hash;
    }

    /// <summary>The next 64 uniformly distributed bits.</summary>
    public ulong NextUInt64()
    {
        ulong z = _state += GoldenGamma;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }

    /// <summary>A uniform integer in [0, <paramref name="exclusiveMax"/>), by multiply-shift (no division).</summary>
    public int NextInt(int exclusiveMax) => (int)(((NextUInt64() >> 32) * (ulong)(uint)exclusiveMax) >> 32);

    /// <summary>A uniform integer in [0, <paramref name="exclusiveMax"/>) for large ranges.</summary>
    public long NextInt64(long exclusiveMax) => (long)(NextUInt64() % (ulong)exclusiveMax);

    /// <summary>A uniform double in [0, 1).</summary>
    public double NextDouble() => (NextUInt64() >> 11) * (1.0 / (1UL << 53));

    /// <summary>A standard normal sample (Box-Muller; the second value of each pair is kept for the next call).</summary>
    public float NextGaussian()
    {
        if (_hasSpareGaussian)
        {
            _hasSpareGaussian = false;
            return _spareGaussian;
        }

        double u1 = 1.0 - NextDouble(); // (0, 1]: keeps Log finite
        double u2 = NextDouble();
        double radius = Math.Sqrt(-2.0 * Math.Log(u1));
        double angle = 2.0 * Math.PI * u2;
        _spareGaussian = (float)(radius * Math.Sin(angle));
        _hasSpareGaussian = true;
        return (float)(radius * Math.Cos(angle));
    }
}
