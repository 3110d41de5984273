using System.Globalization;
using System.Net;
using System.Text;

namespace StreamRec.Cli.Demo;

/// <summary>
/// Renders a demo report as one self-contained HTML page with inline SVG charts: no scripts, fonts
/// or styles from elsewhere, so it opens on an offline machine.
/// </summary>
internal static class DemoHtml
{
    private const int Width = 760;
    private const int Height = 300;
    private const int Left = 60;
    private const int Right = 20;
    private const int Top = 20;
    private const int Bottom = 45;
    private const int HistogramBins = 20;

    public static string Render(DemoReport report)
    {
        var html = new StringBuilder();
        html.Append(CultureInfo.InvariantCulture, $$"""
            <!DOCTYPE html>
            <html lang="en"><head><meta charset="utf-8"><title>StreamRec demo report</title>
            <style>
            body { font-family: system-ui, sans-serif; margin: 24px; color: #222; max-width: 820px; }
            table { border-collapse: collapse; margin: 8px 0 24px; }
            td, th { border: 1px solid #ccc; padding: 4px 10px; text-align: left; }
            td.n { text-align: right; font-variant-numeric: tabular-nums; }
            h2 { margin-top: 32px; font-size: 1.15em; }
            p.note { color: #555; font-size: 0.9em; }
            svg text { font-size: 12px; fill: #333; }
            </style></head><body>
            <h1>StreamRec demo report</h1>
            <p>{{report.GeneratedEvents:N0}} synthetic events at {{report.Rate:N0}}/s into <code>{{E(report.Topic)}}</code> ({{report.Partitions}} partitions),
            learned by {{report.Workers}} workers ({{E(report.Learner)}}) checkpointing to {{E(report.Redis)}}. Stream {{report.StreamDurationS:0.0}} s{{(report.Interrupted ? " (stopped early)" : "")}}.</p>
            <table>
            <tr><th>events produced (topic)</th><td class="n">{{report.EventsProduced:N0}}</td></tr>
            <tr><th>applied (persisted)</th><td class="n">{{report.EventsApplied:N0}}</td></tr>
            <tr><th>dead-lettered (persisted)</th><td class="n">{{report.EventsDeadLettered:N0}}</td></tr>
            <tr><th>applied + dead-lettered = produced</th><td class="n">{{(report.CountsMatch ? "yes" : "NO")}}</td></tr>
            <tr><th>checkpoints published</th><td class="n">{{report.CheckpointsPublished:N0}}</td></tr>
            <tr><th>freshness p50 / p99 (produce to changed reader answer)</th><td class="n">{{Ms(report.FreshnessMsP50)}} / {{Ms(report.FreshnessMsP99)}} ({{report.FreshnessProbes}} probes)</td></tr>
            <tr><th>of which to a published checkpoint, p50 / p99</th><td class="n">{{Ms(report.FreshnessCheckpointMsP50)}} / {{Ms(report.FreshnessCheckpointMsP99)}}</td></tr>
            <tr><th>recall@10 at the end: online / frozen / trending</th><td class="n">{{R(report.RecallAt10Online)}} / {{R(report.RecallAt10Frozen)}} / {{R(report.RecallAt10Trending)}}</td></tr>
            <tr><th>reader</th><td>{{E(report.ReaderUrl ?? "-")}}: {{report.ReaderRequests:N0}} requests, {{report.ReaderErrors:N0}} failed</td></tr>
            </table>
            """);

        html.Append("<h2>Windowed recall@10 over the stream</h2>");
        html.Append(CultureInfo.InvariantCulture,
            $"<p class=\"note\">Prequential (test, then learn) over the generated events, each point the last {report.RecallWindow:N0} ranked events. "
            + $"Online learns from every event; frozen is the same learner that stopped learning after {report.FrozenAfterEvents:N0} events (a warm-up); "
            + $"trending is time-decayed popularity. Users' tastes shift at event {report.ShiftAtEvent:N0}.</p>");
        html.Append(LineChart(
            [
                ("online", "#1f77b4", report.RecallSeries.Select(p => (X: (double)p.Events, Y: p.Online)).ToList()),
                ("frozen", "#d62728", report.RecallSeries.Select(p => (X: (double)p.Events, Y: p.Frozen)).ToList()),
                ("trending", "#7f7f7f", report.RecallSeries.Select(p => (X: (double)p.Events, Y: p.Trending)).ToList()),
            ],
            "generated events", "recall@10", [(report.FrozenAfterEvents, "frozen stops learning", "#d62728"), (report.ShiftAtEvent, "taste shift", "#e67e22")]));

        html.Append("<h2>Freshness</h2>");
        html.Append(CultureInfo.InvariantCulture,
            $"<p class=\"note\">{E(report.FreshnessDefinition)}. {report.FreshnessProbes} probes, {report.FreshnessProbesTimedOut} timed out.</p>");
        html.Append(Histogram(report.FreshnessSamplesMs, "ms from produce to a changed reader answer", "probes",
            [.. new[] { (report.FreshnessMsP50, "p50"), (report.FreshnessMsP99, "p99") }.Where(m => m.Item1.HasValue).Select(m => (m.Item1!.Value, m.Item2, "#e67e22"))]));

        html.Append("<h2>Throughput</h2>");
        html.Append("<p class=\"note\">Messages per second produced into the topic and counted in published checkpoints, per progress interval.</p>");
        html.Append(LineChart(
            [
                ("produced/s", "#2ca02c", report.Throughput.Select(p => (X: p.Seconds, Y: (double?)p.ProducedPerSecond)).ToList()),
                ("checkpointed/s", "#9467bd", report.Throughput.Select(p => (X: p.Seconds, Y: (double?)p.PersistedPerSecond)).ToList()),
            ],
            "seconds since the stream started", "messages/s", []));

        html.Append(CultureInfo.InvariantCulture, $$"""
            <p class="note">Kafka {{E(report.BootstrapServers)}}, Redis {{E(report.Redis)}}, model <code>{{E(report.Model)}}</code> version {{E(report.CheckpointVersion)}}.
            Machine-readable numbers: report.json beside this file.</p>
            </body></html>
            """);
        return html.ToString();
    }

