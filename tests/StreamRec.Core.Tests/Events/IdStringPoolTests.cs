using System.Text;
using StreamRec.Core.Events;

namespace StreamRec.Core.Tests.Events;

[TestFixture]
public sealed class IdStringPoolTests
{
    [Test]
    public void SameBytes_GiveTheSamePooledInstance()
    {
        var pool = new IdStringPool();

        var first = pool.Get("user-17"u8);
        var second = pool.Get("user-17"u8.ToArray());

        Assert.That(first, Is.EqualTo("user-17"));
        Assert.That(second, Is.SameAs(first));
        Assert.That(pool.Count, Is.EqualTo(1));
    }

    [TestCase("café-42")]
    [TestCase("ユーザー")]
    [TestCase("emoji-😀")]
    [TestCase("")]
    public void NonAsciiAndEmptyIds_DecodeExactly_AndArePooled(string id)
    {
        var pool = new IdStringPool();
        var utf8 = Encoding.UTF8.GetBytes(id);

        var first = pool.Get(utf8);
        var second = pool.Get(utf8);

        Assert.That(first, Is.EqualTo(id));
        Assert.That(second, Is.SameAs(first));
    }

    [Test]
    public void IdsThatDifferOnlyAfterTranscoding_AreNotConfused()
    {
        var pool = new IdStringPool();
        // Same UTF-16 length as "ab" but different bytes, and an ASCII id as long as a multi-byte one's bytes.
        var ascii = pool.Get("cafe"u8);
        var accented = pool.Get(Encoding.UTF8.GetBytes("café"));
        var fiveAscii = pool.Get("cafeX"u8);

        Assert.That(new[] { ascii, accented, fiveAscii }, Is.EqualTo(new[] { "cafe", "café", "cafeX" }));
        Assert.That(pool.Count, Is.EqualTo(3));
    }

    [Test]
    public void ManyIds_SurviveTheTableGrowing()
    {
        var pool = new IdStringPool();
        var pooled = Enumerable.Range(0, 50_000).Select(i => pool.Get(Encoding.UTF8.GetBytes($"id-{i}"))).ToList();

        for (var i = 0; i < 50_000; i++)
        {
            Assert.That(pool.Get(Encoding.UTF8.GetBytes($"id-{i}")), Is.SameAs(pooled[i]), $"id-{i}");
        }

        Assert.That(pool.Count, Is.EqualTo(50_000));
    }

    [Test]
    public void InvalidUtf8_Throws_AndPoolsNothing()
    {
        var pool = new IdStringPool();

        Assert.Throws<DecoderFallbackException>(() => pool.Get([0x61, 0xC3, 0x28]));
        Assert.Throws<DecoderFallbackException>(() => pool.Get([0xF8, 0x88, 0x80, 0x80, 0x80]));
        Assert.That(pool.Count, Is.Zero);
    }

    [Test]
    public void FullPool_IsCleared_AndKeepsAnsweringCorrectly()
    {
        var pool = new IdStringPool(capacity: 3);
        foreach (var id in new[] { "a", "b", "c", "d", "e" })
        {
            Assert.That(pool.Get(Encoding.UTF8.GetBytes(id)), Is.EqualTo(id));
        }

        Assert.That(pool.Resets, Is.EqualTo(1));
        Assert.That(pool.Count, Is.EqualTo(2));
        Assert.That(pool.Get("a"u8), Is.EqualTo("a"));
    }

    [Test]
    public void KnownIds_AllocateNothing()
    {
        var pool = new IdStringPool();
        var ids = Enumerable.Range(0, 100).Select(i => Encoding.UTF8.GetBytes(i % 2 == 0 ? $"user-{i}" : $"ítem-{i}")).ToArray();
        foreach (var id in ids)
        {
            pool.Get(id);
        }

        var allocated = AllocationProbe.BytesPerPass(() =>
        {
            foreach (var id in ids)
            {
                pool.Get(id);
            }
        });

        Assert.That(allocated.Min(), Is.Zero);
    }
}
