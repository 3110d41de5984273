using System.Diagnostics;
using System.Globalization;
using System.Runtime;
using StreamRec.Contracts.V1;
using StreamRec.Core.Learners;
using StreamRec.Core.Model;

namespace StreamRec.Cli.Bench;

/// <summary>
/// Section 7: resident memory of the worker's model per million users and per million items at 64
/// dimensions, against the raw bytes of their vectors (N x 64 x 4). An isgd learner (what a shard holds:
/// id maps, vectors, AdaGrad state, biases, seen items, trending counts) learns one event per new user, then
/// one per new item; the process's resident set is read after a full compacting collection before and
/// after each step. Runs with fewer than a million rows (quick mode) are scaled to a million.
/// </summary>
internal static class MemorySection
{
    public const string Name = "memory";

    public static Task<IReadOnlyList<BenchFigure>> RunAsync(BenchContext context, CancellationToken cancellationToken)
    {
        var settings = context.Settings;
        var rows = settings.MemoryRows;
        var dimensions = settings.MemoryDimensions;
        var learner = LearnerFactory.Create(new LearnerOptions
        {
            Learner = "isgd",
            Dimensions = dimensions,
            MaxUsers = rows + 1_000,
            MaxItems = rows + 1_000,
        });
        const int FewItems = 1_000;
        var time = 1_700_000_000_000L;
        // A small catalogue first, so that adding users adds user rows only.
        for (var i = 0; i < FewItems; i++)
        {
            learner.Learn(new Interaction("user-seed", Id("item-", i), EventType.Click, 0f, time++));
        }

        var start = ResidentBytes();
        for (var i = 0; i < rows; i++)
        {
            if (i % 100_000 == 0)
            {
                cancellationToken.ThrowIfCancellationRequested();
            }

            learner.Learn(new Interaction(Id("user-", i), Id("item-", i % FewItems), EventType.Click, 0f, time++));
        }

        var afterUsers = ResidentBytes();
        for (var i = FewItems; i < rows + FewItems; i++)
        {
            if (i % 100_000 == 0)
            {
                cancellationToken.ThrowIfCancellationRequested();
            }

            learner.Learn(new Interaction(Id("user-", i % FewItems), Id("item-", i), EventType.Click, 0f, time++));
        }

        var afterItems = ResidentBytes();
        GC.KeepAlive(learner);
        var perMillion = 1e6 / rows;
        var raw = 1e6 * dimensions * sizeof(float) / 1e6;
        var users = (afterUsers - start) * perMillion / 1e6;
        var items = (afterItems - afterUsers) * perMillion / 1e6;
        context.Log.WriteLine(string.Create(CultureInfo.InvariantCulture, $"memory: {users:0} MB per million users, {items:0} MB per million items (raw vectors {raw:0} MB)"));
        var scaled = rows == 1_000_000 ? "measured with 1,000,000" : string.Create(CultureInfo.InvariantCulture, $"measured with {rows:N0} and scaled to a million");
        var options = context.Options(("rows", rows), ("dimensions", dimensions), ("learner", "isgd"), ("extrapolated", rows != 1_000_000));
        return Task.FromResult<IReadOnlyList<BenchFigure>>(
        [
            Figure("resident memory per million users", users, raw, options, scaled),
            Figure("resident memory per million items", items, raw, options, scaled),
        ]);
    }

    private static BenchFigure Figure(string name, double value, double raw, Dictionary<string, object?> options, string scaled) => new()
    {
        Section = Name,
        Name = $"{name}, 64 dims",
        Unit = "MB",
        Better = Better.Lower,
        Value = value,
        ReferenceName = "raw bytes of their vectors (N x 64 x 4)",
        ReferenceValue = raw,
        Options = options,
        Note = $"{scaled}; resident set after a full compacting collection",
    };

    private static string Id(string prefix, int i) => string.Create(CultureInfo.InvariantCulture, $"{prefix}{i}");

    private static long ResidentBytes()
    {
        GCSettings.LargeObjectHeapCompactionMode = GCLargeObjectHeapCompactionMode.CompactOnce;
        GC.Collect(GC.MaxGeneration, GCCollectionMode.Aggressive, blocking: true, compacting: true);
        GC.WaitForPendingFinalizers();
        GC.Collect(GC.MaxGeneration, GCCollectionMode.Aggressive, blocking: true, compacting: true);
        using var process = Process.GetCurrentProcess();
        return process.WorkingSet64;
    }
}
