using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using StackExchange.Redis;
using StreamRec.Client;
using StreamRec.DevServers;
using StreamRec.IntegrationTests.Infrastructure;
using StreamRec.Redis;
using StreamRec.Redis.Checkpoints;
using static StreamRec.IntegrationTests.Reader.ReaderModels;

namespace StreamRec.IntegrationTests.Reader;

[TestFixture]
public sealed class ReaderFollowingTests
{
    private const int MarkerItems = 300;
    private static readonly TimeSpan _timeout = TimeSpan.FromSeconds(15);

    [Test]
    public async Task NewDelta_IsServedWithinOnePollInterval()
    {
        await using var scope = await TestRedis.CreateScope();
        var store = new CheckpointStore(scope.Connection);
        var checkpoint = Trained(scope.Namespace, "v1");
        await store.PublishSnapshotAsync(checkpoint);
        await using var reader = await RunningReader.StartAsync(scope.Namespace, scope.Server.Endpoint);
        var (before, _) = await reader.UntilAsync(c => c.GetRecommendationsAsync("user5"), _ => true, _timeout, "the reader loads v1");

        // A new item that user5's vector points straight at, with a huge bias: it must top the list.
        var user = checkpoint.Users.SelectMany(p => Enumerable.Range(0, p.Rows.Count).Select(r => (p.Rows.Ids[r], p.Rows.Vector(r).ToArray()))).Single(u => u.Item1 == "user5").Item2;
        var clock = Stopwatch.StartNew();
        await store.PublishDeltaAsync(new CheckpointDelta
        {
            Model = scope.Namespace, Version = "v1",
            Items = new EmbeddingRows(checkpoint.Dimensions, ["brand-new"], user, [1000f]),
        });
        var (after, _) = await reader.UntilAsync(c => c.GetRecommendationsAsync("user5"), a => a.Items[0].Id == "brand-new", _timeout, "the delta's item tops user5's list");
        var took = clock.Elapsed;

        Assert.That(took, Is.LessThanOrEqualTo(RunningReader.PollInterval + TimeSpan.FromMilliseconds(100)), "visible within one poll interval (plus a request)");
        Assert.That(after.Version, Is.GreaterThan(before.Version), "a swap is a new generation");
        Assert.That(after.ModelVersion, Is.EqualTo("v1"));
        Assert.That(await reader.MetricAsync("streamrec_reader_model_generation"), Is.EqualTo(after.Version));
    }

    [Test]
    public async Task DeltaAppendingSeenItems_ExcludesThemToo_AndKeepsTheHistoryBefore()
    {
        await using var scope = await TestRedis.CreateScope();
        var store = new CheckpointStore(scope.Connection);
        var checkpoint = Trained(scope.Namespace, "v1");
        await store.PublishSnapshotAsync(checkpoint);
        await using var reader = await RunningReader.StartAsync(scope.Namespace, scope.Server.Endpoint);
        var (before, _) = await reader.UntilAsync(c => c.GetRecommendationsAsync("user5", k: 10, excludeSeen: true), _ => true, _timeout, "the reader loads v1");
        var partition = checkpoint.Users.Single(p => p.Rows.Ids.Contains("user5"));
        var seenBefore = partition.SeenItems!["user5"];
        Assert.That(seenBefore, Is.Not.Empty, "the snapshot holds a history to keep");
        var newlySeen = before.Items[0].Id;

        await store.PublishDeltaAsync(new CheckpointDelta
        {
            Model = scope.Namespace, Version = "v1",
            Users =
            [
                new UserPartitionRows(partition.Partition, EmbeddingRows.Empty(checkpoint.Dimensions, withBiases: true))
                {
                    AppendedSeenItems = new Dictionary<string, string[]> { ["user5"] = [newlySeen] },
                    SeenHistoryLength = 1_000,
                },
            ],
        });

        var (after, _) = await reader.UntilAsync(c => c.GetRecommendationsAsync("user5", k: 10, excludeSeen: true),
            a => a.Items.All(i => i.Id != newlySeen), _timeout, "the appended item is left out");
        Assert.That(after.Items.Select(i => i.Id).Intersect(seenBefore), Is.Empty, "the items seen before the delta are still left out");
        Assert.That(after.Items.Take(9).Select(i => i.Id), Is.EqualTo(before.Items.Skip(1).Select(i => i.Id)), "nothing else changed");
    }

