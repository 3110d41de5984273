using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using StreamRec.Worker.Consumption;

namespace StreamRec.Worker.Hosting;

/// <summary>
/// Hosts one <see cref="WorkerRuntime"/>: starts its consumer thread with the host and, on SIGTERM,
/// stops it gracefully (final deltas, commit, close) and waits for it within the host's shutdown timeout.
/// </summary>
/// <remarks>When the runtime ends by itself (a finished backfill, or a fatal error) the host stops too, with exit code 1 on error.</remarks>
public sealed partial class WorkerService(WorkerRuntime runtime, IHostApplicationLifetime lifetime, ILogger<WorkerService> logger) : IHostedService
{
    private readonly CancellationTokenSource _stopping = new();
    private Task? _running;

    public Task StartAsync(CancellationToken cancellationToken)
    {
        _running = RunThenStopHostAsync();
        return Task.CompletedTask;
    }

    private async Task RunThenStopHostAsync()
    {
        try
        {
            await runtime.RunAsync(_stopping.Token).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            LogFailed(logger, ex);
            Environment.ExitCode = 1;
        }
        finally
        {
            lifetime.StopApplication();
        }
    }

    [LoggerMessage(Level = LogLevel.Critical, Message = "The worker stopped on an error")]
    private static partial void LogFailed(ILogger logger, Exception exception);

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        if (_running is null)
        {
            return;
        }

        await _stopping.CancelAsync().ConfigureAwait(false);
        // The runtime bounds its own drain by ShutdownTimeout; the host's token bounds this wait.
        await _running.WaitAsync(cancellationToken).ConfigureAwait(false);
        _stopping.Dispose();
    }
}
