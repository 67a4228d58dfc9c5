using System.Net;
using System.Net.Http.Headers;
using Microsoft.AspNetCore.Hosting;
using System.Diagnostics.Metrics;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.Metrics.Testing;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Testing;
using Microsoft.AspNetCore.Mvc.Testing;

namespace Timepoint.Gateway.Tests;

/// <summary>
/// The edge's request log as an operator reads it: every record a proxied request writes carries its request id and
/// route, and once a caller is known its auth method, user and key id (never a credential); each request ends with one
/// line that says how it was answered.
/// </summary>
public sealed class EdgeRequestLogTests : EdgeHarness
{
    private WebApplicationFactory<Program> logged = null!;
    private HttpClient loggedClient = null!;
    private MetricCollector<long> refusals = null!;

    // One write a minute, so a caller's second write is refused by the limits; clockchain is down, so its reads fail upstream.
    protected override void Configure(Dictionary<string, string?> settings)
    {
        settings["Gateway:RateLimits:WritesPerMinute"] = "1";
        settings["Gateway:Destinations:clockchain"] = "http://127.0.0.1:9";
    }

    private FakeLogCollector Collector => logged.Services.GetFakeLogCollector();

    private async Task<(HttpResponseMessage Response, FakeLogRecord Line, Dictionary<string, object?> Attributes)> SendAsync(HttpRequestMessage request)
    {
        if (loggedClient is null)
        {
            logged = gateway.WithWebHostBuilder(b => b.ConfigureServices(s => s.AddFakeLogging()));
            loggedClient = logged.CreateClient();
            refusals = new MetricCollector<long>(logged.Services.GetRequiredService<IMeterFactory>(), GatewayMetrics.MeterName,
                "timepoint.gateway.refusals");
        }

        var response = await loggedClient.SendAsync(request);
        var requestId = response.Headers.GetValues("X-Request-ID").Single();
        FakeLogRecord? line = null;
        for (var i = 0; i < 50 && line is null; i++)
        {
            // The line is written after the response has started; give it a moment.
            line = Collector.GetSnapshot().LastOrDefault(r => r.Category == typeof(Proxy.EdgeRequestLog).FullName
                && Attributes(r).TryGetValue("RequestId", out var id) && (string?)id == requestId);
            if (line is null)
            {
                await Task.Delay(20);
            }
        }

        Assert.NotNull(line);
        return (response, line, Attributes(line));
    }

    // Later scopes and the record's own state win, as in an exporter that flattens them.
    private static Dictionary<string, object?> Attributes(FakeLogRecord record)
    {
        var attributes = new Dictionary<string, object?>();
        foreach (var scope in record.Scopes.OfType<IEnumerable<KeyValuePair<string, object?>>>())
        {
            foreach (var (key, value) in scope)
            {
                attributes[key] = value;
            }
        }

        foreach (var (key, value) in record.StructuredState ?? [])
        {
            attributes[key] = value;
        }

        return attributes;
    }

    [Fact]
    public async Task A_request_with_a_token_ends_with_one_line_naming_the_caller_and_never_the_token()
    {
        var user = Guid.NewGuid();
        var token = identity.Token(user);
        using var request = new HttpRequestMessage(HttpMethod.Get, "/api/v1/credits/balance");
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        request.Headers.Add("X-Request-ID", "log-test-1");

        var (response, line, attributes) = await SendAsync(request);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(LogLevel.Information, line.Level);
        Assert.StartsWith("Answered GET credits-read with 200 in ", line.Message, StringComparison.Ordinal);
        Assert.Equal("log-test-1", attributes["RequestId"]);
        Assert.Equal("credits-read", attributes["Route"]);
        Assert.Equal("jwt", attributes["AuthMethod"]);
        Assert.Equal(user.ToString(), attributes["UserId"]);
        Assert.Null(attributes["ApiKeyId"]);
        Assert.Single(Collector.GetSnapshot(), r => (string?)Attributes(r).GetValueOrDefault("RequestId") == "log-test-1"
            && r.Category == typeof(Proxy.EdgeRequestLog).FullName);
        Assert.DoesNotContain(Collector.GetSnapshot(), r => r.Message.Contains(token, StringComparison.Ordinal)
            || Attributes(r).Values.Any(v => v?.ToString()?.Contains(token.Split('.')[2], StringComparison.Ordinal) == true));
        response.Dispose();
    }

