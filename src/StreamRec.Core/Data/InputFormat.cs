namespace StreamRec.Core.Data;

/// <summary>The event file formats the readers and writers understand.</summary>
public enum InputFormat
{
    /// <summary>MovieLens 100K <c>u.data</c>: <c>user TAB item TAB rating TAB unix-seconds</c>, no header.</summary>
    MovieLens,

    /// <summary>MovieLens 1M/10M <c>ratings.dat</c>: <c>user::item::rating::unix-seconds</c>, no header.</summary>
    MovieLens1M,

    /// <summary>Comma-separated with a header naming the columns user, item, type, value, timestamp.</summary>
    Csv,

    /// <summary>One JSON object per line with the same fields as <see cref="Csv"/>.</summary>
    JsonLines,

    /// <summary>Length-delimited protobuf <c>ClickEvent</c> messages (varint length, then the message).</summary>
    Proto,
}

/// <summary>Maps the CLI spellings of <see cref="InputFormat"/> to values and back.</summary>
public static class InputFormatNames
{
    /// <summary>The accepted names, in the order they are documented.</summary>
    public static IReadOnlyList<string> All { get; } = ["movielens", "ml1m", "csv", "jsonl", "proto"];

    /// <summary>Parses a format name (case-insensitive); false when it is not one of <see cref="All"/>.</summary>
    public static bool TryParse(string? name, out InputFormat format)
    {
        switch (name?.Trim().ToLowerInvariant())
        {
            case "movielens" or "ml100k" or "udata": format = InputFormat.MovieLens; return true;
            case "ml1m" or "ratings.dat": format = InputFormat.MovieLens1M; return true;
            case "csv": format = InputFormat.Csv; return true;
            case "jsonl" or "json": format = InputFormat.JsonLines; return true;
            case "proto" or "protobuf": format = InputFormat.Proto; return true;
            default: format = default; return false;
        }
    }

    /// <summary>The CLI name of a format.</summary>
    public static string ToName(this InputFormat format) => format switch
    {
        InputFormat.MovieLens => "movielens",
        InputFormat.MovieLens1M => "ml1m",
        InputFormat.Csv => "csv",
        InputFormat.JsonLines => "jsonl",
        InputFormat.Proto => "proto",
        _ => throw new ArgumentOutOfRangeException(nameof(format), format, "Unknown input format."),
    };
}
