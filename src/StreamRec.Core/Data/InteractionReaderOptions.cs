namespace StreamRec.Core.Data;

/// <summary>How an input is read.</summary>
/// <param name="Source">The label used in error messages, normally the file path.</param>
/// <param name="SkipBad">Skip and count malformed records instead of throwing <see cref="InteractionFormatException"/>.</param>
/// <param name="SortByTime">
/// Stable-sort by event time before yielding (ties keep file order). This is the one mode that
/// holds the whole input in memory.
/// </param>
public sealed record InteractionReaderOptions(string Source = "<input>", bool SkipBad = false, bool SortByTime = false);
