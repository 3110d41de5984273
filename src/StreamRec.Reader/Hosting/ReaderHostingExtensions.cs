using System.Diagnostics;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;
using Prometheus;
using StackExchange.Redis;
using StreamRec.Client;
using StreamRec.Reader.Api;
using StreamRec.Reader.Following;
using StreamRec.Reader.Observability;
using StreamRec.Reader.Serving;

namespace StreamRec.Reader.Hosting;

/// <summary>Wires the reader into a web host: options (validated at start), Redis, the model follower and the HTTP API.</summary>
public static class ReaderHostingExtensions
{
    /// <summary>Environment variables with this prefix configure the reader (<c>STREAMREC_RedisEndpoint</c>).</summary>
    public const string EnvironmentPrefix = "STREAMREC_";

    /// <summary>
    /// Adds the reader's services and Kestrel settings (port, body size limit). Uses an
    /// <see cref="IConnectionMultiplexer"/> already registered (a host sharing one), else connects with the options.
    /// </summary>
    public static WebApplicationBuilder AddStreamRecReader(this WebApplicationBuilder builder)
    {
        ArgumentNullException.ThrowIfNull(builder);
        builder.Configuration.AddEnvironmentVariables(EnvironmentPrefix);
        var defaults = new ReaderOptions();
        var port = builder.Configuration.GetValue<int?>(nameof(ReaderOptions.HttpPort)) ?? defaults.HttpPort;
        var host = builder.Configuration.GetValue<string?>(nameof(ReaderOptions.HttpHost)) ?? defaults.HttpHost;
        builder.WebHost.UseUrls($"http://{(host.Contains(':', StringComparison.Ordinal) ? $"[{host}]" : host)}:{port}");
        var bodyLimit = builder.Configuration.GetValue<long?>(nameof(ReaderOptions.MaxRequestBodyBytes)) ?? defaults.MaxRequestBodyBytes;
        builder.WebHost.ConfigureKestrel(kestrel => kestrel.Limits.MaxRequestBodySize = bodyLimit);

        builder.Services.AddOptions<ReaderOptions>().Bind(builder.Configuration).ValidateOnStart();
        builder.Services.AddSingleton<IValidateOptions<ReaderOptions>, ReaderOptionsValidator>();
        builder.Services.TryAddSingleton(TimeProvider.System);
        builder.Services.AddSingleton<ReaderMetrics>();
        builder.Services.AddSingleton(services => new ModelSlot(services.GetRequiredService<TimeProvider>()));
        builder.Services.TryAddSingleton<IConnectionMultiplexer>(services => ConnectRedis(services.GetRequiredService<IOptions<ReaderOptions>>().Value));
        builder.Services.AddSingleton(services =>
        {
            var options = services.GetRequiredService<IOptions<ReaderOptions>>().Value;
            return new ApproximateSearch(options.ApproximateSearchMinItems, options.ApproximateSearchExtraCandidates, services.GetRequiredService<ReaderMetrics>());
        });
        builder.Services.AddSingleton<RankingBatcher>();
        builder.Services.AddHostedService<ModelFollower>();
        builder.Services.AddHostedService<ApproximateIndexMaintainer>();
        builder.Services.AddProblemDetails();
        builder.Services.ConfigureHttpJsonOptions(json =>
        {
            json.SerializerOptions.PropertyNamingPolicy = ReaderClient.JsonOptions.PropertyNamingPolicy;
            json.SerializerOptions.NumberHandling = ReaderClient.JsonOptions.NumberHandling;
        });
        return builder;
    }

    /// <summary>
    /// Maps the API (<c>/v1/...</c>), <c>/healthz</c>, <c>/readyz</c> (503 until a checkpoint is loaded) and
    /// <c>/metrics</c>, and counts every request by route template and status.
    /// </summary>
    public static WebApplication MapStreamRecReader(this WebApplication app)
    {
        ArgumentNullException.ThrowIfNull(app);
        var metrics = app.Services.GetRequiredService<ReaderMetrics>();
        var slot = app.Services.GetRequiredService<ModelSlot>();
        var time = app.Services.GetRequiredService<TimeProvider>();
        metrics.Registry.AddBeforeCollectCallback(() =>
        {
            if (slot.Staleness is { } staleness)
            {
                metrics.Staleness.Set(staleness.TotalSeconds);
            }

            if (slot.Current is { CreatedAtMs: > 0 } model)
            {
                metrics.ModelAge.Set((time.GetUtcNow().ToUnixTimeMilliseconds() - model.CreatedAtMs) / 1000.0);
            }
        });

        app.UseStatusCodePages();
        app.Use(async (context, next) =>
        {
            var started = Stopwatch.GetTimestamp();
            try
            {
                await next(context);
            }
            finally
            {
                var route = (context.GetEndpoint() as RouteEndpoint)?.RoutePattern.RawText ?? "unmatched";
                metrics.Requests.WithLabels(route, context.Response.StatusCode.ToString(System.Globalization.CultureInfo.InvariantCulture)).Inc();
                metrics.RequestSeconds.WithLabels(route).Observe(Stopwatch.GetElapsedTime(started).TotalSeconds);
            }
        });

        ReaderEndpoints.Map(app);
        app.MapGet("/healthz", () => Results.Text("ok"));
        app.MapGet("/readyz", (ModelSlot models) => models.Current is { } model
            ? Results.Json(new { model = model.Model, model_version = model.Version, version = model.Generation, staleness_seconds = models.Staleness?.TotalSeconds })
            : Results.Json(new { model = (string?)null, staleness_seconds = models.Staleness?.TotalSeconds }, statusCode: StatusCodes.Status503ServiceUnavailable));
        app.MapMetrics("/metrics", metrics.Registry);
        return app;
    }

    private static ConnectionMultiplexer ConnectRedis(ReaderOptions options)
    {
        var configuration = options.ToRedisSettings().ToConfigurationOptions();
        // Start even while Redis is away: /readyz says 503 and the follower loads the model once it answers.
        configuration.AbortOnConnectFail = false;
        // A poll that cannot be sent fails at once and is retried next interval, rather than waiting in the backlog.
        configuration.BacklogPolicy = BacklogPolicy.FailFast;
        return ConnectionMultiplexer.Connect(configuration);
    }
}

/// <summary>Runs <see cref="ReaderOptions.Validate"/> at start, so a bad setting stops the host with its name.</summary>
public sealed class ReaderOptionsValidator : IValidateOptions<ReaderOptions>
{
    public ValidateOptionsResult Validate(string? name, ReaderOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        var errors = options.Validate();
        return errors.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(errors);
    }
}
