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

    private static readonly DateTimeOffset Now = HostileEvents.Now;
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
        // About 5% survive a mutation; 2,000 unseeded samples keep both ends far from the bounds.
        var samples = HostileEvents.MutatedProtobufs().Generator.Sample(2_000);
        var decoder = Decoder();
        var accepted = samples.Count(s => decoder.TryDecodeProtobuf(s.Bytes, out _, out _));

        Assert.That(accepted, Is.InRange(20, 1_980), $"{accepted} of 2,000 mutated events accepted");
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

internal sealed class FixedClock(DateTimeOffset now) : TimeProvider
{
    public override DateTimeOffset GetUtcNow() => now;
}
