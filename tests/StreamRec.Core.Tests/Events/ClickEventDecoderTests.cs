using System.Text;
using Google.Protobuf;
using StreamRec.Contracts.V1;
using StreamRec.Core.Events;

namespace StreamRec.Core.Tests.Events;

[TestFixture]
public sealed class ClickEventDecoderTests
{
    private static readonly DateTimeOffset _now = new(2026, 11, 27, 12, 0, 0, TimeSpan.Zero);
    private static readonly long _nowMs = _now.ToUnixTimeMilliseconds();
    private ClickEventDecoder _decoder = null!;

    [SetUp]
    public void CreateDecoder() => _decoder = new ClickEventDecoder(new EventValidationOptions { MaxRating = 5 }, new FixedClock(_now));

    [Test]
    public void Protobuf_ValidEvent_DecodesEveryField()
    {
        var payload = Event(user: "u-1", item: "i-9", EventType.Purchase, value: 2.5f, timeMs: _nowMs - 1000);

        Assert.That(_decoder.TryDecodeProtobuf(payload, out var interaction, out _), Is.True);

        Assert.That(interaction.UserId, Is.EqualTo("u-1"));
        Assert.That(interaction.ItemId, Is.EqualTo("i-9"));
        Assert.That(interaction.Type, Is.EqualTo(EventType.Purchase));
        Assert.That(interaction.Value, Is.EqualTo(2.5f));
        Assert.That(interaction.EventTimeMs, Is.EqualTo(_nowMs - 1000));
    }

    [Test]
    public void CallerTime_IsWhatTheEventTimeIsCheckedAgainst_InsteadOfTheClock()
    {
        var later = _nowMs + 3_600_000;
        var protobuf = Event("u", "i", EventType.Click, 0, later);
        var json = Encoding.UTF8.GetBytes($$"""{"user_id": "u", "item_id": "i", "type": "click", "event_time_ms": {{later}}}""");

        Assert.That(_decoder.TryDecodeProtobuf(protobuf, out _, out var bad), Is.False, "an hour ahead of the clock");
        Assert.That(bad.Reason, Is.EqualTo(BadEventReason.TimestampInFuture));
        Assert.That(_decoder.TryDecodeProtobuf(protobuf, later, out var interaction, out _), Is.True, "not ahead of the time given");
        Assert.That(interaction.EventTimeMs, Is.EqualTo(later));
        Assert.That(_decoder.TryDecodeJson(json, out _, out _), Is.False);
        Assert.That(_decoder.TryDecodeJson(json, later, out _, out _), Is.True);
        Assert.That(_decoder.TryDecodeProtobuf(Event("u", "i", EventType.Click, 0, _nowMs), later + (long)TimeSpan.FromDays(3651).TotalMilliseconds, out _, out bad), Is.False);
        Assert.That(bad.Reason, Is.EqualTo(BadEventReason.TimestampTooOld));
    }

    [Test]
    public void Protobuf_UnknownFieldsFromNewerProducers_AreSkipped()
    {
        var payload = Event("u", "i", EventType.Click, 0, _nowMs)
            .Concat(new byte[] { 0x30, 0x07 })                  // field 6 varint
            .Concat(new byte[] { 0x3A, 0x02, 0x61, 0x62 })      // field 7 bytes "ab"
            .Concat(new byte[] { 0x45, 1, 2, 3, 4 })             // field 8 fixed32
            .ToArray();

        Assert.That(_decoder.TryDecodeProtobuf(payload, out var interaction, out _), Is.True);
        Assert.That(interaction.ItemId, Is.EqualTo("i"));
    }

    [Test]
    public void Protobuf_TruncatedPayload_IsMalformed()
    {
        var payload = Event("user-long-name", "item", EventType.Click, 0, _nowMs);

        for (var length = 1; length < payload.Length; length++)
        {
            var decoded = _decoder.TryDecodeProtobuf(payload.AsSpan(0, length), out _, out var bad);
            Assert.That(decoded, Is.False, $"prefix of {length} bytes");
            Assert.That(bad.Reason, Is.AnyOf(BadEventReason.Malformed, BadEventReason.MissingItemId, BadEventReason.UnknownType, BadEventReason.TimestampTooOld));
        }
    }

