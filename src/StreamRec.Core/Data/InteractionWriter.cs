using System.Globalization;
using System.Text;
using System.Text.Json;
using Google.Protobuf;
using StreamRec.Contracts.V1;
using StreamRec.Core.Model;

namespace StreamRec.Core.Data;

/// <summary>
/// Writes interactions in the formats <see cref="InteractionReader"/> reads back: CSV (with
/// header <c>user,item,type,value,timestamp</c>, time in epoch milliseconds), JSON lines (the same
/// field names) and length-delimited protobuf <see cref="ClickEvent"/>s.
/// </summary>
/// <remarks>The caller owns the stream; it is flushed, not closed.</remarks>
public static class InteractionWriter
{
    /// <summary>Writes all events and returns how many were written.</summary>
    public static long Write(Stream stream, InputFormat format, IEnumerable<Interaction> events)
    {
        ArgumentNullException.ThrowIfNull(stream);
        ArgumentNullException.ThrowIfNull(events);
        return format switch
        {
            InputFormat.Csv => WriteCsv(stream, events),
            InputFormat.JsonLines => WriteJsonLines(stream, events),
            InputFormat.Proto => WriteProto(stream, events),
            _ => throw new ArgumentException($"Writing {format.ToName()} is not supported; use csv, jsonl or proto.", nameof(format)),
        };
    }

    private static long WriteCsv(Stream stream, IEnumerable<Interaction> events)
    {
        using var writer = new StreamWriter(stream, new UTF8Encoding(encoderShouldEmitUTF8Identifier: false), bufferSize: 1 << 16, leaveOpen: true);
        writer.NewLine = "\n";
        writer.WriteLine("user,item,type,value,timestamp");
        long count = 0;
        foreach (var e in events)
        {
            writer.Write(CsvFields.Quote(e.UserId));
            writer.Write(',');
            writer.Write(CsvFields.Quote(e.ItemId));
            writer.Write(',');
            writer.Write(EventTypeNames.ToName(e.Type));
            writer.Write(',');
            writer.Write(e.Value.ToString("R", CultureInfo.InvariantCulture));
            writer.Write(',');
            writer.WriteLine(e.EventTimeMs.ToString(CultureInfo.InvariantCulture));
            count++;
        }

        return count;
    }

    private static long WriteJsonLines(Stream stream, IEnumerable<Interaction> events)
    {
        long count = 0;
        using var json = new Utf8JsonWriter(stream, new JsonWriterOptions { SkipValidation = true });
        foreach (var e in events)
        {
            json.WriteStartObject();
            json.WriteString("user", e.UserId);
            json.WriteString("item", e.ItemId);
            json.WriteString("type", EventTypeNames.ToName(e.Type));
            json.WriteNumber("value", e.Value);
            json.WriteNumber("timestamp", e.EventTimeMs);
            json.WriteEndObject();
            json.Flush();
            stream.WriteByte((byte)'\n');
            json.Reset();
            count++;
        }

        return count;
    }

    private static long WriteProto(Stream stream, IEnumerable<Interaction> events)
    {
        long count = 0;
        var message = new ClickEvent();
        foreach (var e in events)
        {
            message.UserId = e.UserId;
            message.ItemId = e.ItemId;
            message.Type = e.Type;
            message.Value = e.Value;
            message.EventTimeMs = e.EventTimeMs;
            message.WriteDelimitedTo(stream);
            count++;
        }

        stream.Flush();
        return count;
    }
}
