using System.Net.Sockets;

namespace StreamRec.IntegrationTests.Infrastructure;

/// <summary>
/// Decides whether tests that need a Docker engine (Testcontainers) can run. Where none is reachable
/// they are reported Skipped with the reason, never silently passed.
/// </summary>
public static class DockerGate
{
    private static readonly Lazy<string?> _unavailableReason = new(Probe);

    /// <summary>Null when Docker is reachable; otherwise why not.</summary>
    public static string? UnavailableReason => _unavailableReason.Value;

    /// <summary>Call from [OneTimeSetUp]: ignores the whole fixture when Docker is not reachable.</summary>
    public static void RequireDocker()
    {
        if (UnavailableReason is { } reason)
        {
            Assert.Ignore($"Docker required: {reason}. Run these tests on a machine with a Docker engine: dotnet test --filter Category=RealKafka");
        }
    }

    private static string? Probe()
    {
        var host = Environment.GetEnvironmentVariable("DOCKER_HOST");
        if (!string.IsNullOrEmpty(host) && !host.StartsWith("unix://", StringComparison.Ordinal))
        {
            // A TCP or named-pipe engine: let Testcontainers try it; it fails fast if it is absent.
            return null;
        }

        var socketPath = string.IsNullOrEmpty(host) ? "/var/run/docker.sock" : host["unix://".Length..];
        if (!File.Exists(socketPath))
        {
            return $"no Docker engine socket at {socketPath}";
        }

        try
        {
            using var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
            socket.Connect(new UnixDomainSocketEndPoint(socketPath));
            return null;
        }
        catch (SocketException ex)
        {
            return $"the Docker engine socket {socketPath} refuses connections ({ex.SocketErrorCode})";
        }
    }
}
