namespace StreamRec.Core.Data;

/// <summary>
/// Counters a reader updates while it is enumerated. Read them after enumeration ends; a reader
/// that sorts fills them before the first event is yielded.
/// </summary>
public sealed class ReadStatistics
{
    /// <summary>Records turned into interactions.</summary>
    public long Read { get; internal set; }

    /// <summary>Malformed records skipped because skip-bad was on.</summary>
    public long Skipped { get; internal set; }

    /// <summary>The first skipped record's error, to show the user what kind of damage was met.</summary>
    public InteractionFormatException? FirstSkipped { get; internal set; }
}