    private static string LineChart(IReadOnlyList<(string Name, string Color, List<(double X, double? Y)> Points)> series, string xLabel, string yLabel,
        IReadOnlyList<(double X, string Label, string Color)> markers)
    {
        var all = series.SelectMany(s => s.Points).Where(p => p.Y.HasValue).ToList();
        var svg = new StringBuilder();
        svg.Append(CultureInfo.InvariantCulture, $"<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{Width}\" height=\"{Height + 30}\" viewBox=\"0 0 {Width} {Height + 30}\" role=\"img\">");
        if (all.Count == 0)
        {
            svg.Append("<text x=\"60\" y=\"40\">no data</text></svg>");
            return svg.ToString();
        }

        var xMax = all.Max(p => p.X);
        var yMax = NiceCeiling(all.Max(p => p.Y!.Value));
        Axes(svg, 0, xMax, yMax, xLabel, yLabel);
        Markers(svg, markers, 0, xMax);

        foreach (var (name, color, points) in series)
        {
            var path = string.Join(" ", points.Where(p => p.Y.HasValue)
                .Select(p => string.Create(CultureInfo.InvariantCulture, $"{Sx(p.X, 0, xMax):0.#},{Sy(p.Y!.Value, yMax):0.#}")));
            if (path.Length > 0)
            {
                svg.Append(CultureInfo.InvariantCulture, $"<polyline fill=\"none\" stroke=\"{color}\" stroke-width=\"2\" points=\"{path}\"/>");
            }
        }

        var legendX = Left;
        foreach (var (name, color, _) in series)
        {
            svg.Append(CultureInfo.InvariantCulture, $"<rect x=\"{legendX}\" y=\"{Height + 12}\" width=\"14\" height=\"4\" fill=\"{color}\"/>");
            svg.Append(CultureInfo.InvariantCulture, $"<text x=\"{legendX + 18}\" y=\"{Height + 18}\">{E(name)}</text>");
            legendX += 30 + (name.Length * 8);
        }

        svg.Append("</svg>");
        return svg.ToString();
    }

    private static string Histogram(IReadOnlyList<double> samples, string xLabel, string yLabel, IReadOnlyList<(double X, string Label, string Color)> markers)
    {
        var svg = new StringBuilder();
        svg.Append(CultureInfo.InvariantCulture, $"<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{Width}\" height=\"{Height}\" viewBox=\"0 0 {Width} {Height}\" role=\"img\">");
        if (samples.Count == 0)
        {
            svg.Append("<text x=\"60\" y=\"40\">no probes completed</text></svg>");
            return svg.ToString();
        }

        var xMax = NiceCeiling(samples.Max());
        var width = xMax / HistogramBins;
        var counts = new int[HistogramBins];
        foreach (var sample in samples)
        {
            counts[Math.Min(HistogramBins - 1, (int)(sample / width))]++;
        }

        var yMax = NiceCeiling(counts.Max());
        Axes(svg, 0, xMax, yMax, xLabel, yLabel);
        Markers(svg, markers, 0, xMax);
        for (var bin = 0; bin < HistogramBins; bin++)
        {
            var x0 = Sx(bin * width, 0, xMax);
            var x1 = Sx((bin + 1) * width, 0, xMax);
            var y = Sy(counts[bin], yMax);
            svg.Append(CultureInfo.InvariantCulture,
                $"<rect x=\"{x0 + 1:0.#}\" y=\"{y:0.#}\" width=\"{Math.Max(1, x1 - x0 - 2):0.#}\" height=\"{Height - Bottom - y:0.#}\" fill=\"#1f77b4\"><title>{bin * width:0}-{(bin + 1) * width:0} ms: {counts[bin]}</title></rect>");
        }

        svg.Append("</svg>");
        return svg.ToString();
    }

