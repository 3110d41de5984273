using System.Buffers;
using System.Globalization;
using System.Text;
using System.Text.Json;
using StreamRec.Contracts.V1;
using StreamRec.Core.Model;

namespace StreamRec.Core.Data;

/// <summary>
/// Streams interactions out of the supported input formats. Records are parsed lazily, one line
/// (or protobuf frame) at a time; only <see cref="InteractionReaderOptions.SortByTime"/> holds the
/// whole input in memory.
/// </summary>
/// <remarks>
/// A malformed record throws <see cref="InteractionFormatException"/> naming the source and line,
/// or is skipped and counted in <see cref="ReadStatistics"/> when skip-bad is on. A truncated
/// protobuf frame is always fatal: framing cannot be recovered after it.
/// The caller owns the stream or reader and disposes it after enumeration.
/// </remarks>
public static class InteractionReader
{
    /// <summary>Reads a stream in the given format. Text formats are decoded as UTF-8.</summary>
    public static IEnumerable<Interaction> Read(Stream stream, InputFormat format, InteractionReaderOptions? options = null, ReadStatistics? statistics = null)
    {
        ArgumentNullException.ThrowIfNull(stream);
        options ??= new InteractionReaderOptions();
        statistics ??= new ReadStatistics();
        var events = format == InputFormat.Proto
            ? ReadProto(stream, options, statistics)
            : ReadLines(new StreamReader(stream, Encoding.UTF8, detectEncodingFromByteOrderMarks: true, bufferSize: 1 << 16, leaveOpen: true), format, options, statistics);
        return options.SortByTime ? SortStable(events) : events;
    }

    /// <summary>Reads text in one of the line formats (every format but <see cref="InputFormat.Proto"/>).</summary>
    public static IEnumerable<Interaction> Read(TextReader reader, InputFormat format, InteractionReaderOptions? options = null, ReadStatistics? statistics = null)
    {
        ArgumentNullException.ThrowIfNull(reader);
        if (format == InputFormat.Proto)
        {
            throw new ArgumentException("Protobuf input is binary: read it from a Stream.", nameof(format));
        }

        options ??= new InteractionReaderOptions();
        statistics ??= new ReadStatistics();
        var events = ReadLines(reader, format, options, statistics);
        return options.SortByTime ? SortStable(events) : events;
    }

    // Enumerable.OrderBy is a stable sort, so equal timestamps keep file order.
    private static IEnumerable<Interaction> SortStable(IEnumerable<Interaction> events) =>
        events.OrderBy(e => e.EventTimeMs);

    private static IEnumerable<Interaction> ReadLines(TextReader reader, InputFormat format, InteractionReaderOptions options, ReadStatistics statistics)
    {
        long lineNumber = 0;
        CsvColumns? csvColumns = null;
        string? line;
        while ((line = reader.ReadLine()) is not null)
        {
            lineNumber++;
            if (string.IsNullOrWhiteSpace(line))
            {
                continue;
            }

            if (format == InputFormat.Csv && csvColumns is null)
            {
                // The header is structural: a bad header is fatal even with skip-bad.
                csvColumns = CsvColumns.FromHeader(line, options.Source, lineNumber);
                continue;
            }

            Interaction interaction;
            try
            {
                interaction = format switch
                {
                    InputFormat.MovieLens => ParseMovieLens(line),
                    InputFormat.MovieLens1M => ParseMovieLens1M(line),
                    InputFormat.Csv => ParseCsv(line, csvColumns!),
                    InputFormat.JsonLines => ParseJson(line),
                    _ => throw new ArgumentOutOfRangeException(nameof(format), format, "Not a line format."),
                };
                Validate(interaction);
            }
            catch (RecordException ex)
            {
                var error = new InteractionFormatException(options.Source, lineNumber, ex.Message, ex.InnerException);
                if (!options.SkipBad)
                {
                    throw error;
                }

                statistics.Skipped++;
                statistics.FirstSkipped ??= error;
                continue;
            }

            statistics.Read++;
            yield return interaction;
        }
    }

