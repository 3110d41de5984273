using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;
using FsCheck;
using FsCheck.Fluent;
using StreamRec.IntegrationTests.Infrastructure;
using StreamRec.Reader.Hosting;
using StreamRec.Redis.Checkpoints;
using static StreamRec.IntegrationTests.Reader.ReaderModels;

namespace StreamRec.IntegrationTests.Reader;

/// <summary>
/// Generated requests against a serving reader: random methods, paths, ids, queries, headers and
/// bodies over HttpClient, and mutated raw HTTP/1.1 over a socket. Each gets a 2xx or 4xx answer
/// (never 5xx) within the timeout, and the reader serves normally afterwards.
/// </summary>
[TestFixture]
public sealed class HostileRequestTests
{
    /// <summary>Requests of each test; docs/reliability.md quotes them.</summary>
    public const int HttpCases = 600, RawCases = 150;

    private const ulong Gamma = 0x9E3779B97F4A7C15;
    private static readonly TimeSpan _perRequest = TimeSpan.FromSeconds(5);
    private static readonly string[] _methods = ["GET", "GET", "GET", "POST", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS", "FETCH", "TRACE"];
    private static readonly string[] _routes =
        ["v1/users/{id}/recommendations", "v1/recommendations:batch", "v1/items/{id}/similar", "v1/trending", "healthz", "readyz", "metrics", "v1/{id}", "{id}", "v1/users/{id}"];
    private static readonly string[] _contentTypes =
        ["application/json", "application/json; charset=utf-8", "application/json; charset=utf-16", "application/json; charset=bogus", "text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x"];
    private static readonly string[] _queryNames = ["k", "exclude_seen", "k", "user", "", "k[]"];
    private RedisTestScope _scope = null!;
    private RunningReader _reader = null!;

    [OneTimeSetUp]
    public async Task StartReaderOverATrainedModel()
    {
        _scope = await TestRedis.CreateScope();
        await new CheckpointStore(_scope.Connection).PublishSnapshotAsync(Trained(_scope.Namespace, "v1"));
        _reader = await RunningReader.StartAsync(_scope.Namespace, _scope.Server.Endpoint);
        await _reader.UntilAsync(c => c.IsReadyAsync(), ready => ready, TimeSpan.FromSeconds(10), "the reader loads v1");
    }

    [OneTimeTearDown]
    public async Task Stop()
    {
        await _reader.DisposeAsync();
        await _scope.DisposeAsync();
    }

    [Test]
    [CancelAfter(180_000)]
    public async Task GeneratedRequests_GetOnlyTwoOrFourHundreds_WithinTheTimeout()
    {
        var requests = HostileRequest().Sample(HttpCases, new Rnd(1127, Gamma), 60);
        var statuses = new Dictionary<int, int>();
        var slowest = TimeSpan.Zero;
        using var client = new HttpClient { BaseAddress = _reader.Http.BaseAddress, Timeout = _perRequest };
        GeneratedRequest? previous = null;
        foreach (var request in requests)
        {
            using var message = request.ToMessage();
            var clock = Stopwatch.StartNew();
            HttpResponseMessage response;
            try
            {
                response = await client.SendAsync(message);
            }
            catch (HttpRequestException ex) when (request.Body?.Length > new ReaderOptions().MaxRequestBodyBytes && ex.InnerException is IOException)
            {
                // Kestrel answers 413 and closes before reading a body far over the limit; the client's upload then breaks.
                statuses[0] = statuses.GetValueOrDefault(0) + 1;
                continue;
            }
            catch (HttpRequestException ex)
            {
                Assert.Fail($"no answer ({ex.Message}: {ex.InnerException?.Message}) to {request} after {previous}");
                throw;
            }

            previous = request;
            using (response)
            {
                await response.Content.ReadAsByteArrayAsync();
                slowest = clock.Elapsed > slowest ? clock.Elapsed : slowest;
                Assert.That((int)response.StatusCode, Is.LessThan(500), request.ToString());
                statuses[(int)response.StatusCode] = statuses.GetValueOrDefault((int)response.StatusCode) + 1;
            }
        }

        await AssertStillServes();
        Assert.That(statuses.Keys.Count(s => s >= 400), Is.GreaterThanOrEqualTo(4), "the requests reached several kinds of refusal");
        await TestContext.Progress.WriteLineAsync($"[StreamRec] hostile HTTP requests: {HttpCases}, slowest {slowest.TotalMilliseconds:0} ms, statuses "
            + string.Join(", ", statuses.OrderBy(s => s.Key).Select(s => $"{(s.Key == 0 ? "closed while uploading over the limit" : s.Key)}: {s.Value}")));
    }

    [Test]
    [CancelAfter(180_000)]
    public async Task MutatedRawHttp_IsAnsweredWithAFourHundredOrClosed_WithinTheTimeout()
    {
        var port = _reader.Http.BaseAddress!.Port;
        var cases = RawRequest().Sample(RawCases, new Rnd(2026, Gamma), 60);
        var outcomes = new Dictionary<string, int>();
        foreach (var raw in cases)
        {
            using var socket = new TcpClient();
            await socket.ConnectAsync(IPAddress.Loopback, port);
            var stream = socket.GetStream();
            using var timeout = new CancellationTokenSource(_perRequest);
            await stream.WriteAsync(raw, timeout.Token);
            // Half-close: a request cut short must not leave the server waiting for the rest.
            socket.Client.Shutdown(SocketShutdown.Send);
            var answer = new MemoryStream();
            var reset = false;
            try
            {
                await stream.CopyToAsync(answer, timeout.Token);
            }
            catch (IOException ex) when (ex.InnerException is SocketException { SocketErrorCode: SocketError.ConnectionReset })
            {
                // Kestrel resets a connection it refuses with unread bytes pending; what arrived before is still checked.
                reset = true;
            }

            var text = Encoding.ASCII.GetString(answer.ToArray());
            var status = text.StartsWith("HTTP/1.1 ", StringComparison.Ordinal) ? int.Parse(text.AsSpan(9, 3), provider: null) : 0;
            Assert.That(status, Is.LessThan(500), $"{Encoding.ASCII.GetString(raw)} -> {text.Split('\n')[0]}");
            var outcome = status != 0 ? status.ToString(System.Globalization.CultureInfo.InvariantCulture) : reset ? "reset" : "closed";
            outcomes[outcome] = outcomes.GetValueOrDefault(outcome) + 1;
        }

        await AssertStillServes();
        await TestContext.Progress.WriteLineAsync($"[StreamRec] mutated raw HTTP requests: {RawCases}, outcomes "
            + string.Join(", ", outcomes.OrderBy(o => o.Key).Select(o => $"{o.Key}: {o.Value}")));
    }

    [Test]
    public async Task ChunkedBodyOverTheLimit_Is413()
    {
        // No Content-Length: the limit must hold while the body streams in.
        using var content = new StreamContent(new MemoryStream(Encoding.UTF8.GetBytes("{\"users\":[\"" + new string('x', 80 * 1024) + "\"]}")));
        content.Headers.ContentType = new System.Net.Http.Headers.MediaTypeHeaderValue("application/json");
        using var request = new HttpRequestMessage(HttpMethod.Post, "v1/recommendations:batch") { Content = content };
        request.Headers.TransferEncodingChunked = true;

        using var response = await _reader.Http.SendAsync(request);

        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.RequestEntityTooLarge));
    }

    [TestCase("v1/users/{0}/recommendations")]
    [TestCase("v1/items/{0}/similar")]
    public async Task IdOfManyMultiByteCharacters_OverTheByteLimit_Is400(string route)
    {
        // 100 characters but 300 UTF-8 bytes: the limit is in bytes, as in the clickstream.
        var id = Uri.EscapeDataString(new string('\u4e2d', 100));

        using var response = await _reader.Http.GetAsync(new Uri(string.Format(System.Globalization.CultureInfo.InvariantCulture, route, id), UriKind.Relative));

        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.BadRequest));
        Assert.That(await response.Content.ReadAsStringAsync(), Does.Contain(ReaderOptions.MaxIdBytes.ToString(System.Globalization.CultureInfo.InvariantCulture)));
    }

    private async Task AssertStillServes()
    {
        var answer = await _reader.Client.GetRecommendationsAsync("user3", k: 5);
        Assert.That(answer.Items, Has.Count.EqualTo(5), "the reader serves normally after the hostile requests");
    }

    private static Gen<string> Id() => Gen.OneOf(
        Gen.Elements("user1", "user3", "item2", "no-such", "", " ", "..", "%", "%zz", "%00", "%2F", "a%2Fb", "\u00e9", "%C3%28", "%ED%A0%80", "null", "-1"),
        Gen.Choose(1, 400).SelectMany(n => Gen.ArrayOf(Gen.Elements("aZ09-_.~!$&'()*+,;=@:%\u4e2d".ToCharArray()), n)).Select(c => Uri.EscapeDataString(new string(c))),
        Gen.Choose(250, 9000).Select(n => new string('a', n)));

    private static Gen<string> QueryValue() => Gen.OneOf(
        Gen.Elements("10", "0", "-1", "100", "101", "2147483648", "99999999999999999999", "1e3", "0x10", "ten", "", "true", "maybe", "%00", "%C3%28"),
        Gen.Choose(int.MinValue, int.MaxValue).Select(i => i.ToString(System.Globalization.CultureInfo.InvariantCulture)),
        Gen.Choose(1, 3000).Select(n => new string('9', n)));

    private static Gen<byte[]?> Body() => Gen.OneOf(
        Gen.Constant<byte[]?>(null),
        Gen.Elements("{\"users\":[\"user1\"]}", "{\"users\":[\"user1\",null],\"k\":5}", "{\"users\":[],\"k\":1}", "{\"users\":[\"user1\"],\"k\":-1}",
            "{\"users\":[\"user1\"],\"k\":1e308}", "{\"users\":[\"user1\"],\"exclude_seen\":\"x\"}", "{\"users\":{}}", "[", "null", "\"\"", "{\"users\":[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]}",
            "{\"users\":[\"" + new string('u', 300) + "\"]}", "{\"users\":[" + string.Join(",", Enumerable.Range(0, 150).Select(i => $"\"user{i}\"")) + "]}")
            .Select(text => (byte[]?)Encoding.UTF8.GetBytes(text)),
        Gen.Choose(0, 2000).SelectMany(n => Gen.ArrayOf(Gen.Choose(0, 255).Select(b => (byte)b), n)).Select(bytes => (byte[]?)bytes),
        Gen.Elements(70_000, 1_000_000).Select(n => (byte[]?)Encoding.UTF8.GetBytes("{\"users\":[\"" + new string('x', n) + "\"]}")));

    private static Gen<GeneratedRequest> HostileRequest() =>
        from method in Gen.Elements(_methods)
        from route in Gen.Elements(_routes)
        from id in Id()
        from queryCount in Gen.Choose(0, 3)
        from query in Gen.ArrayOf(Gen.Zip(Gen.Elements(_queryNames), QueryValue(), (name, value) => $"{name}={value}"), queryCount)
        from body in Body()
        from contentType in Gen.OneOf(Gen.Constant<string?>(null), Gen.Elements(_contentTypes).Select(t => (string?)t))
        from headerCount in Gen.Choose(0, 3)
        from headers in Gen.ArrayOf(Gen.Zip(Gen.Elements("Accept", "X-Request-Id", "Accept-Encoding", "Accept-Language", "If-None-Match", "X-Forwarded-For", "Cookie"),
            Gen.Choose(0, 2000).SelectMany(n => Gen.ArrayOf(Gen.Choose(32, 126).Select(c => (char)c), n)).Select(c => new string(c))), headerCount)
        select new GeneratedRequest(method, route.Replace("{id}", id, StringComparison.Ordinal) + (query.Length == 0 ? "" : "?" + string.Join("&", query)), body, contentType, headers);

    /// <summary>A request line, headers and body of HTTP/1.1 with one to three byte mutations (the version is kept, so refusals are 4xx).</summary>
    private static Gen<byte[]> RawRequest() =>
        from route in Gen.Elements("/v1/users/user1/recommendations?k=5", "/v1/recommendations:batch", "/v1/trending", "/healthz")
        from count in Gen.Choose(1, 3)
        from mutations in Gen.ArrayOf(Gen.Zip(Gen.Choose(0, 3), Gen.Choose(0, int.MaxValue - 1), (kind, position) => (kind, position)), count)
        from filler in Gen.Elements(" \r\n\t:/?%\0\u007f{}\"".ToCharArray())
        select Mutate(route, mutations, filler);

    private static byte[] Mutate(string route, (int Kind, int Position)[] mutations, char filler)
    {
        const string body = "{\"users\":[\"user1\"]}";
        var head = $"POST {route} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: {body.Length}\r\n\r\n";
        var versionEnd = head.IndexOf("\r\n", StringComparison.Ordinal);
        var text = new StringBuilder(head + body);
        foreach (var (kind, position) in mutations)
        {
            // Positions inside the " HTTP/1.1" version are moved past it: a broken version is answered 505 by design.
            var at = position % text.Length;
            if (at >= versionEnd - 9 && at < versionEnd)
            {
                at = Math.Min(versionEnd + 2, text.Length - 1);
            }

            switch (kind)
            {
                case 0:
                    text[at] = filler;
                    break;
                case 1:
                    text.Insert(at, filler);
                    break;
                case 2:
                    text.Remove(at, 1);
                    break;
                default:
                    text.Length = Math.Max(1, at);
                    break;
            }
        }

        return Encoding.Latin1.GetBytes(text.ToString());
    }

    private sealed record GeneratedRequest(string Method, string PathAndQuery, byte[]? Body, string? ContentType, (string Name, string Value)[] Headers)
    {
        public HttpRequestMessage ToMessage()
        {
            var message = new HttpRequestMessage(new HttpMethod(Method), new Uri(PathAndQuery, UriKind.Relative));
            if (Body is not null && Method is not ("GET" or "HEAD" or "TRACE"))
            {
                message.Content = new ByteArrayContent(Body);
                if (ContentType is not null)
                {
                    message.Content.Headers.TryAddWithoutValidation("Content-Type", ContentType);
                }
            }

            foreach (var (name, value) in Headers)
            {
                message.Headers.TryAddWithoutValidation(name, value);
            }

            // One connection per request: Kestrel may close a connection after answering a request whose large body it
            // did not read, and a pooled connection reused after that would fail on the client, not the server.
            message.Headers.ConnectionClose = true;

            return message;
        }

        public override string ToString() =>
            $"{Method} {PathAndQuery[..Math.Min(200, PathAndQuery.Length)]} body {Body?.Length.ToString(System.Globalization.CultureInfo.InvariantCulture) ?? "none"} {ContentType} headers {string.Join("; ", Headers.Select(h => h.Name + "=" + h.Value[..Math.Min(40, h.Value.Length)]))}";
    }
}
