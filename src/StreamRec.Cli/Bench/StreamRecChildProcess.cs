using System.Collections.Concurrent;
using System.Diagnostics;
using StreamRec.DevServers;

namespace StreamRec.Cli.Bench;

/// <summary>
/// Another `streamrec` process (a worker or a reader) started from this process's own build, so the bench
/// measures separate processes as they run in production. Its output is kept (the last lines) for error
/// messages; disposing kills it and its children.
/// </summary>
internal sealed class StreamRecChildProcess : IDisposable
{
    private const int KeptOutputLines = 40;
    private readonly Process _process;
    private readonly ConcurrentQueue<string> _output = new();

    private StreamRecChildProcess(Process process, string description)
    {
        _process = process;
        Description = description;
    }

    public string Description { get; }

    public bool HasExited => _process.HasExited;

    /// <summary>The last lines the process printed (stdout and stderr).</summary>
    public string RecentOutput => string.Join(Environment.NewLine, _output);

    /// <summary>Starts <c>streamrec &lt;arguments&gt;</c>: the apphost or <c>dotnet streamrec.dll</c> of this build.</summary>
    public static StreamRecChildProcess Start(IReadOnlyList<string> arguments, string description)
    {
        var start = StartInfo();
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        start.RedirectStandardOutput = true;
        start.RedirectStandardError = true;
        start.UseShellExecute = false;
        // The child logs as a service would; only warnings matter here.
        start.Environment["Logging__LogLevel__Default"] = "Warning";
        var process = Process.Start(start) ?? throw new InvalidOperationException($"Could not start {start.FileName}.");
        var child = new StreamRecChildProcess(process, description);
        process.OutputDataReceived += (_, line) => child.Keep(line.Data);
        process.ErrorDataReceived += (_, line) => child.Keep(line.Data);
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return child;
    }

    public void Dispose()
    {
        try
        {
            if (!_process.HasExited)
            {
                _process.Kill(entireProcessTree: true);
                _process.WaitForExit(TimeSpan.FromSeconds(10));
            }
        }
        catch (InvalidOperationException)
        {
            // It exited between the check and the kill.
        }

        _process.Dispose();
    }

    private void Keep(string? line)
    {
        if (line is null)
        {
            return;
        }

        _output.Enqueue(line);
        while (_output.Count > KeptOutputLines && _output.TryDequeue(out _))
        {
        }
    }

    /// <summary>
    /// The command that runs this build of streamrec: the entry assembly through the dotnet host (a
    /// framework-dependent build, also when this code runs inside a test host), else this process's own path.
    /// </summary>
    private static ProcessStartInfo StartInfo()
    {
        var assembly = typeof(StreamRecChildProcess).Assembly.Location;
        var runtimeConfig = Path.ChangeExtension(assembly, ".runtimeconfig.json");
        if (!string.IsNullOrEmpty(assembly) && File.Exists(runtimeConfig))
        {
            var start = new ProcessStartInfo(DotnetHost());
            start.ArgumentList.Add(assembly);
            return start;
        }

        return new ProcessStartInfo(Environment.ProcessPath ?? throw new InvalidOperationException("This process's executable is unknown."));
    }

    private static string DotnetHost()
    {
        var current = Environment.ProcessPath;
        if (current is not null && Path.GetFileNameWithoutExtension(current) == "dotnet")
        {
            return current;
        }

        return Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") is { Length: > 0 } host && File.Exists(host)
            ? host
            : LocalRedis.FindOnPath("dotnet") ?? throw new InvalidOperationException("The dotnet host was not found on PATH (needed to start a second streamrec process).");
    }
}
