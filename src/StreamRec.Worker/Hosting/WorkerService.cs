using Microsoft.Extensions.Hosting;
using StreamRec.Worker.Consumption;

namespace StreamRec.Worker.Hosting;

/// <summary>
/// Hosts one <see cref="WorkerRuntime"/>: starts its consumer thread with the host and, on SIGTERM,
/// stops it gracefully (final deltas, commit, close) and waits for it within the host's shutdown timeout.
/// </summary>
public sealed class WorkerService(WorkerRuntime runtime) : IHostedService
{
    private readonly CancellationTokenSource _stopping = new();
    private Task? _running;

    public Task StartAsync(CancellationToken cancellationToken)
    {
        _running = runtime.RunAsync(_stopping.Token);
        return Task.CompletedTask;
    }

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
