using System.Runtime.ExceptionServices;

namespace StreamRec.Worker.Consumption;

/// <summary>
/// Runs the close and destroy calls of Kafka clients on a thread of their own, so that a call librdkafka never
/// returns from cannot hold a worker's shutdown past its budget.
/// </summary>
internal static class BoundedClose
{
    /// <summary>Runs <paramref name="steps"/> in order on a new background thread and waits for them up to <paramref name="budget"/>.</summary>
    /// <returns>
    /// The name of the step still running when the budget ran out, or null when every step finished. An unfinished
    /// step and the steps after it are abandoned: they go on running on that thread if its call ever returns, and the
    /// caller must not touch their clients again.
    /// </returns>
    /// <exception cref="Exception">The first exception a step threw (every step still runs), when all finished in time.</exception>
    public static string? Run(TimeSpan budget, params IReadOnlyList<(string Name, Action Close)> steps)
    {
        // The first step counts as running from the start: a thread not yet scheduled when the budget ends has not finished.
        var running = steps.Count > 0 ? steps[0].Name : null;
        Exception? firstFailure = null;
        var closer = new Thread(() =>
        {
            foreach (var (name, close) in steps)
            {
                Volatile.Write(ref running, name);
                try
                {
                    close();
                }
                catch (Exception ex)
                {
                    // Later clients still get closed; the caller sees this failure once they are.
                    firstFailure ??= ex;
                }
            }

            Volatile.Write(ref running, null);
        })
        {
            // An abandoned call must not keep the process from exiting.
            IsBackground = true,
            Name = "kafka-close",
        };
        closer.Start();
        if (!closer.Join(budget) && Volatile.Read(ref running) is { } hung)
        {
            return hung;
        }

        if (firstFailure is not null)
        {
            ExceptionDispatchInfo.Throw(firstFailure);
        }

        return null;
    }
}
