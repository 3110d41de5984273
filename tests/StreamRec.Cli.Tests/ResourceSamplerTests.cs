using NUnit.Framework;
using StreamRec.Cli.Demo;

namespace StreamRec.Cli.Tests;

public class ResourceSamplerTests
{
    [Test]
    public void Samples_AreTakenOncePerInterval_OnTheScheduleEvenWhenTicksComeLate()
    {
        var probe = new ScriptedProbe();
        var sampler = new ResourceSampler(TimeSpan.FromMinutes(1), probe);
        var taken = new List<double>();

        // Progress ticks every 2 s for 5 minutes, one of them 25 s late (a stalled machine).
        for (var seconds = 0.0; seconds <= 305; seconds += seconds == 118 ? 25 : 2)
        {
            if (sampler.TryTake(TimeSpan.FromSeconds(seconds), lag: 7, eventsCounted: (long)seconds) is { } sample)
            {
                taken.Add(sample.Minutes);
            }
        }

        Assert.That(taken, Has.Count.EqualTo(5));
        Assert.That(taken[0], Is.EqualTo(1.0));
        Assert.That(taken[1], Is.EqualTo(2.38), "the late tick (at 143 s) takes the sample that fell due at 120 s");
        Assert.That(taken.Skip(2).Select(Math.Floor), Is.EqualTo(new[] { 3.0, 4.0, 5.0 }), "and the schedule stays on the minute");
        Assert.That(sampler.Samples.Select(s => s.Lag), Is.All.EqualTo(7));
        Assert.That(probe.Readings, Is.EqualTo(5), "memory is read only when a sample is taken (a full GC each)");
    }

    [Test]
    public void Sample_ConvertsBytesToMiBAndKeepsTheLoadAverage()
    {
        var sampler = new ResourceSampler(TimeSpan.FromSeconds(1), new ScriptedProbe { WorkingSet = 300L << 20, Heap = 48L << 20, Load = 1.25 });

        var sample = sampler.TryTake(TimeSpan.FromSeconds(1), lag: 42, eventsCounted: 1000)!;

        Assert.That((sample.WorkingSetMiB, sample.LiveHeapMiB, sample.Lag, sample.EventsCounted, sample.LoadAverage), Is.EqualTo((300.0, 48.0, 42L, 1000L, (double?)1.25)));
        Assert.That(ResourceSampler.Describe(sample), Does.Contain("working set 300 MiB").And.Contain("live heap 48.0 MiB").And.Contain("lag 42"));
    }

    [Test]
    public void Trend_IsFlatForASawtoothAroundAConstant_AndSeesALeakAfterTheWarmUp()
    {
        // Warm-up fills tables for ten minutes, then the heap only wobbles.
        var flat = Enumerable.Range(1, 30).Select(m => Sample(m, heap: m <= 10 ? 10 * m : 100 + (m % 2 == 0 ? 3 : -3), lag: m == 12 ? 900 : 100)).ToList();
        // The same, but 2 MiB more every minute after the warm-up.
        var leaking = Enumerable.Range(1, 30).Select(m => Sample(m, heap: 100 + (2 * m), lag: 100)).ToList();

        var flatTrend = ResourceSampler.Trend(flat);
        var leakTrend = ResourceSampler.Trend(leaking);

        Assert.That(flatTrend.LiveHeapGrowthMiBPerHour, Is.EqualTo(0).Within(15), "a ±3 MiB wobble is not growth");
        Assert.That(flatTrend.MaxLag, Is.EqualTo(900));
        Assert.That(leakTrend.LiveHeapGrowthMiBPerHour, Is.EqualTo(120).Within(0.01), "2 MiB a minute is 120 MiB an hour");
        Assert.That(ResourceSampler.Trend(flat.Take(2).ToList()).LiveHeapGrowthMiBPerHour, Is.Null, "too few samples for a trend");
    }

    [Test]
    public void Interval_MustBePositive() =>
        Assert.Throws<ArgumentOutOfRangeException>(() => _ = new ResourceSampler(TimeSpan.Zero));

    private static ResourceSample Sample(int minute, double heap, long lag) => new(minute, 400, heap, lag, minute * 60_000, null);

    private sealed class ScriptedProbe : IMemoryProbe
    {
        public long WorkingSet { get; init; } = 200L << 20;

        public long Heap { get; init; } = 40L << 20;

        public double? Load { get; init; }

        public int Readings { get; private set; }

        public long WorkingSetBytes()
        {
            Readings++;
            return WorkingSet;
        }

        public long LiveHeapBytes() => Heap;

        public double? LoadAverage() => Load;
    }
}
