namespace StreamRec.Core.Events;

/// <summary>Limits an incoming event must respect to be learned from; anything else is dead-lettered.</summary>
public sealed record EventValidationOptions
{
    /// <summary>Longest accepted user or item id, in UTF-8 bytes. Default 256.</summary>
    public int MaxIdBytes { get; init; } = 256;

    /// <summary>How far event time may run ahead of the wall clock (producer clock skew). Default 5 minutes.</summary>
    public TimeSpan MaxFutureSkew { get; init; } = TimeSpan.FromMinutes(5);

    /// <summary>
    /// How old an event may be. Default 3650 days, so backfills and replays of years of history pass;
    /// lower it for a live feed where very old events signal a broken producer.
    /// </summary>
    public TimeSpan MaxAge { get; init; } = TimeSpan.FromDays(3650);

    /// <summary>Lowest accepted rating for rating events. Default 0.</summary>
    public float MinRating { get; init; }

    /// <summary>Highest accepted rating for rating events. Default 10.</summary>
    public float MaxRating { get; init; } = 10f;

    /// <summary>Throws <see cref="ArgumentException"/> naming the first invalid option.</summary>
    public void Validate()
    {
        if (MaxIdBytes is < 1 or > 4096)
        {
            throw new ArgumentException($"{nameof(MaxIdBytes)} must be between 1 and 4096, was {MaxIdBytes}.", nameof(MaxIdBytes));
        }

        if (MaxFutureSkew < TimeSpan.Zero)
        {
            throw new ArgumentException($"{nameof(MaxFutureSkew)} must not be negative, was {MaxFutureSkew}.", nameof(MaxFutureSkew));
        }

        if (MaxAge <= TimeSpan.Zero)
        {
            throw new ArgumentException($"{nameof(MaxAge)} must be positive, was {MaxAge}.", nameof(MaxAge));
        }

        if (!(MinRating < MaxRating) || !float.IsFinite(MinRating) || !float.IsFinite(MaxRating))
        {
            throw new ArgumentException($"{nameof(MinRating)} ({MinRating}) must be finite and below {nameof(MaxRating)} ({MaxRating}).", nameof(MinRating));
        }
    }
}
