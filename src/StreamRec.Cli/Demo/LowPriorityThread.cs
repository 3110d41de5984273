using System.Runtime.InteropServices;

namespace StreamRec.Cli.Demo;

/// <summary>
/// Lowers the calling thread's CPU priority. .NET's <see cref="Thread.Priority"/> has no effect on
/// Linux, where a nice value applies to a single thread when given its thread id.
/// </summary>
internal static partial class LowPriorityThread
{
    private const int PrioProcess = 0;
    private const int Nice = 10;

    /// <summary>Sets nice 10 on the calling thread on Linux; false elsewhere or when refused.</summary>
    public static bool TryLowerCurrent()
    {
        if (!OperatingSystem.IsLinux())
        {
            return false;
        }

        return setpriority(PrioProcess, (uint)gettid(), Nice) == 0;
    }

    [LibraryImport("libc", SetLastError = true)]
    private static partial int setpriority(int which, uint who, int prio);

    [LibraryImport("libc")]
    private static partial int gettid();
}
