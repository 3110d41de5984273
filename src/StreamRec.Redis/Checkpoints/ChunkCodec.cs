using System.Buffers;
using System.Buffers.Binary;
using System.IO.Hashing;
using System.Runtime.InteropServices;
using System.Text;
using Google.Protobuf;
using StreamRec.Contracts.V1;

namespace StreamRec.Redis.Checkpoints;

/// <summary>
/// Cuts tables into <see cref="CheckpointChunk"/>s of about a target size and turns them into stored
/// values (message + 5-byte CRC-32 trailer) and back. Stateless and thread-safe.
/// </summary>
internal static class ChunkCodec
{
    /// <summary>Tag byte of field 15 (checksum) with wire type fixed32: (15 &lt;&lt; 3) | 5.</summary>
    public const byte ChecksumTag = 0x7D;

    /// <summary>Tag byte plus four checksum bytes.</summary>
    public const int TrailerLength = 5;

    // Per-row framing: tag and length bytes of the id and of the packed arrays.
    private const int RowOverheadBytes = 4;

    static ChunkCodec()
    {
        // Stored floats are little-endian and copied as raw bytes.
        if (!BitConverter.IsLittleEndian)
        {
            throw new PlatformNotSupportedException("Checkpoint chunks are copied as little-endian float32; this platform is big-endian.");
        }
    }

    /// <summary>The stored value of <paramref name="chunk"/> (which must have no checksum set) and its CRC-32.</summary>
    public static byte[] Encode(CheckpointChunk chunk, out uint crc32)
    {
        var size = chunk.CalculateSize();
        var value = new byte[size + TrailerLength];
        chunk.WriteTo(value.AsSpan(0, size));
        crc32 = Crc32.HashToUInt32(value.AsSpan(0, size));
        value[size] = ChecksumTag;
        BinaryPrimitives.WriteUInt32LittleEndian(value.AsSpan(size + 1), crc32);
        return value;
    }

    /// <summary>
    /// Like <see cref="Encode(CheckpointChunk, out uint)"/> into an array rented from <see cref="ArrayPool{T}.Shared"/>;
    /// the value is the first <c>Length</c> bytes. The caller returns the array once the value is sent.
    /// </summary>
    /// <remarks>
    /// Written into a growing pooled buffer instead of measured first: protobuf measures every nested id list
    /// again while writing it, so measuring the whole chunk up front was a third pass over every id of every
    /// seen-item history in it.
    /// </remarks>
    /// <param name="sizeHint">Bytes the value is expected to take (the chunk target size); the buffer grows beyond it when needed.</param>
    public static (byte[] Buffer, int Length) EncodePooled(CheckpointChunk chunk, out uint crc32, int sizeHint = 64 * 1024)
    {
        var writer = new PooledBufferWriter(sizeHint + TrailerLength);
        chunk.WriteTo(writer);
        var size = writer.Written;
        var trailer = writer.GetSpan(TrailerLength);
        crc32 = Crc32.HashToUInt32(writer.Buffer.AsSpan(0, size));
        trailer[0] = ChecksumTag;
        BinaryPrimitives.WriteUInt32LittleEndian(trailer[1..], crc32);
        writer.Advance(TrailerLength);
        return (writer.Buffer, writer.Written);
    }

    /// <summary>
    /// Checks and parses the value stored at <paramref name="key"/> against what the manifest says of it.
    /// </summary>
    /// <exception cref="CheckpointCorruptException">Missing, failing a check, or not what the manifest describes.</exception>
    public static CheckpointChunk Decode(string key, byte[]? value, ChunkRef expected, long snapshotId, long deltaSeq)
    {
        if (value is null)
        {
            throw new CheckpointCorruptException(key, "is missing.");
        }

        if (value.Length < TrailerLength || value[^TrailerLength] != ChecksumTag)
        {
            throw new CheckpointCorruptException(key, $"has no checksum trailer ({value.Length} bytes).");
        }

        var stored = BinaryPrimitives.ReadUInt32LittleEndian(value.AsSpan(value.Length - 4));
        var computed = Crc32.HashToUInt32(value.AsSpan(0, value.Length - TrailerLength));
        if (stored != computed)
        {
            throw new CheckpointCorruptException(key, $"fails its CRC-32 check (stored {stored:x8}, computed {computed:x8}).");
        }

        if (computed != expected.Crc32 || value.Length != expected.ByteSize)
        {
            throw new CheckpointCorruptException(key, $"is not the chunk the manifest names (CRC-32 {computed:x8} vs {expected.Crc32:x8}, {value.Length} vs {expected.ByteSize} bytes).");
        }

        CheckpointChunk chunk;
        try
        {
            chunk = CheckpointChunk.Parser.ParseFrom(value);
        }
        catch (InvalidProtocolBufferException ex)
        {
            throw new CheckpointCorruptException(key, $"cannot be parsed: {ex.Message}");
        }

        if (chunk.SnapshotId != snapshotId || chunk.DeltaSeq != deltaSeq || chunk.Kind != expected.Kind || chunk.Ids.Count != expected.RowCount)
        {
            throw new CheckpointCorruptException(key, $"holds snapshot {chunk.SnapshotId} delta {chunk.DeltaSeq} {chunk.Kind} x{chunk.Ids.Count}, expected snapshot {snapshotId} delta {deltaSeq} {expected.Kind} x{expected.RowCount}.");
        }

        return chunk;
    }

