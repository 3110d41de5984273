using System.Net;
using System.Text;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Options;
using StreamRec.Client;
using StreamRec.IntegrationTests.Infrastructure;
using StreamRec.Reader.Hosting;
using StreamRec.Redis.Checkpoints;
using static StreamRec.IntegrationTests.Reader.ReaderModels;

namespace StreamRec.IntegrationTests.Reader;

[TestFixture]
public sealed class ReaderApiTests
{
    private static readonly TimeSpan _timeout = TimeSpan.FromSeconds(10);
    private static readonly string _longId = new('a', ReaderOptions.MaxIdBytes + 1);
    private RedisTestScope _scope = null!;
    private RunningReader _reader = null!;

    [OneTimeSetUp]
    public async Task StartReaderOverATrainedModel()
    {
        _scope = await TestRedis.CreateScope();
        await new CheckpointStore(_scope.Connection).PublishSnapshotAsync(Trained(_scope.Namespace, "v1"));
        _reader = await RunningReader.StartAsync(_scope.Namespace, _scope.Server.Endpoint);
        await _reader.UntilAsync(c => c.IsReadyAsync(), ready => ready, _timeout, "the reader loads v1");
    }

    [OneTimeTearDown]
    public async Task Stop()
    {
        await _reader.DisposeAsync();
        await _scope.DisposeAsync();
    }

    [TestCase("v1/users/user1/recommendations?k=0", HttpStatusCode.BadRequest)]
    [TestCase("v1/users/user1/recommendations?k=101", HttpStatusCode.BadRequest)]
    [TestCase("v1/users/user1/recommendations?k=ten", HttpStatusCode.BadRequest)]
    [TestCase("v1/users/user1/recommendations?k=99999999999", HttpStatusCode.BadRequest)]
    [TestCase("v1/users/user1/recommendations?exclude_seen=maybe", HttpStatusCode.BadRequest)]
    [TestCase("v1/users/LONG/recommendations", HttpStatusCode.BadRequest)]
    [TestCase("v1/items/LONG/similar", HttpStatusCode.BadRequest)]
    [TestCase("v1/items/no-such-item/similar", HttpStatusCode.NotFound)]
    [TestCase("v1/items/item1/similar?k=-3", HttpStatusCode.BadRequest)]
    [TestCase("v1/trending?k=1000", HttpStatusCode.BadRequest)]
    [TestCase("v1/users/user1/recommendations?k=100", HttpStatusCode.OK)]
    [TestCase("v1/users/never-seen/recommendations", HttpStatusCode.OK)]
    [TestCase("v1/no-such-route", HttpStatusCode.NotFound)]
    public async Task Get_AnswersWithItsStatusCodeAndProblemDetailsForErrors(string path, HttpStatusCode expected)
    {
        using var response = await _reader.Http.GetAsync(new Uri(path.Replace("LONG", _longId, StringComparison.Ordinal), UriKind.Relative));

        Assert.That(response.StatusCode, Is.EqualTo(expected));
        if (expected != HttpStatusCode.OK)
        {
            Assert.That(response.Content.Headers.ContentType?.MediaType, Is.EqualTo("application/problem+json"));
        }
    }

    [TestCase("{", HttpStatusCode.BadRequest)]
    [TestCase("[]", HttpStatusCode.BadRequest)]
    [TestCase("{\"users\":[]}", HttpStatusCode.BadRequest)]
    [TestCase("{\"users\":\"user1\"}", HttpStatusCode.BadRequest)]
    [TestCase("{\"users\":[\"user1\"],\"k\":0}", HttpStatusCode.BadRequest)]
    [TestCase("{\"users\":[\"user1\"],\"k\":\"ten\"}", HttpStatusCode.BadRequest)]
    [TestCase("{\"users\":[null]}", HttpStatusCode.BadRequest)]
    [TestCase("{\"users\":[\"LONG\"]}", HttpStatusCode.BadRequest)]
    [TestCase("null", HttpStatusCode.BadRequest)]
    [TestCase("{\"users\":[\"user1\",\"nobody\"],\"k\":5,\"exclude_seen\":false}", HttpStatusCode.OK)]
    public async Task Batch_AnswersWithItsStatusCode(string body, HttpStatusCode expected)
    {
        using var content = new StringContent(body.Replace("LONG", _longId, StringComparison.Ordinal), Encoding.UTF8, "application/json");
        using var response = await _reader.Http.PostAsync(new Uri("v1/recommendations:batch", UriKind.Relative), content);

        Assert.That(response.StatusCode, Is.EqualTo(expected), await response.Content.ReadAsStringAsync());
        if (expected != HttpStatusCode.OK)
        {
            Assert.That(response.Content.Headers.ContentType?.MediaType, Is.EqualTo("application/problem+json"));
        }
    }

