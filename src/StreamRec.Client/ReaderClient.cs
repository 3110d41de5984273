using System.Globalization;
using System.Net.Http.Json;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace StreamRec.Client;

/// <summary>
/// Typed calls to a StreamRec reader over a caller-owned <see cref="HttpClient"/> whose
/// <see cref="HttpClient.BaseAddress"/> is the reader (for example <c>http://reader:8080/</c>).
/// Thread-safe as <see cref="HttpClient"/> is; it never disposes the client. Refusals (4xx, 5xx) throw
/// <see cref="ReaderApiException"/> carrying the problem details.
/// </summary>
public sealed class ReaderClient(HttpClient http)
{
    /// <summary>The JSON conventions of the reader's API: snake_case names.</summary>
    public static JsonSerializerOptions JsonOptions { get; } = new(JsonSerializerDefaults.Web)
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals,
    };

    private readonly HttpClient _http = http ?? throw new ArgumentNullException(nameof(http));

    /// <summary>The top <paramref name="k"/> items for <paramref name="userId"/> (trending when the model does not know the user).</summary>
    public Task<UserRecommendations> GetRecommendationsAsync(string userId, int k = 10, bool excludeSeen = true, CancellationToken cancellationToken = default) =>
        GetAsync<UserRecommendations>(
            string.Create(CultureInfo.InvariantCulture, $"v1/users/{Uri.EscapeDataString(userId)}/recommendations?k={k}&exclude_seen={(excludeSeen ? "true" : "false")}"),
            cancellationToken);

    /// <summary>Top-k lists of several users, answered from one model generation.</summary>
    public async Task<BatchRecommendations> GetRecommendationsAsync(IReadOnlyList<string> userIds, int k = 10, bool excludeSeen = true, CancellationToken cancellationToken = default)
    {
        using var response = await _http.PostAsJsonAsync("v1/recommendations:batch", new BatchRecommendationsRequest(userIds, k, excludeSeen), JsonOptions, cancellationToken)
            .ConfigureAwait(false);
        return await ReadAsync<BatchRecommendations>(response, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>The <paramref name="k"/> items most similar to <paramref name="itemId"/>; a 404 <see cref="ReaderApiException"/> when the item is unknown.</summary>
    public Task<SimilarItems> GetSimilarItemsAsync(string itemId, int k = 10, CancellationToken cancellationToken = default) =>
        GetAsync<SimilarItems>(string.Create(CultureInfo.InvariantCulture, $"v1/items/{Uri.EscapeDataString(itemId)}/similar?k={k}"), cancellationToken);

    /// <summary>The <paramref name="k"/> most popular items now.</summary>
    public Task<TrendingItems> GetTrendingAsync(int k = 10, CancellationToken cancellationToken = default) =>
        GetAsync<TrendingItems>(string.Create(CultureInfo.InvariantCulture, $"v1/trending?k={k}"), cancellationToken);

    /// <summary>True when the reader has a model loaded (<c>/readyz</c> answers 200).</summary>
    public async Task<bool> IsReadyAsync(CancellationToken cancellationToken = default)
    {
        using var response = await _http.GetAsync(new Uri("readyz", UriKind.Relative), cancellationToken).ConfigureAwait(false);
        return response.IsSuccessStatusCode;
    }

    private async Task<T> GetAsync<T>(string path, CancellationToken cancellationToken)
    {
        using var response = await _http.GetAsync(new Uri(path, UriKind.Relative), cancellationToken).ConfigureAwait(false);
        return await ReadAsync<T>(response, cancellationToken).ConfigureAwait(false);
    }

    private static async Task<T> ReadAsync<T>(HttpResponseMessage response, CancellationToken cancellationToken)
    {
        if (!response.IsSuccessStatusCode)
        {
            throw await ProblemAsync(response, cancellationToken).ConfigureAwait(false);
        }

        return await response.Content.ReadFromJsonAsync<T>(JsonOptions, cancellationToken).ConfigureAwait(false)
            ?? throw new ReaderApiException(response.StatusCode, "Empty body", "The reader answered without a body.", null);
    }

    private static async Task<ReaderApiException> ProblemAsync(HttpResponseMessage response, CancellationToken cancellationToken)
    {
        ProblemBody? problem = null;
        try
        {
            problem = await response.Content.ReadFromJsonAsync<ProblemBody>(JsonOptions, cancellationToken).ConfigureAwait(false);
        }
        catch (JsonException)
        {
            // Not a problem-details body (for example a proxy's page): the status code is all there is.
        }

        return new ReaderApiException(response.StatusCode, problem?.Title ?? response.ReasonPhrase, problem?.Detail, problem?.Errors);
    }

    private sealed record ProblemBody(string? Title, string? Detail, int? Status, Dictionary<string, string[]>? Errors);
}
