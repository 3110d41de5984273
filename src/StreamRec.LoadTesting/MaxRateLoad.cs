using System.Diagnostics;
using System.Globalization;
using System.Net;

namespace StreamRec.LoadTesting;

/// <summary>
/// Closed-loop load: <c>connections</c> loops each send the next request as soon as the previous one
/// answered, for a fixed time; the completed requests per second are the server's maximum rate at that
/// concurrency (as <c>wrk -c</c> measures it). Run it against the endpoint under test and against a trivial
/// endpoint of the same server (/healthz) to read the first against what the HTTP stack alone allows.
/// </summary>
public static class MaxRateLoad
{
    /// <summary>Warm-up requests per connection before the clock starts (connections, JIT, server buffers).</summary>
    public const int WarmUpRequestsPerConnection = 50;

    /// <summary>
    /// Runs <paramref name="connections"/> closed loops for <paramref name="duration"/> against
    /// <paramref name="pathTemplate"/> (<c>{user}</c> becomes <c>user0</c> .. <c>user{users-1}</c>).
    /// </summary>
    public static async Task<MaxRateResult> MeasureAsync(Uri baseUrl, int connections, TimeSpan duration, int users, string pathTemplate, CancellationToken cancellationToken = default)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(connections, 1);
        using var handler = new SocketsHttpHandler { MaxConnectionsPerServer = connections, PooledConnectionLifetime = Timeout.InfiniteTimeSpan };
        using var http = new HttpClient(handler) { BaseAddress = baseUrl, Timeout = TimeSpan.FromSeconds(10) };
        var okCounts = new int[connections];
        var sent = new int[connections];
        await Task.WhenAll(Enumerable.Range(0, connections).Select(connection => Task.Run(async () =>
        {
            var random = new Random(1_000 + connection);
            for (var i = 0; i < WarmUpRequestsPerConnection; i++)
            {
                using var warm = await http.GetAsync(Path(pathTemplate, random.Next(users)), cancellationToken);
            }
        }, cancellationToken)));

        // Every loop is timed from the same start, after all of them warmed up.
        var start = Stopwatch.GetTimestamp();
        var end = start + (long)(duration.TotalSeconds * Stopwatch.Frequency);
        var loops = Enumerable.Range(0, connections).Select(connection => Task.Run(async () =>
        {
            var random = new Random(7 + connection);
            var latencies = new List<double>();
            while (Stopwatch.GetTimestamp() < end)
            {
                var sentAt = Stopwatch.GetTimestamp();
                sent[connection]++;
                try
                {
                    using var response = await http.GetAsync(Path(pathTemplate, random.Next(users)), HttpCompletionOption.ResponseContentRead, cancellationToken);
                    if (response.StatusCode == HttpStatusCode.OK)
                    {
                        okCounts[connection]++;
                    }
                }
                catch (HttpRequestException)
                {
                    // Counted as sent and not ok.
                }

                latencies.Add(Stopwatch.GetElapsedTime(sentAt).TotalMilliseconds);
            }

            return latencies;
        }, cancellationToken)).ToArray();

        var all = (await Task.WhenAll(loops)).SelectMany(l => l).ToArray();
        var elapsed = Stopwatch.GetElapsedTime(start).TotalSeconds;
        Array.Sort(all);
        return new MaxRateResult(connections, sent.Sum(), okCounts.Sum(), elapsed, all.Length == 0 ? null : LatencyPercentiles.Of(all));
    }

    private static Uri Path(string template, int user) =>
        new(template.Replace("{user}", string.Create(CultureInfo.InvariantCulture, $"user{user}"), StringComparison.Ordinal), UriKind.Relative);
}

/// <summary>Outcome of a closed-loop run.</summary>
public sealed record MaxRateResult(int Connections, int Requests, int Ok, double ElapsedSeconds, LatencyPercentiles? Latency)
{
    /// <summary>Requests answered 200 per second.</summary>
    public double OkPerSecond => Ok / ElapsedSeconds;
}
