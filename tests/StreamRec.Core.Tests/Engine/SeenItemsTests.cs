using StreamRec.Core.Engine;

namespace StreamRec.Core.Tests.Engine;

public sealed class SeenItemsTests
{
    [Test]
    public void RepeatOfARecentItemDoesNotTakeASlot()
    {
        IdMap items = ItemsNamed(3);
        var seen = new SeenItems(historyLength: 2, initialUsers: 1);
        seen.Record(0, 0, 0);
        seen.Record(0, 1, 0);
        seen.Record(0, 1, 0);

        Assert.That(Live(seen, items), Is.EqualTo(new[] { 0, 1 }));
    }

    [Test]
    public void OldestItemIsDroppedWhenTheHistoryIsFull()
    {
        IdMap items = ItemsNamed(3);
        var seen = new SeenItems(historyLength: 2, initialUsers: 1);
        seen.Record(0, 0, 0);
        seen.Record(0, 1, 0);
        seen.Record(0, 2, 0);

        Assert.That(Live(seen, items), Is.EqualTo(new[] { 1, 2 }), "oldest first, after the ring wrapped");
    }

    [Test]
    public void ItemRowReusedAfterEvictionIsNotReportedAsSeen()
    {
        var items = new IdMap(maxCount: 1);
        int row = items.GetOrAdd("old").Row;
        var seen = new SeenItems(historyLength: 4, initialUsers: 1);
        seen.Record(0, row, items.GenerationAt(row));

        items.GetOrAdd("new"); // evicts "old", reuses its row

        Assert.Multiple(() =>
        {
            Assert.That(Live(seen, items), Is.Empty);
            Assert.That(seen.Contains(0, row, items.GenerationAt(row)), Is.False);
        });
    }

    [Test]
    public void CaptureCarriesTheItemsRecordedSinceThePreviousCapture_OldestFirst_AcrossTheRingsWrap()
    {
        IdMap items = ItemsNamed(6);
        var seen = new SeenItems(historyLength: 3, initialUsers: 1);
        seen.Record(0, 0, 0);
        seen.Record(0, 1, 0);
        seen.MarkCaptured(0);
        seen.Record(0, 2, 0);
        seen.Record(0, 3, 0); // wraps: overwrites slot 0
        seen.Record(0, 3, 0); // a repeat takes no slot and is not new

        Assert.Multiple(() =>
        {
            Assert.That(Captured(seen, items, out var whole), Is.EqualTo(new[] { 2, 3 }));
            Assert.That(whole, Is.False);
            Assert.That(Captured(seen, items, out _), Is.Empty, "the capture started the next one");
        });
    }

    [Test]
    public void MoreNewItemsThanTheHistoryHolds_CaptureTheWholeHistory_AsAppendedItems()
    {
        IdMap items = ItemsNamed(6);
        var seen = new SeenItems(historyLength: 3, initialUsers: 1);
        seen.MarkCaptured(0);
        for (int item = 0; item < 5; item++)
        {
            seen.Record(0, item, 0);
        }

        Assert.That(Captured(seen, items, out var whole), Is.EqualTo(new[] { 2, 3, 4 }));
        Assert.That(whole, Is.False, "appending the three newest to any history and keeping three gives the same");
    }

    [Test]
    public void CaptureAfterAReset_CarriesTheWholeHistory_ToReplaceTheStoredOne()
    {
        IdMap items = ItemsNamed(6);
        var seen = new SeenItems(historyLength: 4, initialUsers: 1);
        seen.Record(0, 0, 0);
        seen.MarkCaptured(0);
        seen.Reset(0); // the row now belongs to another user
        seen.Record(0, 4, 0);
        seen.Record(0, 5, 0);

        Assert.That(Captured(seen, items, out var whole), Is.EqualTo(new[] { 4, 5 }));
        Assert.That(whole, Is.True);
        seen.Record(0, 1, 0);
        Assert.That(Captured(seen, items, out whole), Is.EqualTo(new[] { 1 }));
        Assert.That(whole, Is.False, "only the first capture after a reset replaces");
    }

    private static int[] Captured(SeenItems seen, IdMap items, out bool whole)
    {
        var rows = new int[seen.HistoryLength];
        return rows[..seen.CopyRecordedSinceCapture(0, items, rows, out whole)];
    }

    private static IdMap ItemsNamed(int count)
    {
        var items = new IdMap(100);
        for (int i = 0; i < count; i++)
        {
            items.GetOrAdd($"item-{i}");
        }

        return items;
    }

    private static int[] Live(SeenItems seen, IdMap items)
    {
        var rows = new int[seen.HistoryLength];
        return rows[..seen.CopyLiveRows(0, items, rows)];
    }
}