    [Fact]
    public async Task A_refused_request_ends_with_one_line_naming_the_refusal_and_no_caller()
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, "/api/v1/credits/balance");

        var (response, line, attributes) = await SendAsync(request);

        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        Assert.StartsWith("Refused GET credits-read with 401 auth.missing in ", line.Message, StringComparison.Ordinal);
        Assert.Equal("credits-read", attributes["Route"]);
        Assert.Equal("none", attributes["AuthMethod"]);
        Assert.Null(attributes["UserId"]);
        response.Dispose();
    }

    /// <summary>A request each step of the pipeline refuses: authentication, the limits, metering (body size and validation).</summary>
    public static TheoryData<string, int, string> Refusals => new()
    {
        { "authentication", 401, ErrorCodes.AuthMissing },
        { "rate limit", 429, ErrorCodes.RateLimited },
        { "metering: body too large", 413, ErrorCodes.ValidationFailed },
        { "metering: unknown preset", 422, ErrorCodes.ValidationFailed },
    };

    [Theory]
    [MemberData(nameof(Refusals))]
    public async Task A_refusal_from_any_step_is_logged_and_counted_as_a_refusal(string step, int status, string code)
    {
        var token = identity.Token(Guid.NewGuid());
        HttpRequestMessage Request() => step switch
        {
            "authentication" => new HttpRequestMessage(HttpMethod.Get, "/api/v1/credits/balance"),
            "rate limit" => Authorized(new HttpRequestMessage(HttpMethod.Post, "/api/v1/timepoints/moments") { Content = Json("{}") }, token),
            "metering: body too large" => Authorized(new HttpRequestMessage(HttpMethod.Post, "/api/v1/timepoints/generate/sync")
            {
                Content = Json($$"""{"query":"{{new string('a', 1024 * 1024)}}"}"""),
            }, token),
            _ => Authorized(new HttpRequestMessage(HttpMethod.Post, "/api/v1/timepoints/generate/sync")
            {
                Content = Json("""{"query":"The fall of Constantinople, 1453","preset":"no-such-preset"}"""),
            }, token),
        };
        if (step == "rate limit")
        {
            using var first = Request();
            (await SendAsync(first)).Response.Dispose();
        }

        using var request = Request();
        var before = refusals?.GetMeasurementSnapshot().Count ?? 0;
        var (response, line, attributes) = await SendAsync(request);

        Assert.Equal(status, (int)response.StatusCode);
        Assert.StartsWith($"Refused {request.Method} {attributes["Route"]} with {status} {code} in ", line.Message, StringComparison.Ordinal);
        var counted = Assert.Single(refusals!.GetMeasurementSnapshot().Skip(before));
        Assert.Equal(attributes["Route"], counted.Tags["route"]);
        Assert.Equal(code, counted.Tags["code"]);
        response.Dispose();
    }

    [Fact]
    public async Task A_backend_that_cannot_be_reached_ends_with_a_failed_line_and_is_no_refusal()
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, "/api/v1/clockchain/stats");
        var (response, line, _) = await SendAsync(request);
        var refused = refusals.GetMeasurementSnapshot().Count(m => (string?)m.Tags["route"] == "clockchain-read");

        Assert.Equal(HttpStatusCode.ServiceUnavailable, response.StatusCode);
        Assert.StartsWith("Failed GET clockchain-read with 503 upstream_unavailable in ", line.Message, StringComparison.Ordinal);
        Assert.Equal(0, refused);
        response.Dispose();
    }

    private static StringContent Json(string body) => new(body, System.Text.Encoding.UTF8, "application/json");

    private static HttpRequestMessage Authorized(HttpRequestMessage request, string token)
    {
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        return request;
    }

    public override async Task DisposeAsync()
    {
        refusals?.Dispose();
        loggedClient?.Dispose();
        if (logged is not null)
        {
            await logged.DisposeAsync();
        }

        await base.DisposeAsync();
    }
}
