using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;

namespace StreamRec.IntegrationTests.Faults;

/// <summary>
/// The worker's log in a fault test: counts warnings and errors and keeps the lines (a test is short), so a
/// failing test can show what the worker said and a passing one can check which faults it noticed.
/// </summary>
internal sealed class FaultLog : ILogger
{
    private const int TailLines = 200;
    private readonly ConcurrentQueue<string> _lines = new();
    private int _warnings;
    private int _errors;

    public int Warnings => Volatile.Read(ref _warnings);

    public int Errors => Volatile.Read(ref _errors);

    /// <summary>The latest lines, oldest first.</summary>
    public string Tail => string.Join(Environment.NewLine, _lines.Skip(Math.Max(0, _lines.Count - TailLines)));

    /// <summary>Lines that contain <paramref name="fragment"/>.</summary>
    public int Count(string fragment) => _lines.Count(line => line.Contains(fragment, StringComparison.Ordinal));

    public IDisposable? BeginScope<TState>(TState state)
        where TState : notnull => null;

    public bool IsEnabled(LogLevel logLevel) => logLevel >= LogLevel.Information;

    public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
    {
        ArgumentNullException.ThrowIfNull(formatter);
        if (logLevel >= LogLevel.Error)
        {
            Interlocked.Increment(ref _errors);
        }
        else if (logLevel == LogLevel.Warning)
        {
            Interlocked.Increment(ref _warnings);
        }

        _lines.Enqueue($"{DateTimeOffset.UtcNow:HH:mm:ss.fff} {logLevel}: {formatter(state, exception)}");
    }
}

/// <summary>Measured figures of a fault test, written to the test output for docs/reliability.md.</summary>
internal static class FaultFigures
{
    public static void Report(string test, string figures) =>
        TestContext.Progress.WriteLine($"[fault figures] {test}: {figures}");
}
