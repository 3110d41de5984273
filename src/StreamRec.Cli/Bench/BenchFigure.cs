using System.Globalization;

namespace StreamRec.Cli.Bench;

/// <summary>Which way a figure improves.</summary>
public enum Better
{
    /// <summary>Rates: more is better.</summary>
    Higher,

    /// <summary>Times and sizes: less is better.</summary>
    Lower,
}

/// <summary>What a target is stated on: the figure itself or its ratio to the reference.</summary>
public enum TargetOn
{
    Value,
    Ratio,
}

/// <summary>
/// A stated target beside a figure, for example "ratio &gt;= 0.8" or "value &lt;= 5 ms".
/// <see cref="AtMost"/> targets are met at or below <see cref="Threshold"/>, the others at or above.
/// </summary>
public sealed record BenchTarget(TargetOn On, bool AtMost, double Threshold, string Text)
{
    public static BenchTarget RatioAtLeast(double threshold, string text) => new(TargetOn.Ratio, false, threshold, text);

    public static BenchTarget RatioAtMost(double threshold, string text) => new(TargetOn.Ratio, true, threshold, text);

    public static BenchTarget ValueAtMost(double threshold, string text) => new(TargetOn.Value, true, threshold, text);

    /// <summary>Whether <paramref name="figure"/> meets the target; null when the compared number is missing.</summary>
    public bool? IsMetBy(BenchFigure figure)
    {
        ArgumentNullException.ThrowIfNull(figure);
        var compared = On == TargetOn.Value ? figure.Value : figure.Ratio;
        return compared is { } x ? (AtMost ? x <= Threshold : x >= Threshold) : null;
    }
}

/// <summary>
/// One performance figure and its ceiling measured in the same run: <see cref="Ratio"/> is
/// <see cref="Value"/> / <see cref="ReferenceValue"/> in the same unit, so it reads the same way as the
/// figure (<see cref="Better"/>). A figure whose reference could not be measured carries
/// <see cref="ReferenceSkipped"/>; one that could not be measured at all carries <see cref="Failed"/>.
/// </summary>
public sealed record BenchFigure
{
    public required string Section { get; init; }

    public required string Name { get; init; }

    public required string Unit { get; init; }

    public required Better Better { get; init; }

    public double? Value { get; init; }

    /// <summary>What the reference is, for example "kcat -C to the end of the same topic".</summary>
    public required string ReferenceName { get; init; }

    public double? ReferenceValue { get; init; }

    /// <summary>Why the reference is missing (for example kcat is not installed).</summary>
    public string? ReferenceSkipped { get; init; }

    /// <summary>Why the figure itself is missing (the section failed).</summary>
    public string? Failed { get; init; }

    public BenchTarget? Target { get; init; }

    /// <summary>How the figure was measured: sizes, durations, settings.</summary>
    public IReadOnlyDictionary<string, object?> Options { get; init; } = new Dictionary<string, object?>();

    /// <summary>A short remark: extrapolation, what the time includes, a secondary figure.</summary>
    public string? Note { get; init; }

    public double? Ratio => Value is { } value && ReferenceValue is { } reference && reference != 0 ? value / reference : null;

    public bool? TargetMet => Target?.IsMetBy(this);

    /// <summary>A figure for a section that failed before producing it.</summary>
    public static BenchFigure FailedFigure(string section, string name, string unit, string reason) => new()
    {
        Section = section,
        Name = name,
        Unit = unit,
        Better = Better.Higher,
        ReferenceName = "",
        Failed = reason,
    };

    internal static string Format(double? value) => value switch
    {
        null => "-",
        >= 10_000 => value.Value.ToString("N0", CultureInfo.InvariantCulture),
        >= 100 => value.Value.ToString("0", CultureInfo.InvariantCulture),
        >= 10 => value.Value.ToString("0.0", CultureInfo.InvariantCulture),
        >= 0.01 => value.Value.ToString("0.00", CultureInfo.InvariantCulture),
        _ => value.Value.ToString("0.0000", CultureInfo.InvariantCulture),
    };
}
