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

        Assert.That(Live(seen, items).Order(), Is.EqualTo(new[] { 1, 2 }));
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
