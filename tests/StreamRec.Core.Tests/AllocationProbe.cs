namespace StreamRec.Core.Tests;

/// <summary>
/// Measures managed allocations of a piece of work on this thread over several passes. Work that
/// allocates on every call allocates in every pass; a one-off runtime allocation (a method tiering
/// up, a type loading) lands in one pass at most, so "some pass allocated nothing" is the robust
/// check of "allocates nothing per call".
/// </summary>
internal static class AllocationProbe
{
    public static IReadOnlyList<long> BytesPerPass(Action pass, int passes = 5)
    {
        var bytes = new List<long>(passes);
        for (int i = 0; i < passes; i++)
        {
            long before = GC.GetAllocatedBytesForCurrentThread();
            pass();
            bytes.Add(GC.GetAllocatedBytesForCurrentThread() - before);
        }

        return bytes;
    }
}
