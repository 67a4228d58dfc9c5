using System.Diagnostics;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Microsoft.AspNetCore.Hosting;

namespace Timepoint.Gateway.Tests;

/// <summary>Timeouts, CORS and trace propagation at the edge, against a stand-in backend.</summary>
public sealed class EdgeBehaviourTests : EdgeHarness
{
    protected override void Configure(Dictionary<string, string?> settings)
    {
        settings["Gateway:RouteTimeouts:credits-costs"] = "00:00:01";
        settings["Gateway:CorsOrigins:0"] = "https://*.timepointai.com";
    }

    [Fact]
    public async Task A_route_timeout_answers_504_upstream_timeout_with_the_rate_limit_headers()
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, "/api/v1/credits/costs");
        request.Headers.Add("X-Test-Delay-Ms", "5000");
        var started = Stopwatch.StartNew();

        using var response = await client.SendAsync(request);

        Assert.Equal(HttpStatusCode.GatewayTimeout, response.StatusCode);
        Assert.Equal("upstream_timeout", (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("code").GetString());
        Assert.True(started.Elapsed < TimeSpan.FromSeconds(4), $"took {started.Elapsed}");
        Assert.All(new[] { "X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset" },
            name => Assert.True(response.Headers.Contains(name), $"{name} missing"));
    }

    [Fact]
    public async Task Cors_allows_configured_origins_and_never_the_authorization_endpoint()
    {
        using var allowed = await PreflightAsync("/api/v1/credits/balance", "https://app.timepointai.com");
        using var refused = await PreflightAsync("/api/v1/credits/balance", "https://evil.test");
        using var authorize = await PreflightAsync("/connect/authorize", "https://app.timepointai.com");

        Assert.Equal("https://app.timepointai.com", allowed.Headers.GetValues("Access-Control-Allow-Origin").Single());
        Assert.False(refused.Headers.Contains("Access-Control-Allow-Origin"));
        Assert.False(authorize.Headers.Contains("Access-Control-Allow-Origin"));
    }

    [Fact]
    public async Task The_trace_continues_into_the_backend()
    {
        using var listener = new ActivityListener
        {
            ShouldListenTo = _ => true,
            Sample = (ref ActivityCreationOptions<ActivityContext> _) => ActivitySamplingResult.AllDataAndRecorded,
        };
        ActivitySource.AddActivityListener(listener);
        using var request = new HttpRequestMessage(HttpMethod.Get, "/api/v1/credits/costs");
        var traceId = ActivityTraceId.CreateRandom();
        request.Headers.Add("traceparent", $"00-{traceId}-{ActivitySpanId.CreateRandom()}-01");

        using var response = await client.SendAsync(request);

        var seen = (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("headers");
        Assert.Contains(traceId.ToString(), seen.GetProperty("traceparent")[0].GetString());
    }

    [Theory]
    [InlineData("https://api.example.test/", true)]
    [InlineData("http://localhost:5080/", false)]
    public async Task Hsts_is_sent_on_every_answer_exactly_when_the_public_url_is_https(string publicUrl, bool hsts)
    {
        // TLS ends before the edge: the request it sees is http either way; only the public URL tells.
        await using var edge = gateway.WithWebHostBuilder(b => b.UseSetting("Gateway:PublicUrl", publicUrl));
        using var http = edge.CreateClient();

        using var proxied = await http.GetAsync("/api/v1/credits/costs");
        using var edgeOwn = await http.GetAsync("/no/such/route");
        using var health = await http.GetAsync("/health");

        foreach (var response in new[] { proxied, edgeOwn, health })
        {
            Assert.True((hsts ? ["max-age=31536000"] : Array.Empty<string>()).SequenceEqual(
                response.Headers.TryGetValues("Strict-Transport-Security", out var values) ? values : []),
                $"{response.RequestMessage!.RequestUri}: {(int)response.StatusCode} {response.Headers}");
        }
    }

    [Theory]
    [MemberData(nameof(PublicUrls.Bad), MemberType = typeof(PublicUrls))]
    public void A_bad_public_url_stops_the_edge_at_start_naming_the_setting(string publicUrl) =>
        PublicUrls.AssertRefusedAtStart(gateway, "Gateway:PublicUrl", publicUrl);

    [Theory]
    [InlineData("00:00:00")]
    [InlineData("00:00:00.010")]
    [InlineData("00:05:00")]
    public void A_revocation_poll_interval_out_of_range_stops_the_edge_at_start_naming_the_setting(string interval) =>
        PublicUrls.AssertRefusedAtStart(gateway, "Gateway:Revocations:PollInterval", interval);

    private Task<HttpResponseMessage> PreflightAsync(string path, string origin)
    {
        var request = new HttpRequestMessage(HttpMethod.Options, path);
        request.Headers.Add("Origin", origin);
        request.Headers.Add("Access-Control-Request-Method", "GET");
        return client.SendAsync(request);
    }
}
