using System.CommandLine;
using System.Text.Json;
using StreamRec.Cli;

namespace StreamRec.IntegrationTests.Cli;

/// <summary>
/// The CI smoke run of `streamrec bench --quick --json`: every figure of every section is produced and positive,
/// with a positive reference and ratio, or a reference skipped with its reason (kcat absent). No timing thresholds:
/// the shared machines make absolute times meaningless for pass or fail.
/// </summary>
[TestFixture]
public sealed class BenchCommandTests
{
    /// <summary>Figures each section must produce.</summary>
    private static readonly Dictionary<string, int> _figuresPerSection = new()
    {
        ["ingest"] = 2,
        ["scaling"] = 4,
        ["learning"] = 5,
        ["checkpoints"] = 3,
        ["serving"] = 4,
        ["freshness"] = 2,
        ["memory"] = 2,
    };

    /// <summary>Figures whose reference is kcat, the only reference a machine may lack.</summary>
    private static readonly string[] _sectionsReferencedToKcat = ["ingest", "scaling"];

    [Test]
    public async Task QuickBench_ProducesEveryFigurePositive_WithItsReferenceAndRatio_InTheJsonAndTheTable()
    {
        var file = Path.Combine(TestContext.CurrentContext.WorkDirectory, $"bench-{Guid.NewGuid():N}.json");
        var output = new StringWriter();
        var error = new StringWriter();

        var exit = await StreamRecCommandLine.Build().Parse(["bench", "--quick", "--json", file])
            .InvokeAsync(new InvocationConfiguration { Output = output, Error = error });

        var printed = output.ToString();
        Assert.That(exit, Is.Zero, $"{printed}{Environment.NewLine}{error}");
        using var json = JsonDocument.Parse(await File.ReadAllTextAsync(file));
        var root = json.RootElement;
        Assert.That(root.GetProperty("mode").GetString(), Is.EqualTo("quick"));
        Assert.That(root.GetProperty("command").GetString(), Does.StartWith("streamrec bench --quick"));
        Assert.That(root.GetProperty("commit").GetString(), Is.Not.Empty);
        Assert.That(root.GetProperty("load_average_start").GetString(), Is.Not.Empty);
        Assert.That(root.GetProperty("machine").GetProperty("cores").GetInt32(), Is.Positive);
        Assert.That(root.GetProperty("failures").EnumerateObject(), Is.Empty);
        var redis = root.GetProperty("redis").GetString();
        Assert.That(redis, root.GetProperty("redis_embedded").GetBoolean() ? Does.Contain("embedded") : Does.Contain("redis-server"));

        var figures = root.GetProperty("figures").EnumerateArray().ToList();
        Assert.That(figures.GroupBy(f => f.GetProperty("section").GetString()!).ToDictionary(g => g.Key, g => g.Count()), Is.EquivalentTo(_figuresPerSection));
        foreach (var figure in figures)
        {
            var section = figure.GetProperty("section").GetString()!;
            var name = $"{section}: {figure.GetProperty("name").GetString()}";
            Assert.That(figure.GetProperty("failed").ValueKind, Is.EqualTo(JsonValueKind.Null), name);
            Assert.That(figure.GetProperty("value").GetDouble(), Is.Positive, name);
            Assert.That(figure.GetProperty("unit").GetString(), Is.Not.Empty, name);
            Assert.That(figure.GetProperty("reference_name").GetString(), Is.Not.Empty, name);
            Assert.That(figure.GetProperty("options").GetProperty("mode").GetString(), Is.EqualTo("quick"), name);
            if (figure.GetProperty("reference_value").ValueKind == JsonValueKind.Null)
            {
                Assert.That(_sectionsReferencedToKcat, Does.Contain(section), $"{name}: only kcat may be missing");
                Assert.That(figure.GetProperty("reference_skipped").GetString(), Does.Contain("kcat"), name);
                continue;
            }

            Assert.That(figure.GetProperty("reference_value").GetDouble(), Is.Positive, name);
            Assert.That(figure.GetProperty("ratio").GetDouble(), Is.Positive, name);
            Assert.That(printed, Does.Contain(figure.GetProperty("name").GetString()), $"{name} is missing from the table");
        }

        var targets = figures.Where(f => f.GetProperty("target").ValueKind != JsonValueKind.Null).ToList();
        Assert.That(targets, Has.Count.EqualTo(8), "ingest, isgd, bpr, snapshot, delta, serving p99, top-k and freshness p99 state targets");
        Assert.That(targets.Where(f => f.GetProperty("reference_value").ValueKind != JsonValueKind.Null || f.GetProperty("target").GetProperty("on").GetString() == "value"),
            Has.All.Matches<JsonElement>(f => f.GetProperty("target_met").ValueKind is JsonValueKind.True or JsonValueKind.False));
    }

    [Test]
    public async Task Bench_RefusesAnUnknownSection_NamingTheSections()
    {
        var error = new StringWriter();

        var exit = await StreamRecCommandLine.Build().Parse(["bench", "--only", "ingest,warp"])
            .InvokeAsync(new InvocationConfiguration { Output = new StringWriter(), Error = error });

        Assert.That(exit, Is.EqualTo(2));
        Assert.That(error.ToString(), Does.Contain("'warp'").And.Contain("scaling"));
    }
}
