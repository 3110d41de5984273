using Cloud.Unum.USearch;

namespace StreamRec.IntegrationTests.Infrastructure;

/// <summary>
/// Decides whether tests of approximate search can run: USearch is a native library (linux-x64 needs
/// libgomp1, which <c>.ci/run</c> installs). Where it cannot load they report Skipped with the reason.
/// </summary>
public static class ApproximateNativeLibrary
{
    private static readonly Lazy<string?> _unavailableReason = new(Probe);

    /// <summary>Call from [OneTimeSetUp]: ignores the whole fixture when the native library cannot load.</summary>
    public static void RequireOrIgnore()
    {
        if (_unavailableReason.Value is { } reason)
        {
            Assert.Ignore($"USearch's native library cannot load here ({reason}); install libgomp1 on linux-x64. The reader then ranks exactly.");
        }
    }

    private static string? Probe()
    {
        try
        {
            using var index = new USearchIndex(MetricKind.Ip, ScalarKind.Float32, 2, 16, 128, 64, false);
            index.Add([1UL], [[1f, 0f]]);
            return null;
        }
        catch (Exception ex) when (ex is DllNotFoundException or EntryPointNotFoundException or BadImageFormatException or TypeInitializationException)
        {
            return ex.Message;
        }
    }
}
