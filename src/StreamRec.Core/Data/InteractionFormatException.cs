namespace StreamRec.Core.Data;

/// <summary>
/// A record of an input that cannot be read as an interaction. The message names the source and
/// the 1-based line number (for protobuf input, the 1-based record number).
/// </summary>
public sealed class InteractionFormatException : FormatException
{
    public InteractionFormatException(string sourceName, long lineNumber, string reason, Exception? innerException = null)
        : base($"{sourceName}:{lineNumber}: {reason}", innerException)
    {
        SourceName = sourceName;
        LineNumber = lineNumber;
        Reason = reason;
    }

    /// <summary>The file name (or other label) given to the reader.</summary>
    public string SourceName { get; }

    /// <summary>The 1-based line number, or record number for protobuf input.</summary>
    public long LineNumber { get; }

    /// <summary>What is wrong with the record, without the location.</summary>
    public string Reason { get; }
}
