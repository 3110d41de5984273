using System.Globalization;
using System.Text.RegularExpressions;
using StackExchange.Redis;

namespace StreamRec.Redis.Checkpoints;

/// <summary>
/// The Redis keys of one model version (docs/redis-layout.md describes each). Control keys that a
/// MULTI/EXEC touches together share the hash tag <c>{model:version}</c>, so they live in one Redis
/// Cluster slot; model-level keys share <c>{model}</c>. Chunk and lookup keys carry no tag and spread
/// across slots: they are written before, or apart from, the atomic switch. Immutable and thread-safe.
/// </summary>
public sealed partial class CheckpointKeys
{
    /// <summary>Prefix of every key the store writes.</summary>
    public const string Prefix = "streamrec";

    private readonly string _tagged;
    private readonly string _plain;

    /// <summary>Keys of <paramref name="model"/> at <paramref name="version"/>.</summary>
    /// <exception cref="ArgumentException">A name is empty or has characters other than letters, digits, '.', '_', '-'.</exception>
    public CheckpointKeys(string model, string version)
    {
        ValidateName(model, nameof(model));
        ValidateName(version, nameof(version));
        Model = model;
        Version = version;
        _tagged = $"{Prefix}:{{{model}:{version}}}";
        _plain = $"{Prefix}:{model}:{version}";
    }

    /// <summary>Model name.</summary>
    public string Model { get; }

    /// <summary>Version name.</summary>
    public string Version { get; }

    /// <summary>STRING: the serialised <c>Manifest</c> readers follow.</summary>
    public RedisKey Manifest => $"{_tagged}:manifest";

    /// <summary>STRING (integer): the manifest's publish_seq; the writers' optimistic-concurrency token.</summary>
    public RedisKey PublishSeq => $"{_tagged}:publish-seq";

    /// <summary>STRING: the token of the writer allowed to publish (fencing); absent when any writer may.</summary>
    public RedisKey Owner => $"{_tagged}:owner";

    /// <summary>STRING (integer): the last snapshot id handed out (INCR).</summary>
    public RedisKey SnapshotCounter => $"{_tagged}:snapshot-counter";

    /// <summary>ZSET: snapshot ids (member and score), including one being written.</summary>
    public RedisKey Snapshots => $"{_tagged}:snapshots";

    /// <summary>ZSET: lookup keys (member) by time written in ms (score), for capping.</summary>
    public RedisKey LookupIndex => $"{_tagged}:lookup-index";

    /// <summary>STRING: the latest manifest of snapshot <paramref name="snapshotId"/> (restore falls back to it).</summary>
    public RedisKey SnapshotManifest(long snapshotId) => $"{_tagged}:snap:{Format(snapshotId)}:manifest";

    /// <summary>STRING: a snapshot chunk (<c>CheckpointChunk</c> plus checksum trailer).</summary>
    public RedisKey SnapshotChunk(long snapshotId, int index) => $"{_plain}:snap:{Format(snapshotId)}:chunk:{Format(index)}";

    /// <summary>STRING: a delta chunk.</summary>
    public RedisKey DeltaChunk(long snapshotId, long deltaSeq, int index) =>
        $"{_plain}:snap:{Format(snapshotId)}:delta:{Format(deltaSeq)}:chunk:{Format(index)}";

    /// <summary>STRING: <c>EntityVector</c> of one user, with a TTL.</summary>
    public RedisKey UserVector(string userId) => $"{_plain}:user:{userId}";

    /// <summary>STRING: <c>EntityVector</c> of one item, with a TTL.</summary>
    public RedisKey ItemVector(string itemId) => $"{_plain}:item:{itemId}";

    /// <summary>STRING: <c>TopKList</c> of one user, with a TTL.</summary>
    public RedisKey UserTopK(string userId) => $"{_plain}:topk:{userId}";

    /// <summary>STRING: the version that readers of <paramref name="model"/> follow.</summary>
    public static RedisKey Active(string model) => $"{Prefix}:{{{ValidateName(model, nameof(model))}}}:active";

    /// <summary>ZSET: versions of <paramref name="model"/> (member) by first publish time in ms (score).</summary>
    public static RedisKey Versions(string model) => $"{Prefix}:{{{ValidateName(model, nameof(model))}}}:versions";

    /// <summary>
    /// SET: the chains a sharded writer publishes <paramref name="version"/> as (one per Kafka partition
    /// plus one for the items); each chain is stored as the version <see cref="ChainVersion"/>.
    /// </summary>
    public static RedisKey Chains(string model, string version) =>
        $"{Prefix}:{{{ValidateName(model, nameof(model))}}}:chains:{ValidateName(version, nameof(version))}";

    /// <summary>The version name a chain of <paramref name="version"/> is stored under: <c>version--chain</c>.</summary>
    public static string ChainVersion(string version, string chain) => ValidateName($"{version}--{chain}", nameof(chain));

    /// <summary>Pub/sub channel announcing every snapshot, delta and promotion of <paramref name="model"/>.</summary>
    public static RedisChannel Channel(string model) => RedisChannel.Literal($"{Prefix}:{ValidateName(model, nameof(model))}:published");

    /// <summary>Throws unless <paramref name="name"/> is a valid model or version name; returns it.</summary>
    public static string ValidateName(string name, string what)
    {
        if (string.IsNullOrEmpty(name) || name.Length > 128 || !NamePattern().IsMatch(name))
        {
            throw new ArgumentException($"{what} '{name}' must be 1 to 128 letters, digits, '.', '_' or '-'.", what);
        }

        return name;
    }

    private static string Format(long value) => value.ToString(CultureInfo.InvariantCulture);

    [GeneratedRegex("^[A-Za-z0-9._-]+$")]
    private static partial Regex NamePattern();
}
