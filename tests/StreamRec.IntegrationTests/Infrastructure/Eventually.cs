using System.Diagnostics;

namespace StreamRec.IntegrationTests.Infrastructure;

/// <summary>Awaits a condition instead of sleeping for a guessed time.</summary>
public static class Eventually
{
    /// <summary>
    /// Runs <paramref name="step"/> until <paramref name="condition"/> holds, failing with
    /// <paramref name="what"/> after <paramref name="timeout"/>. The step does the waiting (for example a
    /// Kafka poll with a short timeout), so no fixed sleeps are needed. Returns the time it took.
    /// </summary>
    public static TimeSpan Until(Func<bool> condition, TimeSpan timeout, string what, Action? step = null)
    {
        var clock = Stopwatch.StartNew();
        while (!condition())
        {
            if (clock.Elapsed > timeout)
            {
                Assert.Fail($"Timed out after {timeout.TotalSeconds:0.#} s waiting for: {what}");
            }

            if (step is null)
            {
                Thread.Yield();
            }
            else
            {
                step();
            }
        }

        return clock.Elapsed;
    }
}
