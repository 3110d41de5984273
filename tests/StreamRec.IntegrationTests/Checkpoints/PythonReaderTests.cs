using System.Diagnostics;
using System.Text.Json;
using StreamRec.IntegrationTests.Infrastructure;
using StreamRec.Redis.Checkpoints;
using static StreamRec.IntegrationTests.Checkpoints.CheckpointData;

namespace StreamRec.IntegrationTests.Checkpoints;

/// <summary>
/// tests/python/read_vectors.py reads what .NET wrote by following docs/redis-layout.md, with Debian's
/// python3-redis and python3-protobuf and code protoc generates from protos/ at test time.
/// Skipped (with the reason) where /usr/bin/python3, those modules or protoc are missing.
/// </summary>
[TestFixture]
public sealed class PythonReaderTests
{
    private const string Python = "/usr/bin/python3";

    [Test]
    public async Task PythonReader_ReadsTheSameUserAndItemVectorsDotNetWrote()
    {
        var repository = RepositoryRoot();
        var missing = await MissingToolsAsync();
        if (missing is not null)
        {
            Assert.Ignore($"Python reader test needs {missing}. On Debian: apt-get install python3 python3-redis python3-protobuf protobuf-compiler");
        }

        await using var scope = await TestRedis.CreateScope();
        var store = new CheckpointStore(scope.Connection, new CheckpointOptions { ChunkTargetBytes = 8192 });
        var snapshot = (await store.PublishSnapshotAsync(Model(scope.Namespace, "v1", items: 50, usersPerPartition: 20, partitions: 2, dimensions: 16, seed: 31))).Manifest;
        var users = Rows("user-p1-", 3, 16, new Random(32), true);
        var items = Rows("item", 2, 16, new Random(33), true, first: 7);
        await store.PublishDeltaAsync(new CheckpointDelta { Model = scope.Namespace, Version = "v1", Items = items, Users = [new UserPartitionRows(1, users)] });
        var generated = Directory.CreateTempSubdirectory("streamrec-proto-py-");
        try
        {
            var protoc = await RunAsync("protoc", ["-I", Path.Combine(repository, "protos"), "--python_out=" + generated.FullName, "streamrec/v1/checkpoint.proto"]);
            Assert.That(protoc.ExitCode, Is.Zero, protoc.Error);
            var server = (await TestRedis.ServerAsync()).Endpoint.Split(':');

            var python = await RunAsync(Python, [
                Path.Combine(repository, "tests", "python", "read_vectors.py"), "--generated", generated.FullName,
                "--host", server[0], "--port", server[1], "--model", scope.Namespace, "--user", "user-p1-2", "--item", "item8"]);

            Assert.That(python.ExitCode, Is.Zero, python.Error);
            using var json = JsonDocument.Parse(python.Output);
            var root = json.RootElement;
            Assert.That(root.GetProperty("version").GetString(), Is.EqualTo("v1"));
            Assert.That(root.GetProperty("user").GetProperty("vector_hex").GetString(), Is.EqualTo(Hex(users.Vector(2))));
            Assert.That(root.GetProperty("user").GetProperty("bias").GetSingle(), Is.EqualTo(users.Biases![2]));
            Assert.That(root.GetProperty("item").GetProperty("vector_hex").GetString(), Is.EqualTo(Hex(items.Vector(1))));
            Assert.That(root.GetProperty("item").GetProperty("vector").EnumerateArray().Select(v => v.GetSingle()), Is.EqualTo(items.Vector(1).ToArray()));
            Assert.That(root.GetProperty("chunk0").GetProperty("crc_ok").GetBoolean(), Is.True);
            Assert.That(root.GetProperty("manifest").GetProperty("snapshot_id").GetInt64(), Is.EqualTo(snapshot.SnapshotId));
        }
        finally
        {
            generated.Delete(recursive: true);
        }
    }

    private static string Hex(ReadOnlySpan<float> values) => Convert.ToHexString(System.Runtime.InteropServices.MemoryMarshal.AsBytes(values));

    private static async Task<string?> MissingToolsAsync()
    {
        if (!File.Exists(Python))
        {
            return $"{Python} (not found)";
        }

        var modules = await RunAsync(Python, ["-c", "import redis, google.protobuf"]);
        if (modules.ExitCode != 0)
        {
            return $"the Python modules redis and google.protobuf ({modules.Error.Trim().Split('\n').LastOrDefault()})";
        }

        try
        {
            var protoc = await RunAsync("protoc", ["--version"]);
            return protoc.ExitCode == 0 ? null : "protoc (it failed to run)";
        }
        catch (System.ComponentModel.Win32Exception)
        {
            return "protoc (not on PATH)";
        }
    }

    private static string RepositoryRoot()
    {
        for (var directory = new DirectoryInfo(TestContext.CurrentContext.TestDirectory); directory is not null; directory = directory.Parent)
        {
            if (Directory.Exists(Path.Combine(directory.FullName, "protos")) && File.Exists(Path.Combine(directory.FullName, "StreamRec.sln")))
            {
                return directory.FullName;
            }
        }

        throw new InvalidOperationException("The repository root (with protos/ and StreamRec.sln) is not above the test directory.");
    }

    private static async Task<(int ExitCode, string Output, string Error)> RunAsync(string executable, string[] arguments)
    {
        var start = new ProcessStartInfo(executable) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        using var process = Process.Start(start)!;
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        await process.WaitForExitAsync(timeout.Token);
        return (process.ExitCode, await output, await error);
    }
}