    [Test]
    public async Task DeltasOfAShardedVersion_AreAppliedIncrementallyPerChain()
    {
        await using var scope = await TestRedis.CreateScope();
        var store = new CheckpointStore(scope.Connection);
        var checkpoint = Trained(scope.Namespace, "v1", partitions: 2);
        await PublishShardedAsync(store, scope.Database, checkpoint);
        await using var reader = await RunningReader.StartAsync(scope.Namespace, scope.Server.Endpoint);
        await reader.UntilAsync(c => c.IsReadyAsync(), ready => ready, _timeout, "the reader loads the sharded v1");
        var dims = checkpoint.Dimensions;
        var toward = new float[dims];
        toward[0] = 1;

        // The user chain of partition 1 gains a user; the items chain an item that user points at.
        await store.PublishDeltaAsync(new CheckpointDelta
        {
            Model = scope.Namespace, Version = PartitionChain("v1", 1),
            Users = [new UserPartitionRows(1, new EmbeddingRows(dims, ["late-user"], toward, [0f]))],
        });
        var pointed = new float[dims];
        pointed[0] = 50;
        await store.PublishDeltaAsync(new CheckpointDelta
        {
            Model = scope.Namespace, Version = CheckpointKeys.ChainVersion("v1", "items"),
            Items = new EmbeddingRows(dims, ["late-item"], pointed, [0f]),
        });

        var (answer, _) = await reader.UntilAsync(c => c.GetRecommendationsAsync("late-user", k: 3),
            a => a.Source == RecommendationSources.Personalized && a.Items[0].Id == "late-item", _timeout, "both chains' deltas are served");
        Assert.That(answer.Items[0].Score, Is.GreaterThan(40f));
        Assert.That(await reader.MetricAsync("streamrec_reader_model_swaps_total{cause=\"delta\"}"), Is.GreaterThanOrEqualTo(1));
    }

    [Test]
    public async Task PromotionOfAnotherVersion_IsLoadedWholeAndServed()
    {
        await using var scope = await TestRedis.CreateScope();
        var store = new CheckpointStore(scope.Connection);
        await store.PublishSnapshotAsync(Trained(scope.Namespace, "v1"));
        var replay = Trained(scope.Namespace, "v2", seed: 11, partitions: 2);
        await PublishShardedAsync(store, scope.Database, replay, activate: false);
        await using var reader = await RunningReader.StartAsync(scope.Namespace, scope.Server.Endpoint);
        await reader.UntilAsync(c => c.GetTrendingAsync(), t => t.ModelVersion == "v1", _timeout, "the reader serves v1");

        await store.PromoteAsync(scope.Namespace, "v2");

        var (answer, _) = await reader.UntilAsync(c => c.GetRecommendationsAsync("user3"), a => a.ModelVersion == "v2", _timeout, "the reader serves v2");
        AssertTopK(answer.Items, BruteForce(replay, "user3", excludeSeen: true), 10);
    }

    [Test]
    public async Task SwapsUnderConcurrentLoad_NeverFailAndNeverMixGenerations()
    {
        await using var scope = await TestRedis.CreateScope();
        var store = new CheckpointStore(scope.Connection);
        await store.PublishSnapshotAsync(MarkerModel(scope.Namespace, marker: 0));
        await using var reader = await RunningReader.StartAsync(scope.Namespace, scope.Server.Endpoint);
        await reader.UntilAsync(c => c.IsReadyAsync(), ready => ready, _timeout, "the reader loads marker 0");

        const int lastMarker = 25;
        var markerOfGeneration = new ConcurrentDictionary<long, int>();
        var failures = new ConcurrentQueue<string>();
        var answers = 0;
        using var stop = new CancellationTokenSource();
        void Check(long generation, IEnumerable<RecommendedItem> items, string what)
        {
            // Every score of one answer carries the same marker (its thousands), and one generation always the same one.
            var markers = items.Select(i => (int)(i.Score / 1000)).Distinct().ToArray();
            if (markers.Length != 1)
            {
                failures.Enqueue($"{what} of generation {generation} mixes markers {string.Join(",", markers)}");
                return;
            }

            if (markerOfGeneration.GetOrAdd(generation, markers[0]) != markers[0])
            {
                failures.Enqueue($"generation {generation} answered with markers {markerOfGeneration[generation]} and {markers[0]}");
            }

            Interlocked.Increment(ref answers);
        }

        var load = Enumerable.Range(0, 4).Select(worker => Task.Run(async () =>
        {
            while (!stop.IsCancellationRequested)
            {
                try
                {
                    if (worker % 2 == 0)
                    {
                        var one = await reader.Client.GetRecommendationsAsync($"user{worker}", k: 20);
                        Check(one.Version, one.Items, "a user's list");
                    }
                    else
                    {
                        var batch = await reader.Client.GetRecommendationsAsync(["user0", "user1", "user2", "user3"], k: 20);
                        Check(batch.Version, batch.Results.SelectMany(r => r.Items), "a batch");
                    }
                }
                catch (Exception ex) when (ex is HttpRequestException or ReaderApiException)
                {
                    failures.Enqueue(ex.Message);
                }
            }
        })).ToArray();

        for (var marker = 1; marker <= lastMarker; marker++)
        {
            await store.PublishDeltaAsync(new CheckpointDelta { Model = scope.Namespace, Version = "v1", Items = MarkerItemRows(marker) });
        }

        await reader.UntilAsync(c => c.GetRecommendationsAsync("user0"), a => (int)(a.Items[0].Score / 1000) == lastMarker, _timeout, "the last marker is served");
        await stop.CancelAsync();
        await Task.WhenAll(load);

        Assert.That(failures, Is.Empty);
        Assert.That(answers, Is.GreaterThan(20));
        var ordered = markerOfGeneration.OrderBy(p => p.Key).Select(p => p.Value).ToArray();
        Assert.That(ordered, Is.Ordered, "later generations serve later deltas");
        Assert.That(markerOfGeneration.Count, Is.GreaterThan(1), "swaps happened under load");
    }

