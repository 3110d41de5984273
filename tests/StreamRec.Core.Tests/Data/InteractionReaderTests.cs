using System.Text;
using Google.Protobuf;
using StreamRec.Contracts.V1;
using StreamRec.Core.Data;
using StreamRec.Core.Model;

namespace StreamRec.Core.Tests.Data;

public class InteractionReaderTests
{
    private static List<Interaction> ReadText(string text, InputFormat format, InteractionReaderOptions? options = null, ReadStatistics? statistics = null) =>
        InteractionReader.Read(new MemoryStream(Encoding.UTF8.GetBytes(text)), format, options ?? new InteractionReaderOptions("test.txt"), statistics).ToList();

    [Test]
    public void MovieLensLinesBecomeRatingsWithMillisecondTimes()
    {
        var events = ReadText("196\t242\t3\t881250949\n186\t302\t3\t891717742\n", InputFormat.MovieLens);

        Assert.That(events, Is.EqualTo(new[]
        {
            new Interaction("196", "242", EventType.Rating, 3, 881250949000),
            new Interaction("186", "302", EventType.Rating, 3, 891717742000),
        }));
    }

    [Test]
    public void MovieLens1MLinesUseDoubleColonSeparators()
    {
        var events = ReadText("1::1193::5::978300760\n", InputFormat.MovieLens1M);

        Assert.That(events, Is.EqualTo(new[] { new Interaction("1", "1193", EventType.Rating, 5, 978300760000) }));
    }

    [Test]
    public void CsvColumnsAreFoundByHeaderNameInAnyOrder()
    {
        var events = ReadText("timestamp,type,item,user,value\n1700000000000,purchase,i9,u1,2.5\n", InputFormat.Csv);

        Assert.That(events, Is.EqualTo(new[] { new Interaction("u1", "i9", EventType.Purchase, 2.5f, 1700000000000) }));
    }

    [Test]
    public void CsvAcceptsIsoTimestampsAsUtc()
    {
        var events = ReadText("user,item,type,value,timestamp\nu1,i1,click,,2024-01-02T03:04:05Z\nu1,i2,view,0,2024-01-02T03:04:05\n", InputFormat.Csv);

        long expected = new DateTimeOffset(2024, 1, 2, 3, 4, 5, TimeSpan.Zero).ToUnixTimeMilliseconds();
        Assert.That(events.Select(e => e.EventTimeMs), Is.EqualTo(new[] { expected, expected }));
    }

    [Test]
    public void CsvQuotedFieldsMayHoldCommas()
    {
        var events = ReadText("user,item,type,value,timestamp\n\"u,1\",\"say \"\"hi\"\"\",view,0,5\n", InputFormat.Csv);

        Assert.That(events.Single(), Is.EqualTo(new Interaction("u,1", "say \"hi\"", EventType.View, 0, 5)));
    }

    [Test]
    public void CsvWithoutRequiredColumnNamesTheMissingColumn()
    {
        var error = Assert.Throws<InteractionFormatException>(() => ReadText("user,item,value,timestamp\nu,i,1,2\n", InputFormat.Csv));

        Assert.That(error!.Message, Does.StartWith("test.txt:1:").And.Contain("'type'"));
    }

    [Test]
    public void JsonLinesAcceptCamelAndSnakeCaseNames()
    {
        var events = ReadText(
            "{\"user\":\"u1\",\"item\":\"i1\",\"type\":\"click\",\"value\":1,\"timestamp\":10}\n" +
            "{\"userId\":\"u2\",\"itemId\":\"i2\",\"eventType\":\"add_to_cart\",\"eventTimeMs\":20}\n" +
            "{\"user_id\":3,\"item_id\":4,\"event_type\":\"EVENT_TYPE_RATING\",\"value\":4.5,\"event_time_ms\":\"1970-01-01T00:00:00.030Z\"}\n",
            InputFormat.JsonLines);

        Assert.That(events, Is.EqualTo(new[]
        {
            new Interaction("u1", "i1", EventType.Click, 1, 10),
            new Interaction("u2", "i2", EventType.AddToCart, 0, 20),
            new Interaction("3", "4", EventType.Rating, 4.5f, 30),
        }));
    }

    [Test]
    public void JsonNullValueMeansNoWeight()
    {
        var events = ReadText("{\"user\":\"u\",\"item\":\"i\",\"type\":\"view\",\"value\":null,\"timestamp\":1}\n", InputFormat.JsonLines);

        Assert.That(events.Single().Value, Is.Zero);
    }

