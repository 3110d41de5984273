using System.Text.Json;
using NUnit.Framework;
using StreamRec.Cli.Commands;
using StreamRec.Core.Data;

namespace StreamRec.Cli.Tests;

public class DataCommandsTests
{
    private string _directory = null!;

    [SetUp]
    public void CreateDirectory()
    {
        _directory = Directory.CreateTempSubdirectory("streamrec-cli-").FullName;
    }

    [TearDown]
    public void DeleteDirectory()
    {
        Directory.Delete(_directory, recursive: true);
    }

    private string PathOf(string name) => Path.Combine(_directory, name);

    [Test]
    public async Task GenerateThenEvalWritesAReportWithTheRequiredFields()
    {
        string events = PathOf("events.jsonl");
        string report = PathOf("report.json");
        var generated = await CommandLineRunner.RunAsync("generate", "--users", "50", "--items", "100", "--events", "3000", "--shift-at", "1500", "--seed", "5", "--output", events, "--format", "jsonl");

        var evaluated = await CommandLineRunner.RunAsync("eval", "--input", events, "--format", "jsonl", "--learner", "popularity", "--k", "5", "--window", "500", "--sample-every", "1000", "--report", report);

        using var json = JsonDocument.Parse(File.ReadAllText(report));
        var root = json.RootElement;
        string[] required = ["events", "evaluated", "k", "recall_at_k", "ndcg_at_k", "mrr_at_k", "coverage", "mae", "rmse", "events_per_second", "learner", "options", "series"];
        using (Assert.EnterMultipleScope())
        {
            Assert.That((generated.ExitCode, evaluated.ExitCode), Is.EqualTo((0, 0)), generated.Error + evaluated.Error);
            Assert.That(required.Where(name => !root.TryGetProperty(name, out _)), Is.Empty);
            Assert.That(root.GetProperty("events").GetInt64(), Is.EqualTo(3000));
            Assert.That(root.GetProperty("k").GetInt32(), Is.EqualTo(5));
            Assert.That(root.GetProperty("learner").GetString(), Is.EqualTo("popularity"));
            Assert.That(root.GetProperty("recall_at_k").GetDouble(), Is.InRange(0.0, 1.0));
            Assert.That(root.GetProperty("mae").ValueKind, Is.EqualTo(JsonValueKind.Null));
            Assert.That(root.GetProperty("series").GetArrayLength(), Is.EqualTo(3));
            Assert.That(root.GetProperty("options").GetProperty("window").GetInt32(), Is.EqualTo(500));
        }
    }

    [Test]
    public async Task EvalPrintsASummaryTable()
    {
        string events = PathOf("events.csv");
        await CommandLineRunner.RunAsync("generate", "--users", "20", "--items", "40", "--events", "500", "--output", events);

        var (exitCode, output, _) = await CommandLineRunner.RunAsync("eval", "--input", events, "--learner", "popularity");

        using (Assert.EnterMultipleScope())
        {
            Assert.That(exitCode, Is.EqualTo(0));
            Assert.That(output, Does.Contain("recall@10").And.Contain("cold-start users"));
        }
    }

    [TestCase("csv")]
    [TestCase("jsonl")]
    [TestCase("proto")]
    public async Task GenerateWritesAFileTheReadersReadBack(string format)
    {
        string events = PathOf("events.out");

        var (exitCode, _, error) = await CommandLineRunner.RunAsync("generate", "--users", "10", "--items", "20", "--events", "250", "--seed", "9", "--output", events, "--format", format);

        InputFormatNames.TryParse(format, out var parsedFormat);
        using var stream = File.OpenRead(events);
        var readBack = InteractionReader.Read(stream, parsedFormat).ToList();
        var expected = new SyntheticClickstream(new SyntheticClickstreamOptions(Users: 10, Items: 20, Events: 250, Seed: 9)).ToList();
        Assert.That((exitCode, error, readBack), Is.EqualTo((0, "", expected)));
    }

    [Test]
    public async Task MinValueKeepsOnlyEventsAtOrAboveIt()
    {
        string ratings = PathOf("u.data");
        File.WriteAllText(ratings, "1\t10\t5\t100\n2\t10\t3\t101\n3\t10\t4\t102\n");
        string report = PathOf("report.json");

        await CommandLineRunner.RunAsync("eval", "--input", ratings, "--learner", "popularity", "--min-value", "4", "--report", report);

        using var json = JsonDocument.Parse(File.ReadAllText(report));
        Assert.That((json.RootElement.GetProperty("filtered_out").GetInt64(), json.RootElement.GetProperty("processed").GetInt64()), Is.EqualTo((1L, 2L)));
    }

