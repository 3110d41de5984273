namespace StreamRec.IntegrationTests.Infrastructure;

/// <summary>
/// A live clickstream for fault tests: <c>eventsPerTick</c> planted events (and a share of garbage) produced
/// every <c>tick</c> on a background task until <see cref="StopAsync"/>, counting what was acknowledged.
/// </summary>
public sealed class SteadyStream : IAsyncDisposable
{
    private readonly ClickstreamProducer _producer;
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _run;

    public SteadyStream(string bootstrapServers, string topic, int eventsPerTick, TimeSpan tick, double garbageShare = 0)
    {
        _producer = new ClickstreamProducer(bootstrapServers);
        _run = Task.Run(async () =>
        {
            using var timer = new PeriodicTimer(tick);
            var seed = 0;
            while (await timer.WaitForNextTickAsync(_stop.Token))
            {
                // Each call waits until its events are acknowledged, so the counts below are what Kafka holds.
                _producer.ProducePlanted(topic, eventsPerTick, seed: ++seed, garbageShare: garbageShare);
            }
        });
    }

    /// <summary>Good events acknowledged so far.</summary>
    public int Good => _producer.Good;

    /// <summary>Garbage events acknowledged so far.</summary>
    public int Bad => _producer.Bad;

    /// <summary>All events acknowledged so far.</summary>
    public int Produced => _producer.Good + _producer.Bad;

    /// <summary>Stops producing; rethrows what went wrong in the background, if anything.</summary>
    public async Task StopAsync()
    {
        await _stop.CancelAsync();
        try
        {
            await _run;
        }
        catch (OperationCanceledException)
        {
            // The way the loop ends.
        }
    }

    public async ValueTask DisposeAsync()
    {
        await StopAsync();
        _producer.Dispose();
        _stop.Dispose();
    }
}
