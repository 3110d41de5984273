using System.Text;
using FsCheck;
using FsCheck.Fluent;
using Google.Protobuf;
using StreamRec.Contracts.V1;

namespace StreamRec.Core.Tests.Events;

/// <summary>Arbitrary bytes, 0 to 300 long.</summary>
public sealed record RandomBytes(byte[] Bytes)
{
    public override string ToString() => Convert.ToHexString(Bytes);
}

/// <summary>A valid protobuf ClickEvent after one to four byte-level mutations.</summary>
public sealed record MutatedProtobuf(byte[] Bytes, string Mutations)
{
    public override string ToString() => $"{Mutations}: {Convert.ToHexString(Bytes)}";
}

/// <summary>A valid JSON ClickEvent after one to four byte-level mutations.</summary>
public sealed record MutatedJson(byte[] Bytes, string Mutations)
{
    public override string ToString() => $"{Mutations}: {Encoding.UTF8.GetString(Bytes)}";
}

/// <summary>FsCheck generators of hostile event payloads; shared with the end-to-end dead-letter test.</summary>
public static class HostileEvents
{
    private static readonly string[] _jsonTokens = ["{", "}", "[", "]", ",", ":", "\"", "\\", "\\u", "\\ud800", "null", "true", "-", "1e999", "NaN", "0x1", " ", "\u00e9", "\u0000"];

    public static Arbitrary<RandomBytes> RandomByteArrays() =>
        Gen.Choose(0, 300).SelectMany(length => Gen.ArrayOf(Bytes(), length)).Select(bytes => new RandomBytes(bytes)).ToArbitrary();

    /// <summary>The clock the arbitraries' valid events are stamped against (the property tests' fixed now).</summary>
    public static readonly DateTimeOffset Now = new(2026, 11, 27, 12, 0, 0, TimeSpan.Zero);

    public static Arbitrary<MutatedProtobuf> MutatedProtobufs() =>
        ValidEvents().SelectMany(e => Mutate(e.ToByteArray(), Bytes())).Select(m => new MutatedProtobuf(m.Bytes, m.Mutations)).ToArbitrary();

    public static Arbitrary<MutatedJson> MutatedJsons() =>
        ValidEvents().SelectMany(e => Mutate(Json(e), JsonBytes())).Select(m => new MutatedJson(m.Bytes, m.Mutations)).ToArbitrary();

    /// <summary>Mutated valid protobuf events stamped against <paramref name="nowMs"/> (for a live worker).</summary>
    public static Gen<MutatedProtobuf> MutatedProtobufs(long nowMs) =>
        ValidEvents(nowMs).SelectMany(e => Mutate(e.ToByteArray(), Bytes())).Select(m => new MutatedProtobuf(m.Bytes, m.Mutations));

    /// <summary>Valid events: ids of 1 to 40 characters (some non-ASCII), every type, values and times within the rules.</summary>
    public static Gen<ClickEvent> ValidEvents(long? nowMs = null) =>
        from user in Id()
        from item in Id()
        from type in Gen.Elements(EventType.View, EventType.Click, EventType.AddToCart, EventType.Purchase, EventType.Rating)
        from value in Gen.Choose(0, 50).Select(v => v / 10f)
        from ageSeconds in Gen.Choose(0, 86_400)
        select new ClickEvent { UserId = user, ItemId = item, Type = type, Value = value, EventTimeMs = (nowMs ?? Now.ToUnixTimeMilliseconds()) - (ageSeconds * 1000L) };

    /// <summary>The JSON form the decoder documents (snake_case, type by name).</summary>
    public static byte[] Json(ClickEvent e) => Encoding.UTF8.GetBytes(System.Text.Json.JsonSerializer.Serialize(new Dictionary<string, object>
    {
        ["user_id"] = e.UserId,
        ["item_id"] = e.ItemId,
        ["type"] = e.Type switch { EventType.AddToCart => "add_to_cart", var t => t.ToString().ToLowerInvariant() },
        ["value"] = e.Value,
        ["event_time_ms"] = e.EventTimeMs,
    }));

    private static Gen<byte> Bytes() => Gen.Choose(0, 255).Select(b => (byte)b);

    /// <summary>Bytes a JSON event is likely to be broken with: structural characters, escapes, digits and high bytes.</summary>
    private static Gen<byte> JsonBytes() => Gen.Frequency(
        (3, Gen.Elements("{}[],:\"\\0123456789-.eE ntfu"u8.ToArray())),
        (1, Bytes()));

    private static Gen<string> Id() =>
        Gen.Choose(1, 40).SelectMany(length => Gen.ArrayOf(Gen.Elements("abcxyz0189-_.\u00e9\u4e2d".ToCharArray()), length)).Select(chars => new string(chars));

    /// <summary>One to four of: flip a bit, overwrite, insert, delete, truncate, duplicate a slice, splice in a JSON token.</summary>
    private static Gen<(byte[] Bytes, string Mutations)> Mutate(byte[] valid, Gen<byte> filler) =>
        Gen.Choose(1, 4).SelectMany(count => Gen.ArrayOf(Mutation(filler), count)).Select(steps =>
        {
            var bytes = new List<byte>(valid);
            var names = new List<string>();
            foreach (var step in steps)
            {
                names.Add(step(bytes));
            }

            return (bytes.ToArray(), string.Join(", ", names));
        });

    private static Gen<Func<List<byte>, string>> Mutation(Gen<byte> filler) =>
        from kind in Gen.Choose(0, 6)
        from position in Gen.Choose(0, int.MaxValue - 1)
        from length in Gen.Choose(1, 16)
        from bit in Gen.Choose(0, 7)
        from value in filler
        from token in Gen.Elements(_jsonTokens)
        select (Func<List<byte>, string>)(bytes =>
        {
            var at = bytes.Count == 0 ? 0 : position % bytes.Count;
            switch (kind)
            {
                case 0 when bytes.Count > 0:
                    bytes[at] ^= (byte)(1 << bit);
                    return $"flip bit {bit} at {at}";
                case 1 when bytes.Count > 0:
                    bytes[at] = value;
                    return $"set {at} to {value:x2}";
                case 2:
                    bytes.Insert(at, value);
                    return $"insert {value:x2} at {at}";
                case 3 when bytes.Count > 0:
                    bytes.RemoveRange(at, Math.Min(length, bytes.Count - at));
                    return $"delete {length} at {at}";
                case 4:
                    bytes.RemoveRange(at, bytes.Count - at);
                    return $"truncate to {at}";
                case 5 when bytes.Count > 0:
                    bytes.InsertRange(at, bytes.GetRange(at, Math.Min(length, bytes.Count - at)));
                    return $"duplicate {length} at {at}";
                default:
                    bytes.InsertRange(at, Encoding.UTF8.GetBytes(token));
                    return $"splice '{token}' at {at}";
            }
        });
}
