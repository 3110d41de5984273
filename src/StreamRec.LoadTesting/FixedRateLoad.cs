using System.Diagnostics;
using System.Globalization;
using System.Net;

namespace StreamRec.LoadTesting;

/// <summary>
/// Open-loop load: request i is due at start + i/rate whether or not earlier ones answered, and its latency
/// is measured from when it was due (so a stall shows in the percentiles instead of slowing the sender:
/// no coordinated omission). One scheduler thread; requests run concurrently on a pooled HttpClient.
/// </summary>
public static class FixedRateLoad
{
    /// <summary>Runs the load and prints its figures; exit code 0 when every request answered 200.</summary>
    public static async Task<int> RunAsync(Uri baseUrl, int rate, int seconds, int users, string pathTemplate)
    {
        var result = await MeasureAsync(baseUrl, rate, seconds, users, pathTemplate);
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"{result.Requests} requests at {rate}/s over {result.ElapsedSeconds:0.0} s ({result.AchievedPerSecond:0} req/s achieved): {result.Ok} ok, {result.Requests - result.Ok} failed"));
        Console.WriteLine($"  latency from due time, ms (includes the sender's own lateness): {result.FromDue}");
        Console.WriteLine($"  latency from send, ms:                                         {result.FromSend}");
        return result.Ok == result.Requests ? 0 : 1;
    }

    /// <summary>
    /// Sends <paramref name="rate"/> requests a second for <paramref name="seconds"/> to
    /// <paramref name="pathTemplate"/> (<c>{user}</c> becomes <c>user0</c> .. <c>user{users-1}</c>) after 200 warm-up requests.
    /// </summary>
    public static async Task<FixedRateResult> MeasureAsync(Uri baseUrl, int rate, int seconds, int users, string pathTemplate, CancellationToken cancellationToken = default)
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
            using var warm = await http.GetAsync(Path(pathTemplate, random.Next(users)), cancellationToken);
        }

        // The schedule runs on a thread of its own that sleeps with Thread.Sleep (about 1.1 ms of
        // overshoot on Linux) rather than Task.Delay (a timer-queue tick plus a thread-pool hop, 1-3 ms):
        // the sender's own lateness counts in the from-due latency, so it must stay small. It never spins:
        // the generator shares the machine with the reader. Each request starts on this thread, so its send
        // is not queued behind the thread pool either; responses complete on the pool.
        var start = Stopwatch.GetTimestamp();
        var scheduler = new Thread(() =>
        {
            for (var i = 0; i < total && !cancellationToken.IsCancellationRequested; i++)
            {
                var due = start + (long)(i * (double)Stopwatch.Frequency / rate);
                while (Stopwatch.GetTimestamp() < due)
                {
                    Thread.Sleep(1);
                }

                inFlight.Add(Send(i, due, Path(pathTemplate, random.Next(users))));
            }
        })
        { IsBackground = true, Name = "fixed-rate scheduler", Priority = ThreadPriority.AboveNormal };
        scheduler.Start();
        await Task.Run(scheduler.Join, cancellationToken);

        async Task Send(int index, long due, Uri path)
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
        }

        await Task.WhenAll(inFlight);
        var elapsed = Stopwatch.GetElapsedTime(start).TotalSeconds;
        Array.Sort(latencies);
        Array.Sort(serviceTimes);
        var ok = statuses.Count(s => s == (int)HttpStatusCode.OK);
        return new FixedRateResult(total, ok, elapsed, LatencyPercentiles.Of(latencies), LatencyPercentiles.Of(serviceTimes));
    }

    private static Uri Path(string template, int user) =>
        new(template.Replace("{user}", string.Create(CultureInfo.InvariantCulture, $"user{user}"), StringComparison.Ordinal), UriKind.Relative);
}

/// <summary>Percentiles of one latency distribution, in milliseconds (nearest rank).</summary>
public sealed record LatencyPercentiles(double P50, double P90, double P99, double P999, double Max)
{
    /// <summary>Percentiles of <paramref name="sorted"/> (ascending, not empty).</summary>
    public static LatencyPercentiles Of(double[] sorted)
    {
        ArgumentNullException.ThrowIfNull(sorted);
        double At(double quantile) => sorted[Math.Min(sorted.Length - 1, (int)Math.Ceiling(quantile * sorted.Length) - 1)];
        return new LatencyPercentiles(At(0.5), At(0.9), At(0.99), At(0.999), sorted[^1]);
    }

    public override string ToString() =>
        string.Create(CultureInfo.InvariantCulture, $"p50 {P50:0.00} p90 {P90:0.00} p99 {P99:0.00} p99.9 {P999:0.00} max {Max:0.00}");
}

/// <summary>Outcome of a fixed-rate run: latency from each request's due time, and from its actual send.</summary>
public sealed record FixedRateResult(int Requests, int Ok, double ElapsedSeconds, LatencyPercentiles FromDue, LatencyPercentiles FromSend)
{
    public double AchievedPerSecond => Requests / ElapsedSeconds;
}
