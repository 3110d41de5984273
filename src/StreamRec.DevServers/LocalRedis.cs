using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using Garnet;

namespace StreamRec.DevServers;

/// <summary>Which Redis-protocol server a <see cref="LocalRedis"/> points at.</summary>
public enum LocalRedisKind
{
    /// <summary>A server someone else runs (named by an address); never stopped by us.</summary>
    External,

    /// <summary>A <c>redis-server</c> child process started from PATH on a free loopback port.</summary>
    RedisServer,

    /// <summary>Microsoft Garnet running inside this process (no install needed; slower for large values).</summary>
    EmbeddedGarnet,
}

/// <summary>
/// A Redis-protocol server for tests, the demo and the bench: an external one, a <c>redis-server</c>
/// from PATH, or an embedded Garnet, in that order of preference. Disposing stops what it started.
/// </summary>
public sealed class LocalRedis : IDisposable
{
    private static readonly TimeSpan _startTimeout = TimeSpan.FromSeconds(10);
    private Process? _process;
    private GarnetServer? _garnet;
    private string? _executable;
    private List<string>? _arguments;

    private LocalRedis(string endpoint, LocalRedisKind kind, Process? process = null, GarnetServer? garnet = null)
    {
        Endpoint = endpoint;
        Kind = kind;
        _process = process;
        _garnet = garnet;
    }

    /// <summary><c>host:port</c> to hand to a Redis client.</summary>
    public string Endpoint { get; }

    /// <summary>What kind of server this is.</summary>
    public LocalRedisKind Kind { get; }

    /// <summary>A line for logs and test output, for example "redis-server 7.0.15 at 127.0.0.1:6390".</summary>
    public string Description => Kind switch
    {
        LocalRedisKind.External => $"external Redis at {Endpoint}",
        LocalRedisKind.RedisServer => $"redis-server (from PATH) at {Endpoint}",
        _ => $"embedded Garnet at {Endpoint}",
    };

    /// <summary>Points at a server that is already running; nothing is started or stopped.</summary>
    public static LocalRedis External(string endpoint) => new(endpoint, LocalRedisKind.External);

    /// <summary>Starts <c>redis-server</c> from PATH if there is one, else an embedded Garnet.</summary>
    public static LocalRedis StartRedisServerOrEmbedded() => TryStartRedisServer() ?? StartEmbedded();

    /// <summary>Starts <c>redis-server</c> from PATH on a free loopback port, or returns null when it is not installed.</summary>
    /// <param name="dataDirectory">
    /// When set, the server keeps an append-only file there, synced on every write, so what it acknowledged
    /// survives <see cref="KillServerProcess"/> and <see cref="RestartServerProcess"/> (outage tests). When
    /// null it keeps nothing on disk.
    /// </param>
    public static LocalRedis? TryStartRedisServer(string? dataDirectory = null)
    {
        var executable = FindOnPath("redis-server");
        if (executable is null)
        {
            return null;
        }

        var port = FreeLoopbackPort();
        List<string> arguments = ["--port", port.ToString(System.Globalization.CultureInfo.InvariantCulture), "--bind", "127.0.0.1", "--save", "", "--daemonize", "no", "--loglevel", "warning"];
        arguments.AddRange(dataDirectory is null
            ? ["--appendonly", "no"]
            : ["--dir", Path.GetFullPath(dataDirectory), "--appendonly", "yes", "--appendfsync", "always"]);
        var local = new LocalRedis($"127.0.0.1:{port}", LocalRedisKind.RedisServer) { _executable = executable, _arguments = arguments };
        local.StartProcess();
        return local;
    }

    /// <summary>Starts an embedded Garnet server in this process on a free loopback port.</summary>
    public static LocalRedis StartEmbedded()
    {
        var port = FreeLoopbackPort();
        var garnet = new GarnetServer(["--port", port.ToString(System.Globalization.CultureInfo.InvariantCulture), "--bind", "127.0.0.1", "-q"]);
        garnet.Start();
        var local = new LocalRedis($"127.0.0.1:{port}", LocalRedisKind.EmbeddedGarnet, garnet: garnet);
        local.WaitUntilAccepting(() => null);
        return local;
    }

    /// <summary>Stops the server if this instance started it. Safe to call more than once.</summary>
    public void Dispose()
    {
        var process = Interlocked.Exchange(ref _process, null);
        if (process is not null)
        {
            try
            {
                if (!process.HasExited)
                {
                    process.Kill(entireProcessTree: true);
                    process.WaitForExit(5_000);
                }
            }
            finally
            {
                process.Dispose();
            }
        }

        // Garnet crashes the process when disposed twice; the exchange makes this once only.
        Interlocked.Exchange(ref _garnet, null)?.Dispose();
    }

    /// <summary>Kills a started <c>redis-server</c> abruptly, as a crash or an outage would (tests).</summary>
    public void KillServerProcess()
    {
        if (_process is not { HasExited: false } process)
        {
            throw new InvalidOperationException($"Only a started redis-server can be killed; this is {Description}.");
        }

        process.Kill(entireProcessTree: true);
        process.WaitForExit(5_000);
    }

    /// <summary>
    /// Starts the killed <c>redis-server</c> again on the same port with the same settings, and waits until
    /// it accepts connections (the end of an outage in tests). With a data directory it reloads its data.
    /// </summary>
    public void RestartServerProcess()
    {
        if (_arguments is null || _process is not { HasExited: true } exited)
        {
            throw new InvalidOperationException($"Only a started redis-server that was killed can be restarted; this is {Description}.");
        }

        exited.Dispose();
        StartProcess();
    }

    private void StartProcess()
    {
        var start = new ProcessStartInfo(_executable!)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var argument in _arguments!)
        {
            start.ArgumentList.Add(argument);
        }

        var process = Process.Start(start) ?? throw new InvalidOperationException($"Could not start {_executable}.");
        // Drain output so a chatty server never blocks on a full pipe.
        process.OutputDataReceived += (_, _) => { };
        process.ErrorDataReceived += (_, _) => { };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        _process = process;
        WaitUntilAccepting(() => process.HasExited ? $"redis-server exited with code {process.ExitCode}" : null);
    }

    /// <summary>A TCP port on 127.0.0.1 that was free a moment ago.</summary>
    public static int FreeLoopbackPort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    private void WaitUntilAccepting(Func<string?> failure)
    {
        var endpoint = IPEndPoint.Parse(Endpoint);
        var deadline = Stopwatch.StartNew();
        while (deadline.Elapsed < _startTimeout)
        {
            if (failure() is { } reason)
            {
                Dispose();
                throw new InvalidOperationException($"{Description} did not start: {reason}.");
            }

            using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
            try
            {
                socket.Connect(endpoint);
                return;
            }
            catch (SocketException)
            {
                // Not listening yet: the only way to know is to try again shortly.
                Thread.Sleep(20);
            }
        }

        Dispose();
        throw new TimeoutException($"{Description} did not accept connections within {_startTimeout.TotalSeconds:0} s.");
    }

    /// <summary>The full path of an executable found on PATH, or null.</summary>
    public static string? FindOnPath(string name)
    {
        var path = Environment.GetEnvironmentVariable("PATH") ?? "";
        return path.Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries)
            .Select(directory => Path.Combine(directory, name))
            .FirstOrDefault(File.Exists);
    }
}
