using System.Globalization;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using StackExchange.Redis;
using StreamRec.Client;
using StreamRec.DevServers;
using StreamRec.Reader.Hosting;

namespace StreamRec.Cli.Demo;

/// <summary>
/// The reader hosted in this process on a free loopback port, sharing the demo's Redis connection,
/// with a client that counts its requests and failures for the report.
/// </summary>
internal sealed class DemoReader : IAsyncDisposable
{
    private readonly WebApplication _app;
    private readonly HttpClient _http;
    private long _requests;
    private long _errors;

    private DemoReader(WebApplication app, int port)
    {
        _app = app;
        Url = $"http://127.0.0.1:{port}";
        _http = new HttpClient { BaseAddress = new Uri(Url + "/"), Timeout = TimeSpan.FromSeconds(5) };
        Client = new ReaderClient(_http);
    }

    /// <summary>Base URL, for example <c>http://127.0.0.1:40123</c>.</summary>
    public string Url { get; }

    public ReaderClient Client { get; }

    public long Requests => Interlocked.Read(ref _requests);

    public long Errors => Interlocked.Read(ref _errors);

    public static async Task<DemoReader> StartAsync(string model, string redisEndpoint, IConnectionMultiplexer connection, ILogger logger)
    {
        var port = LocalRedis.FreeLoopbackPort();
        var builder = WebApplication.CreateBuilder(new WebApplicationOptions { EnvironmentName = "Demo" });
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
        {
            [nameof(ReaderOptions.Model)] = model,
            [nameof(ReaderOptions.RedisEndpoint)] = redisEndpoint,
            [nameof(ReaderOptions.HttpPort)] = port.ToString(CultureInfo.InvariantCulture),
            [nameof(ReaderOptions.HttpHost)] = "127.0.0.1",
        });
        // The demo's console belongs to the progress lines; the reader reports only errors, through the demo's logger.
        builder.Logging.ClearProviders();
        builder.Logging.AddProvider(new ForwardingLoggerProvider(logger));
        builder.Logging.SetMinimumLevel(LogLevel.Error);
        builder.Services.AddSingleton(connection);
        builder.AddStreamRecReader();
        var app = builder.Build();
        app.MapStreamRecReader();
        await app.StartAsync().ConfigureAwait(false);
        return new DemoReader(app, port);
    }

    /// <summary>One recommendation request, counted; null when the reader refused it (for example 503 before the first checkpoint).</summary>
    public async Task<UserRecommendations?> RecommendAsync(string userId, CancellationToken cancellationToken = default)
    {
        Interlocked.Increment(ref _requests);
        try
        {
            return await Client.GetRecommendationsAsync(userId, 10, excludeSeen: true, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is ReaderApiException or HttpRequestException or TaskCanceledException)
        {
            Interlocked.Increment(ref _errors);
            return null;
        }
    }

    /// <summary>True once the reader has loaded a checkpoint (its /readyz answers 200).</summary>
    public async Task<bool> IsReadyAsync()
    {
        try
        {
            return await Client.IsReadyAsync().ConfigureAwait(false);
        }
        catch (HttpRequestException)
        {
            return false;
        }
    }

    public async ValueTask DisposeAsync()
    {
        _http.Dispose();
        await _app.StopAsync().ConfigureAwait(false);
        await _app.DisposeAsync().ConfigureAwait(false);
    }

    private sealed class ForwardingLoggerProvider(ILogger logger) : ILoggerProvider
    {
        public ILogger CreateLogger(string categoryName) => logger;

        public void Dispose()
        {
            // The logger belongs to the demo's caller.
        }
    }
}
