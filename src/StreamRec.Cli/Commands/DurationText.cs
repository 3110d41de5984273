namespace StreamRec.Cli.Commands;

/// <summary>Turns duration text such as 250ms, 90s, 30m, 6h, 7d or 1.00:00:00 into a <see cref="TimeSpan"/>.</summary>
internal static class DurationText
{
    public static bool TryParse(string text, out TimeSpan duration)
    {
        text = text.Trim();
        duration = default;
        if (text.EndsWith("ms", StringComparison.OrdinalIgnoreCase))
        {
            if (double.TryParse(text.AsSpan(0, text.Length - 2), System.Globalization.NumberStyles.Float, System.Globalization.CultureInfo.InvariantCulture, out double milliseconds)
                && double.IsFinite(milliseconds) && milliseconds > 0)
            {
                duration = TimeSpan.FromMilliseconds(milliseconds);
                return true;
            }

            return false;
        }

        if (text.Length >= 2 && double.TryParse(text.AsSpan(0, text.Length - 1), System.Globalization.NumberStyles.Float, System.Globalization.CultureInfo.InvariantCulture, out double amount)
            && double.IsFinite(amount) && amount > 0)
        {
            double? seconds = char.ToLowerInvariant(text[^1]) switch
            {
                's' => amount,
                'm' => amount * 60,
                'h' => amount * 3_600,
                'd' => amount * 86_400,
                _ => null,
            };
            if (seconds is { } s)
            {
                duration = TimeSpan.FromSeconds(s);
                return true;
            }
        }

        return TimeSpan.TryParse(text, System.Globalization.CultureInfo.InvariantCulture, out duration) && duration > TimeSpan.Zero;
    }
}
