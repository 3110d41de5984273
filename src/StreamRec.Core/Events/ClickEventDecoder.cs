using System.Buffers.Binary;
using System.Text;
using System.Text.Json;
using StreamRec.Contracts.V1;
using StreamRec.Core.Model;

namespace StreamRec.Core.Events;

/// <summary>An event that could not be learned from, with the reason and a short human explanation.</summary>
public readonly record struct BadEvent(BadEventReason Reason, string Detail);

/// <summary>
/// Decodes and validates ClickEvents from Kafka message values: protobuf (the default) or JSON.
/// Known ids decode without allocating (see <see cref="IdStringPool"/>); only refused events
/// allocate, for their explanation.
/// </summary>
/// <remarks>Not thread-safe: one decoder per consumer thread.</remarks>
public sealed class ClickEventDecoder
{
    /// <summary>JSON ids longer than this many bytes are refused before decoding.</summary>
    private const int MaxJsonStringBytes = 4096;

    private readonly EventValidationOptions _options;
    private readonly IdStringPool _ids;
    private readonly TimeProvider _clock;

    public ClickEventDecoder(EventValidationOptions options, TimeProvider? clock = null, IdStringPool? ids = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        _options = options;
        _clock = clock ?? TimeProvider.System;
        _ids = ids ?? new IdStringPool();
    }

    /// <summary>Decodes a protobuf-encoded <see cref="ClickEvent"/>, checking its time against the clock now.</summary>
    public bool TryDecodeProtobuf(ReadOnlySpan<byte> payload, out Interaction interaction, out BadEvent bad) =>
        TryDecodeProtobuf(payload, _clock.GetUtcNow().ToUnixTimeMilliseconds(), out interaction, out bad);

    /// <summary>
    /// Decodes a protobuf-encoded <see cref="ClickEvent"/>, checking its time against <paramref name="nowMs"/>
    /// (for a caller that reads the clock once for many events).
    /// </summary>
    public bool TryDecodeProtobuf(ReadOnlySpan<byte> payload, long nowMs, out Interaction interaction, out BadEvent bad)
    {
        interaction = default;
        ReadOnlySpan<byte> user = default, item = default;
        long type = 0, timeMs = 0;
        float value = 0;
        var position = 0;
        while (position < payload.Length)
        {
            if (!TryReadVarint(payload, ref position, out var tag))
            {
                return Fail(BadEventReason.Malformed, "truncated field tag", out bad);
            }

            var field = (int)(tag >> 3);
            var wireType = (int)(tag & 7);
            switch ((field, wireType))
            {
                case (1, 2) when TryReadBytes(payload, ref position, out user):
                case (2, 2) when TryReadBytes(payload, ref position, out item):
                case (3, 0) when TryReadVarint(payload, ref position, out var rawType) && Assign(out type, (long)rawType):
                case (5, 0) when TryReadVarint(payload, ref position, out var rawTime) && Assign(out timeMs, (long)rawTime):
                    continue;
                case (4, 5) when position + 4 <= payload.Length:
                    value = BinaryPrimitives.ReadSingleLittleEndian(payload[position..]);
                    position += 4;
                    continue;
                case (0, _):
                    return Fail(BadEventReason.Malformed, "field number 0", out bad);
                case (1 or 2 or 3 or 4 or 5, _):
                    return Fail(BadEventReason.Malformed, $"field {field} has wire type {wireType} or is truncated", out bad);
                default:
                    if (!TrySkip(payload, ref position, wireType))
                    {
                        return Fail(BadEventReason.Malformed, $"unknown field {field} with wire type {wireType} is truncated or unsupported", out bad);
                    }

                    continue;
            }
        }

        return TryBuild(user, item, type, value, timeMs, nowMs, out interaction, out bad);
    }

    /// <summary>
    /// Starts loading the pooled strings of a protobuf event's ids (see <see cref="IdStringPool.Prefetch"/>), for a
    /// caller that decodes a run of events: called a few events ahead of decoding this one, first with
    /// <paramref name="pooledStrings"/> false, then true. Malformed payloads are ignored here and refused when decoded.
    /// </summary>
    public void PrefetchProtobufIds(ReadOnlySpan<byte> payload, bool pooledStrings)
    {
        var found = 0;
        var position = 0;
        while (found < 2 && position < payload.Length && TryReadVarint(payload, ref position, out var tag))
        {
            var field = (int)(tag >> 3);
            var wireType = (int)(tag & 7);
            if (field is 1 or 2 && wireType == 2)
            {
                if (!TryReadBytes(payload, ref position, out var id))
                {
                    return;
                }

                _ids.Prefetch(id, pooledStrings);
                found++;
            }
            else if (!TrySkip(payload, ref position, wireType))
            {
                return;
            }
        }
    }