    private static IEnumerable<Interaction> ReadProto(Stream stream, InteractionReaderOptions options, ReadStatistics statistics)
    {
        long recordNumber = 0;
        byte[] buffer = ArrayPool<byte>.Shared.Rent(1024);
        try
        {
            while (true)
            {
                recordNumber++;
                int length = ReadFrameLength(stream, options.Source, recordNumber);
                if (length < 0)
                {
                    yield break;
                }

                if (buffer.Length < length)
                {
                    ArrayPool<byte>.Shared.Return(buffer);
                    buffer = ArrayPool<byte>.Shared.Rent(length);
                }

                int read = stream.ReadAtLeast(buffer.AsSpan(0, length), length, throwOnEndOfStream: false);
                if (read < length)
                {
                    throw new InteractionFormatException(options.Source, recordNumber, $"truncated record: expected {length} bytes, found {read}");
                }

                Interaction interaction;
                try
                {
                    ClickEvent message;
                    try
                    {
                        message = ClickEvent.Parser.ParseFrom(buffer.AsSpan(0, length));
                    }
                    catch (Google.Protobuf.InvalidProtocolBufferException ex)
                    {
                        throw new RecordException($"not a ClickEvent: {ex.Message}", ex);
                    }

                    interaction = new Interaction(message.UserId, message.ItemId, message.Type, message.Value, message.EventTimeMs);
                    Validate(interaction);
                }
                catch (RecordException ex)
                {
                    var error = new InteractionFormatException(options.Source, recordNumber, ex.Message, ex.InnerException);
                    if (!options.SkipBad)
                    {
                        throw error;
                    }

                    statistics.Skipped++;
                    statistics.FirstSkipped ??= error;
                    continue;
                }

                statistics.Read++;
                yield return interaction;
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    /// <summary>Reads the varint length prefix; -1 at a clean end of stream.</summary>
    private static int ReadFrameLength(Stream stream, string source, long recordNumber)
    {
        int length = 0;
        for (int shift = 0; shift < 35; shift += 7)
        {
            int b = stream.ReadByte();
            if (b < 0)
            {
                if (shift == 0)
                {
                    return -1;
                }

                throw new InteractionFormatException(source, recordNumber, "truncated length prefix");
            }

            length |= (b & 0x7F) << shift;
            if ((b & 0x80) == 0)
            {
                if (length < 0 || length > MaxProtoRecordBytes)
                {
                    throw new InteractionFormatException(source, recordNumber, $"record length {length} is outside 0..{MaxProtoRecordBytes}");
                }

                return length;
            }
        }

        throw new InteractionFormatException(source, recordNumber, "malformed length prefix");
    }

    // A ClickEvent carries two ids of at most 256 bytes and three scalars; anything far larger is
    // a framing error, and the bound keeps a corrupt prefix from asking for gigabytes.
    private const int MaxProtoRecordBytes = 1 << 20;

    // u.data is tab-separated; spaces are accepted too, for hand-edited copies.
    private static Interaction ParseMovieLens(string line) =>
        FromMovieLensFields(line.Split(MovieLensSeparators, StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries));

    private static readonly char[] MovieLensSeparators = ['\t', ' '];

    private static Interaction ParseMovieLens1M(string line) =>
        FromMovieLensFields(line.Split("::", StringSplitOptions.TrimEntries));

    private static Interaction FromMovieLensFields(string[] fields)
    {
        if (fields.Length != 4)
        {
            throw new RecordException($"expected 4 fields (user, item, rating, unix seconds), found {fields.Length}");
        }

        float rating = ParseFloat(fields[2], "rating");
        long seconds = ParseLong(fields[3], "timestamp");
        return new Interaction(fields[0], fields[1], EventType.Rating, rating, checked(seconds * 1000));
    }

    private static Interaction ParseCsv(string line, CsvColumns columns)
    {
        var fields = CsvFields.Split(line);
        if (fields.Count < columns.Count)
        {
            throw new RecordException($"expected {columns.Count} fields, found {fields.Count}");
        }

        string user = fields[columns.User];
        string item = fields[columns.Item];
        var type = ParseEventType(fields[columns.Type]);
        float value = columns.Value >= 0 && fields[columns.Value].Length > 0 ? ParseFloat(fields[columns.Value], "value") : 0f;
        long time = ParseTimestamp(fields[columns.Timestamp]);
        return new Interaction(user, item, type, value, time);
    }

    private static Interaction ParseJson(string line)
    {
        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(line);
        }
        catch (JsonException ex)
        {
            throw new RecordException($"invalid JSON: {ex.Message}", ex);
        }

        using (document)
        {
            var root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Object)
            {
                throw new RecordException("expected a JSON object");
            }

            string? user = null, item = null;
            EventType? type = null;
            float value = 0;
            long? time = null;
            foreach (var property in root.EnumerateObject())
            {
                switch (property.Name)
                {
                    case "user" or "userId" or "user_id":
                        user = JsonString(property);
                        break;
                    case "item" or "itemId" or "item_id":
                        item = JsonString(property);
                        break;
                    case "type" or "eventType" or "event_type":
                        type = property.Value.ValueKind switch
                        {
                            JsonValueKind.String => ParseEventType(property.Value.GetString()!),
                            JsonValueKind.Number => ParseEventType(property.Value.GetRawText()),
                            _ => throw new RecordException($"'{property.Name}' must be a string or number"),
                        };
                        break;
                    case "value":
                        value = property.Value.ValueKind switch
                        {
                            JsonValueKind.Null => 0f,
                            JsonValueKind.Number when property.Value.TryGetSingle(out float v) && float.IsFinite(v) => v,
                            _ => throw new RecordException("'value' must be a finite number or null"),
                        };
                        break;
                    case "timestamp" or "eventTimeMs" or "event_time_ms":
                        time = property.Value.ValueKind switch
                        {
                            JsonValueKind.Number => property.Value.TryGetInt64(out long ms) ? ms : throw new RecordException($"'{property.Name}' must be whole milliseconds"),
                            JsonValueKind.String => ParseTimestamp(property.Value.GetString()!),
                            _ => throw new RecordException($"'{property.Name}' must be a number or an ISO-8601 string"),
                        };
                        break;
                    default:
                        break; // unknown fields are ignored so producers can add context
                }
            }

            return new Interaction(
                user ?? throw new RecordException("missing 'user'"),
                item ?? throw new RecordException("missing 'item'"),
                type ?? throw new RecordException("missing 'type'"),
                value,
                time ?? throw new RecordException("missing 'timestamp'"));
        }
    }

    private static string JsonString(JsonProperty property) => property.Value.ValueKind switch
    {
        JsonValueKind.String => property.Value.GetString()!,
        // Numeric ids (as in MovieLens) are accepted and kept as their text.
        JsonValueKind.Number => property.Value.GetRawText(),
        _ => throw new RecordException($"'{property.Name}' must be a string or number"),
    };

    private static EventType ParseEventType(string text) =>
        EventTypeNames.TryParse(text, out var type)
            ? type
            : throw new RecordException($"unknown event type '{text}' (expected view, click, add_to_cart, purchase or rating)");

    /// <summary>Whole numbers are milliseconds since the Unix epoch; anything else must be ISO-8601 (UTC unless it has an offset).</summary>
    internal static long ParseTimestamp(string text)
    {
        text = text.Trim();
        if (long.TryParse(text, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out long ms))
        {
            return ms;
        }

        if (DateTimeOffset.TryParse(text, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal | DateTimeStyles.AllowWhiteSpaces, out var instant)
            && text.Length >= 10 && text[4] == '-')
        {
            return instant.ToUnixTimeMilliseconds();
        }

        throw new RecordException($"timestamp '{text}' is neither milliseconds since the epoch nor ISO-8601");
    }

    private static float ParseFloat(string text, string field) =>
        float.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out float value) && float.IsFinite(value)
            ? value
            : throw new RecordException($"{field} '{text}' is not a finite number");

