using StreamRec.Contracts.V1;

namespace StreamRec.Core.Model;

/// <summary>
/// One user-item event as the engine sees it: the decoded form of a <see cref="ClickEvent"/>
/// or of a line of an input file.
/// </summary>
/// <param name="UserId">Who acted; non-empty.</param>
/// <param name="ItemId">What was acted on; non-empty.</param>
/// <param name="Type">What the user did.</param>
/// <param name="Value">The rating for <see cref="EventType.Rating"/>; otherwise an optional weight (0 = the type's configured weight).</param>
/// <param name="EventTimeMs">Event time in milliseconds since the Unix epoch.</param>
public readonly record struct Interaction(string UserId, string ItemId, EventType Type, float Value, long EventTimeMs);