    /// <summary>Decodes a JSON ClickEvent (see <see cref="TryDecodeJson(ReadOnlySpan{byte}, long, out Interaction, out BadEvent)"/>), checking its time against the clock now.</summary>
    public bool TryDecodeJson(ReadOnlySpan<byte> payload, out Interaction interaction, out BadEvent bad) =>
        TryDecodeJson(payload, _clock.GetUtcNow().ToUnixTimeMilliseconds(), out interaction, out bad);

    /// <summary>
    /// Decodes a JSON ClickEvent: <c>{"user_id": "...", "item_id": "...", "type": "click", "value": 0, "event_time_ms": 0}</c>.
    /// camelCase names are accepted too; <c>type</c> is a name (view, click, add_to_cart, purchase,
    /// rating) or the protobuf number. Its time is checked against <paramref name="nowMs"/>.
    /// </summary>
    public bool TryDecodeJson(ReadOnlySpan<byte> payload, long nowMs, out Interaction interaction, out BadEvent bad)
    {
        interaction = default;
        Span<byte> userBuffer = stackalloc byte[MaxJsonStringBytes];
        Span<byte> itemBuffer = stackalloc byte[MaxJsonStringBytes];
        scoped ReadOnlySpan<byte> user = default;
        scoped ReadOnlySpan<byte> item = default;
        long type = 0, timeMs = 0;
        float value = 0;
        try
        {
            var reader = new Utf8JsonReader(payload, new JsonReaderOptions { MaxDepth = 8 });
            if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject)
            {
                return Fail(BadEventReason.Malformed, "JSON event is not an object", out bad);
            }

            while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
            {
                if (reader.ValueTextEquals("user_id"u8) || reader.ValueTextEquals("userId"u8))
                {
                    reader.Read();
                    var length = ReadJsonString(ref reader, userBuffer);
                    if (length < 0)
                    {
                        return Fail(BadEventReason.Malformed, "user_id is not a string", out bad);
                    }

                    if (length > userBuffer.Length)
                    {
                        return Fail(BadEventReason.IdTooLong, $"user_id is longer than {_options.MaxIdBytes} bytes", out bad);
                    }

                    user = userBuffer[..length];
                }
                else if (reader.ValueTextEquals("item_id"u8) || reader.ValueTextEquals("itemId"u8))
                {
                    reader.Read();
                    var length = ReadJsonString(ref reader, itemBuffer);
                    if (length < 0)
                    {
                        return Fail(BadEventReason.Malformed, "item_id is not a string", out bad);
                    }

                    if (length > itemBuffer.Length)
                    {
                        return Fail(BadEventReason.IdTooLong, $"item_id is longer than {_options.MaxIdBytes} bytes", out bad);
                    }

                    item = itemBuffer[..length];
                }
                else if (reader.ValueTextEquals("type"u8))
                {
                    reader.Read();
                    type = reader.TokenType == JsonTokenType.Number ? (reader.TryGetInt64(out var number) ? number : -1) : ParseTypeName(ref reader);
                }
                else if (reader.ValueTextEquals("value"u8))
                {
                    reader.Read();
                    if (reader.TokenType != JsonTokenType.Number || !reader.TryGetSingle(out value))
                    {
                        return Fail(BadEventReason.InvalidValue, "value is not a number", out bad);
                    }
                }
                else if (reader.ValueTextEquals("event_time_ms"u8) || reader.ValueTextEquals("eventTimeMs"u8))
                {
                    reader.Read();
                    if (reader.TokenType != JsonTokenType.Number || !reader.TryGetInt64(out timeMs))
                    {
                        return Fail(BadEventReason.TimestampTooOld, "event_time_ms is not an integer", out bad);
                    }
                }
                else
                {
                    reader.Read();
                    reader.Skip();
                }
            }

            if (reader.TokenType != JsonTokenType.EndObject)
            {
                return Fail(BadEventReason.Malformed, "JSON event object is not closed", out bad);
            }
        }
        catch (JsonException ex)
        {
            return Fail(BadEventReason.Malformed, "invalid JSON: " + ex.Message, out bad);
        }
        catch (InvalidOperationException)
        {
            // Utf8JsonReader checks a string's UTF-8 only when its value is copied out.
            return Fail(BadEventReason.Malformed, "a JSON string is not valid UTF-8", out bad);
        }