    [Test]
    public async Task MalformedLineExitsWithCodeTwoNamingFileAndLine()
    {
        string ratings = PathOf("u.data");
        File.WriteAllText(ratings, "1\t10\t5\t100\n2\t10\tfive\t101\n");

        var (exitCode, _, error) = await CommandLineRunner.RunAsync("eval", "--input", ratings, "--learner", "popularity");

        using (Assert.EnterMultipleScope())
        {
            Assert.That(exitCode, Is.EqualTo(2));
            Assert.That(error, Does.Contain($"{ratings}:2:"));
        }
    }

    [Test]
    public async Task SkipBadCountsMalformedLinesInTheReport()
    {
        string ratings = PathOf("ratings.dat");
        File.WriteAllText(ratings, "1::10::5::100\nbroken\n2::10::5::101\n");
        string report = PathOf("report.json");

        var (exitCode, _, _) = await CommandLineRunner.RunAsync("eval", "--input", ratings, "--learner", "popularity", "--skip-bad", "--report", report);

        using var json = JsonDocument.Parse(File.ReadAllText(report));
        Assert.That((exitCode, json.RootElement.GetProperty("skipped_bad").GetInt64(), json.RootElement.GetProperty("events").GetInt64()), Is.EqualTo((0, 1L, 2L)));
    }

    [Test]
    public async Task MissingInputFileExitsWithCodeTwo()
    {
        var (exitCode, _, error) = await CommandLineRunner.RunAsync("eval", "--input", PathOf("absent.csv"), "--learner", "popularity");

        using (Assert.EnterMultipleScope())
        {
            Assert.That(exitCode, Is.EqualTo(2));
            Assert.That(error, Does.StartWith("--input:"));
        }
    }

    [Test]
    public async Task UnknownFormatExitsWithCodeTwo()
    {
        string events = PathOf("events.txt");
        File.WriteAllText(events, "");

        var (exitCode, _, error) = await CommandLineRunner.RunAsync("eval", "--input", events, "--learner", "popularity");

        using (Assert.EnterMultipleScope())
        {
            Assert.That(exitCode, Is.EqualTo(2));
            Assert.That(error, Does.StartWith("--format:"));
        }
    }

    [Test]
    public async Task InvalidKExitsWithCodeTwoNamingTheOption()
    {
        string events = PathOf("events.csv");
        await CommandLineRunner.RunAsync("generate", "--events", "10", "--output", events);

        var (exitCode, _, error) = await CommandLineRunner.RunAsync("eval", "--input", events, "--learner", "popularity", "--k", "0");

        using (Assert.EnterMultipleScope())
        {
            Assert.That(exitCode, Is.EqualTo(2));
            Assert.That(error, Does.StartWith("--k:"));
        }
    }

    [Test]
    public async Task InvalidGeneratorOptionExitsWithCodeTwoNamingTheOption()
    {
        var (exitCode, _, error) = await CommandLineRunner.RunAsync("generate", "--clusters", "0", "--output", PathOf("x.csv"));

        using (Assert.EnterMultipleScope())
        {
            Assert.That(exitCode, Is.EqualTo(2));
            Assert.That(error, Does.StartWith("--clusters:"));
        }
    }

    [Test]
    public async Task UnavailableLearnerExitsWithCodeTwoNamingTheOption()
    {
        string events = PathOf("events.csv");
        await CommandLineRunner.RunAsync("generate", "--events", "10", "--output", events);

        var (exitCode, _, error) = await CommandLineRunner.RunAsync("eval", "--input", events, "--learner", "nosuch");

        using (Assert.EnterMultipleScope())
        {
            Assert.That(exitCode, Is.EqualTo(2));
            Assert.That(error, Does.StartWith("--learner:"));
        }
    }

    [Test]
    public void EvalParsesItsOptions()
    {
        var parseResult = StreamRecCommandLine.Build().Parse(["eval", "--input", "x.csv", "--learner", "bpr", "--dims", "16", "--lr", "0.05", "--half-life", "7d", "--sort", "--freeze-after", "100"]);

        Assert.That(parseResult.Errors, Is.Empty);
    }

    [Test]
    public void EvalRequiresALearner()
    {
        var parseResult = StreamRecCommandLine.Build().Parse(["eval", "--input", "x.csv"]);

        Assert.That(parseResult.Errors.Select(e => e.Message), Has.Some.Contains("--learner"));
    }

    [TestCase("250ms", 0.25)]
    [TestCase("1.5s", 1.5)]
    [TestCase("90s", 90)]
    [TestCase("30m", 1_800)]
    [TestCase("6h", 21_600)]
    [TestCase("7d", 604_800)]
    [TestCase("1.00:00:00", 86_400)]
    public void HalfLifeTextIsReadAsADuration(string text, double seconds)
    {
        Assert.That(DurationText.TryParse(text, out var duration) ? duration.TotalSeconds : -1, Is.EqualTo(seconds));
    }

    [TestCase("0ms")]
    [TestCase("-5s")]
    [TestCase("ms")]
    [TestCase("fast")]
    public void TextThatIsNotAPositiveDuration_IsRefused(string text)
    {
        Assert.That(DurationText.TryParse(text, out _), Is.False);
    }
}
