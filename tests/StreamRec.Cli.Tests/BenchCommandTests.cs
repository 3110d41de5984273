using NUnit.Framework;
using StreamRec.Cli.Bench;
using StreamRec.Cli.Commands;
using StreamRec.Worker.Hosting;

namespace StreamRec.Cli.Tests;

[TestFixture]
public sealed class BenchCommandTests
{
    [TestCase("trending")]
    [TestCase("popularity")]
    public async Task IngestRefusesLearnersWithoutEmbeddings_BeforeStartingAnything(string learner)
    {
        var (exitCode, _, _) = await CommandLineRunner.RunAsync("bench", "ingest", "--learner", learner);

        Assert.That(exitCode, Is.EqualTo(ExitCodes.BadInput));
    }

    [TestCase("0s")]
    [TestCase("1001ms")]
    [TestCase("00:00:02")]
    [TestCase("soon")]
    public async Task IngestRefusesADeltaIntervalOutsideTheWorkersLimits_BeforeStartingAnything(string interval)
    {
        var (exitCode, _, error) = await CommandLineRunner.RunAsync("bench", "ingest", "--delta-interval", interval);

        Assert.That(exitCode, Is.EqualTo(ExitCodes.BadInput));
        Assert.That(error, Does.Contain("--delta-interval"));
    }

    [TestCase("100ms")] // below the default delta interval (250 ms)
    [TestCase("2m")]
    [TestCase("soon")]
    public async Task IngestRefusesALookupIntervalOutsideTheWorkersLimits_BeforeStartingAnything(string interval)
    {
        var (exitCode, _, error) = await CommandLineRunner.RunAsync("bench", "ingest", "--lookup-interval", interval);

        Assert.That(exitCode, Is.EqualTo(ExitCodes.BadInput));
        Assert.That(error, Does.Contain("--lookup-interval"));
    }

    [Test]
    public void IngestWorker_TakesTheIntervalsGiven_AndTheWorkersDefaultsOtherwise()
    {
        var learner = IngestBenchmark.DefaultLearner();

        var given = IngestBenchmark.WorkerOptionsFor("127.0.0.1:9092", "clicks", "bench", "127.0.0.1:6379", learner, TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(5));
        var unset = IngestBenchmark.WorkerOptionsFor("127.0.0.1:9092", "clicks", "bench", "127.0.0.1:6379", learner, deltaInterval: null);

        Assert.That(given.DeltaInterval, Is.EqualTo(TimeSpan.FromSeconds(1)));
        Assert.That(given.LookupInterval, Is.EqualTo(TimeSpan.FromSeconds(5)));
        Assert.That(unset.DeltaInterval, Is.EqualTo(new WorkerOptions().DeltaInterval));
        Assert.That(unset.LookupInterval, Is.EqualTo(new WorkerOptions().LookupInterval));
        Assert.That(given.Validate(), Is.Empty);
    }

    [Test]
    public async Task IngestRefusesAnInvalidLearnerOption()
    {
        var (exitCode, _, _) = await CommandLineRunner.RunAsync("bench", "ingest", "--negatives", "1000");

        Assert.That(exitCode, Is.EqualTo(ExitCodes.BadInput));
    }
}