    [Test]
    public async Task Batch_OfMoreUsersThanAllowed_Is400()
    {
        var users = Enumerable.Range(0, 101).Select(i => $"user{i}").ToArray();

        var error = Assert.ThrowsAsync<ReaderApiException>(() => _reader.Client.GetRecommendationsAsync(users));

        Assert.That(error!.StatusCode, Is.EqualTo(HttpStatusCode.BadRequest));
        Assert.That(error.Errors.Keys, Does.Contain("users"));
    }

    [Test]
    public async Task Batch_BodyOverTheLimit_Is413()
    {
        var body = "{\"users\":[\"" + new string('x', 70 * 1024) + "\"]}";
        using var content = new StringContent(body, Encoding.UTF8, "application/json");
        using var response = await _reader.Http.PostAsync(new Uri("v1/recommendations:batch", UriKind.Relative), content);

        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.RequestEntityTooLarge));
    }

    [Test]
    public async Task Batch_WithoutAJsonContentType_Is415()
    {
        using var content = new StringContent("{\"users\":[\"user1\"]}", Encoding.UTF8, "text/plain");
        using var response = await _reader.Http.PostAsync(new Uri("v1/recommendations:batch", UriKind.Relative), content);

        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.UnsupportedMediaType));
    }

    [Test]
    public async Task Metrics_CountRequestsByRouteAndStatusAndReportTheModel()
    {
        using var _ = await _reader.Http.GetAsync(new Uri("v1/trending?k=0", UriKind.Relative));
        var text = await _reader.Http.GetStringAsync(new Uri("metrics", UriKind.Relative));

        Assert.That(text, Does.Contain("streamrec_reader_requests_total{route=\"/v1/trending\",status=\"400\"}"));
        Assert.That(text, Does.Contain("streamrec_reader_request_duration_seconds_bucket{route=\"/v1/trending\""));
        Assert.That(text, Does.Contain("streamrec_reader_model_info{version=\"v1\"} 1"));
        Assert.That(await _reader.MetricAsync("streamrec_reader_items"), Is.EqualTo(200));
        Assert.That(await _reader.MetricAsync("streamrec_reader_model_age_seconds"), Is.GreaterThanOrEqualTo(0));
        Assert.That(await _reader.MetricAsync("streamrec_reader_staleness_seconds"), Is.LessThan(5));
    }

    [Test]
    public async Task Client_CallsEveryEndpointTyped()
    {
        var user = await _reader.Client.GetRecommendationsAsync("user3", k: 5);
        var batch = await _reader.Client.GetRecommendationsAsync(["user3", "user4"], k: 5);
        var similar = await _reader.Client.GetSimilarItemsAsync("item2", k: 4);
        var trending = await _reader.Client.GetTrendingAsync(k: 3);

        Assert.That(user.User, Is.EqualTo("user3"));
        Assert.That(user.Model, Is.EqualTo(_scope.Namespace));
        Assert.That(user.Items, Has.Count.EqualTo(5));
        Assert.That(batch.Results.Select(r => r.User), Is.EqualTo(new[] { "user3", "user4" }));
        Assert.That(batch.Results[0].Items, Is.EqualTo(user.Items), "the same generation answers the same list");
        Assert.That(similar.Item, Is.EqualTo("item2"));
        Assert.That(similar.Items, Has.Count.EqualTo(4));
        Assert.That(trending.Items, Has.Count.EqualTo(3));
        Assert.That(await _reader.Client.IsReadyAsync(), Is.True);
    }

    [Test]
    public void Client_SurfacesProblemDetailsAsExceptions()
    {
        var notFound = Assert.ThrowsAsync<ReaderApiException>(() => _reader.Client.GetSimilarItemsAsync("no-such-item"));
        var badK = Assert.ThrowsAsync<ReaderApiException>(() => _reader.Client.GetTrendingAsync(k: 0));

        Assert.That(notFound!.StatusCode, Is.EqualTo(HttpStatusCode.NotFound));
        Assert.That(notFound.Detail, Does.Contain("no-such-item"));
        Assert.That(badK!.StatusCode, Is.EqualTo(HttpStatusCode.BadRequest));
        Assert.That(badK.Errors["k"], Has.Length.EqualTo(1));
    }
}