    [Test]
    public void MalformedLineErrorNamesFileAndLine()
    {
        var error = Assert.Throws<InteractionFormatException>(() => ReadText("1\t2\t3\t4\n\n1\t2\tthree\t4\n", InputFormat.MovieLens));

        Assert.That((error!.SourceName, error.LineNumber, error.Message), Is.EqualTo(("test.txt", 3L, "test.txt:3: rating 'three' is not a finite number")));
    }

    [Test]
    public void UnknownEventTypeIsAnError()
    {
        var error = Assert.Throws<InteractionFormatException>(() => ReadText("{\"user\":\"u\",\"item\":\"i\",\"type\":\"like\",\"timestamp\":1}\n", InputFormat.JsonLines));

        Assert.That(error!.Reason, Does.Contain("unknown event type 'like'"));
    }

    [Test]
    public void SkipBadSkipsAndCountsMalformedLines()
    {
        var statistics = new ReadStatistics();
        var events = ReadText(
            "{\"user\":\"u\",\"item\":\"i\",\"type\":\"view\",\"timestamp\":1}\nnot json\n{\"user\":\"\",\"item\":\"i\",\"type\":\"view\",\"timestamp\":2}\n{\"user\":\"u\",\"item\":\"j\",\"type\":\"view\",\"timestamp\":3}\n",
            InputFormat.JsonLines,
            new InteractionReaderOptions("t.jsonl", SkipBad: true),
            statistics);

        Assert.That((events.Count, statistics.Read, statistics.Skipped, statistics.FirstSkipped?.LineNumber), Is.EqualTo((2, 2L, 2L, (long?)2)));
    }

    [Test]
    public void SortByTimeIsStableForEqualTimestamps()
    {
        var events = ReadText("u1\ta\t1\t20\nu2\tb\t1\t10\nu3\tc\t1\t20\nu4\td\t1\t10\n", InputFormat.MovieLens, new InteractionReaderOptions("t", SortByTime: true));

        Assert.That(events.Select(e => e.UserId), Is.EqualTo(new[] { "u2", "u4", "u1", "u3" }));
    }

    [Test]
    public void ReadingIsLazy()
    {
        var events = InteractionReader.Read(new StringReader("1\t2\t3\t4\nbroken\n"), InputFormat.MovieLens);

        Assert.That(events.First(), Is.EqualTo(new Interaction("1", "2", EventType.Rating, 3, 4000)));
    }

    [TestCase(InputFormat.Csv)]
    [TestCase(InputFormat.JsonLines)]
    [TestCase(InputFormat.Proto)]
    public void WrittenEventsReadBackUnchanged(InputFormat format)
    {
        var original = new SyntheticClickstream(new SyntheticClickstreamOptions(Users: 20, Items: 50, Events: 300, Clusters: 4, RatingFraction: 0.3)).ToList();
        original.Add(new Interaction("user, \"quoted\"", "item\u00e9", EventType.Click, 0.25f, -5));
        using var buffer = new MemoryStream();

        long written = InteractionWriter.Write(buffer, format, original);
        buffer.Position = 0;
        var readBack = InteractionReader.Read(buffer, format).ToList();

        Assert.That((written, readBack), Is.EqualTo(((long)original.Count, original)));
    }

    [Test]
    public void TruncatedProtobufRecordIsAnErrorWithItsRecordNumber()
    {
        using var buffer = new MemoryStream();
        InteractionWriter.Write(buffer, InputFormat.Proto, [new Interaction("u", "i", EventType.View, 0, 1), new Interaction("u", "j", EventType.View, 0, 2)]);
        var bytes = buffer.ToArray()[..^2];

        var error = Assert.Throws<InteractionFormatException>(() => InteractionReader.Read(new MemoryStream(bytes), InputFormat.Proto, new InteractionReaderOptions("e.pb", SkipBad: true)).ToList());

        Assert.That((error!.SourceName, error.LineNumber), Is.EqualTo(("e.pb", 2L)));
    }

    [Test]
    public void ProtobufEventWithoutTypeIsSkippedWhenSkippingBad()
    {
        using var buffer = new MemoryStream();
        new ClickEvent { UserId = "u", ItemId = "i", EventTimeMs = 1 }.WriteDelimitedTo(buffer);
        new ClickEvent { UserId = "u", ItemId = "j", Type = EventType.Purchase, EventTimeMs = 2 }.WriteDelimitedTo(buffer);
        buffer.Position = 0;
        var statistics = new ReadStatistics();

        var events = InteractionReader.Read(buffer, InputFormat.Proto, new InteractionReaderOptions("e.pb", SkipBad: true), statistics).ToList();

        Assert.That((events.Single().ItemId, statistics.Skipped), Is.EqualTo(("j", 1L)));
    }
}
