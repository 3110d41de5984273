using NUnit.Framework;
using StreamRec.Cli.Demo;

namespace StreamRec.Cli.Tests;

public class DemoOptionsTests
{
    [Test]
    public void DefaultDemo_IsValid_AndShiftsHalfway()
    {
        var options = new DemoOptions();
        Assert.That(options.Validate(), Is.Empty);
        Assert.That(options.ResolvedShiftAt, Is.EqualTo(options.TotalEvents / 2));
        Assert.That(options.ResolvedFreezeAfter, Is.LessThan(options.ResolvedShiftAt));
    }

    [Test]
    public void MoreMessagesPerPartitionThanTheEmbeddedKafkaKeeps_IsRefusedNamingTheOptions()
    {
        var options = new DemoOptions { Duration = TimeSpan.FromMinutes(5), Rate = 5_000, Partitions = 8 };
        Assert.That(options.Validate(), Has.One.Contains("--partitions").And.Contains("--rate"));
    }

    [Test]
    public void DefaultDemo_UsesTheWorkersDeltaInterval()
    {
        Assert.That(new DemoOptions().DeltaInterval, Is.EqualTo(new StreamRec.Worker.Hosting.WorkerOptions().DeltaInterval));
    }

    [TestCase(0.0)]
    [TestCase(51.0)]
    [TestCase(double.NaN)]
    public void ProbeRateOutsideItsRange_IsRefusedNamingTheOption(double probesPerSecond)
    {
        Assert.That(new DemoOptions { ProbesPerSecond = probesPerSecond }.Validate(), Has.One.Contains("--probes-per-second"));
    }

    [TestCase(0)]
    [TestCase(1001)]
    public void DeltaIntervalOutsideItsRange_IsRefusedNamingTheOption(int milliseconds)
    {
        Assert.That(new DemoOptions { DeltaInterval = TimeSpan.FromMilliseconds(milliseconds) }.Validate(), Has.One.Contains("--delta-interval"));
    }

    [Test]
    public void ThirtyMinuteSoakAtAThousandPerSecond_FitsTheEmbeddedKafkaWithThirtyTwoPartitions()
    {
        var soak = new DemoOptions { Duration = TimeSpan.FromMinutes(30), Rate = 1_000, Partitions = 32 };
        Assert.That(soak.Validate(), Is.Empty);
        Assert.That(soak.SampleInterval, Is.EqualTo(TimeSpan.FromMinutes(1)));
    }

    [Test]
    public void SampleIntervalBelowOneSecond_IsRefusedNamingTheOption() =>
        Assert.That(new DemoOptions { SampleInterval = TimeSpan.FromMilliseconds(500) }.Validate(), Has.One.Contains("--sample-every"));
}
