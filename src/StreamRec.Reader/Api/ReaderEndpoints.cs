using System.Globalization;
using System.Text;
using System.Text.Json;
using Microsoft.Extensions.Options;
using StreamRec.Client;
using StreamRec.Reader.Hosting;
using StreamRec.Reader.Serving;

namespace StreamRec.Reader.Api;

/// <summary>The HTTP API. Every handler reads the served model once and answers wholly from it.</summary>
internal static class ReaderEndpoints
{
    private const int DefaultK = 10;

    public static void Map(WebApplication app)
    {
        app.MapGet("/v1/users/{userId}/recommendations", UserRecommendationsAsync);
        app.MapPost("/v1/recommendations:batch", BatchAsync);
        app.MapGet("/v1/items/{itemId}/similar", Similar);
        app.MapGet("/v1/trending", Trending);
    }

    private static async Task<IResult> UserRecommendationsAsync(string userId, HttpRequest request, ModelSlot slot, RankingBatcher batcher, IOptions<ReaderOptions> options)
    {
        var errors = new Dictionary<string, string[]>();
        CheckId(userId, "userId", errors);
        var k = ParseK(request.Query["k"], options.Value.MaxK, errors);
        var excludeSeen = ParseBool(request.Query["exclude_seen"], "exclude_seen", true, errors);
        if (errors.Count > 0)
        {
            return Results.ValidationProblem(errors);
        }

        if (slot.Current is not { } model)
        {
            return NotLoaded();
        }

        if (PersonalizedUser(model, userId) is { } user)
        {
            var items = await batcher.RankAsync(model, user, k, excludeSeen);
            return Results.Ok(new UserRecommendations(userId, model.Model, model.Generation, model.Version, RecommendationSources.Personalized, items));
        }

        return Results.Ok(TrendingFor(model, userId, k));
    }

    private static async Task<IResult> BatchAsync(HttpRequest request, ModelSlot slot, ApproximateSearch approximate, IOptions<ReaderOptions> options)
    {
        BatchRecommendationsRequest? body;
        try
        {
            body = await request.ReadFromJsonAsync<BatchRecommendationsRequest>(ReaderClient.JsonOptions, request.HttpContext.RequestAborted);
        }
        catch (JsonException ex)
        {
            return Results.Problem(title: "Malformed body", detail: $"The body is not a valid batch request: {ex.Message}", statusCode: StatusCodes.Status400BadRequest);
        }
        catch (InvalidOperationException ex)
        {
            // No or a non-JSON content type.
            return Results.Problem(title: "Unsupported body", detail: ex.Message, statusCode: StatusCodes.Status415UnsupportedMediaType);
        }
        catch (BadHttpRequestException ex)
        {
            return Results.Problem(title: "Bad request body", detail: ex.Message, statusCode: ex.StatusCode);
        }

        var maxUsers = options.Value.MaxBatchUsers;
        var errors = new Dictionary<string, string[]>();
        if (body?.Users is not { Count: > 0 } users)
        {
            errors["users"] = ["Give at least one user id."];
            users = [];
        }
        else if (users.Count > maxUsers)
        {
            errors["users"] = [$"At most {maxUsers} users per batch, got {users.Count}."];
        }
        else
        {
            for (var i = 0; i < users.Count; i++)
            {
                CheckId(users[i], $"users[{i}]", errors);
            }
        }

        var k = body?.K ?? DefaultK;
        CheckK(k, options.Value.MaxK, errors);
        if (errors.Count > 0)
        {
            return Results.ValidationProblem(errors);
        }

        if (slot.Current is not { } model)
        {
            return NotLoaded();
        }

        var excludeSeen = body!.ExcludeSeen ?? true;
        var results = new UserRecommendations[users.Count];
        var known = new List<(int Index, RankRequest Request)>();
        for (var i = 0; i < users.Count; i++)
        {
            if (PersonalizedUser(model, users[i]) is { } user)
            {
                known.Add((i, new RankRequest(user, k, excludeSeen)));
            }
            else
            {
                results[i] = TrendingFor(model, users[i], k);
            }
        }

        // Known users are ranked in passes of several users over the items, all from this generation.
        foreach (var pass in known.Chunk(Ranking.MaxUsersPerPass))
        {
            var ranked = Ranking.ForUsers(model, [.. pass.Select(p => p.Request)], approximate: approximate);
            for (var i = 0; i < pass.Length; i++)
            {
                results[pass[i].Index] = new UserRecommendations(users[pass[i].Index], model.Model, model.Generation, model.Version, RecommendationSources.Personalized, ranked[i]);
            }
        }

        return Results.Ok(new BatchRecommendations(model.Model, model.Generation, model.Version, results));
    }

