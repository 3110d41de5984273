namespace StreamRec.Worker.Observability;

/// <summary>
/// Prequential recall@k on the live stream over a sliding window: before a sampled event is
/// learned, the model's top-k for its user is checked for the event's item.
/// </summary>
/// <remarks>Not thread-safe: the consumer thread records, <see cref="Recall"/> may be read racily for metrics.</remarks>
public sealed class LiveRecall(int window)
{
    private readonly bool[] _hits = new bool[window];
    private int _next;
    private int _count;
    private int _hitCount;

    /// <summary>Hits over evaluated events in the window; NaN before the first.</summary>
    public double Recall => _count == 0 ? double.NaN : (double)_hitCount / _count;

    /// <summary>Events evaluated in the window.</summary>
    public int Count => _count;

    public void Record(bool hit)
    {
        if (_count == _hits.Length)
        {
            _hitCount -= _hits[_next] ? 1 : 0;
        }
        else
        {
            _count++;
        }

        _hits[_next] = hit;
        _hitCount += hit ? 1 : 0;
        _next = (_next + 1) % _hits.Length;
    }
}
