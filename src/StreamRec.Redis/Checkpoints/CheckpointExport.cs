using System.Text.Json;
using Google.Protobuf;
using StreamRec.Contracts.V1;

namespace StreamRec.Redis.Checkpoints;

/// <summary>Writes a restored checkpoint to a file, as JSON or as protobuf. Stateless and thread-safe.</summary>
public static class CheckpointExport
{
    /// <summary>
    /// Protobuf: a stream of length-delimited messages (varint length, then bytes, as
    /// <c>WriteDelimitedTo</c> writes them): the <c>Manifest</c> first, then one <c>CheckpointChunk</c> per
    /// chunk of the restored state (snapshot and deltas already applied, checksum field set).
    /// </summary>
    public static void WriteProtobuf(RestoreResult restored, Stream output, int chunkTargetBytes = 1024 * 1024)
    {
        ArgumentNullException.ThrowIfNull(restored);
        ArgumentNullException.ThrowIfNull(output);
        var manifest = restored.Manifest.Clone();
        manifest.SnapshotChunks.Clear();
        manifest.Deltas.Clear();
        manifest.WriteDelimitedTo(output);
        var checkpoint = restored.Checkpoint;
        var chunks = ChunkCodec.EmbeddingChunks(ChunkKind.Items, -1, checkpoint.Items, chunkTargetBytes)
            .Concat(checkpoint.Users.SelectMany(u => ChunkCodec.EmbeddingChunks(ChunkKind.Users, u.Partition, u.Rows, chunkTargetBytes)
                .Concat(u.SeenItems is { Count: > 0 } seen ? ChunkCodec.SeenItemChunks(u.Partition, seen, chunkTargetBytes) : [])))
            .Concat(checkpoint.Trending is { } trending ? ChunkCodec.TrendingChunks(trending, chunkTargetBytes) : []);
        foreach (var chunk in chunks)
        {
            chunk.SnapshotId = manifest.SnapshotId;
            chunk.DeltaSeq = manifest.LastDeltaSeq;
            var value = ChunkCodec.Encode(chunk, out _);
            // The stored value is itself a valid CheckpointChunk encoding (checksum included).
            var length = new byte[CodedOutputStream.ComputeLengthSize(value.Length)];
            var lengthWriter = new CodedOutputStream(length);
            lengthWriter.WriteLength(value.Length);
            lengthWriter.Flush();
            output.Write(length);
            output.Write(value);
        }
    }

    /// <summary>JSON: the manifest's facts, then every row with its vector as numbers (float32 round-trip precision).</summary>
    public static void WriteJson(RestoreResult restored, Stream output)
    {
        ArgumentNullException.ThrowIfNull(restored);
        ArgumentNullException.ThrowIfNull(output);
        var checkpoint = restored.Checkpoint;
        using var json = new Utf8JsonWriter(output, new JsonWriterOptions { Indented = false });
        json.WriteStartObject();
        json.WriteString("model", checkpoint.Model);
        json.WriteString("version", checkpoint.Version);
        json.WriteNumber("snapshotId", restored.SnapshotId);
        json.WriteNumber("lastDeltaSeq", restored.Manifest.LastDeltaSeq);
        json.WriteNumber("publishSeq", restored.Manifest.PublishSeq);
        json.WriteString("createdAt", checkpoint.CreatedAt);
        json.WriteNumber("eventTimeWatermarkMs", checkpoint.EventTimeWatermarkMs);
        json.WriteString("learner", checkpoint.Learner);
        json.WriteStartObject("learnerOptions");
        foreach (var (name, value) in checkpoint.LearnerOptions.OrderBy(p => p.Key, StringComparer.Ordinal))
        {
            json.WriteString(name, value);
        }

        json.WriteEndObject();
        json.WriteNumber("dimensions", checkpoint.Dimensions);
        json.WriteStartArray("offsets");
        foreach (var offset in checkpoint.Offsets)
        {
            json.WriteStartObject();
            json.WriteString("topic", offset.Topic);
            json.WriteNumber("partition", offset.Partition);
            json.WriteNumber("nextOffset", offset.NextOffset);
            json.WriteEndObject();
        }

        json.WriteEndArray();
        json.WritePropertyName("items");
        WriteRows(json, checkpoint.Items, null);
        json.WriteStartArray("users");
        foreach (var users in checkpoint.Users)
        {
            json.WriteStartObject();
            json.WriteNumber("partition", users.Partition);
            json.WritePropertyName("rows");
            WriteRows(json, users.Rows, users.SeenItems);
            json.WriteEndObject();
        }

        json.WriteEndArray();
        if (checkpoint.Trending is { } trending)
        {
            json.WriteStartObject("trending");
            json.WriteNumber("referenceTimeMs", trending.ReferenceTimeMs);
            json.WriteStartObject("scores");
            foreach (var entry in trending.Scores)
            {
                json.WriteNumber(entry.Id, entry.Score);
            }

            json.WriteEndObject();
            json.WriteEndObject();
        }

        json.WriteEndObject();
    }

    private static void WriteRows(Utf8JsonWriter json, EmbeddingRows rows, IReadOnlyDictionary<string, string[]>? seen)
    {
        json.WriteStartArray();
        for (var row = 0; row < rows.Count; row++)
        {
            json.WriteStartObject();
            json.WriteString("id", rows.Ids[row]);
            json.WriteStartArray("vector");
            foreach (var value in rows.Vector(row))
            {
                json.WriteNumberValue(value);
            }

            json.WriteEndArray();
            if (rows.Biases is not null)
            {
                json.WriteNumber("bias", rows.Biases[row]);
            }

            if (seen is not null && seen.TryGetValue(rows.Ids[row], out var items))
            {
                json.WriteStartArray("seen");
                foreach (var item in items)
                {
                    json.WriteStringValue(item);
                }

                json.WriteEndArray();
            }

            json.WriteEndObject();
            if (json.BytesPending > 1 << 20)
            {
                json.Flush();
            }
        }

        json.WriteEndArray();
    }
}
