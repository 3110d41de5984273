using StreamRec.Contracts.V1;

namespace StreamRec.Core.Data;

/// <summary>The text names of <see cref="EventType"/> used by the CSV and JSON lines formats.</summary>
public static class EventTypeNames
{
    /// <summary>The lower-case name written to files: view, click, add_to_cart, purchase or rating.</summary>
    public static string ToName(EventType type) => type switch
    {
        EventType.View => "view",
        EventType.Click => "click",
        EventType.AddToCart => "add_to_cart",
        EventType.Purchase => "purchase",
        EventType.Rating => "rating",
        _ => throw new ArgumentOutOfRangeException(nameof(type), type, "Only concrete event types have a name."),
    };

    /// <summary>
    /// Parses a name case-insensitively; also accepts the protobuf spelling (EVENT_TYPE_CLICK) and
    /// the enum number 1-5. Unspecified (0) is never accepted.
    /// </summary>
    public static bool TryParse(ReadOnlySpan<char> text, out EventType type)
    {
        text = text.Trim();
        if (text.StartsWith("EVENT_TYPE_", StringComparison.OrdinalIgnoreCase))
        {
            text = text["EVENT_TYPE_".Length..];
        }

        if (text.Equals("view", StringComparison.OrdinalIgnoreCase) || text.SequenceEqual("1")) { type = EventType.View; return true; }
        if (text.Equals("click", StringComparison.OrdinalIgnoreCase) || text.SequenceEqual("2")) { type = EventType.Click; return true; }
        if (text.Equals("add_to_cart", StringComparison.OrdinalIgnoreCase) || text.SequenceEqual("3")) { type = EventType.AddToCart; return true; }
        if (text.Equals("purchase", StringComparison.OrdinalIgnoreCase) || text.SequenceEqual("4")) { type = EventType.Purchase; return true; }
        if (text.Equals("rating", StringComparison.OrdinalIgnoreCase) || text.SequenceEqual("5")) { type = EventType.Rating; return true; }
        type = EventType.Unspecified;
        return false;
    }
}