    /// <summary>Dashed vertical lines with labels, staggered so neighbouring labels stay legible.</summary>
    private static void Markers(StringBuilder svg, IReadOnlyList<(double X, string Label, string Color)> markers, double xMin, double xMax)
    {
        var row = 0;
        foreach (var (at, label, color) in markers.Where(m => m.X >= xMin && m.X <= xMax))
        {
            var x = Sx(at, xMin, xMax);
            svg.Append(CultureInfo.InvariantCulture, $"<line x1=\"{x:0.#}\" y1=\"{Top}\" x2=\"{x:0.#}\" y2=\"{Height - Bottom}\" stroke=\"{color}\" stroke-dasharray=\"5,4\" stroke-width=\"1.5\"/>");
            svg.Append(CultureInfo.InvariantCulture, $"<text x=\"{x + 4:0.#}\" y=\"{Top + 12 + (14 * row++)}\" style=\"fill:{color}\">{E(label)}</text>");
        }
    }

    private static void Axes(StringBuilder svg, double xMin, double xMax, double yMax, string xLabel, string yLabel)
    {
        svg.Append(CultureInfo.InvariantCulture, $"<line x1=\"{Left}\" y1=\"{Height - Bottom}\" x2=\"{Width - Right}\" y2=\"{Height - Bottom}\" stroke=\"#333\"/>");
        svg.Append(CultureInfo.InvariantCulture, $"<line x1=\"{Left}\" y1=\"{Top}\" x2=\"{Left}\" y2=\"{Height - Bottom}\" stroke=\"#333\"/>");
        for (var i = 0; i <= 5; i++)
        {
            var y = yMax * i / 5;
            var py = Sy(y, yMax);
            svg.Append(CultureInfo.InvariantCulture, $"<line x1=\"{Left}\" y1=\"{py:0.#}\" x2=\"{Width - Right}\" y2=\"{py:0.#}\" stroke=\"#eee\"/>");
            svg.Append(CultureInfo.InvariantCulture, $"<text x=\"{Left - 6}\" y=\"{py + 4:0.#}\" text-anchor=\"end\">{Tick(y)}</text>");
            var x = xMin + ((xMax - xMin) * i / 5);
            svg.Append(CultureInfo.InvariantCulture, $"<text x=\"{Sx(x, xMin, xMax):0.#}\" y=\"{Height - Bottom + 16}\" text-anchor=\"middle\">{Tick(x)}</text>");
        }

        svg.Append(CultureInfo.InvariantCulture, $"<text x=\"{(Left + Width - Right) / 2}\" y=\"{Height - 8}\" text-anchor=\"middle\">{E(xLabel)}</text>");
        svg.Append(CultureInfo.InvariantCulture, $"<text x=\"14\" y=\"{(Top + Height - Bottom) / 2}\" text-anchor=\"middle\" transform=\"rotate(-90 14 {(Top + Height - Bottom) / 2})\">{E(yLabel)}</text>");
    }

    private static double Sx(double x, double min, double max) => Left + ((x - min) / Math.Max(1e-9, max - min) * (Width - Left - Right));

    private static double Sy(double y, double max) => Height - Bottom - (y / Math.Max(1e-9, max) * (Height - Top - Bottom));

    /// <summary>The smallest 1, 2 or 5 times a power of ten at or above <paramref name="value"/>, for round axis ends.</summary>
    private static double NiceCeiling(double value)
    {
        if (value <= 0)
        {
            return 1;
        }

        var power = Math.Pow(10, Math.Floor(Math.Log10(value)));
        foreach (var step in new[] { 1.0, 2, 5, 10 })
        {
            if (step * power >= value)
            {
                return step * power;
            }
        }

        return 10 * power;
    }

    private static string Tick(double value) => value switch
    {
        >= 1_000_000 => (value / 1_000_000).ToString("0.#", CultureInfo.InvariantCulture) + "M",
        >= 10_000 => (value / 1_000).ToString("0.#", CultureInfo.InvariantCulture) + "k",
        >= 10 => value.ToString("0", CultureInfo.InvariantCulture),
        _ => value.ToString("0.##", CultureInfo.InvariantCulture),
    };

    private static string Ms(double? value) => value is { } v ? v.ToString("0", CultureInfo.InvariantCulture) + " ms" : "-";

    private static string R(double? value) => value is { } v ? v.ToString("0.000", CultureInfo.InvariantCulture) : "-";

    private static string E(string text) => WebUtility.HtmlEncode(text);
}
