using StreamRec.Core.Engine;

namespace StreamRec.Worker.Sharding;

/// <summary>
/// A copy of some rows of an embedding table: ids, vectors (row-major), biases and AdaGrad state.
/// Captured on the consumer thread so that publishing can go on while learning continues.
/// </summary>
public sealed record TableRows(int Dimensions, string[] Ids, float[] Vectors, float[] Biases, float[] AdaGradVector, float[] AdaGradBias)
{
    public int Count => Ids.Length;

    public ReadOnlySpan<float> Vector(int index) => Vectors.AsSpan(index * Dimensions, Dimensions);

    /// <summary>Copies the given rows of <paramref name="table"/>.</summary>
    public static TableRows Capture(EmbeddingTable table, IReadOnlyList<int> rows)
    {
        ArgumentNullException.ThrowIfNull(table);
        ArgumentNullException.ThrowIfNull(rows);
        var dimensions = table.Dimensions;
        var ids = new string[rows.Count];
        var vectors = new float[rows.Count * dimensions];
        var biases = new float[rows.Count];
        var adaGradVector = new float[rows.Count];
        var adaGradBias = new float[rows.Count];
        for (var i = 0; i < rows.Count; i++)
        {
            var row = rows[i];
            ids[i] = table.Ids.IdAt(row);
            table.ReadRow(row).CopyTo(vectors.AsSpan(i * dimensions, dimensions));
            biases[i] = table.ReadBias(row);
            (adaGradVector[i], adaGradBias[i]) = table.ReadAdaGradState(row);
        }

        return new TableRows(dimensions, ids, vectors, biases, adaGradVector, adaGradBias);
    }

    /// <summary>All rows of <paramref name="table"/>.</summary>
    public static TableRows CaptureAll(EmbeddingTable table)
    {
        ArgumentNullException.ThrowIfNull(table);
        return Capture(table, Enumerable.Range(0, table.Count).ToArray());
    }
}
