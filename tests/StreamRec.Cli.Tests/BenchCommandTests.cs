using NUnit.Framework;
using StreamRec.Cli.Commands;

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

    [Test]
    public async Task IngestRefusesAnInvalidLearnerOption()
    {
        var (exitCode, _, _) = await CommandLineRunner.RunAsync("bench", "ingest", "--negatives", "1000");

        Assert.That(exitCode, Is.EqualTo(ExitCodes.BadInput));
    }
}