        return TryBuild(user, item, type, value, timeMs, nowMs, out interaction, out bad);
    }

    private bool TryBuild(ReadOnlySpan<byte> user, ReadOnlySpan<byte> item, long type, float value, long timeMs, long nowMs, out Interaction interaction, out BadEvent bad)
    {
        interaction = default;
        if (user.IsEmpty)
        {
            return Fail(BadEventReason.MissingUserId, "user_id is empty", out bad);
        }

        if (item.IsEmpty)
        {
            return Fail(BadEventReason.MissingItemId, "item_id is empty", out bad);
        }

        if (user.Length > _options.MaxIdBytes || item.Length > _options.MaxIdBytes)
        {
            return Fail(BadEventReason.IdTooLong, $"an id is longer than {_options.MaxIdBytes} bytes", out bad);
        }

        if (type is < (long)EventType.View or > (long)EventType.Rating)
        {
            return Fail(BadEventReason.UnknownType, $"event type {type} is not view, click, add_to_cart, purchase or rating", out bad);
        }

        var eventType = (EventType)type;
        if (!float.IsFinite(value) || value < 0
            || (eventType == EventType.Rating && (value < _options.MinRating || value > _options.MaxRating)))
        {
            return Fail(BadEventReason.InvalidValue, $"value {value} is not valid for {eventType}", out bad);
        }

        if (timeMs <= 0 || timeMs < nowMs - (long)_options.MaxAge.TotalMilliseconds)
        {
            return Fail(BadEventReason.TimestampTooOld, $"event_time_ms {timeMs} is missing or older than {_options.MaxAge.TotalDays:0.#} days", out bad);
        }

        if (timeMs > nowMs + (long)_options.MaxFutureSkew.TotalMilliseconds)
        {
            return Fail(BadEventReason.TimestampInFuture, $"event_time_ms {timeMs} is more than {_options.MaxFutureSkew.TotalSeconds:0} s ahead of the clock", out bad);
        }

        try
        {
            interaction = new Interaction(_ids.Get(user), _ids.Get(item), eventType, value, timeMs);
        }
        catch (DecoderFallbackException)
        {
            return Fail(BadEventReason.Malformed, "an id is not valid UTF-8", out bad);
        }

        bad = default;
        return true;
    }

    private static long ParseTypeName(ref Utf8JsonReader reader)
    {
        if (reader.TokenType != JsonTokenType.String)
        {
            return -1;
        }

        if (reader.ValueTextEquals("view"u8))
        {
            return (long)EventType.View;
        }

        if (reader.ValueTextEquals("click"u8))
        {
            return (long)EventType.Click;
        }

        if (reader.ValueTextEquals("add_to_cart"u8))
        {
            return (long)EventType.AddToCart;
        }

        if (reader.ValueTextEquals("purchase"u8))
        {
            return (long)EventType.Purchase;
        }

        return reader.ValueTextEquals("rating"u8) ? (long)EventType.Rating : -1;
    }

    /// <summary>Copies a JSON string's unescaped UTF-8 into <paramref name="buffer"/>; -1 when not a string, length + 1 of the buffer when too long.</summary>
    private static int ReadJsonString(ref Utf8JsonReader reader, scoped Span<byte> buffer)
    {
        if (reader.TokenType != JsonTokenType.String)
        {
            return -1;
        }

        var escapedLength = reader.HasValueSequence ? reader.ValueSequence.Length : reader.ValueSpan.Length;
        return escapedLength > buffer.Length ? buffer.Length + 1 : reader.CopyString(buffer);
    }

    private static bool Assign(out long target, long value)
    {
        target = value;
        return true;
    }

    private static bool Fail(BadEventReason reason, string detail, out BadEvent bad)
    {
        bad = new BadEvent(reason, detail);
        return false;
    }

    private static bool TryReadVarint(ReadOnlySpan<byte> data, scoped ref int position, out ulong value)
    {
        value = 0;
        for (var shift = 0; shift < 64 && position < data.Length; shift += 7)
        {
            var b = data[position++];
            value |= (ulong)(b & 0x7F) << shift;
            if (b < 0x80)
            {
                return true;
            }
        }

        return false;
    }

    private static bool TryReadBytes(ReadOnlySpan<byte> data, scoped ref int position, out ReadOnlySpan<byte> bytes)
    {
        bytes = default;
        if (!TryReadVarint(data, ref position, out var length) || length > (ulong)(data.Length - position))
        {
            return false;
        }

        bytes = data.Slice(position, (int)length);
        position += (int)length;
        return true;
    }

    private static bool TrySkip(ReadOnlySpan<byte> data, ref int position, int wireType)
    {
        switch (wireType)
        {
            case 0:
                return TryReadVarint(data, ref position, out _);
            case 1 when position + 8 <= data.Length:
                position += 8;
                return true;
            case 2:
                return TryReadBytes(data, ref position, out _);
            case 5 when position + 4 <= data.Length:
                position += 4;
                return true;
            default:
                return false;
        }
    }
}
