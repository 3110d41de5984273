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
        var serviceTimes = new double[total];
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
            // Sleep, never spin: the generator shares the machine with the reader. Requests that fell due
            // during a sleep go out together, and their latency still counts from when each was due.
            while (Stopwatch.GetTimestamp() < due)
            {
                await Task.Delay(1);
            }

            var index = i;
            var path = Path(pathTemplate, random.Next(users));
            inFlight.Add(Task.Run(async () =>
            {
                var sent = Stopwatch.GetTimestamp();
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
                serviceTimes[index] = Stopwatch.GetElapsedTime(sent).TotalMilliseconds;
            }));
        }

        await Task.WhenAll(inFlight);
        var elapsed = Stopwatch.GetElapsedTime(start).TotalSeconds;
        Array.Sort(latencies);
        Array.Sort(serviceTimes);
        static string Percentiles(double[] sorted)
        {
            double At(double quantile) => sorted[Math.Min(sorted.Length - 1, (int)Math.Ceiling(quantile * sorted.Length) - 1)];
            return string.Create(CultureInfo.InvariantCulture, $"p50 {At(0.5):0.00} p90 {At(0.9):0.00} p99 {At(0.99):0.00} p99.9 {At(0.999):0.00} max {sorted[^1]:0.00}");
        }

        var ok = statuses.Count(s => s == (int)HttpStatusCode.OK);
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"{total} requests at {rate}/s over {elapsed:0.0} s ({total / elapsed:0} req/s achieved): {ok} ok, {total - ok} failed"));
        Console.WriteLine($"  latency from due time, ms (includes the sender's own lateness): {Percentiles(latencies)}");
        Console.WriteLine($"  latency from send, ms:                                         {Percentiles(serviceTimes)}");
        return ok == total ? 0 : 1;
    }

    private static Uri Path(string template, int user) =>
        new(template.Replace("{user}", string.Create(CultureInfo.InvariantCulture, $"user{user}"), StringComparison.Ordinal), UriKind.Relative);
}
