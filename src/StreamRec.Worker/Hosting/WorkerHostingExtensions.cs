using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Prometheus;
using StackExchange.Redis;
using StreamRec.Worker.Checkpointing;
using StreamRec.Worker.Consumption;
using StreamRec.Worker.Observability;

namespace StreamRec.Worker.Hosting;

/// <summary>Wires the worker into a host: options (validated at start), Redis, the runtime and its HTTP endpoints.</summary>
public static class WorkerHostingExtensions
{
    /// <summary>Environment variables with this prefix configure the worker (<c>STREAMREC_Kafka__BootstrapServers</c>).</summary>
    public const string EnvironmentPrefix = "STREAMREC_";

    /// <summary>Adds the worker. <paramref name="checkpoints"/> replaces the Redis store (tests, in-memory demos).</summary>
    public static IHostApplicationBuilder AddStreamRecWorker(this WebApplicationBuilder builder, Func<IServiceProvider, IShardCheckpoints>? checkpoints = null)
    {
        ArgumentNullException.ThrowIfNull(builder);
        builder.Configuration.AddEnvironmentVariables(EnvironmentPrefix);
        var port = builder.Configuration.GetValue<int?>(nameof(WorkerOptions.HttpPort)) ?? new WorkerOptions().HttpPort;
        builder.WebHost.UseUrls($"http://0.0.0.0:{port}");

        builder.Services.AddOptions<WorkerOptions>().Bind(builder.Configuration).ValidateOnStart();
        builder.Services.AddSingleton<IValidateOptions<WorkerOptions>, WorkerOptionsValidator>();
        builder.Services.AddSingleton(TimeProvider.System);
        builder.Services.AddSingleton<WorkerMetrics>();
        builder.Services.AddSingleton<IConnectionMultiplexer>(services => ConnectRedis(services.GetRequiredService<IOptions<WorkerOptions>>().Value));
        builder.Services.AddSingleton(checkpoints ?? (services => (IShardCheckpoints)RedisShardCheckpoints.Create(services)));
        builder.Services.AddSingleton(services => new WorkerRuntime(
            services.GetRequiredService<IOptions<WorkerOptions>>().Value,
            services.GetRequiredService<IShardCheckpoints>(),
            services.GetRequiredService<ILoggerFactory>().CreateLogger<WorkerRuntime>(),
            services.GetRequiredService<WorkerMetrics>(),
            services.GetRequiredService<TimeProvider>()));
        builder.Services.AddHostedService<WorkerService>();
        builder.Services.Configure<HostOptions>(host =>
        {
            var shutdown = builder.Configuration.GetValue<TimeSpan?>(nameof(WorkerOptions.ShutdownTimeout)) ?? new WorkerOptions().ShutdownTimeout;
            host.ShutdownTimeout = shutdown + TimeSpan.FromSeconds(5);
        });
        return builder;
    }

    /// <summary>/healthz (process up), /readyz (items and assigned shards restored) and /metrics (Prometheus).</summary>
    public static WebApplication MapStreamRecWorkerEndpoints(this WebApplication app)
    {
        ArgumentNullException.ThrowIfNull(app);
        app.MapGet("/healthz", () => Results.Text("ok"));
        app.MapGet("/readyz", (WorkerRuntime runtime) => runtime.IsReady
            ? Results.Json(runtime.Status)
            : Results.Json(runtime.Status, statusCode: StatusCodes.Status503ServiceUnavailable));
        app.MapMetrics("/metrics", app.Services.GetRequiredService<WorkerMetrics>().Registry);
        return app;
    }

    private static ConnectionMultiplexer ConnectRedis(WorkerOptions options)
    {
        var settings = options.ToRedisSettings();
        // Fails fast with the setting's name at start; once connected the multiplexer reconnects by
        // itself after outages while the checkpoint publisher retries and applies backpressure.
        return settings.ConnectAsync().GetAwaiter().GetResult();
    }
}

/// <summary>Runs <see cref="WorkerOptions.Validate"/> at start, so a bad setting stops the host with its name.</summary>
public sealed class WorkerOptionsValidator : IValidateOptions<WorkerOptions>
{
    public ValidateOptionsResult Validate(string? name, WorkerOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        var errors = options.Validate();
        return errors.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(errors);
    }
}