    [Test]
    public void Protobuf_RandomBytes_NeverThrowAndNeverDecodeToNonsense()
    {
        var random = new Random(7);
        var buffer = new byte[64];
        for (var i = 0; i < 20_000; i++)
        {
            random.NextBytes(buffer);
            var length = random.Next(buffer.Length);
            if (_decoder.TryDecodeProtobuf(buffer.AsSpan(0, length), out var interaction, out _))
            {
                Assert.That(interaction.UserId, Is.Not.Empty);
                Assert.That(interaction.ItemId, Is.Not.Empty);
            }
        }
    }

    [TestCase("", "i", EventType.Click, 0f, 0L, BadEventReason.MissingUserId)]
    [TestCase("u", "", EventType.Click, 0f, 0L, BadEventReason.MissingItemId)]
    [TestCase("u", "i", EventType.Unspecified, 0f, 0L, BadEventReason.UnknownType)]
    [TestCase("u", "i", (EventType)99, 0f, 0L, BadEventReason.UnknownType)]
    [TestCase("u", "i", EventType.Click, float.NaN, 0L, BadEventReason.InvalidValue)]
    [TestCase("u", "i", EventType.Click, -1f, 0L, BadEventReason.InvalidValue)]
    [TestCase("u", "i", EventType.Rating, 6f, 0L, BadEventReason.InvalidValue)]
    [TestCase("u", "i", EventType.Click, 0f, long.MinValue, BadEventReason.TimestampTooOld)]
    [TestCase("u", "i", EventType.Click, 0f, 3_600_000L, BadEventReason.TimestampInFuture)]
    public void Protobuf_InvalidEvent_IsRefusedWithItsReason(string user, string item, EventType type, float value, long offsetFromNowMs, BadEventReason reason)
    {
        var timeMs = offsetFromNowMs == long.MinValue ? 0 : _nowMs + offsetFromNowMs;

        var decoded = _decoder.TryDecodeProtobuf(Event(user, item, type, value, timeMs), out _, out var bad);

        Assert.That(decoded, Is.False);
        Assert.That(bad.Reason, Is.EqualTo(reason));
        Assert.That(bad.Detail, Is.Not.Empty);
    }

    [Test]
    public void Protobuf_IdLongerThanTheLimit_IsRefused()
    {
        var decoded = _decoder.TryDecodeProtobuf(Event(new string('u', 257), "i", EventType.Click, 0, _nowMs), out _, out var bad);

        Assert.That(decoded, Is.False);
        Assert.That(bad.Reason, Is.EqualTo(BadEventReason.IdTooLong));
    }

    [Test]
    public void Protobuf_InvalidUtf8InAnId_IsMalformed()
    {
        var payload = new byte[] { 0x0A, 0x02, 0xC3, 0x28, 0x12, 0x01, 0x69, 0x18, 0x02, 0x28 }
            .Concat(Varint((ulong)_nowMs)).ToArray();

        Assert.That(_decoder.TryDecodeProtobuf(payload, out _, out var bad), Is.False);
        Assert.That(bad.Reason, Is.EqualTo(BadEventReason.Malformed));
    }

    [Test]
    public void Protobuf_KnownIds_DecodeWithoutAllocating()
    {
        var payloads = Enumerable.Range(0, 100).Select(i => Event($"user-{i}", $"item-{i % 7}", EventType.Click, 0, _nowMs)).ToArray();
        foreach (var payload in payloads)
        {
            _decoder.TryDecodeProtobuf(payload, out _, out _);
        }

        var allocated = AllocationProbe.BytesPerPass(() =>
        {
            foreach (var payload in payloads)
            {
                _decoder.TryDecodeProtobuf(payload, out _, out _);
            }
        });

        Assert.That(allocated, Has.Some.Zero, string.Join(", ", allocated));
    }