    /// <summary>Embedding rows cut into chunks of about <paramref name="targetBytes"/>.</summary>
    public static IEnumerable<CheckpointChunk> EmbeddingChunks(ChunkKind kind, int partition, EmbeddingRows rows, int targetBytes)
    {
        var fixedRowBytes = (rows.Dimensions * sizeof(float)) + (rows.Biases is null ? 0 : sizeof(float)) + RowOverheadBytes;
        var start = 0;
        while (start < rows.Count)
        {
            var end = start;
            long bytes = 0;
            while (end < rows.Count)
            {
                // UTF-16 length: exact for ASCII ids and cheap; ids are small beside the vectors.
                var rowBytes = fixedRowBytes + rows.Ids[end].Length;
                if (end > start && bytes + rowBytes > targetBytes)
                {
                    break;
                }

                bytes += rowBytes;
                end++;
            }

            var chunk = new CheckpointChunk { Kind = kind, Partition = partition, Dimensions = rows.Dimensions };
            chunk.Ids.Add(new ArraySegment<string>(rows.Ids, start, end - start));
            chunk.Vectors = WrapFloats(rows.Vectors, start * rows.Dimensions, (end - start) * rows.Dimensions);
            if (rows.Biases is not null)
            {
                chunk.Biases = WrapFloats(rows.Biases, start, end - start);
            }

            yield return chunk;
            start = end;
        }
    }

    /// <summary>Trending entries cut into chunks.</summary>
    public static IEnumerable<CheckpointChunk> TrendingChunks(TrendingState trending, int targetBytes)
    {
        var ids = trending.Scores.Select(entry => entry.Id).ToArray();
        var scores = trending.Scores.Select(entry => entry.Score).ToArray();
        foreach (var chunk in Cut(ids, id => Encoding.UTF8.GetByteCount(id) + sizeof(float) + RowOverheadBytes, targetBytes))
        {
            var result = new CheckpointChunk { Kind = ChunkKind.Trending, Partition = -1 };
            result.Ids.Add(new ArraySegment<string>(ids, chunk.Start, chunk.Count));
            result.Values = WrapFloats(scores, chunk.Start, chunk.Count);
            yield return result;
        }
    }

    /// <summary>Seen-item histories of one partition cut into chunks.</summary>
    /// <param name="appendedHistoryLength">
    /// Null: whole histories (<see cref="ChunkKind.SeenItems"/>). Otherwise the lists are appended items
    /// (<see cref="ChunkKind.SeenItemsAppended"/>) and each history keeps this many newest items (0: all).
    /// </param>
    public static IEnumerable<CheckpointChunk> SeenItemChunks(int partition, IReadOnlyDictionary<string, string[]> seen, int targetBytes, int? appendedHistoryLength = null)
    {
        var users = seen.Keys.ToArray();
        foreach (var chunk in Cut(users, user => user.Length + RowOverheadBytes + ListBytes(seen[user]), targetBytes))
        {
            var result = appendedHistoryLength is { } historyLength
                ? new CheckpointChunk { Kind = ChunkKind.SeenItemsAppended, Partition = partition, HistoryLength = historyLength }
                : new CheckpointChunk { Kind = ChunkKind.SeenItems, Partition = partition };
            for (var i = chunk.Start; i < chunk.Start + chunk.Count; i++)
            {
                result.Ids.Add(users[i]);
                var list = new IdList();
                list.Ids.Add(seen[users[i]]);
                result.Seen.Add(list);
            }

            yield return result;
        }
    }

