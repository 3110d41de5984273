using System.Diagnostics;
using System.Globalization;
using System.Net.Sockets;
using StreamRec.DevServers;

namespace StreamRec.IntegrationTests.Infrastructure;

/// <summary>A redis-server of its own that requires a password (<c>--requirepass</c>), killed on dispose.</summary>
public sealed class PasswordRedis : IDisposable
{
    private readonly Process _process;

    private PasswordRedis(Process process, int port)
    {
        _process = process;
        Endpoint = $"127.0.0.1:{port}";
    }

    public string Endpoint { get; }

    /// <summary>Starts one, or marks the test Ignored when redis-server is not on PATH (Garnet has no AUTH to test).</summary>
    public static PasswordRedis Start(string password)
    {
        var executable = LocalRedis.FindOnPath("redis-server");
        if (executable is null)
        {
            Assert.Ignore("redis-server required: AUTH is tested against a real server started with --requirepass.");
        }

        var port = LocalRedis.FreeLoopbackPort();
        var start = new ProcessStartInfo(executable!) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var argument in new[] { "--port", port.ToString(CultureInfo.InvariantCulture), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--requirepass", password, "--loglevel", "warning" })
        {
            start.ArgumentList.Add(argument);
        }

        var process = Process.Start(start)!;
        process.OutputDataReceived += (_, _) => { };
        process.ErrorDataReceived += (_, _) => { };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        var redis = new PasswordRedis(process, port);
        Eventually.Until(() => process.HasExited || Accepts(port), TimeSpan.FromSeconds(10), "redis-server with --requirepass accepts connections");
        Assert.That(process.HasExited, Is.False, "redis-server exited at start");
        return redis;
    }

    public void Dispose()
    {
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
            _process.WaitForExit(5_000);
        }

        _process.Dispose();
    }

    private static bool Accepts(int port)
    {
        try
        {
            using var client = new TcpClient();
            client.Connect("127.0.0.1", port);
            return true;
        }
        catch (SocketException)
        {
            return false;
        }
    }
}
