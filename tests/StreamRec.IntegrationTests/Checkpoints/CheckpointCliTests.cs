using System.Text.Json;
using Google.Protobuf;
using StreamRec.Cli;
using StreamRec.Contracts.V1;
using StreamRec.IntegrationTests.Infrastructure;
using StreamRec.Redis.Checkpoints;
using static StreamRec.IntegrationTests.Checkpoints.CheckpointData;

namespace StreamRec.IntegrationTests.Checkpoints;

/// <summary>The `streamrec checkpoint` commands on a published checkpoint. Console output is captured, so these run one at a time.</summary>
[TestFixture]
[NonParallelizable]
public sealed class CheckpointCliTests
{
    [Test]
    public async Task ListInspectVerify_DescribeThePublishedCheckpoint()
    {
        await using var scope = await TestRedis.CreateScope();
        var (store, _) = await PublishAsync(scope);
        var server = (await TestRedis.ServerAsync()).Endpoint;

        var list = await RunAsync("checkpoint", "list", "--redis", server, "--model", scope.Namespace);
        var inspect = await RunAsync("checkpoint", "inspect", "--redis", server, "--model", scope.Namespace);
        var verify = await RunAsync("checkpoint", "verify", "--redis", server, "--model", scope.Namespace, "--version", "v1");

        Assert.That(list.ExitCode, Is.Zero, list.Error);
        Assert.That(list.Output, Does.Contain("*       v1"));
        Assert.That(inspect.ExitCode, Is.Zero, inspect.Error);
        var manifest = JsonParser.Default.Parse<Manifest>(inspect.Output);
        Assert.That(manifest, Is.EqualTo(await store.GetManifestAsync(scope.Namespace, "v1")));
        Assert.That(verify.ExitCode, Is.Zero, verify.Error);
        Assert.That(verify.Output, Does.Contain("(current)").And.Contain("OK"));
    }

    [Test]
    public async Task Verify_OfACorruptChunk_ExitsOneNamingTheKey()
    {
        await using var scope = await TestRedis.CreateScope();
        var (_, manifest) = await PublishAsync(scope);
        var key = new CheckpointKeys(scope.Namespace, "v1").SnapshotChunk(manifest.SnapshotId, 0);
        await scope.Database.StringSetRangeAsync(key, 10, "garbage");

        var verify = await RunAsync("checkpoint", "verify", "--redis", (await TestRedis.ServerAsync()).Endpoint, "--model", scope.Namespace);

        Assert.That(verify.ExitCode, Is.EqualTo(1));
        Assert.That(verify.Output, Does.Contain(key.ToString()).And.Contain("FAILED"));
    }

    [Test]
    public async Task ExportJson_WritesTheRestoredRowsExactly()
    {
        await using var scope = await TestRedis.CreateScope();
        var (store, _) = await PublishAsync(scope);
        var file = Path.Combine(Path.GetTempPath(), $"{scope.Namespace}.json");

        var export = await RunAsync("checkpoint", "export", "--redis", (await TestRedis.ServerAsync()).Endpoint, "--model", scope.Namespace, "--output", file);

        Assert.That(export.ExitCode, Is.Zero, export.Error);
        var restored = (await store.RestoreAsync(scope.Namespace)).Checkpoint;
        using var json = JsonDocument.Parse(await File.ReadAllBytesAsync(file));
        var items = json.RootElement.GetProperty("items");
        Assert.That(items.GetArrayLength(), Is.EqualTo(restored.Items.Count));
        var exported = items.EnumerateArray().Select(row => row.GetProperty("vector").EnumerateArray().Select(v => BitConverter.SingleToUInt32Bits(v.GetSingle()))).SelectMany(v => v);
        Assert.That(exported, Is.EqualTo(restored.Items.Vectors.Select(BitConverter.SingleToUInt32Bits)));
        Assert.That(json.RootElement.GetProperty("offsets").GetArrayLength(), Is.EqualTo(2));
        File.Delete(file);
    }

    [Test]
    public async Task ExportProtobuf_WritesTheManifestThenChunksThatPassTheirChecksums()
    {
        await using var scope = await TestRedis.CreateScope();
        var (store, _) = await PublishAsync(scope);
        var file = Path.Combine(Path.GetTempPath(), $"{scope.Namespace}.pb");

        var export = await RunAsync("checkpoint", "export", "--redis", (await TestRedis.ServerAsync()).Endpoint, "--model", scope.Namespace, "--format", "protobuf", "--output", file);

        Assert.That(export.ExitCode, Is.Zero, export.Error);
        await using var stream = File.OpenRead(file);
        var manifest = Manifest.Parser.ParseDelimitedFrom(stream);
        var itemIds = new List<string>();
        while (stream.Position < stream.Length)
        {
            var chunk = CheckpointChunk.Parser.ParseDelimitedFrom(stream);
            Assert.That(chunk.Checksum, Is.Not.Zero);
            if (chunk.Kind == ChunkKind.Items)
            {
                itemIds.AddRange(chunk.Ids);
            }
        }

        Assert.That(manifest.Model, Is.EqualTo(scope.Namespace));
        Assert.That(itemIds, Is.EqualTo((await store.RestoreAsync(scope.Namespace)).Checkpoint.Items.Ids));
        File.Delete(file);
    }

    [Test]
    public async Task APasswordGiven_NeverAppearsInTheOutput()
    {
        await using var scope = await TestRedis.CreateScope();

        var result = await RunAsync("checkpoint", "list", "--redis", (await TestRedis.ServerAsync()).Endpoint, "--model", scope.Namespace, "--password", "pa55-never-shown");

        Assert.That(result.Output + result.Error, Does.Not.Contain("pa55-never-shown"));
    }

    private static async Task<(CheckpointStore Store, Manifest Manifest)> PublishAsync(RedisTestScope scope)
    {
        var store = new CheckpointStore(scope.Connection, new CheckpointOptions { ChunkTargetBytes = 8192 });
        await store.PublishSnapshotAsync(Model(scope.Namespace, "v1", items: 100, usersPerPartition: 30, partitions: 2, dimensions: 8, seed: 21));
        var result = await store.PublishDeltaAsync(new CheckpointDelta
        {
            Model = scope.Namespace, Version = "v1", Items = Rows("item", 10, 8, new Random(22), true, first: 95), Offsets = [new KafkaOffset(Topic, 0, 2000)],
        });
        return (store, result.Manifest);
    }

    private static async Task<(int ExitCode, string Output, string Error)> RunAsync(params string[] args)
    {
        var originalOut = Console.Out;
        var originalError = Console.Error;
        using var output = new StringWriter();
        using var error = new StringWriter();
        Console.SetOut(output);
        Console.SetError(error);
        try
        {
            var exitCode = await StreamRecCommandLine.Build().Parse(args).InvokeAsync();
            return (exitCode, output.ToString(), error.ToString());
        }
        finally
        {
            Console.SetOut(originalOut);
            Console.SetError(originalError);
        }
    }
}
