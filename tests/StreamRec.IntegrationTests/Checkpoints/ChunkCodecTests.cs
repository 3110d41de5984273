using System.Buffers;
using StreamRec.Redis.Checkpoints;

namespace StreamRec.IntegrationTests.Checkpoints;

/// <summary>Chunk encoding in memory (no servers).</summary>
[TestFixture]
public sealed class ChunkCodecTests
{
    [TestCase(4096)]
    [TestCase(64)]
    public void PooledEncoding_IsByteForByteTheMeasuredOne_WhateverTheStartingBufferSize(int sizeHint)
    {
        var seen = Enumerable.Range(0, 300).ToDictionary(
            user => $"user-{user}-é",
            user => Enumerable.Range(0, user % 40).Select(item => $"item-{(user * 7) + item}").ToArray(),
            StringComparer.Ordinal);
        var chunks = ChunkCodec.SeenItemChunks(partition: 3, seen, targetBytes: 8 * 1024).ToList();
        Assert.That(chunks, Has.Count.GreaterThan(1));

        foreach (var chunk in chunks)
        {
            var expected = ChunkCodec.Encode(chunk, out var expectedCrc);
            var (buffer, length) = ChunkCodec.EncodePooled(chunk, out var crc, sizeHint);
            try
            {
                Assert.That(buffer.AsSpan(0, length).ToArray(), Is.EqualTo(expected));
                Assert.That(crc, Is.EqualTo(expectedCrc));
            }
            finally
            {
                ArrayPool<byte>.Shared.Return(buffer);
            }
        }
    }
}