    private static long ParseLong(string text, string field) =>
        long.TryParse(text, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out long value)
            ? value
            : throw new RecordException($"{field} '{text}' is not a whole number");

    private static void Validate(in Interaction interaction)
    {
        if (string.IsNullOrWhiteSpace(interaction.UserId))
        {
            throw new RecordException("empty user id");
        }

        if (string.IsNullOrWhiteSpace(interaction.ItemId))
        {
            throw new RecordException("empty item id");
        }

        if (interaction.Type is EventType.Unspecified || !Enum.IsDefined(interaction.Type))
        {
            throw new RecordException($"event type {(int)interaction.Type} is not a concrete type");
        }

        if (!float.IsFinite(interaction.Value))
        {
            throw new RecordException("value is not a finite number");
        }
    }

    /// <summary>Column positions resolved from a CSV header.</summary>
    private sealed class CsvColumns
    {
        public int User { get; private init; }
        public int Item { get; private init; }
        public int Type { get; private init; }
        public int Value { get; private init; }
        public int Timestamp { get; private init; }
        public int Count { get; private init; }

        public static CsvColumns FromHeader(string header, string source, long lineNumber)
        {
            var names = CsvFields.Split(header);
            int Find(params string[] aliases)
            {
                for (int i = 0; i < names.Count; i++)
                {
                    if (aliases.Contains(names[i].Trim(), StringComparer.OrdinalIgnoreCase))
                    {
                        return i;
                    }
                }

                return -1;
            }

            int Require(string name, params string[] aliases)
            {
                int index = Find(aliases);
                return index >= 0
                    ? index
                    : throw new InteractionFormatException(source, lineNumber, $"CSV header has no '{name}' column (header: {header})");
            }

            int user = Require("user", "user", "user_id", "userId");
            int item = Require("item", "item", "item_id", "itemId");
            int type = Require("type", "type", "event_type", "eventType");
            int value = Find("value", "rating");
            int timestamp = Require("timestamp", "timestamp", "event_time_ms", "eventTimeMs", "time");
            int last = Math.Max(Math.Max(user, item), Math.Max(Math.Max(type, value), timestamp));
            return new CsvColumns { User = user, Item = item, Type = type, Value = value, Timestamp = timestamp, Count = last + 1 };
        }
    }

    /// <summary>A per-record error; the caller adds the source and line.</summary>
    private sealed class RecordException(string message, Exception? inner = null) : Exception(message, inner);
}