    [Test]
    public async Task RedisOutage_KeepsServingTheLastModelReportsStalenessAndCatchesUpWithANewServer()
    {
        var server = LocalRedis.TryStartRedisServer();
        if (server is null)
        {
            Assert.Ignore("redis-server required on PATH: the test kills and restarts a private server.");
        }

        using var _ = server;
        var model = $"test-{Guid.NewGuid():N}";
        var endpoint = server!.Endpoint;
        await using (var connection = await ConnectAsync(endpoint))
        {
            await new CheckpointStore(connection).PublishSnapshotAsync(MarkerModel(model, marker: 1));
        }

        await using var reader = await RunningReader.StartAsync(model, endpoint);
        var (before, _) = await reader.UntilAsync(c => c.GetRecommendationsAsync("user0"), _ => true, _timeout, "the reader loads marker 1");

        server.KillServerProcess();

        await reader.UntilAsync(async c => await reader.MetricAsync("streamrec_reader_staleness_seconds") ?? 0, s => s > 1.0, _timeout, "staleness grows past a second");
        var during = await reader.Client.GetRecommendationsAsync("user0");
        Assert.That(during.Version, Is.EqualTo(before.Version), "the last model is still served");
        Assert.That(during.Items, Is.EqualTo(before.Items));
        await reader.UntilAsync(async c => await reader.MetricAsync("streamrec_reader_poll_failures_total") ?? 0, f => f > 0, _timeout, "failed polls are counted");
        Assert.That(await reader.Client.IsReadyAsync(), Is.True, "still ready: it has a model to serve");

        // A new, empty server on the same address; a writer publishes there again.
        using var replacement = StartRedisServerOn(endpoint);
        try
        {
            await using (var connection = await ConnectAsync(endpoint))
            {
                await new CheckpointStore(connection).PublishSnapshotAsync(MarkerModel(model, marker: 2, version: "v2"));
            }

            var (after, _) = await reader.UntilAsync(c => c.GetRecommendationsAsync("user0"), a => a.ModelVersion == "v2", TimeSpan.FromSeconds(30), "the reader catches up");
            Assert.That((int)(after.Items[0].Score / 1000), Is.EqualTo(2));
            await reader.UntilAsync(async c => await reader.MetricAsync("streamrec_reader_staleness_seconds") ?? 99, s => s < 1.0, _timeout, "staleness falls back");
        }
        finally
        {
            replacement.Kill(entireProcessTree: true);
            await replacement.WaitForExitAsync();
        }
    }

    /// <summary>Zero user vectors and items whose bias is marker*1000 + position: every score names its delta.</summary>
    private static ModelCheckpoint MarkerModel(string model, int marker, string version = "v1")
    {
        const int dims = 4;
        return new ModelCheckpoint
        {
            Model = model,
            Version = version,
            Learner = "isgd",
            LearnerOptions = new Dictionary<string, string> { [Serving.TrendingBlend] = "0" },
            Dimensions = dims,
            Items = MarkerItemRows(marker),
            Users = [new UserPartitionRows(0, new EmbeddingRows(dims, [.. Enumerable.Range(0, 4).Select(u => $"user{u}")], new float[4 * dims], new float[4]))],
        };
    }

    private static EmbeddingRows MarkerItemRows(int marker) => new(
        4,
        [.. Enumerable.Range(0, MarkerItems).Select(i => $"item{i}")],
        new float[MarkerItems * 4],
        [.. Enumerable.Range(0, MarkerItems).Select(i => (marker * 1000f) + i)]);

    private static async Task<ConnectionMultiplexer> ConnectAsync(string endpoint)
    {
        var options = RedisEndpointSettings.Parse(endpoint, "test").ToConfigurationOptions();
        return await ConnectionMultiplexer.ConnectAsync(options);
    }

    private static Process StartRedisServerOn(string endpoint)
    {
        var port = endpoint[(endpoint.LastIndexOf(':') + 1)..];
        var start = new ProcessStartInfo("redis-server") { UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var argument in new[] { "--port", port, "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--loglevel", "warning" })
        {
            start.ArgumentList.Add(argument);
        }

        var process = Process.Start(start)!;
        process.OutputDataReceived += (_, _) => { };
        process.ErrorDataReceived += (_, _) => { };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        Eventually.Until(() => CanConnect(port), TimeSpan.FromSeconds(10), "the replacement redis-server accepts connections");
        return process;
    }

    private static bool CanConnect(string port)
    {
        try
        {
            using var client = new System.Net.Sockets.TcpClient();
            client.Connect("127.0.0.1", int.Parse(port, CultureInfo.InvariantCulture));
            return true;
        }
        catch (System.Net.Sockets.SocketException)
        {
            return false;
        }
    }
}