    /// <summary>
    /// About the encoded size of an id list, from UTF-16 lengths (exact for ASCII ids): snapshots encode every
    /// user's whole history, and protobuf measures each id's UTF-8 length again anyway.
    /// </summary>
    private static int ListBytes(string[] ids)
    {
        var bytes = 0;
        foreach (var id in ids)
        {
            bytes += id.Length + 2;
        }

        return bytes;
    }

    /// <summary>Copies little-endian float32 bytes into <paramref name="destination"/>.</summary>
    public static void CopyFloats(ByteString source, Span<float> destination) => source.Span.CopyTo(MemoryMarshal.AsBytes(destination));

    /// <summary>Little-endian float32 bytes of <paramref name="values"/> (copied).</summary>
    public static ByteString FloatsToBytes(ReadOnlySpan<float> values) => ByteString.CopyFrom(MemoryMarshal.AsBytes(values));

    /// <summary>The floats of little-endian float32 bytes (copied); the length must be a multiple of 4 (stored bytes are checked first, naming their key).</summary>
    public static float[] BytesToFloats(ByteString bytes)
    {
        var result = new float[bytes.Length / sizeof(float)];
        CopyFloats(bytes, result);
        return result;
    }

    /// <summary>A view of part of a float array as bytes, without a copy (the array must not change while in use).</summary>
    public static ByteString WrapFloats(float[] array, int start, int count) =>
        UnsafeByteOperations.UnsafeWrap(new FloatBytesMemory(array, start, count).Memory);

    private static IEnumerable<(int Start, int Count)> Cut(string[] ids, Func<string, int> rowBytes, int targetBytes)
    {
        var start = 0;
        while (start < ids.Length)
        {
            var end = start;
            long bytes = 0;
            while (end < ids.Length)
            {
                var size = rowBytes(ids[end]);
                if (end > start && bytes + size > targetBytes)
                {
                    break;
                }

                bytes += size;
                end++;
            }

            yield return (start, end - start);
            start = end;
        }
    }

    /// <summary>An <see cref="IBufferWriter{T}"/> over one array rented from <see cref="ArrayPool{T}.Shared"/>, replaced by a larger one as it fills.</summary>
    private sealed class PooledBufferWriter(int initialCapacity) : IBufferWriter<byte>
    {
        /// <summary>The current array: the caller returns it to the pool once done with the written bytes.</summary>
        public byte[] Buffer { get; private set; } = ArrayPool<byte>.Shared.Rent(initialCapacity);

        public int Written { get; private set; }

        public void Advance(int count)
        {
            ArgumentOutOfRangeException.ThrowIfNegative(count);
            ArgumentOutOfRangeException.ThrowIfGreaterThan(count, Buffer.Length - Written);
            Written += count;
        }

        public Memory<byte> GetMemory(int sizeHint = 0)
        {
            Reserve(sizeHint);
            return Buffer.AsMemory(Written);
        }

        public Span<byte> GetSpan(int sizeHint = 0)
        {
            Reserve(sizeHint);
            return Buffer.AsSpan(Written);
        }

        private void Reserve(int sizeHint)
        {
            var needed = Written + Math.Max(sizeHint, 1);
            if (needed <= Buffer.Length)
            {
                return;
            }

            var grown = ArrayPool<byte>.Shared.Rent(Math.Max(needed, Buffer.Length * 2));
            Buffer.AsSpan(0, Written).CopyTo(grown);
            ArrayPool<byte>.Shared.Return(Buffer);
            Buffer = grown;
        }
    }

    /// <summary>Exposes float[] elements as little-endian bytes for protobuf's zero-copy ByteString.</summary>
    private sealed class FloatBytesMemory(float[] array, int start, int count) : MemoryManager<byte>
    {
        public override Span<byte> GetSpan() => MemoryMarshal.AsBytes(array.AsSpan(start, count));

        public override unsafe MemoryHandle Pin(int elementIndex = 0)
        {
            var handle = GCHandle.Alloc(array, GCHandleType.Pinned);
            var pointer = (byte*)handle.AddrOfPinnedObject() + ((long)start * sizeof(float)) + elementIndex;
            return new MemoryHandle(pointer, handle);
        }

        public override void Unpin()
        {
            // The GCHandle in the MemoryHandle is freed when that handle is disposed.
        }

        protected override void Dispose(bool disposing)
        {
            // Nothing owned: the array belongs to the caller.
        }
    }
}
