using System.Net;

namespace StreamRec.Client;

/// <summary>
/// The reader refused a request: <see cref="StatusCode"/> and the RFC 7807 problem details it sent
/// (<see cref="Title"/>, <see cref="Detail"/>, and per-field <see cref="Errors"/> for validation problems).
/// </summary>
public sealed class ReaderApiException : Exception
{
    public ReaderApiException(HttpStatusCode statusCode, string? title, string? detail, IReadOnlyDictionary<string, string[]>? errors)
        : base($"The reader answered {(int)statusCode} {title}: {detail ?? string.Join("; ", errors?.SelectMany(e => e.Value.Select(v => $"{e.Key}: {v}")) ?? [])}")
    {
        StatusCode = statusCode;
        Title = title;
        Detail = detail;
        Errors = errors ?? new Dictionary<string, string[]>();
    }

    public ReaderApiException()
    {
    }

    public ReaderApiException(string message)
        : base(message)
    {
    }

    public ReaderApiException(string message, Exception innerException)
        : base(message, innerException)
    {
    }

    /// <summary>HTTP status of the answer.</summary>
    public HttpStatusCode StatusCode { get; }

    /// <summary>Problem title, when the body had one.</summary>
    public string? Title { get; }

    /// <summary>Problem detail, when the body had one.</summary>
    public string? Detail { get; }

    /// <summary>Validation errors by field; empty for other problems.</summary>
    public IReadOnlyDictionary<string, string[]> Errors { get; } = new Dictionary<string, string[]>();
}
