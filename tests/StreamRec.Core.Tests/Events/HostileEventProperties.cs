using System.Text;
using FsCheck;
using FsCheck.Fluent;
using PropertyAttribute = FsCheck.NUnit.PropertyAttribute;
using Google.Protobuf;
using StreamRec.Contracts.V1;
using StreamRec.Core.Events;
using StreamRec.Core.Model;

namespace StreamRec.Core.Tests.Events;

/// <summary>
/// Property-based: the decoder meets random bytes and mutated valid events (protobuf and JSON). It
/// must never throw; a refusal names a defined reason with a detail; an acceptance is a valid event
/// (and, for protobuf, the event the reference parser reads too when it can read the bytes).
/// </summary>
/// <remarks>Each property runs <see cref="Cases"/> generated inputs (FsCheck shrinks and prints a replay seed on failure).</remarks>
// FsCheck's [Property] supplies the parameters, which the NUnit analyzer cannot see.
#pragma warning disable NUnit1027
[TestFixture]
public sealed class HostileEventProperties
{
    /// <summary>Inputs tried per property; docs/reliability.md quotes it.</summary>
    public const int Cases = 3_000;

    internal static readonly DateTimeOffset Now = new(2026, 11, 27, 12, 0, 0, TimeSpan.Zero);
    private static readonly EventValidationOptions _rules = new() { MaxRating = 5 };

    [Property(MaxTest = Cases, Arbitrary = [typeof(HostileEvents)])]
    public Property Protobuf_RandomBytes_AreClassifiedWithoutThrowing(RandomBytes input) =>
        CheckProtobuf(input.Bytes).Collect(Outcome(input.Bytes, json: false));

    [Property(MaxTest = Cases, Arbitrary = [typeof(HostileEvents)])]
    public Property Protobuf_MutatedValidEvents_AreClassifiedWithoutThrowing(MutatedProtobuf input) =>
        CheckProtobuf(input.Bytes).Collect(Outcome(input.Bytes, json: false));

    [Property(MaxTest = Cases, Arbitrary = [typeof(HostileEvents)])]
    public Property Json_RandomBytes_AreClassifiedWithoutThrowing(RandomBytes input) =>
        CheckJson(input.Bytes).Collect(Outcome(input.Bytes, json: true));

    [Property(MaxTest = Cases, Arbitrary = [typeof(HostileEvents)])]
    public Property Json_MutatedValidEvents_AreClassifiedWithoutThrowing(MutatedJson input) =>
        CheckJson(input.Bytes).Collect(Outcome(input.Bytes, json: true));

    [Test]
    public void Mutations_ReachBothAcceptedAndRefusedEvents()
    {
        // Guards the generators: mutations that always broke (or never broke) the event would test little.
        var samples = HostileEvents.MutatedProtobufs().Generator.Sample(500);
        var decoder = Decoder();
        var accepted = samples.Count(s => decoder.TryDecodeProtobuf(s.Bytes, out _, out _));

        Assert.That(accepted, Is.InRange(25, 475), $"{accepted} of 500 mutated events accepted");
    }

    private static ClickEventDecoder Decoder() => new(_rules, new FixedClock(Now));

    private static Property CheckProtobuf(byte[] payload)
    {
        var decoder = Decoder();
        bool accepted;
        Interaction interaction;
        BadEvent bad;
        try
        {
            accepted = decoder.TryDecodeProtobuf(payload, out interaction, out bad);
        }
        catch (Exception ex)
        {
            return false.Label($"threw {ex.GetType().Name}: {ex.Message}");
        }

        if (!accepted)
        {
            return IsNamedRefusal(bad).Label($"refusal without a defined reason and detail: {bad}");
        }

        var agrees = true;
        try
        {
            var reference = ClickEvent.Parser.ParseFrom(payload);
            agrees = reference.UserId == interaction.UserId && reference.ItemId == interaction.ItemId && reference.Type == interaction.Type
                && BitConverter.SingleToInt32Bits(reference.Value) == BitConverter.SingleToInt32Bits(interaction.Value) && reference.EventTimeMs == interaction.EventTimeMs;
        }
        catch (InvalidProtocolBufferException)
        {
            // Stricter than this decoder on unknown fields (for example tags beyond 32 bits): nothing to compare.
        }

        return IsValid(interaction).Label($"accepted an invalid event: {interaction}")
            .And(agrees.Label($"disagrees with the reference parser: {interaction}"));
    }