    [Test]
    public void Json_SnakeAndCamelCase_DecodeTheSameEvent()
    {
        var snake = $$"""{"user_id":"u","item_id":"i","type":"add_to_cart","value":1.5,"event_time_ms":{{_nowMs}}}""";
        var camel = $$$"""{"userId":"u","itemId":"i","type":3,"value":1.5,"eventTimeMs":{{{_nowMs}}},"extra":{"x":[1,2]}}""";

        Assert.That(_decoder.TryDecodeJson(Encoding.UTF8.GetBytes(snake), out var fromSnake, out _), Is.True);
        Assert.That(_decoder.TryDecodeJson(Encoding.UTF8.GetBytes(camel), out var fromCamel, out _), Is.True);

        Assert.That(fromCamel, Is.EqualTo(fromSnake));
        Assert.That(fromSnake.Type, Is.EqualTo(EventType.AddToCart));
    }

    [Test]
    public void Json_EscapedIds_AreUnescaped()
    {
        var json = $$"""{"user_id":"caf\u00e9","item_id":"a\"b","type":"view","event_time_ms":{{_nowMs}}}""";

        Assert.That(_decoder.TryDecodeJson(Encoding.UTF8.GetBytes(json), out var interaction, out _), Is.True);
        Assert.That((interaction.UserId, interaction.ItemId), Is.EqualTo(("café", "a\"b")));
    }

    [TestCase("not json", BadEventReason.Malformed)]
    [TestCase("[1,2]", BadEventReason.Malformed)]
    [TestCase("""{"user_id":"u","item_id":"i","type":"teleport","event_time_ms":1}""", BadEventReason.UnknownType)]
    [TestCase("""{"user_id":5,"item_id":"i"}""", BadEventReason.Malformed)]
    [TestCase("""{"user_id":"u","item_id":"i","type":"click","value":"x"}""", BadEventReason.InvalidValue)]
    [TestCase("""{"user_id":"u","item_id":"i","type":"click""", BadEventReason.Malformed)]
    public void Json_BadEvent_IsRefusedWithItsReason(string json, BadEventReason reason)
    {
        Assert.That(_decoder.TryDecodeJson(Encoding.UTF8.GetBytes(json), out _, out var bad), Is.False);
        Assert.That(bad.Reason, Is.EqualTo(reason));
    }

    [Test]
    public void Json_InvalidUtf8InAnId_IsMalformedNotAnException()
    {
        var json = Encoding.UTF8.GetBytes($$"""{"user_id":"uXu","item_id":"i","type":"click","event_time_ms":{{_nowMs}}}""");
        json[13] = 0xA0; // a lone continuation byte inside the user id

        Assert.That(_decoder.TryDecodeJson(json, out _, out var bad), Is.False);
        Assert.That(bad.Reason, Is.EqualTo(BadEventReason.Malformed));
        Assert.That(bad.Detail, Does.Contain("UTF-8"));
    }

    [Test]
    public void Options_Invalid_AreRefusedNamingTheOption()
    {
        var error = Assert.Throws<ArgumentException>(() => new ClickEventDecoder(new EventValidationOptions { MaxIdBytes = 0 }));

        Assert.That(error!.Message, Does.Contain(nameof(EventValidationOptions.MaxIdBytes)));
    }

    private static byte[] Event(string user, string item, EventType type, float value, long timeMs) =>
        new ClickEvent { UserId = user, ItemId = item, Type = type, Value = value, EventTimeMs = timeMs }.ToByteArray();

    private static byte[] Varint(ulong value)
    {
        var bytes = new List<byte>();
        while (value >= 0x80)
        {
            bytes.Add((byte)(value | 0x80));
            value >>= 7;
        }

        bytes.Add((byte)value);
        return [.. bytes];
    }

    private sealed class FixedClock(DateTimeOffset now) : TimeProvider
    {
        public override DateTimeOffset GetUtcNow() => now;
    }
}
