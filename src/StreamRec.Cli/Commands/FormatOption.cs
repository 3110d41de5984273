using StreamRec.Core.Data;

namespace StreamRec.Cli.Commands;

/// <summary>Resolves a --format value, or infers it from a file name when it is absent.</summary>
internal static class FormatOption
{
    public static bool TryResolve(string? name, string fileName, out InputFormat format, out string? error)
    {
        error = null;
        if (name is not null)
        {
            if (InputFormatNames.TryParse(name, out format))
            {
                return true;
            }

            error = $"--format: '{name}' is not one of {string.Join(", ", InputFormatNames.All)}.";
            return false;
        }

        string extension = Path.GetExtension(fileName).ToLowerInvariant();
        InputFormat? inferred = extension switch
        {
            ".csv" => InputFormat.Csv,
            ".jsonl" or ".ndjson" or ".json" => InputFormat.JsonLines,
            ".pb" or ".bin" or ".proto" => InputFormat.Proto,
            ".dat" => InputFormat.MovieLens1M,
            ".data" or ".base" or ".test" => InputFormat.MovieLens,
            _ => null,
        };
        format = inferred.GetValueOrDefault();
        if (inferred is null)
        {
            error = $"--format: cannot tell the format of '{fileName}' from its extension; give --format ({string.Join(", ", InputFormatNames.All)}).";
        }

        return inferred is not null;
    }
}