    private static IResult Similar(string itemId, HttpRequest request, ModelSlot slot, IOptions<ReaderOptions> options)
    {
        var errors = new Dictionary<string, string[]>();
        CheckId(itemId, "itemId", errors);
        var k = ParseK(request.Query["k"], options.Value.MaxK, errors);
        if (errors.Count > 0)
        {
            return Results.ValidationProblem(errors);
        }

        if (slot.Current is not { } model)
        {
            return NotLoaded();
        }

        if (!model.Items.Rows.TryGetValue(itemId, out var row))
        {
            return Results.Problem(title: "Unknown item", detail: $"Model '{model.Model}' version '{model.Version}' has no item '{itemId}'.", statusCode: StatusCodes.Status404NotFound);
        }

        return Results.Ok(new SimilarItems(itemId, model.Model, model.Generation, model.Version, Ranking.Similar(model, row, k)));
    }

    private static IResult Trending(HttpRequest request, ModelSlot slot, IOptions<ReaderOptions> options)
    {
        var errors = new Dictionary<string, string[]>();
        var k = ParseK(request.Query["k"], options.Value.MaxK, errors);
        if (errors.Count > 0)
        {
            return Results.ValidationProblem(errors);
        }

        if (slot.Current is not { } model)
        {
            return NotLoaded();
        }

        return Results.Ok(new TrendingItems(model.Model, model.Generation, model.Version, [.. model.TopTrending.Take(k)]));
    }

    /// <summary>The user's row when it can be ranked (known, with the items' dimensions); null means trending.</summary>
    private static UserEntry? PersonalizedUser(ServingModel model, string userId) =>
        model.TryGetUser(userId, out var user) && user.Vector.Length == model.Items.Dimensions && model.Items.Count > 0 ? user : null;

    private static UserRecommendations TrendingFor(ServingModel model, string userId, int k) =>
        new(userId, model.Model, model.Generation, model.Version, RecommendationSources.Trending, [.. model.TopTrending.Take(k)]);

    private static IResult NotLoaded() => Results.Problem(
        title: "No model loaded", detail: "No checkpoint has been loaded yet; /readyz answers 200 once one is.", statusCode: StatusCodes.Status503ServiceUnavailable);

    private static void CheckId(string? id, string field, Dictionary<string, string[]> errors)
    {
        if (string.IsNullOrEmpty(id))
        {
            errors[field] = ["Must not be empty."];
        }
        else if (Encoding.UTF8.GetByteCount(id) > ReaderOptions.MaxIdBytes)
        {
            errors[field] = [$"Must be at most {ReaderOptions.MaxIdBytes} UTF-8 bytes."];
        }
    }

    private static int ParseK(string? text, int maxK, Dictionary<string, string[]> errors)
    {
        if (string.IsNullOrEmpty(text))
        {
            return Math.Min(DefaultK, maxK);
        }

        if (!int.TryParse(text, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var k))
        {
            errors["k"] = [$"Must be an integer from 1 to {maxK}."];
            return 0;
        }

        CheckK(k, maxK, errors);
        return k;
    }

    private static void CheckK(int k, int maxK, Dictionary<string, string[]> errors)
    {
        if (k < 1 || k > maxK)
        {
            errors["k"] = [$"Must be from 1 to {maxK}, got {k}."];
        }
    }

    private static bool ParseBool(string? text, string field, bool defaultValue, Dictionary<string, string[]> errors)
    {
        if (string.IsNullOrEmpty(text))
        {
            return defaultValue;
        }

        if (!bool.TryParse(text, out var value))
        {
            errors[field] = ["Must be true or false."];
        }

        return value;
    }
}