[TestFixture]
public sealed class ReaderStartTests
{
    [Test]
    public async Task BeforeAnyCheckpoint_ReadyzAndRecommendationsAre503_ThenTheFirstOneIsLoaded()
    {
        await using var scope = await TestRedis.CreateScope();
        await using var reader = await RunningReader.StartAsync(scope.Namespace, scope.Server.Endpoint);

        using (var readyz = await reader.Http.GetAsync(new Uri("readyz", UriKind.Relative)))
        {
            Assert.That(readyz.StatusCode, Is.EqualTo(HttpStatusCode.ServiceUnavailable));
        }

        var early = Assert.ThrowsAsync<ReaderApiException>(() => reader.Client.GetRecommendationsAsync("user1"));
        Assert.That(early!.StatusCode, Is.EqualTo(HttpStatusCode.ServiceUnavailable));
        Assert.That(await reader.Http.GetStringAsync(new Uri("healthz", UriKind.Relative)), Is.EqualTo("ok"));

        await new CheckpointStore(scope.Connection).PublishSnapshotAsync(Trained(scope.Namespace, "v1"));

        await reader.UntilAsync(c => c.IsReadyAsync(), ready => ready, TimeSpan.FromSeconds(10), "the first checkpoint is loaded");
    }

    [TestCase("Model", "", "Model")]
    [TestCase("Model", "bad name!", "Model")]
    [TestCase("RedisEndpoint", "", "RedisEndpoint")]
    [TestCase("RedisEndpoint", "localhost", "RedisEndpoint")]
    [TestCase("PollInterval", "00:00:00", "PollInterval")]
    [TestCase("MaxK", "0", "MaxK")]
    [TestCase("HttpHost", "example.com", "HttpHost")]
    [TestCase("ApproximateSearchMinItems", "-1", "ApproximateSearchMinItems")]
    [TestCase("ApproximateSearchExtraCandidates", "-1", "ApproximateSearchExtraCandidates")]
    [TestCase("ApproximateSearchConnectivity", "2", "ApproximateSearchConnectivity")]
    [TestCase("ApproximateSearchExpansionAdd", "4", "ApproximateSearchExpansionAdd")]
    [TestCase("ApproximateSearchExpansionSearch", "0", "ApproximateSearchExpansionSearch")]
    [TestCase("ApproximateSearchRebuildFraction", "0", "ApproximateSearchRebuildFraction")]
    [TestCase("ApproximateSearchMaxIndexAge", "00:00:00", "ApproximateSearchMaxIndexAge")]
    public void InvalidSetting_StopsTheStartWithAnErrorNamingIt(string setting, string value, string named)
    {
        var builder = WebApplication.CreateBuilder(new WebApplicationOptions { EnvironmentName = "Testing" });
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Model"] = "m1",
            ["RedisEndpoint"] = "127.0.0.1:1",
            ["HttpPort"] = "0",
            ["HttpHost"] = "127.0.0.1",
            ["RedisPassword"] = "hunter2-secret",
            [setting] = value,
        });
        builder.AddStreamRecReader();

        var error = Assert.Throws<OptionsValidationException>(() =>
        {
            using var app = builder.Build();
            app.StartAsync().GetAwaiter().GetResult();
        });

        Assert.That(error!.Message, Does.Contain(named));
        Assert.That(error.Message, Does.Not.Contain("hunter2-secret"));
    }
}
