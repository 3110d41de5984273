using System.Diagnostics;
using System.Globalization;
using System.Numerics.Tensors;
using StreamRec.Core.Engine;
using StreamRec.DevServers;
using StreamRec.LoadTesting;

namespace StreamRec.Cli.Bench;

/// <summary>
/// Section 5: the reader as its own process (`streamrec reader`) serving a seeded synthetic model, driven
/// from this process over loopback HTTP: top-10 latency at a fixed rate (open loop, from each request's due
/// time) and the maximum rate (closed loop), each against the same server's /healthz under the same load; and
/// the exact top-10 of <see cref="TopKScorer"/> against a bare dot-product scan of the same matrix, in this process.
/// </summary>
internal static class ServingSection
{
    public const string Name = "serving";
    private const string TopTenPath = "v1/users/{user}/recommendations?k=10";
    private const string HealthPath = "healthz";
    private const int TopKItems = 100_000;
    private const int TopKDimensions = 64;
    private const int K = 10;
    private static readonly TimeSpan _readyTimeout = TimeSpan.FromSeconds(90);

    public static async Task<IReadOnlyList<BenchFigure>> RunAsync(BenchContext context, CancellationToken cancellationToken)
    {
        var settings = context.Settings;
        var figures = new List<BenchFigure>();
        var model = $"bench-serve-{Guid.NewGuid():N}"[..24];
        var seeded = await Seeder.SeedAsync(context.Connection, model, settings.ServingItems, 64, settings.ServingUsers);
        context.Log.WriteLine($"serving: seeded {settings.ServingItems:N0} items x 64 and {settings.ServingUsers:N0} users ({seeded.ByteSize / 1e6:0.0} MB)");
        var port = LocalRedis.FreeLoopbackPort();
        using (var reader = StreamRecChildProcess.Start(
            ["reader", $"--Model={model}", $"--RedisEndpoint={context.Redis.Endpoint}", $"--HttpPort={port.ToString(CultureInfo.InvariantCulture)}", "--HttpHost=127.0.0.1"],
            "reader process"))
        {
            var url = new Uri($"http://127.0.0.1:{port}/");
            await WaitUntilReadyAsync(reader, url, cancellationToken);
            var options = context.Options(("items", settings.ServingItems), ("dimensions", 64), ("users", settings.ServingUsers), ("k", 10), ("exclude_seen", true),
                ("reader", "separate process, loopback HTTP"));
            var rate = settings.ServingRate;
            var health = await FixedRateLoad.MeasureAsync(url, rate, settings.FixedRateSeconds, settings.ServingUsers, HealthPath, cancellationToken);
            var topTen = await FixedRateLoad.MeasureAsync(url, rate, settings.FixedRateSeconds, settings.ServingUsers, TopTenPath, cancellationToken);
            context.Log.WriteLine($"serving: top-10 at {rate}/s, from due time: {topTen.FromDue} ({topTen.Ok}/{topTen.Requests} ok); /healthz {health.FromDue}");
            var fixedOptions = new Dictionary<string, object?>(options) { ["rate"] = rate, ["seconds"] = settings.FixedRateSeconds };
            var failed = topTen.Requests - topTen.Ok;
            var failures = failed == 0 ? "" : $"; {failed} requests failed";
            figures.Add(Latency("p50", topTen.FromDue.P50, health.FromDue.P50, null, fixedOptions, topTen, failures));
            figures.Add(Latency("p99", topTen.FromDue.P99, health.FromDue.P99, BenchTarget.ValueAtMost(5, "<= 5 ms at 500 req/s"), fixedOptions, topTen, failures));

            var connections = settings.MaxRateConnections;
            var duration = TimeSpan.FromSeconds(settings.MaxRateSeconds);
            var maxTopTen = await MaxRateLoad.MeasureAsync(url, connections, duration, settings.ServingUsers, TopTenPath, cancellationToken);
            var maxHealth = await MaxRateLoad.MeasureAsync(url, connections, duration, settings.ServingUsers, HealthPath, cancellationToken);
            context.Log.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"serving: maximum top-10 {maxTopTen.OkPerSecond:N0} req/s, /healthz {maxHealth.OkPerSecond:N0} req/s ({connections} connections)"));
            figures.Add(new BenchFigure
            {
                Section = Name,
                Name = "reader top-10, maximum rate",
                Unit = "req/s",
                Better = Better.Higher,
                Value = maxTopTen.OkPerSecond,
                ReferenceName = "/healthz of the same server, same load",
                ReferenceValue = maxHealth.OkPerSecond,
                Options = new Dictionary<string, object?>(options) { ["connections"] = connections, ["seconds"] = settings.MaxRateSeconds },
                Note = string.Create(CultureInfo.InvariantCulture,
                    $"closed loop, {connections} connections; top-10 p99 {maxTopTen.Latency?.P99:0.0} ms{(maxTopTen.Requests > maxTopTen.Ok ? $"; {maxTopTen.Requests - maxTopTen.Ok} failed" : "")}"),
            });
        }

        figures.Add(TopKAgainstScan(context, cancellationToken));
        return figures;
    }

    private static BenchFigure Latency(string percentile, double topTen, double health, BenchTarget? target, Dictionary<string, object?> options, FixedRateResult run, string failures) => new()
    {
        Section = Name,
        Name = string.Create(CultureInfo.InvariantCulture, $"reader top-10 latency {percentile} at {options["rate"]} req/s"),
        Unit = "ms",
        Better = Better.Lower,
        Value = topTen,
        ReferenceName = $"/healthz of the same server at the same rate ({percentile})",
        ReferenceValue = health,
        Target = target,
        Options = options,
        Note = string.Create(CultureInfo.InvariantCulture, $"open loop, latency from each request's due time; {run.AchievedPerSecond:0} req/s achieved{failures}"),
    };

    private static async Task WaitUntilReadyAsync(StreamRecChildProcess reader, Uri url, CancellationToken cancellationToken)
    {
        using var http = new HttpClient { BaseAddress = url, Timeout = TimeSpan.FromSeconds(2) };
        var clock = Stopwatch.StartNew();
        while (true)
        {
            try
            {
                using var response = await http.GetAsync(new Uri("readyz", UriKind.Relative), cancellationToken);
                if (response.IsSuccessStatusCode)
                {
                    return;
                }
            }
            catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException)
            {
                // Not listening yet.
            }

            if (reader.HasExited || clock.Elapsed > _readyTimeout)
            {
                throw new TimeoutException($"The reader process was not ready within {_readyTimeout.TotalSeconds:0} s{(reader.HasExited ? " (it exited)" : "")}:{Environment.NewLine}{reader.RecentOutput}");
            }

            await Task.Delay(50, cancellationToken);
        }
    }

    /// <summary>
    /// Exact top-10 with item bias and 50 excluded rows over 100k x 64 (tests/StreamRec.Benchmarks' TopKBenchmarks),
    /// alternated call by call with a bare <see cref="TensorPrimitives.Dot"/> scan of the same rows in the same layout.
    /// </summary>
    private static BenchFigure TopKAgainstScan(BenchContext context, CancellationToken cancellationToken)
    {
        var items = new EmbeddingTable(TopKDimensions, TopKItems, 0.1f, seed: 1, hasBias: true, initialRows: TopKItems);
        for (var i = 0; i < TopKItems; i++)
        {
            items.GetOrAddRow(string.Create(CultureInfo.InvariantCulture, $"item-{i}"));
        }

        var random = new SeededRandom(2);
        var query = new float[TopKDimensions];
        for (var i = 0; i < query.Length; i++)
        {
            query[i] = random.NextGaussian();
        }

        var excluded = new int[50];
        for (var i = 0; i < excluded.Length; i++)
        {
            excluded[i] = random.NextInt(TopKItems);
        }

        // The same rows in the same layout, copied out: the table's own backing array is internal to the engine.
        var stride = items.Stride;
        var matrix = new float[TopKItems * stride];
        for (var row = 0; row < TopKItems; row++)
        {
            items.ReadRow(row).CopyTo(matrix.AsSpan(row * stride));
        }

        var scorer = new TopKScorer();
        var destination = new ScoredRow[K];
        var sink = 0f;
        void Scan()
        {
            ReadOnlySpan<float> vectors = matrix;
            var sum = 0f;
            for (var row = 0; row < TopKItems; row++)
            {
                sum += TensorPrimitives.Dot(query, vectors.Slice(row * stride, TopKDimensions));
            }

            sink += sum;
        }

        void TopK() => sink += scorer.TopK(query, items, includeBias: true, [], 0f, excluded, destination);

        for (var i = 0; i < 10; i++)
        {
            Scan();
            TopK();
        }

        var topTimes = new List<double>();
        var scanTimes = new List<double>();
        for (var i = 0; i < context.Settings.TopKRepetitions; i++)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var start = Stopwatch.GetTimestamp();
            TopK();
            topTimes.Add(Stopwatch.GetElapsedTime(start).TotalMilliseconds);
            start = Stopwatch.GetTimestamp();
            Scan();
            scanTimes.Add(Stopwatch.GetElapsedTime(start).TotalMilliseconds);
        }

        var top = LearningSection.Median(topTimes);
        var scan = LearningSection.Median(scanTimes);
        context.Log.WriteLine(string.Create(CultureInfo.InvariantCulture, $"serving: exact top-10 {top:0.000} ms, bare scan {scan:0.000} ms (checksum {sink:0})"));
        return new BenchFigure
        {
            Section = Name,
            Name = "exact top-10 over 100,000 x 64 (bias, 50 excluded)",
            Unit = "ms",
            Better = Better.Lower,
            Value = top,
            ReferenceName = "bare dot-product scan of the same matrix",
            ReferenceValue = scan,
            Target = BenchTarget.RatioAtMost(1.3, "<= 1.3x the bare scan"),
            Options = context.Options(("items", TopKItems), ("dimensions", TopKDimensions), ("k", K), ("excluded", excluded.Length), ("repetitions", context.Settings.TopKRepetitions)),
            Note = "medians of calls alternated one by one, in this process",
        };
    }
}
