using System.Diagnostics;
using System.Globalization;
using System.Net;

namespace StreamRec.ReaderLoad;

/// <summary>
/// Open-loop load: request i is due at start + i/rate whether or not earlier ones answered, and its latency
/// is measured from when it was due (so a stall shows in the percentiles instead of slowing the sender:
/// no coordinated omission). One scheduler; requests run concurrently on a pooled HttpClient.
/// </summary>
internal static class FixedRateLoad
{
    public static async Task<int> RunAsync(Uri baseUrl, int rate, int seconds, int users, string pathTemplate)
    {
        using var handler = new SocketsHttpHandler { MaxConnectionsPerServer = 256, PooledConnectionLifetime = Timeout.InfiniteTimeSpan };
        using var http = new HttpClient(handler) { BaseAddress = baseUrl, Timeout = TimeSpan.FromSeconds(10) };
        var random = new Random(7);
        var total = rate * seconds;
        var latencies = new double[total];
        var statuses = new int[total];
        var inFlight = new List<Task>(total);

        // Warm-up: connections, JIT and the reader's scratch buffers.
        for (var i = 0; i < 200; i++)
        {
            using var warm = await http.GetAsync(Path(pathTemplate, random.Next(users)));
        }

        var start = Stopwatch.GetTimestamp();
        for (var i = 0; i < total; i++)
        {
            var due = start + (long)(i * (double)Stopwatch.Frequency / rate);
            while (Stopwatch.GetTimestamp() < due)
            {
                var wait = Stopwatch.GetElapsedTime(Stopwatch.GetTimestamp(), due);
                if (wait > TimeSpan.FromMilliseconds(2))
                {
                    await Task.Delay(wait - TimeSpan.FromMilliseconds(1));
                }
                else
                {
                    Thread.SpinWait(50);
                }
            }

            var index = i;
            var path = Path(pathTemplate, random.Next(users));
            inFlight.Add(Task.Run(async () =>
            {
                try
                {
                    using var response = await http.GetAsync(path, HttpCompletionOption.ResponseContentRead);
                    statuses[index] = (int)response.StatusCode;
                }
                catch (HttpRequestException)
                {
                    statuses[index] = -1;
                }
                catch (TaskCanceledException)
                {
                    statuses[index] = -2;
                }

                latencies[index] = Stopwatch.GetElapsedTime(due).TotalMilliseconds;
            }));
        }

        await Task.WhenAll(inFlight);
        var elapsed = Stopwatch.GetElapsedTime(start).TotalSeconds;
        Array.Sort(latencies);
        double At(double quantile) => latencies[Math.Min(total - 1, (int)Math.Ceiling(quantile * total) - 1)];
        var ok = statuses.Count(s => s == (int)HttpStatusCode.OK);
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"{total} requests at {rate}/s over {elapsed:0.0} s ({total / elapsed:0} req/s achieved): {ok} ok, {total - ok} failed; latency from due time ms: p50 {At(0.5):0.00} p90 {At(0.9):0.00} p99 {At(0.99):0.00} p99.9 {At(0.999):0.00} max {latencies[^1]:0.00}"));
        return ok == total ? 0 : 1;
    }

    private static Uri Path(string template, int user) =>
        new(template.Replace("{user}", string.Create(CultureInfo.InvariantCulture, $"user{user}"), StringComparison.Ordinal), UriKind.Relative);
}
