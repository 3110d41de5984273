using StreamRec.Core.Engine;

namespace StreamRec.Core.Tests.Engine;

public sealed class IdMapTests
{
    [Test]
    public void DistinctIdsGetDistinctRowsThatRoundTrip()
    {
        var map = new IdMap(maxCount: 20_000, initialCapacity: 4);
        var rows = new HashSet<int>();
        for (int i = 0; i < 10_000; i++)
        {
            rows.Add(map.GetOrAdd($"user-{i}").Row);
        }

        Assert.Multiple(() =>
        {
            Assert.That(rows, Has.Count.EqualTo(10_000));
            Assert.That(map.Count, Is.EqualTo(10_000));
            Assert.That(Enumerable.Range(0, 10_000).All(i => map.IdAt(map.GetOrAdd($"user-{i}").Row) == $"user-{i}"), Is.True);
        });
    }

    [Test]
    public void SameIdReturnsSameRowAndIsNotNewTheSecondTime()
    {
        var map = new IdMap(10);
        IdLookup first = map.GetOrAdd("a");
        IdLookup second = map.GetOrAdd("a");
        Assert.That((first.IsNew, second.IsNew, second.Row), Is.EqualTo((true, false, first.Row)));
    }

    [Test]
    public void FullMapEvictsLeastRecentlyActiveAndReusesItsRow()
    {
        var map = new IdMap(maxCount: 3);
        map.GetOrAdd("a");
        int rowOfB = map.GetOrAdd("b").Row;
        map.GetOrAdd("c");
        map.GetOrAdd("a"); // a is now more recent than b

        IdLookup d = map.GetOrAdd("d");

        Assert.Multiple(() =>
        {
            Assert.That(d.EvictedId, Is.EqualTo("b"));
            Assert.That(d.Row, Is.EqualTo(rowOfB));
            Assert.That(d.IsNew, Is.True);
            Assert.That(map.EvictionCount, Is.EqualTo(1));
            Assert.That(map.Contains("b"), Is.False);
            Assert.That(map.Count, Is.EqualTo(3));
            Assert.That(map.GenerationAt(d.Row), Is.EqualTo(1));
        });
    }

    [Test]
    public void EvictionCountCountsEveryEviction()
    {
        var map = new IdMap(maxCount: 5);
        for (int i = 0; i < 12; i++)
        {
            map.GetOrAdd($"id-{i}");
        }

        Assert.That((map.EvictionCount, map.Count), Is.EqualTo((7L, 5)));
    }

    [Test]
    public void TryGetRowDoesNotChangeRecency()
    {
        var map = new IdMap(maxCount: 2);
        map.GetOrAdd("old");
        map.GetOrAdd("new");
        map.TryGetRow("old", out _);

        Assert.That(map.GetOrAdd("third").EvictedId, Is.EqualTo("old"));
    }

    [Test]
    public void LookupOfExistingIdDoesNotAllocate()
    {
        var map = new IdMap(1000);
        string[] ids = Enumerable.Range(0, 100).Select(i => $"item-{i}").ToArray();
        foreach (string id in ids)
        {
            map.GetOrAdd(id);
        }

        var allocated = AllocationProbe.BytesPerPass(() =>
        {
            foreach (string id in ids)
            {
                map.GetOrAdd(id);
                map.TryGetRow(id, out _);
            }
        });

        Assert.That(allocated, Has.Some.Zero, string.Join(", ", allocated));
    }

    [Test]
    public void RowsByRecencyListsLeastRecentFirst()
    {
        var map = new IdMap(10);
        map.GetOrAdd("a");
        map.GetOrAdd("b");
        map.GetOrAdd("c");
        map.Touch(0);

        Assert.That(map.RowsByRecency(), Is.EqualTo(new[] { 1, 2, 0 }));
    }

    [Test]
    public void EvictionOrderMatchesAReferenceLruOverManyRandomTouches()
    {
        const int maxCount = 50;
        var map = new IdMap(maxCount, initialCapacity: 4);
        var reference = new LinkedList<string>(); // least recent first
        var random = new Random(3);
        var mismatches = 0;
        for (int step = 0; step < 20_000; step++)
        {
            string id = $"id-{random.Next(120)}";
            string? expectedEviction = !reference.Contains(id) && reference.Count == maxCount ? reference.First!.Value : null;
            if (expectedEviction is not null)
            {
                reference.RemoveFirst();
            }

            reference.Remove(id);
            reference.AddLast(id);
            if (map.GetOrAdd(id).EvictedId != expectedEviction)
            {
                mismatches++;
            }
        }

        Assert.Multiple(() =>
        {
            Assert.That(mismatches, Is.Zero);
            Assert.That(map.RowsByRecency().Select(map.IdAt), Is.EqualTo(reference));
        });
    }

    [Test]
    public void LookupsStayExactThroughManyEvictionsAndGrowth()
    {
        // Evictions delete slots by shifting later entries back: every held id must stay findable
        // at its row and every evicted id must be gone, however the probe runs interleave.
        const int maxCount = 300;
        var map = new IdMap(maxCount, initialCapacity: 2);
        var held = new HashSet<string>();
        var random = new Random(11);
        var wrong = new List<string>();
        for (int step = 0; step < 30_000; step++)
        {
            string id = $"item-{random.Next(2_000)}";
            IdLookup lookup = map.GetOrAdd(id);
            held.Add(id);
            if (lookup.EvictedId is { } evicted)
            {
                held.Remove(evicted);
            }

            if (step % 1_000 == 999)
            {
                for (int candidate = 0; candidate < 2_000; candidate++)
                {
                    string probe = $"item-{candidate}";
                    bool found = map.TryGetRow(probe, out int row);
                    if (found != held.Contains(probe) || (found && map.IdAt(row) != probe))
                    {
                        wrong.Add($"{probe} at step {step}");
                    }
                }
            }
        }

        Assert.Multiple(() =>
        {
            Assert.That(wrong, Is.Empty);
            Assert.That(map.Count, Is.EqualTo(maxCount));
            Assert.That(map.EvictionCount, Is.GreaterThan(10_000));
        });
    }
}