    private static Property CheckJson(byte[] payload)
    {
        var decoder = Decoder();
        try
        {
            return decoder.TryDecodeJson(payload, out var interaction, out var bad)
                ? IsValid(interaction).Label($"accepted an invalid event: {interaction}")
                : IsNamedRefusal(bad).Label($"refusal without a defined reason and detail: {bad}");
        }
        catch (Exception ex)
        {
            return false.Label($"threw {ex.GetType().Name}: {ex.Message}");
        }
    }

    private static bool IsNamedRefusal(BadEvent bad) => Enum.IsDefined(bad.Reason) && !string.IsNullOrWhiteSpace(bad.Detail);

    /// <summary>What the validation rules promise of every accepted event.</summary>
    private static bool IsValid(Interaction interaction)
    {
        var nowMs = Now.ToUnixTimeMilliseconds();
        return interaction.UserId.Length > 0 && interaction.ItemId.Length > 0
            && Encoding.UTF8.GetByteCount(interaction.UserId) <= _rules.MaxIdBytes && Encoding.UTF8.GetByteCount(interaction.ItemId) <= _rules.MaxIdBytes
            && interaction.Type is >= EventType.View and <= EventType.Rating
            && float.IsFinite(interaction.Value) && interaction.Value >= 0
            && (interaction.Type != EventType.Rating || interaction.Value <= _rules.MaxRating)
            && interaction.EventTimeMs > 0 && interaction.EventTimeMs <= nowMs + (long)_rules.MaxFutureSkew.TotalMilliseconds
            && interaction.EventTimeMs >= nowMs - (long)_rules.MaxAge.TotalMilliseconds;
    }

    private static string Outcome(byte[] payload, bool json)
    {
        var decoder = Decoder();
        try
        {
            var accepted = json ? decoder.TryDecodeJson(payload, out _, out var bad) : decoder.TryDecodeProtobuf(payload, out _, out bad);
            return accepted ? "accepted" : bad.Reason.ToString();
        }
        catch (Exception ex)
        {
            // The property itself reports the failure; the label only groups the cases.
            return "threw " + ex.GetType().Name;
        }
    }
}
#pragma warning restore NUnit1027

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

    public static Arbitrary<MutatedProtobuf> MutatedProtobufs() =>
        ValidEvents().SelectMany(e => Mutate(e.ToByteArray(), Bytes())).Select(m => new MutatedProtobuf(m.Bytes, m.Mutations)).ToArbitrary();

    public static Arbitrary<MutatedJson> MutatedJsons() =>
        ValidEvents().SelectMany(e => Mutate(Json(e), JsonBytes())).Select(m => new MutatedJson(m.Bytes, m.Mutations)).ToArbitrary();

    /// <summary>Valid events: ids of 1 to 40 characters (some non-ASCII), every type, values and times within the rules.</summary>
    public static Gen<ClickEvent> ValidEvents() =>
        from user in Id()
        from item in Id()
        from type in Gen.Elements(EventType.View, EventType.Click, EventType.AddToCart, EventType.Purchase, EventType.Rating)
        from value in Gen.Choose(0, 50).Select(v => v / 10f)
        from ageSeconds in Gen.Choose(0, 86_400)
        select new ClickEvent { UserId = user, ItemId = item, Type = type, Value = value, EventTimeMs = HostileEventProperties.Now.ToUnixTimeMilliseconds() - (ageSeconds * 1000L) };

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

internal sealed class FixedClock(DateTimeOffset now) : TimeProvider
{
    public override DateTimeOffset GetUtcNow() => now;
}
