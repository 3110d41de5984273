using System.Globalization;
using System.Text.RegularExpressions;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Logging;
using StreamRec.Client;
using StreamRec.DevServers;
using StreamRec.Reader.Hosting;

namespace StreamRec.IntegrationTests.Reader;

/// <summary>A reader hosted on Kestrel on a free loopback port, as the CLI hosts it.</summary>
public sealed partial class RunningReader : IAsyncDisposable
{
    private readonly WebApplication _app;

    private RunningReader(WebApplication app, int port)
    {
        _app = app;
        Http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{port}/") };
        Client = new ReaderClient(Http);
    }

    public static readonly TimeSpan PollInterval = TimeSpan.FromMilliseconds(250);

    public HttpClient Http { get; }

    public ReaderClient Client { get; }

    /// <param name="logs">Receives every log line at every level (tests that read logs); by default warnings and above go to the console.</param>
    public static async Task<RunningReader> StartAsync(string model, string redisEndpoint, IDictionary<string, string?>? settings = null, ILoggerProvider? logs = null)
    {
        var port = LocalRedis.FreeLoopbackPort();
        var builder = WebApplication.CreateBuilder(new WebApplicationOptions { EnvironmentName = "Testing" });
        var values = new Dictionary<string, string?>
        {
            [nameof(ReaderOptions.Model)] = model,
            [nameof(ReaderOptions.RedisEndpoint)] = redisEndpoint,
            [nameof(ReaderOptions.HttpPort)] = port.ToString(CultureInfo.InvariantCulture),
            [nameof(ReaderOptions.HttpHost)] = "127.0.0.1",
            [nameof(ReaderOptions.PollInterval)] = PollInterval.ToString(),
        };
        foreach (var (key, value) in settings ?? new Dictionary<string, string?>())
        {
            values[key] = value;
        }

        builder.Configuration.AddInMemoryCollection(values);
        builder.Logging.SetMinimumLevel(logs is null ? LogLevel.Warning : LogLevel.Trace);
        if (logs is not null)
        {
            builder.Logging.AddProvider(logs);
        }

        builder.AddStreamRecReader();
        var app = builder.Build();
        app.MapStreamRecReader();
        await app.StartAsync();
        return new RunningReader(app, port);
    }

    /// <summary>Waits until <paramref name="condition"/> holds for the reader's answer to <paramref name="probe"/>.</summary>
    public async Task<(T Answer, TimeSpan Took)> UntilAsync<T>(Func<ReaderClient, Task<T>> probe, Func<T, bool> condition, TimeSpan timeout, string what)
    {
        var clock = System.Diagnostics.Stopwatch.StartNew();
        while (true)
        {
            try
            {
                var answer = await probe(Client);
                if (condition(answer))
                {
                    return (answer, clock.Elapsed);
                }
            }
            catch (ReaderApiException ex) when (ex.StatusCode == System.Net.HttpStatusCode.ServiceUnavailable)
            {
                // Not loaded yet.
            }

            if (clock.Elapsed > timeout)
            {
                Assert.Fail($"Timed out after {timeout.TotalSeconds:0.#} s waiting for: {what}");
            }

            await Task.Yield();
        }
    }

    /// <summary>The value of an unlabelled metric from /metrics.</summary>
    public async Task<double?> MetricAsync(string name)
    {
        var text = await Http.GetStringAsync(new Uri("metrics", UriKind.Relative));
        var match = Regex.Match(text, $"^{Regex.Escape(name)} (\\S+)$", RegexOptions.Multiline);
        return match.Success ? double.Parse(match.Groups[1].Value, CultureInfo.InvariantCulture) : null;
    }

    public async ValueTask DisposeAsync()
    {
        Http.Dispose();
        await _app.StopAsync();
        await _app.DisposeAsync();
    }
}
