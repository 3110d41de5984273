using NUnit.Framework;
using StreamRec.Cli.Bench;

namespace StreamRec.Cli.Tests;

public class BenchFigureTests
{
    private static BenchFigure Figure(double? value, double? reference, BenchTarget? target = null, string? skipped = null) => new()
    {
        Section = "ingest",
        Name = "worker",
        Unit = "events/s",
        Better = Better.Higher,
        Value = value,
        ReferenceName = "kcat",
        ReferenceValue = reference,
        ReferenceSkipped = skipped,
        Target = target,
    };

    [Test]
    public void Ratio_IsTheFigureOverItsReference_AndAbsentWithoutAReference()
    {
        Assert.That(Figure(80, 100).Ratio, Is.EqualTo(0.8).Within(1e-12));
        Assert.That(Figure(80, null, skipped: "kcat is not installed").Ratio, Is.Null);
    }

    [Test]
    public void RatioTargets_AreMetAtTheThreshold_AndUnknownWithoutAReference()
    {
        var atLeast = BenchTarget.RatioAtLeast(0.8, ">= 0.8 of kcat");
        Assert.That(Figure(80, 100, atLeast).TargetMet, Is.True);
        Assert.That(Figure(79, 100, atLeast).TargetMet, Is.False);
        Assert.That(Figure(79, null, atLeast).TargetMet, Is.Null);
        var atMost = BenchTarget.RatioAtMost(1.3, "<= 1.3x");
        Assert.That(Figure(1.3, 1, atMost).TargetMet, Is.True);
        Assert.That(Figure(1.31, 1, atMost).TargetMet, Is.False);
    }

    [Test]
    public void ValueTargets_CompareTheFigureItself_WhateverItsReference()
    {
        var target = BenchTarget.ValueAtMost(5, "<= 5 ms");
        Assert.That(Figure(4.9, 1000, target).TargetMet, Is.True);
        Assert.That(Figure(5.1, 0.1, target).TargetMet, Is.False);
    }

    [Test]
    public void Table_ShowsRatioAndTargetOfEachFigure_AndWhyAReferenceOrSectionIsMissing()
    {
        var report = new BenchReport
        {
            Command = "streamrec bench --quick",
            Mode = "quick",
            Commit = "abc1234",
            StartedUtc = new DateTimeOffset(2026, 11, 28, 0, 0, 0, TimeSpan.Zero),
            DurationSeconds = 60,
            Machine = new BenchMachine("Debian", "EPYC", 2, 24, ".NET 10"),
            LoadAverageStart = "1.00 1.00 1.00",
            LoadAverageEnd = "2.00 1.00 1.00",
            Redis = "redis-server (from PATH) at 127.0.0.1:1",
            RedisEmbedded = false,
            OptimizedBuild = true,
            Figures =
            [
                Figure(90_000, 100_000, BenchTarget.RatioAtLeast(0.8, ">= 0.8 of kcat")),
                Figure(90_000, null, skipped: "kcat is not installed") with { Name = "no kcat" },
                BenchFigure.FailedFigure("serving", "serving", "", "TimeoutException: the reader did not start"),
            ],
            Failures = new Dictionary<string, string> { ["serving"] = "TimeoutException: the reader did not start" },
        };

        var table = BenchRun.Table(report);

        Assert.That(table, Does.Contain("| ingest | worker | 90,000 events/s | 100,000 events/s: kcat | 0.90 | >= 0.8 of kcat | met |"));
        Assert.That(table, Does.Contain("| ingest | no kcat | 90,000 events/s | skipped (kcat is not installed): kcat | - |"));
        Assert.That(table, Does.Contain("| serving | serving | failed | TimeoutException: the reader did not start |"));
        Assert.That(table, Does.Contain("commit abc1234").And.Contain("load average: 1.00 1.00 1.00").And.Contain("command: streamrec bench --quick"));
    }

    [Test]
    public void IngestRounds_QuoteTheMedianWorkerRate_AgainstTheMedianKcatRate_WithEachRoundsRatio()
    {
        // 400,000 events: the worker took 1.0, 0.8 and 2.0 s, kcat 0.5, 1.0 and 0.8 s.
        IngestResult Round(double worker, double kcat) => new(400_000, 8, TimeSpan.FromSeconds(worker), TimeSpan.FromSeconds(kcat), null);
        var figure = IngestSection.Figure([Round(1.0, 0.5), Round(0.8, 1.0), Round(2.0, 0.8)], new Dictionary<string, object?>());

        Assert.That(figure.Value, Is.EqualTo(400_000));
        Assert.That(figure.ReferenceValue, Is.EqualTo(500_000));
        Assert.That(figure.Ratio, Is.EqualTo(0.8).Within(1e-12));
        Assert.That(figure.Note, Does.Contain("median of 3 round(s)").And.Contain("ratios 0.50, 1.25, 0.40"));
    }

    [Test]
    public void IngestRounds_WithoutKcat_CarryTheReasonAndNoRatio()
    {
        var figure = IngestSection.Figure([new IngestResult(400_000, 8, TimeSpan.FromSeconds(1), null, "kcat is not installed")], new Dictionary<string, object?>());

        Assert.That((figure.Value, figure.ReferenceValue, figure.Ratio, figure.ReferenceSkipped), Is.EqualTo(((double?)400_000, (double?)null, (double?)null, "kcat is not installed")));
    }
}
